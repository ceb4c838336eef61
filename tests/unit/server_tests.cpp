// Unit tests for server/ parts that are plain functions: the route table and the metrics text.
#include <catch2/catch.hpp>

#include "server/http_server.hpp"
#include "server/http_util.hpp"
#include "server/metrics.hpp"

using namespace md::server;

namespace {
awaitable<http_response> nothing(request_context&) { co_return http_response{}; }
}  // namespace

TEST_CASE("routes match by segments, capture parameters and tell 405 from 404") {
  router r;
  r.add(http::verb::get, "/api/v1/cases", nothing);
  r.add(http::verb::get, "/api/v1/cases/{ref}", nothing);
  r.add(http::verb::post, "/api/v1/cases/{ref}/reveal", nothing);
  r.add(http::verb::get, "/static/*", nothing);

  auto m = r.find(http::verb::get, "/api/v1/cases/MD-2026-000001");
  REQUIRE(m);
  CHECK(m->handler);
  CHECK(m->pattern == "/api/v1/cases/{ref}");
  REQUIRE(m->params.size() == 1);
  CHECK(m->params[0].second == "MD-2026-000001");

  auto wrong_method = r.find(http::verb::delete_, "/api/v1/cases/MD-2026-000001");
  REQUIRE(wrong_method);
  CHECK(wrong_method->handler == nullptr);
  CHECK_FALSE(r.find(http::verb::get, "/api/v1/cases/MD-1/extra/more"));
  CHECK_FALSE(r.find(http::verb::get, "/api/v1/cases//reveal"));
  CHECK(r.find(http::verb::head, "/api/v1/cases")->handler);

  auto asset = r.find(http::verb::get, "/static/js/app.js");
  REQUIRE(asset);
  CHECK(asset->params.back().second == "js/app.js");
}

TEST_CASE("metrics render counters and cumulative histogram buckets") {
  metrics_registry m;
  m.count_request("/api/v1/requests", "POST", 202);
  m.count_request("/api/v1/requests", "POST", 202);
  m.intake_ack_seconds.observe(0.002);
  m.intake_ack_seconds.observe(20);
  auto text = m.render();
  CHECK(text.find("mediadesk_http_requests_total{route=\"/api/v1/requests\",method=\"POST\",status=\"202\"} 2") !=
        std::string::npos);
  CHECK(text.find("mediadesk_intake_ack_seconds_bucket{le=\"0.0025\"} 1") != std::string::npos);
  CHECK(text.find("mediadesk_intake_ack_seconds_bucket{le=\"+Inf\"} 2") != std::string::npos);
  CHECK(text.find("mediadesk_intake_ack_seconds_count 2") != std::string::npos);
}

TEST_CASE("a JSON body with U+0000 in any string is refused, naming where") {
  auto field_for = [](std::string body) -> std::string {
    http_request request{http::verb::post, "/", 11};
    request.body() = std::move(body);
    auto parsed = json_object_body(request);
    auto* refused = std::get_if<http_response>(&parsed);
    if (!refused) return "(accepted)";
    CHECK(refused->result() == http::status::bad_request);
    auto at = refused->body().find(R"("field":")");
    return refused->body().substr(at + 9, refused->body().find('"', at + 9) - at - 9);
  };
  CHECK(field_for(R"({"text":"a\u0000b"})") == "text");
  CHECK(field_for(R"({"outlet":{"name":"\u0000"}})") == "outlet.name");
  CHECK(field_for(R"({"topics":["ok","no\u0000"]})") == "topics");
  CHECK(field_for(R"({"a\u0000":"x"})") == "$");
  CHECK(field_for(R"({"text":"a\u0001b \u2028 ' OR 1=1"})") == "(accepted)");
  CHECK(field_for("not json") == "$");
}
