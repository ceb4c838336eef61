// Staff replies: POST /api/v1/cases/{ref}/replies builds a threaded email to the journalist (case tag in the
// subject, In-Reply-To their message), records it sealed on the case and queues it in the outbox.
#include <boost/json/parse.hpp>

#include "core/case_ref.hpp"
#include "server/app.hpp"
#include "server/auth.hpp"
#include "server/case_mail.hpp"
#include "server/http_util.hpp"

namespace md::server {
namespace json = boost::json;
namespace {

constexpr std::size_t max_reply_characters = 20'000;

struct queued {
  std::string message_id;
};
struct unknown_case {};
struct no_address {};
struct purged_case {};
using reply_outcome = std::variant<queued, unknown_case, no_address, purged_case>;

awaitable<http_response> handle_reply(app_context& app, request_context& ctx) {
  auto s = co_await require_session(app, ctx, role::staff);
  if (auto* r = std::get_if<http_response>(&s)) co_return std::move(*r);
  auto body = json_object_body(ctx.request);
  if (auto* r = std::get_if<http_response>(&body)) co_return std::move(*r);
  auto& o = std::get<json::object>(body);
  auto it = o.find("body");
  if (it == o.end() || !it->value().is_string() ||
      std::string_view{it->value().get_string()}.find_first_not_of(" \t\r\n") == std::string_view::npos ||
      code_points(it->value().get_string()) > max_reply_characters)
    co_return field_error_response({"body", "body is required: the reply's text, 1 to 20000 characters"});
  std::string text{it->value().get_string()};
  std::string ref{ctx.path_param("ref")};
  if (!parse_case_ref(ref)) co_return error_response(http::status::not_found, "no such case");
  auto actor = std::get<staff_session>(s).actor();

  auto work = [&app, ref, actor, text]() -> reply_outcome {
    return app.database.with([&](store::pg_connection& c) {
      return c.transaction([&](store::pg_connection& tx) -> reply_outcome {
        std::optional<store::case_document> doc;
        try {
          doc = store::open_case_document(tx, app.keys, ref);
        } catch (const store::personal_data_purged&) {
          return purged_case{};
        }
        if (!doc) return unknown_case{};
        auto to = correspondent_of(*doc);
        if (!to) return no_address{};
        // Queued inside the transaction: if Redis refuses, nothing is recorded (503); the
        // commit failing after the append is the one case where a reply goes out unrecorded.
        return app.redis.with([&](queue::redis_connection& rc) {
          return queued{write_to_journalist(tx, rc, {app.config, app.keys, app.redis_keys}, ref, *to, text, "reply",
                                            actor, "reply_sent")};
        });
      });
    });
  };
  auto outcome = co_await run_blocking(app.blocking, std::move(work));
  if (std::holds_alternative<unknown_case>(outcome)) co_return error_response(http::status::not_found, "no such case");
  if (std::holds_alternative<no_address>(outcome))
    co_return error_response(http::status::conflict, "the case has no email address for the journalist");
  if (std::holds_alternative<purged_case>(outcome))
    co_return error_response(http::status::gone, "the journalist's personal data on this case was erased: no reply is possible");
  co_return json_response(http::status::created,
                          json::object{{"reply", json::object{{"message_id", std::get<queued>(outcome).message_id},
                                                              {"status", "queued"}}}});
}

}  // namespace

void add_reply_routes(router& r, app_context& app) {
  r.add(http::verb::post, "/api/v1/cases/{ref}/replies", [&app](request_context& c) { return handle_reply(app, c); });
}

}  // namespace md::server
