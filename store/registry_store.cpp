// The registry in PostgreSQL (see registry_store.hpp).
#include "store/registry_store.hpp"

#include <fmt/format.h>

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "crypto/primitives.hpp"
#include "store/offer_store.hpp"

namespace md::store {
namespace json = boost::json;
namespace {

// ---- each person's data key ----

std::string wrap_binding(std::int64_t person_key_id) { return fmt::format("person_keys.wrapped:{}", person_key_id); }

std::string binding(std::string_view table_column, std::int64_t person_key_id) {
  return fmt::format("{}:{}", table_column, person_key_id);
}

std::int64_t create_person_key(pg_connection& tx, const crypto::keyring& keys) {
  auto id = tx.exec("SELECT nextval(pg_get_serial_sequence('person_keys', 'id'))").get_int(0, 0);
  auto raw = crypto::data_key::generate_bytes();
  tx.exec("INSERT INTO person_keys (id, wrapped) VALUES ($1, $2)", {number(id), bytes(keys.seal(raw, wrap_binding(id)))});
  return id;
}

// nullopt once the person has been erased (the key is gone, and with it their data).
std::optional<crypto::data_key> load_person_key(pg_connection& c, const crypto::keyring& keys, std::int64_t id) {
  auto r = c.exec("SELECT wrapped FROM person_keys WHERE id = $1", {number(id)});
  if (r.rows() == 0 || r.is_null(0, 0)) return std::nullopt;
  auto raw = keys.open(r.get_bytes(0, 0), wrap_binding(id));
  if (!raw) throw std::runtime_error(fmt::format("person key {} does not open with this master key", id));
  return crypto::data_key(id, std::move(*raw));
}

std::optional<std::string> open_sealed(const pg_result& r, int row, int col, const std::optional<crypto::data_key>& key,
                                       std::string_view table_column) {
  if (r.is_null(row, col) || !key) return std::nullopt;
  return key->open(r.get_bytes(row, col), binding(table_column, key->id()));
}

// One personal column: (whether to set it, the sealed value or NULL).
std::pair<pg_param, pg_param> personal(const crypto::data_key& key, std::string_view table_column,
                                       const std::optional<std::string>& value) {
  if (!value) return {text("false"), null_param()};
  if (value->empty()) return {text("true"), null_param()};
  return {text("true"), bytes(key.seal(*value, binding(table_column, key.id())))};
}

std::pair<pg_param, pg_param> blind(const crypto::keyring& keys, std::string_view domain,
                                    const std::optional<std::string>& normalised) {
  if (!normalised) return {text("false"), null_param()};
  if (normalised->empty()) return {text("true"), null_param()};
  return {text("true"), bytes(keys.blind_index(domain, *normalised))};
}

std::optional<std::string> normalised_email(const std::optional<std::string>& email) {
  if (!email) return std::nullopt;
  return crypto::normalise_email(*email);
}

// Phones are looked up by their digits (and a leading +), however they were written.
std::optional<std::string> normalised_phone(const std::optional<std::string>& phone) {
  if (!phone) return std::nullopt;
  std::string out;
  for (char c : *phone)
    if ((c >= '0' && c <= '9') || (c == '+' && out.empty())) out += c;
  return out;
}

pg_param optional_text(const std::optional<std::string>& v) { return v && !v->empty() ? text(*v) : null_param(); }
pg_param optional_number(const std::optional<std::int64_t>& v) { return v && *v >= 0 ? number(*v) : null_param(); }
pg_param array(const std::vector<std::string>& items) { return text(text_array_literal(items)); }

std::string changed_fields_json(std::initializer_list<std::pair<const char*, bool>> fields) {
  json::array changed;
  for (auto& [name, is_changed] : fields)
    if (is_changed) changed.emplace_back(name);
  return json::serialize(json::object{{"fields", changed}});
}

// ---- partners ----

const std::string partner_columns = fmt::format(
    "id, key, name, contact_name_sealed IS NOT NULL, contact_email_sealed IS NOT NULL, regions, topics, languages, "
    "{}, capacity, {}, {}, {}",
    iso8601_sql("away_until"), iso8601_sql("created_at"), iso8601_sql("updated_at"), iso8601_sql("archived_at"));

partner_record partner_from(const pg_result& r, int row) {
  partner_record p;
  p.id = r.get_int(row, 0);
  p.key = r.get(row, 1);
  p.name = r.get(row, 2);
  p.has_contact_name = r.get_bool(row, 3);
  p.has_contact_email = r.get_bool(row, 4);
  p.regions = r.get_text_array(row, 5);
  p.topics = r.get_text_array(row, 6);
  p.languages = r.get_text_array(row, 7);
  p.away_until = r.get_optional(row, 8);
  if (!r.is_null(row, 9)) p.capacity = r.get_int(row, 9);
  p.created_at = r.get(row, 10);
  p.updated_at = r.get(row, 11);
  p.archived_at = r.get_optional(row, 12);
  return p;
}

void write_partner(pg_connection& tx, const crypto::keyring& keys, std::int64_t id, std::int64_t person_key_id,
                   const partner_input& in, std::string_view actor, bool created) {
  auto key = load_person_key(tx, keys, person_key_id);
  if (!key) throw std::runtime_error("the partner contact's key was erased");
  auto [set_name, name] = personal(*key, "partners.contact_name", in.contact_name);
  auto [set_email, email] = personal(*key, "partners.contact_email", in.contact_email);
  auto [set_index, index] = blind(keys, "partner.contact_email", normalised_email(in.contact_email));
  tx.exec(R"sql(
UPDATE partners SET key = $2, name = $3,
  contact_name_sealed = CASE WHEN $4::boolean THEN $5 ELSE contact_name_sealed END,
  contact_email_sealed = CASE WHEN $6::boolean THEN $7 ELSE contact_email_sealed END,
  contact_email_index = CASE WHEN $8::boolean THEN $9 ELSE contact_email_index END,
  regions = $10::text[], topics = $11::text[], languages = $12::text[],
  away_until = $13::timestamptz, capacity = $14::integer, updated_at = now()
WHERE id = $1)sql",
          {number(id), text(in.key), text(in.name), set_name, name, set_email, email, set_index, index, array(in.regions),
           array(in.topics), array(in.languages), optional_text(in.away_until), optional_number(in.capacity)});
  append_registry_event(tx, actor, fmt::format("partner:{}", id), created ? "partner_created" : "partner_updated",
                        changed_fields_json({{"contact_name", bool(in.contact_name)},
                                             {"contact_email", bool(in.contact_email)}}));
}

}  // namespace

std::pair<std::int64_t, bool> save_partner(pg_connection& tx, const crypto::keyring& keys, const partner_input& in,
                                           std::string_view actor) {
  auto existing = tx.exec("SELECT id, contact_key_id FROM partners WHERE key = $1 FOR UPDATE", {text(in.key)});
  if (existing.rows() == 1) {
    write_partner(tx, keys, existing.get_int(0, 0), existing.get_int(0, 1), in, actor, false);
    return {existing.get_int(0, 0), false};
  }
  auto person_key_id = create_person_key(tx, keys);
  auto id = tx.exec("INSERT INTO partners (key, name, contact_key_id) VALUES ($1, $2, $3) RETURNING id",
                    {text(in.key), text(in.name), number(person_key_id)})
                .get_int(0, 0);
  write_partner(tx, keys, id, person_key_id, in, actor, true);
  return {id, true};
}

bool update_partner(pg_connection& tx, const crypto::keyring& keys, std::int64_t id, const partner_input& in,
                    std::string_view actor) {
  auto existing = tx.exec("SELECT contact_key_id FROM partners WHERE id = $1 FOR UPDATE", {number(id)});
  if (existing.rows() == 0) return false;
  write_partner(tx, keys, id, existing.get_int(0, 0), in, actor, false);
  return true;
}

std::optional<partner_record> find_partner(pg_connection& c, std::int64_t id) {
  auto r = c.exec(fmt::format("SELECT {} FROM partners WHERE id = $1", partner_columns), {number(id)});
  if (r.rows() == 0) return std::nullopt;
  return partner_from(r, 0);
}

std::optional<std::int64_t> find_partner_id_by_key(pg_connection& c, std::string_view key) {
  auto r = c.exec("SELECT id FROM partners WHERE key = $1", {text(key)});
  if (r.rows() == 0) return std::nullopt;
  return r.get_int(0, 0);
}

std::vector<partner_record> list_partners(pg_connection& c, bool include_archived) {
  auto r = c.exec(fmt::format("SELECT {} FROM partners WHERE $1::boolean OR archived_at IS NULL ORDER BY name, id",
                              partner_columns),
                  {text(include_archived ? "true" : "false")});
  std::vector<partner_record> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(partner_from(r, i));
  return out;
}

bool archive_partner(pg_connection& tx, std::int64_t id, std::string_view actor) {
  auto r = tx.exec("UPDATE partners SET archived_at = now(), updated_at = now() WHERE id = $1 AND archived_at IS NULL",
                   {number(id)});
  if (r.affected() == 0) return false;
  append_registry_event(tx, actor, fmt::format("partner:{}", id), "partner_archived");
  return true;
}

std::optional<partner_contact> open_partner_contact(pg_connection& c, const crypto::keyring& keys, std::int64_t id) {
  auto r = c.exec("SELECT contact_key_id, contact_name_sealed, contact_email_sealed FROM partners WHERE id = $1",
                  {number(id)});
  if (r.rows() == 0) return std::nullopt;
  auto key = load_person_key(c, keys, r.get_int(0, 0));
  return partner_contact{open_sealed(r, 0, 1, key, "partners.contact_name"),
                         open_sealed(r, 0, 2, key, "partners.contact_email")};
}

// ---- spokespeople ----

namespace {

const std::string spokesperson_columns = fmt::format(
    "id, key, partner_id, alias, full_name_sealed IS NOT NULL, email_sealed IS NOT NULL, phone_sealed IS NOT NULL, "
    "story_notes_sealed IS NOT NULL, regions, topics, languages, max_per_month, {}, {}, {}",
    iso8601_sql("created_at"), iso8601_sql("updated_at"), iso8601_sql("erased_at"));

spokesperson_record spokesperson_from(const pg_result& r, int row) {
  spokesperson_record s;
  s.id = r.get_int(row, 0);
  s.key = r.get_optional(row, 1);
  if (!r.is_null(row, 2)) s.partner_id = r.get_int(row, 2);
  s.alias = r.get(row, 3);
  s.has_full_name = r.get_bool(row, 4);
  s.has_email = r.get_bool(row, 5);
  s.has_phone = r.get_bool(row, 6);
  s.has_story_notes = r.get_bool(row, 7);
  s.regions = r.get_text_array(row, 8);
  s.topics = r.get_text_array(row, 9);
  s.languages = r.get_text_array(row, 10);
  if (!r.is_null(row, 11)) s.max_per_month = r.get_int(row, 11);
  s.created_at = r.get(row, 12);
  s.updated_at = r.get(row, 13);
  s.erased_at = r.get_optional(row, 14);
  return s;
}

void write_spokesperson(pg_connection& tx, const crypto::keyring& keys, std::int64_t id, std::int64_t person_key_id,
                        const spokesperson_input& in, std::string_view actor, bool created) {
  auto key = load_person_key(tx, keys, person_key_id);
  if (!key) throw std::runtime_error("the spokesperson was erased");
  auto [set_name, name] = personal(*key, "spokespeople.full_name", in.full_name);
  auto [set_email, email] = personal(*key, "spokespeople.email", in.email);
  auto [set_phone, phone] = personal(*key, "spokespeople.phone", in.phone);
  auto [set_notes, notes] = personal(*key, "spokespeople.story_notes", in.story_notes);
  auto [set_email_index, email_index] = blind(keys, "spokesperson.email", normalised_email(in.email));
  auto [set_phone_index, phone_index] = blind(keys, "spokesperson.phone", normalised_phone(in.phone));
  tx.exec(R"sql(
UPDATE spokespeople SET key = $2, partner_id = $3::bigint, alias = $4,
  full_name_sealed = CASE WHEN $5::boolean THEN $6 ELSE full_name_sealed END,
  email_sealed = CASE WHEN $7::boolean THEN $8 ELSE email_sealed END,
  phone_sealed = CASE WHEN $9::boolean THEN $10 ELSE phone_sealed END,
  story_notes_sealed = CASE WHEN $11::boolean THEN $12 ELSE story_notes_sealed END,
  email_index = CASE WHEN $13::boolean THEN $14 ELSE email_index END,
  phone_index = CASE WHEN $15::boolean THEN $16 ELSE phone_index END,
  regions = $17::text[], topics = $18::text[], languages = $19::text[], max_per_month = $20::integer,
  updated_at = now()
WHERE id = $1)sql",
          {number(id), optional_text(in.key), in.partner_id ? number(*in.partner_id) : null_param(), text(in.alias),
           set_name, name, set_email, email, set_phone, phone, set_notes, notes, set_email_index, email_index,
           set_phone_index, phone_index, array(in.regions), array(in.topics), array(in.languages),
           optional_number(in.max_per_month)});
  append_registry_event(tx, actor, fmt::format("spokesperson:{}", id),
                        created ? "spokesperson_created" : "spokesperson_updated",
                        changed_fields_json({{"full_name", bool(in.full_name)},
                                             {"email", bool(in.email)},
                                             {"phone", bool(in.phone)},
                                             {"story_notes", bool(in.story_notes)}}));
}

}  // namespace

std::pair<std::int64_t, bool> save_spokesperson(pg_connection& tx, const crypto::keyring& keys,
                                                const spokesperson_input& in, std::string_view actor) {
  if (in.key) {
    auto existing = tx.exec("SELECT id, person_key_id FROM spokespeople WHERE key = $1 AND erased_at IS NULL FOR UPDATE",
                            {text(*in.key)});
    if (existing.rows() == 1) {
      write_spokesperson(tx, keys, existing.get_int(0, 0), existing.get_int(0, 1), in, actor, false);
      return {existing.get_int(0, 0), false};
    }
  }
  auto person_key_id = create_person_key(tx, keys);
  auto id = tx.exec("INSERT INTO spokespeople (alias, person_key_id) VALUES ($1, $2) RETURNING id",
                    {text(in.alias), number(person_key_id)})
                .get_int(0, 0);
  write_spokesperson(tx, keys, id, person_key_id, in, actor, true);
  return {id, true};
}

bool update_spokesperson(pg_connection& tx, const crypto::keyring& keys, std::int64_t id,
                         const spokesperson_input& in, std::string_view actor) {
  auto existing =
      tx.exec("SELECT person_key_id FROM spokespeople WHERE id = $1 AND erased_at IS NULL FOR UPDATE", {number(id)});
  if (existing.rows() == 0) return false;
  write_spokesperson(tx, keys, id, existing.get_int(0, 0), in, actor, false);
  return true;
}

std::optional<spokesperson_record> find_spokesperson(pg_connection& c, std::int64_t id) {
  auto r = c.exec(fmt::format("SELECT {} FROM spokespeople WHERE id = $1", spokesperson_columns), {number(id)});
  if (r.rows() == 0) return std::nullopt;
  return spokesperson_from(r, 0);
}

std::optional<std::int64_t> find_spokesperson_id_by_key(pg_connection& c, std::string_view key) {
  auto r = c.exec("SELECT id FROM spokespeople WHERE key = $1", {text(key)});
  if (r.rows() == 0) return std::nullopt;
  return r.get_int(0, 0);
}

std::vector<spokesperson_record> list_spokespeople(pg_connection& c, std::optional<std::int64_t> partner_id) {
  auto r = c.exec(fmt::format("SELECT {} FROM spokespeople WHERE erased_at IS NULL AND ($1::bigint IS NULL OR "
                              "partner_id = $1::bigint) ORDER BY alias, id",
                              spokesperson_columns),
                  {partner_id ? number(*partner_id) : null_param()});
  std::vector<spokesperson_record> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(spokesperson_from(r, i));
  return out;
}

std::optional<spokesperson_personal> open_spokesperson(pg_connection& c, const crypto::keyring& keys, std::int64_t id) {
  auto r = c.exec(
      "SELECT person_key_id, full_name_sealed, email_sealed, phone_sealed, story_notes_sealed FROM spokespeople "
      "WHERE id = $1",
      {number(id)});
  if (r.rows() == 0) return std::nullopt;
  auto key = load_person_key(c, keys, r.get_int(0, 0));
  return spokesperson_personal{open_sealed(r, 0, 1, key, "spokespeople.full_name"),
                               open_sealed(r, 0, 2, key, "spokespeople.email"),
                               open_sealed(r, 0, 3, key, "spokespeople.phone"),
                               open_sealed(r, 0, 4, key, "spokespeople.story_notes")};
}

bool erase_spokesperson(pg_connection& tx, std::int64_t id, std::string_view actor) {
  auto r = tx.exec("SELECT person_key_id FROM spokespeople WHERE id = $1 AND erased_at IS NULL FOR UPDATE", {number(id)});
  if (r.rows() == 0) return false;
  tx.exec("UPDATE person_keys SET wrapped = NULL, erased_at = now() WHERE id = $1", {text(r.get(0, 0))});
  tx.exec(R"sql(
UPDATE spokespeople SET key = NULL, alias = 'erased ' || id, full_name_sealed = NULL, email_sealed = NULL,
  phone_sealed = NULL, story_notes_sealed = NULL, email_index = NULL, phone_index = NULL, erased_at = now(),
  updated_at = now()
WHERE id = $1)sql",
          {number(id)});
  tx.exec(R"sql(
UPDATE consents SET evidence_sealed = NULL,
  withdrawn_by = CASE WHEN withdrawn_at IS NULL THEN $2 ELSE withdrawn_by END,
  withdrawn_at = coalesce(withdrawn_at, now())
WHERE spokesperson_id = $1)sql",
          {number(id), text(actor)});
  withdraw_offers_of(tx, id, std::nullopt, "the spokesperson's data was erased", actor);
  append_registry_event(tx, actor, fmt::format("spokesperson:{}", id), "spokesperson_erased");
  return true;
}

// ---- consents ----

namespace {

const std::string consent_columns = fmt::format(
    "id, spokesperson_id, media, identification, topics, excluded_outlets, {}, {}, {}, withdrawn_by, recorded_by, "
    "evidence_sealed IS NOT NULL, "
    "CASE WHEN withdrawn_at IS NOT NULL THEN 'withdrawn' WHEN granted_at > now() THEN 'pending' "
    "WHEN expires_at IS NOT NULL AND expires_at <= now() THEN 'expired' ELSE 'live' END, {}",
    iso8601_sql("granted_at"), iso8601_sql("expires_at"), iso8601_sql("withdrawn_at"), iso8601_sql("created_at"));

consent_record consent_from(const pg_result& r, int row) {
  consent_record c;
  c.id = r.get_int(row, 0);
  c.spokesperson_id = r.get_int(row, 1);
  c.media = r.get_text_array(row, 2);
  c.identification = r.get(row, 3);
  c.topics = r.get_text_array(row, 4);
  c.excluded_outlets = r.get_text_array(row, 5);
  c.granted_at = r.get(row, 6);
  c.expires_at = r.get_optional(row, 7);
  c.withdrawn_at = r.get_optional(row, 8);
  c.withdrawn_by = r.get_optional(row, 9);
  c.recorded_by = r.get(row, 10);
  c.has_evidence = r.get_bool(row, 11);
  c.state = r.get(row, 12);
  c.created_at = r.get(row, 13);
  return c;
}

}  // namespace

std::int64_t record_consent(pg_connection& tx, const crypto::keyring& keys, std::int64_t spokesperson_id,
                            const consent_input& in, std::string_view actor) {
  auto person = tx.exec("SELECT person_key_id FROM spokespeople WHERE id = $1 AND erased_at IS NULL FOR UPDATE",
                        {number(spokesperson_id)});
  if (person.rows() == 0) throw std::runtime_error("record_consent: no such spokesperson");
  auto key = load_person_key(tx, keys, person.get_int(0, 0));
  auto evidence = in.evidence && !in.evidence->empty()
                      ? bytes(key->seal(*in.evidence, binding("consents.evidence", key->id())))
                      : null_param();
  auto id = tx.exec(R"sql(
INSERT INTO consents (spokesperson_id, media, identification, topics, excluded_outlets, granted_at, expires_at,
                      withdrawn_at, withdrawn_by, recorded_by, evidence_sealed)
VALUES ($1, $2::text[], $3, $4::text[], $5::text[], $6::timestamptz, $7::timestamptz, $8::timestamptz,
        CASE WHEN $8::timestamptz IS NULL THEN NULL ELSE $9 END, $9, $10)
RETURNING id)sql",
          {number(spokesperson_id), array(in.media), text(in.identification), array(in.topics),
           array(in.excluded_outlets), text(in.granted_at), optional_text(in.expires_at), optional_text(in.withdrawn_at),
           text(actor), evidence})
                .get_int(0, 0);
  append_registry_event(tx, actor, fmt::format("spokesperson:{}", spokesperson_id), "consent_recorded",
                        json::serialize(json::object{{"consent", id}, {"identification", in.identification}}));
  return id;
}

bool withdraw_consent(pg_connection& tx, std::int64_t spokesperson_id, std::int64_t consent_id, std::string_view actor) {
  auto r = tx.exec(
      "UPDATE consents SET withdrawn_at = now(), withdrawn_by = $3 WHERE id = $1 AND spokesperson_id = $2 AND "
      "withdrawn_at IS NULL",
      {number(consent_id), number(spokesperson_id), text(actor)});
  if (r.affected() == 0) return false;
  // Withdrawal takes effect at once: an open offer relying on this consent is withdrawn with it.
  withdraw_offers_of(tx, spokesperson_id, consent_id, "consent withdrawn", actor);
  append_registry_event(tx, actor, fmt::format("spokesperson:{}", spokesperson_id), "consent_withdrawn",
                        json::serialize(json::object{{"consent", consent_id}}));
  return true;
}

std::vector<consent_record> list_consents(pg_connection& c, std::int64_t spokesperson_id) {
  auto r = c.exec(fmt::format("SELECT {} FROM consents WHERE spokesperson_id = $1 ORDER BY id", consent_columns),
                  {number(spokesperson_id)});
  std::vector<consent_record> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(consent_from(r, i));
  return out;
}

std::optional<spokesperson_export> export_spokesperson(pg_connection& c, const crypto::keyring& keys, std::int64_t id) {
  auto record = find_spokesperson(c, id);
  if (!record) return std::nullopt;
  spokesperson_export out{*record, *open_spokesperson(c, keys, id), list_consents(c, id), {}, {}, {}};
  auto key = load_person_key(c, keys, c.exec("SELECT person_key_id FROM spokespeople WHERE id = $1", {number(id)}).get_int(0, 0));
  auto evidence = c.exec("SELECT id, evidence_sealed FROM consents WHERE spokesperson_id = $1", {number(id)});
  for (int i = 0; i < evidence.rows(); ++i)
    out.evidence[evidence.get_int(i, 0)] = open_sealed(evidence, i, 1, key, "consents.evidence");
  auto subject = fmt::format("spokesperson:{}", id);
  out.history = registry_history(c, subject);
  auto reveals = c.exec(fmt::format("SELECT {}, user_id, fields FROM reveal_audit WHERE subject = $1 ORDER BY at", iso8601_sql("at")),
                        {text(subject)});
  for (int i = 0; i < reveals.rows(); ++i)
    out.reveals.push_back({std::string{reveals.get(i, 0)}, reveals.get_int(i, 1), reveals.get_text_array(i, 2)});
  return out;
}

// ---- history and audit ----

void append_registry_event(pg_connection& tx, std::string_view actor, std::string_view subject, std::string_view kind,
                           std::string_view data_json) {
  tx.exec("INSERT INTO registry_events (actor, subject, kind, data) VALUES ($1, $2, $3, $4::jsonb)",
          {text(actor), text(subject), text(kind), text(data_json)});
}

std::vector<registry_event> registry_history(pg_connection& c, std::string_view subject) {
  auto r = c.exec(fmt::format("SELECT id, {}, actor, subject, kind, data::text FROM registry_events WHERE subject = $1 "
                              "ORDER BY id",
                              iso8601_sql("at")),
                  {text(subject)});
  std::vector<registry_event> out;
  for (int i = 0; i < r.rows(); ++i)
    out.push_back({r.get_int(i, 0), std::string{r.get(i, 1)}, std::string{r.get(i, 2)}, std::string{r.get(i, 3)},
                   std::string{r.get(i, 4)}, std::string{r.get(i, 5)}});
  return out;
}

std::string record_reveal(pg_connection& tx, const crypto::keyring& keys, std::int64_t user_id, std::string_view subject,
                   const std::vector<std::string>& fields, std::string_view reason) {
  auto id = crypto::random_token(16);
  tx.exec("INSERT INTO reveal_audit (id, user_id, subject, fields, reason_sealed) VALUES ($1, $2, $3, $4::text[], $5)",
          {text(id), number(user_id), text(subject), array(fields),
           bytes(keys.seal(reason, fmt::format("reveal_audit.reason:{}", id)))});
  return id;
}

std::vector<reveal_entry> list_reveals(pg_connection& c, const crypto::keyring& keys, std::int64_t limit,
                                       std::optional<std::string> before_at, std::optional<std::string> before_id) {
  // Keyset paging on (at, id): entries recorded in the same millisecond are neither repeated nor
  // skipped (the times shown are cut to milliseconds, so `at` alone cannot page exactly).
  auto r = c.exec(fmt::format("SELECT id, {}, user_id, subject, fields, reason_sealed FROM reveal_audit "
                              "WHERE ($2::timestamptz IS NULL OR at < $2::timestamptz) "
                              "AND ($3::text IS NULL OR (at, id) < (SELECT at, id FROM reveal_audit WHERE id = $3)) "
                              "ORDER BY at DESC, id DESC LIMIT $1",
                              iso8601_sql("at")),
                  {number(limit), optional_text(before_at), optional_text(before_id)});
  std::vector<reveal_entry> out;
  for (int i = 0; i < r.rows(); ++i) {
    std::string id{r.get(i, 0)};
    auto reason = keys.open(r.get_bytes(i, 5), fmt::format("reveal_audit.reason:{}", id));
    out.push_back({id, std::string{r.get(i, 1)}, r.get_int(i, 2), std::string{r.get(i, 3)}, r.get_text_array(i, 4),
                   reason.value_or("(cannot be opened)")});
  }
  return out;
}

}  // namespace md::store
