// libFuzzer target for the HTTP request entry, without sockets: raw bytes through Beast's
// request_parser with the server's header and body limits (http_limits), then what the server
// does before and around a handler: the path and the route table (the server's own routes, {ref},
// {id}, {token} and "/*" parameters), id_param, parse_case_ref, the offer token's shape, query
// parameters, the session cookie, json_object_body and the response the connection would send.
// Checks the router's contract (a match binds every {name} of its pattern, never empty) besides
// "returns". Needs md_http (http_server, http_util: Beast and Asio through md_net).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/case_ref.hpp"
#include "crypto/primitives.hpp"
#include "server/http_server.hpp"
#include "server/http_util.hpp"

namespace {

using namespace md;
using namespace md::server;

void require(bool ok) {
  if (!ok) std::abort();
}

// The server's route table (the add_*_routes functions' patterns, gathered from server/*.cpp at build
// time by cmake/route_table.cmake), with handlers that never run.
const router& routes() {
  static const router table = [] {
    router r;
    using v = http::verb;
    const std::pair<v, const char*> patterns[] = {
#include "server_routes.inc"
    };
    for (auto& [method, pattern] : patterns) r.add(method, pattern, route_handler{});
    return r;
  }();
  return table;
}

std::size_t placeholders(std::string_view pattern) {
  std::size_t n = 0;
  for (auto open = pattern.find("/{"); open != std::string_view::npos; open = pattern.find("/{", open + 1)) ++n;
  return n;
}

// What dispatch() and the handlers do with a parsed request, short of running a handler.
void route(http_request& request) {
  auto target = std::string_view{request.target()};
  auto path = target.substr(0, target.find('?'));
  auto match = routes().find(request.method(), path);
  if (match) {
    require(!match->pattern.empty());
    if (match->handler) {
      bool wildcard = match->pattern.ends_with("/*");
      require(match->params.size() == placeholders(match->pattern) + (wildcard ? 1 : 0));
      for (auto& [name, value] : match->params) require(name == "*" || !value.empty());
    } else {
      require(match->params.empty());
    }
    request_context ctx{request, tcp::endpoint{}, std::move(match->params)};
    for (auto name : {"id", "consent_id"})
      if (auto id = ctx.id_param(name)) require(*id >= 0);
    std::string ref{ctx.path_param("ref")};
    if (auto parts = parse_case_ref(ref)) require(parts->number >= 1);
    crypto::plausible_token(ctx.path_param("token"));
  }
  auto params = query_params(target);
  for (auto& [key, value] : params) (void)key, (void)value;
  cookie_value(request, "md_session");
  // The checks every handler may make of headers.
  beast::iequals(request[http::field::expect], "100-continue");
  (void)request["X-Signature"];
  (void)request["Idempotency-Key"];
  (void)request["X-CSRF-Token"];
  if (request.method() == http::verb::post || request.method() == http::verb::put ||
      request.method() == http::verb::patch)
    json_object_body(request);
}

// The response serve_connection() would send, fully serialised.
void respond(const http_request& request, bool parsed) {
  auto response = error_response(http::status::not_found, "not found");
  response.version(request.version() ? request.version() : 11);
  response.keep_alive(parsed && request.keep_alive());
  response.prepare_payload();
  if (request.method() == http::verb::head) response.body().clear();
  http::response_serializer<http::string_body> serializer{response};
  beast::error_code ec;
  do {
    serializer.next(ec, [&](beast::error_code&, const auto& buffers) { serializer.consume(beast::buffer_bytes(buffers)); });
  } while (!ec && !serializer.is_done());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const http_limits limits;  // the server's defaults: 16 KiB of header, 256 KiB of body
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(limits.header_limit));
  parser.body_limit(limits.body_limit);
  parser.eager(true);

  // As async_read would: feed what has arrived, then the end of the stream.
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  beast::error_code ec;
  while (!rest.empty() && !parser.is_done()) {
    auto used = parser.put(asio::buffer(rest.data(), rest.size()), ec);
    require(used <= rest.size());
    rest.remove_prefix(used);
    if (ec == http::error::need_more) {
      ec = {};
      if (used == 0) break;
    } else if (ec) {
      break;
    }
  }
  // Beast's reads end a stream that sent nothing with end_of_stream, never put_eof (whose
  // precondition is that some bytes arrived: a Debug build asserts it).
  if (!ec && !parser.is_done() && parser.got_some()) parser.put_eof(ec);
  if (!parser.is_header_done()) {
    respond(parser.get(), false);  // a 400/408/431, built from whatever the parser holds
    return 0;
  }

  auto& request = parser.get();
  if (!ec) {
    if (auto length = parser.content_length()) require(*length <= limits.body_limit);
    require(request.body().size() <= limits.body_limit);
    route(request);
  }
  respond(request, !ec);
  return 0;
}
