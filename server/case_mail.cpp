// Mail the desk writes (see case_mail.hpp).
#include "server/case_mail.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>

#include "intake/webhook.hpp"
#include "mail/message.hpp"
#include "mail/outbound.hpp"
#include "queue/outbox.hpp"

namespace md::server {
namespace json = boost::json;
namespace {

std::string string_at(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_string() ? std::string{it->value().get_string()} : std::string{};
}

mail::outbound_fields fields_from(const mail_context& m) {
  mail::outbound_fields f;
  f.from_name = m.config.mail.from_name;
  f.from_address = m.config.mail.from_address;
  f.message_id = mail::make_message_id(mail::domain_of(m.config.mail.from_address));
  return f;
}

}  // namespace

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
      auto& journalist = it->value().as_object();
      c.address = string_at(journalist, "email");
      c.name = string_at(journalist, "name");
      c.phone = string_at(journalist, "phone");
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

std::string write_to_journalist(store::pg_connection& tx, queue::redis_connection& redis, const mail_context& m,
                                std::string_view ref, const correspondent& to, std::string_view body,
                                std::string_view source, std::string_view actor, std::string_view event_kind) {
  auto f = fields_from(m);
  f.to_name = to.name;
  f.to_address = to.address;
  f.subject = mail::reply_subject(to.subject, ref);
  f.body_text = std::string{body};
  f.in_reply_to = to.message_id;
  f.references = to.references;  // build_message adds In-Reply-To after them
  f.case_ref = std::string{ref};
  queue::outbound_mail mail{queue::new_outbox_id(), m.config.mail.from_address, {to.address},
                            mail::build_message(f, now()), std::string{source}, std::string{ref}};
  store::store_outbound_message(tx, m.keys,
                                {std::string{ref}, f.message_id, std::string{source}, mail.message, std::string{actor},
                                 std::string{event_kind}, static_cast<std::int64_t>(code_points(body))});
  queue::enqueue_mail(redis, m.redis_keys, m.keys, mail);
  return f.message_id;
}

void queue_plain_mail(queue::redis_connection& redis, const mail_context& m, const plain_mail& p) {
  auto f = fields_from(m);
  f.to_name = p.to_name;
  f.to_address = p.to_address;
  f.subject = p.subject;
  f.body_text = p.body;
  f.case_ref = p.case_ref;
  queue::enqueue_mail(redis, m.redis_keys, m.keys,
                      {queue::new_outbox_id(), m.config.mail.from_address, {p.to_address}, mail::build_message(f, now()),
                       p.purpose, p.case_ref});
}

}  // namespace md::server
