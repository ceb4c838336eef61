// Case store (see case_store.hpp). Queries are named constants next to the code that runs them.
#include "store/case_store.hpp"

#include <fmt/format.h>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "core/case_ref.hpp"

namespace md::store {
namespace {

constexpr std::string_view insert_intake_sql = R"sql(
INSERT INTO intakes (id, source, received_at, status, deliveries)
VALUES ($1, $2, to_timestamp($3::bigint / 1000.0), 'processed', $4)
ON CONFLICT (id) DO UPDATE SET status = 'processed', error = NULL, deliveries = excluded.deliveries
WHERE intakes.status = 'failed')sql";  // a dead letter put back in the stream is processed again

constexpr std::string_view allocate_refs_sql = R"sql(
INSERT INTO case_ref_counters AS c (year, last_number)
VALUES (extract(year FROM now() AT TIME ZONE 'Europe/London')::int, $1)
ON CONFLICT (year) DO UPDATE SET last_number = c.last_number + excluded.last_number
RETURNING year, last_number)sql";

constexpr std::string_view insert_case_sql = R"sql(
INSERT INTO cases (ref, intake_id, source, priority, topics, regions, medium, outlet_name, outlet_scope,
                   deadline, journalist_email_index, request_sealed)
VALUES ($1, $2, $3, $4, $5::text[], $6::text[], $7, $8, $9, $10::timestamptz, $11, $12)
RETURNING id)sql";

constexpr std::string_view insert_event_sql = R"sql(
INSERT INTO case_events (case_id, actor, kind, data) VALUES ($1, $2, $3, $4::jsonb))sql";

constexpr std::string_view summary_columns = R"sql(
ref, status, source, topics, regions, medium, outlet_name, outlet_scope,
to_char(deadline AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), priority,
to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))sql";

std::string text_array_literal(const std::vector<std::string>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

pg_param optional_string(const std::string& s) { return s.empty() ? null_param() : text(s); }

case_summary read_summary(const pg_result& r, int row, int first_column) {
  case_summary s;
  int c = first_column;
  s.ref = r.get(row, c++);
  s.status = r.get(row, c++);
  s.source = r.get(row, c++);
  s.topics = r.get_text_array(row, c++);
  s.regions = r.get_text_array(row, c++);
  s.medium = r.get_optional(row, c++);
  s.outlet_name = r.get_optional(row, c++);
  s.outlet_scope = r.get_optional(row, c++);
  s.deadline = r.get_optional(row, c++);
  s.priority_level = static_cast<priority>(r.get_int(row, c++));
  s.created_at = r.get(row, c++);
  s.updated_at = r.get(row, c++);
  return s;
}

}  // namespace

std::string case_request_binding(std::string_view ref) { return fmt::format("cases.request:{}", ref); }

std::string journalist_email_index(const crypto::keyring& keys, std::string_view email) {
  return keys.blind_index("journalist.email", crypto::normalise_email(email));
}

std::vector<std::optional<std::string>> store_new_cases(pg_connection& tx, const crypto::keyring& keys,
                                                        std::span<const new_case> batch) {
  std::vector<std::optional<std::string>> refs(batch.size());
  std::vector<std::size_t> fresh;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto& n = batch[i];
    auto r = tx.exec(insert_intake_sql, {text(n.intake_id), text(intake::to_string(n.source)),
                                         number(n.received_unix_ms), number(n.deliveries)});
    if (r.affected() == 1) fresh.push_back(i);
  }
  if (fresh.empty()) return refs;
  auto allocated = tx.exec(allocate_refs_sql, {number(static_cast<std::int64_t>(fresh.size()))});
  auto year = static_cast<int>(allocated.get_int(0, 0));
  auto first_number = allocated.get_int(0, 1) - static_cast<std::int64_t>(fresh.size()) + 1;
  for (std::size_t k = 0; k < fresh.size(); ++k) {
    auto& n = batch[fresh[k]];
    auto ref = format_case_ref(year, first_number + static_cast<std::int64_t>(k));
    auto& t = n.triage;
    auto sealed = keys.seal(n.sealed_document_plaintext, case_request_binding(ref));
    auto email_index = n.journalist_email.empty() ? null_param() : bytes(journalist_email_index(keys, n.journalist_email));
    auto inserted = tx.exec(insert_case_sql,
                            {text(ref), text(n.intake_id), text(intake::to_string(n.source)),
                             number(static_cast<int>(t.priority_level)), text(text_array_literal(t.topics)),
                             text(text_array_literal(t.regions)), optional_string(t.medium),
                             optional_string(t.outlet_name), optional_string(t.outlet_scope),
                             t.deadline ? text(format_iso8601(*t.deadline)) : null_param(), email_index,
                             bytes(sealed)});
    boost::json::object data{{"intake_id", n.intake_id}, {"source", intake::to_string(n.source)},
                             {"priority", to_string(t.priority_level)}};
    tx.exec(insert_event_sql,
            {text(inserted.get(0, 0)), text("system:worker"), text("case_opened"), text(boost::json::serialize(data))});
    refs[fresh[k]] = ref;
  }
  return refs;
}

void store_failed_intake(pg_connection& c, const failed_intake& f) {
  if (f.intake_id.empty()) return;  // nothing to look up by: the dead-letter stream keeps it
  c.exec(R"sql(
INSERT INTO intakes (id, source, received_at, status, error, deliveries)
VALUES ($1, $2, to_timestamp($3::bigint / 1000.0), 'failed', $4, $5)
ON CONFLICT (id) DO UPDATE SET status = 'failed', error = excluded.error, deliveries = excluded.deliveries
WHERE intakes.status <> 'processed')sql",
         {text(f.intake_id), text(f.source), number(f.received_unix_ms), text(f.reason), number(f.deliveries)});
}

case_page list_cases(pg_connection& c, const case_filter& filter) {
  case_page page;
  auto status = filter.status ? text(to_string(*filter.status)) : null_param();
  auto before = filter.before_ref ? text(*filter.before_ref) : null_param();
  auto rows = c.exec(fmt::format(R"sql(
SELECT {} FROM cases
WHERE ($1::text IS NULL OR status = $1)
  AND ($2::text IS NULL OR id < (SELECT id FROM cases WHERE ref = $2))
ORDER BY id DESC LIMIT $3)sql",
                                 summary_columns),
                     {status, before, number(filter.limit)});
  for (int i = 0; i < rows.rows(); ++i) page.cases.push_back(read_summary(rows, i, 0));
  auto total = c.exec("SELECT count(*) FROM cases WHERE ($1::text IS NULL OR status = $1)", {status});
  page.total = total.get_int(0, 0);
  return page;
}

std::optional<case_detail> find_case(pg_connection& c, std::string_view ref) {
  auto r = c.exec(fmt::format("SELECT id, intake_id, {} FROM cases WHERE ref = $1", summary_columns), {text(ref)});
  if (r.rows() == 0) return std::nullopt;
  case_detail d;
  d.intake_id = r.get_optional(0, 1);
  d.summary = read_summary(r, 0, 2);
  auto events = c.exec(R"sql(
SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), actor, kind, data::text
FROM case_events WHERE case_id = $1 ORDER BY id)sql",
                       {text(r.get(0, 0))});
  for (int i = 0; i < events.rows(); ++i)
    d.timeline.push_back({std::string{events.get(i, 0)}, std::string{events.get(i, 1)},
                          std::string{events.get(i, 2)}, std::string{events.get(i, 3)}});
  return d;
}

std::optional<intake_state> find_intake(pg_connection& c, std::string_view intake_id) {
  auto r = c.exec(R"sql(
SELECT i.status, c.ref, i.error FROM intakes i LEFT JOIN cases c ON c.intake_id = i.id WHERE i.id = $1)sql",
                  {text(intake_id)});
  if (r.rows() == 0) return std::nullopt;
  return intake_state{std::string{r.get(0, 0)}, r.get_optional(0, 1), r.get_optional(0, 2)};
}

std::optional<std::string> reveal_case_request(pg_connection& tx, const crypto::keyring& keys, std::string_view ref,
                                               std::string_view actor, std::string_view reason) {
  auto r = tx.exec("SELECT id, request_sealed FROM cases WHERE ref = $1", {text(ref)});
  if (r.rows() == 0) return std::nullopt;
  auto plaintext = keys.open(r.get_bytes(0, 1), case_request_binding(ref));
  if (!plaintext) throw std::runtime_error("a case request could not be opened (wrong master key?)");
  boost::json::object data{{"fields", "request"}, {"reason", reason}};
  tx.exec(insert_event_sql, {text(r.get(0, 0)), text(actor), text("request_revealed"), text(boost::json::serialize(data))});
  return plaintext;
}

}  // namespace md::store
