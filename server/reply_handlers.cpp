// Staff replies: POST /api/v1/cases/{ref}/replies builds a threaded email to the journalist (case tag in the
// subject, In-Reply-To their message), records it sealed on the case and queues it in the outbox.
#include <boost/json/parse.hpp>

#include "core/case_ref.hpp"
#include "intake/webhook.hpp"
#include "mail/message.hpp"
#include "mail/outbound.hpp"
#include "queue/outbox.hpp"
#include "server/app.hpp"
#include "server/auth.hpp"
#include "server/http_util.hpp"
#include "store/outbound_store.hpp"

namespace md::server {
namespace json = boost::json;
namespace {

constexpr std::size_t max_reply_characters = 20'000;

// Who to write to and what to thread on, from the case's stored request.
struct correspondent {
  std::string address, name, subject, message_id;
  std::vector<std::string> references;
};

std::string string_at(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_string() ? std::string{it->value().get_string()} : std::string{};
}

std::optional<correspondent> correspondent_of(const store::case_document& doc) {
  correspondent c;
  if (doc.source == "email") {
    auto m = mail::parse_message(doc.document);
    if (!m.parsed) return std::nullopt;
    // Mail clients answer Reply-To when there is one; so do we.
    c.address = m.reply_to_address.empty() ? m.from_address : m.reply_to_address;
    c.name = m.from_name;
    c.subject = m.subject;
    c.message_id = m.message_id;
    c.references = m.references;
  } else {
    json::error_code ec;
    auto value = json::parse(doc.document, ec);
    if (ec || !value.is_object()) return std::nullopt;
    auto& o = value.as_object();
    if (auto it = o.find("journalist"); it != o.end() && it->value().is_object()) {
      c.address = string_at(it->value().as_object(), "email");
      c.name = string_at(it->value().as_object(), "name");
    }
    c.subject = string_at(o, "subject");
  }
  if (c.address.empty() || !intake::plausible_email(c.address)) return std::nullopt;
  return c;
}

std::size_t code_points(std::string_view s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char ch) { return (static_cast<unsigned char>(ch) & 0xC0) != 0x80; }));
}

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
        auto& mail_config = app.config.mail;
        mail::outbound_fields f;
        f.from_name = mail_config.from_name;
        f.from_address = mail_config.from_address;
        f.to_name = to->name;
        f.to_address = to->address;
        f.subject = mail::reply_subject(to->subject, ref);
        f.body_text = text;
        f.message_id = mail::make_message_id(mail::domain_of(mail_config.from_address));
        f.in_reply_to = to->message_id;
        f.references = to->references;  // build_message adds In-Reply-To after them
        f.case_ref = ref;
        queue::outbound_mail m{queue::new_outbox_id(),
                               mail_config.from_address,
                               {to->address},
                               mail::build_message(f, now()),
                               "reply",
                               ref};
        store::store_outbound_message(
            tx, app.keys,
            {ref, f.message_id, "reply", m.message, actor, "reply_sent", static_cast<std::int64_t>(code_points(text))});
        // Queued inside the transaction: if Redis refuses, nothing is recorded (503); the
        // commit failing after the append is the one case where a reply goes out unrecorded.
        app.redis.with([&](queue::redis_connection& rc) { queue::enqueue_mail(rc, app.redis_keys, app.keys, m); });
        return queued{f.message_id};
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
