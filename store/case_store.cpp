// Case store (see case_store.hpp). Queries are named constants next to the code that runs them.
#include "store/case_store.hpp"

#include <fmt/format.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "core/case_ref.hpp"
#include "crypto/primitives.hpp"
#include "routing/triage_json.hpp"
#include "store/registry_store.hpp"
#include "store/user_store.hpp"

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
                   deadline, journalist_email_index, request_sealed, received_at, priority_score, needs,
                   target_at, triage_explain)
VALUES ($1, $2, $3, $4, $5::text[], $6::text[], $7, $8, $9, $10::timestamptz, $11, $12,
        to_timestamp($13::bigint / 1000.0), $14, $15::jsonb, $16::timestamptz, $17::jsonb)
RETURNING id)sql";

constexpr std::string_view link_intake_sql = "UPDATE intakes SET case_id = $2 WHERE id = $1";

// A journalist's requests of the last 24 hours, newest first: candidates for a duplicate.
constexpr std::string_view recent_requests_sql = R"sql(
SELECT id, ref, source, request_sealed FROM cases
WHERE journalist_email_index = $1 AND received_at > to_timestamp($2::bigint / 1000.0)
ORDER BY id DESC LIMIT 20)sql";

constexpr std::string_view insert_message_sql = R"sql(
INSERT INTO case_messages (case_id, intake_id, direction, source, at, sealed)
VALUES ($1, $2, 'in', $3, to_timestamp($4::bigint / 1000.0), $5))sql";

constexpr std::string_view insert_event_sql = R"sql(
INSERT INTO case_events (case_id, actor, kind, data) VALUES ($1, $2, $3, $4::jsonb))sql";

constexpr std::string_view summary_columns = R"sql(
ref, status, source, topics, regions, medium, outlet_name, outlet_scope,
to_char(deadline AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), priority,
to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), priority_score, needs::text,
to_char(target_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), escalation, corrected_fields, unparsed,
assignee_user_id)sql";

pg_param optional_string(const std::string& s) { return s.empty() ? null_param() : text(s); }

constexpr std::int64_t duplicate_window_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(duplicate_window).count();
}

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
  s.received_at = r.get(row, c++);
  s.priority_score = static_cast<int>(r.get_int(row, c++));
  s.needs_json = r.get(row, c++);
  s.target_at = r.get_optional(row, c++);
  s.escalation = r.get(row, c++);
  s.corrected_fields = r.get_text_array(row, c++);
  s.unparsed = r.get(row, c++) == "t";
  if (!r.is_null(row, c)) s.assignee = labelled_user{r.get_int(row, c), {}};
  ++c;
  return s;
}

// Opens the labels of the assignees of these cases (one query for all of them).
void open_assignee_labels(pg_connection& c, const crypto::keyring& keys, std::span<case_summary> cases) {
  std::vector<std::int64_t> ids;
  for (auto& s : cases)
    if (s.assignee) ids.push_back(s.assignee->user_id);
  if (ids.empty()) return;
  auto labels = staff_labels(c, keys, ids);
  for (auto& s : cases)
    if (s.assignee)
      if (auto it = labels.find(s.assignee->user_id); it != labels.end()) s.assignee->label = it->second;
}

// The case list's WHERE clause, assembled from the constant fragments below; values go only
// into parameters (never into the SQL text).
struct case_conditions {
  std::string sql = "true";
  std::vector<pg_param> params;
  std::string bind(pg_param p) {
    params.push_back(std::move(p));
    return fmt::format("${}", params.size());
  }
  void add(std::string_view fragment) { (sql += " AND ") += fragment; }
  // fragment has one {} for the parameter's placeholder.
  void add(std::string_view fragment, pg_param p) { add(fmt::format(fmt::runtime(fragment), bind(std::move(p)))); }
};

// "status IN ('new', ...)" from the lifecycle table, written out so that the partial index over
// the open queue (migration 008) is seen to apply.
const std::string& open_statuses_sql() {
  static const std::string sql = [] {
    std::string list;
    for (auto s : all_case_statuses())
      if (is_open(s)) list += fmt::format("{}'{}'", list.empty() ? "" : ", ", to_string(s));
    return fmt::format("status IN ({})", list);
  }();
  return sql;
}

}  // namespace

std::string case_request_binding(std::string_view ref) { return fmt::format("cases.request:{}", ref); }

std::string journalist_email_index(const crypto::keyring& keys, std::string_view email) {
  return keys.blind_index("journalist.email", crypto::normalise_email(email));
}

std::string case_message_binding(std::string_view intake_id) { return fmt::format("case_messages.sealed:{}", intake_id); }

std::string message_id_index(const crypto::keyring& keys, std::string_view message_id) {
  return keys.blind_index("message.id", message_id);
}

void register_message_id(pg_connection& tx, const crypto::keyring& keys, std::int64_t case_id,
                         std::string_view message_id, std::string_view direction) {
  tx.exec(R"sql(
INSERT INTO case_message_ids (message_id_index, case_id, direction) VALUES ($1, $2, $3)
ON CONFLICT (message_id_index) DO NOTHING)sql",
          {bytes(message_id_index(keys, message_id)), number(case_id), text(direction)});
}

std::vector<std::optional<stored_intake>> store_new_cases(pg_connection& tx, const crypto::keyring& keys,
                                                          std::span<const new_case> batch,
                                                          const same_request_test& same_request) {
  std::vector<std::optional<stored_intake>> out(batch.size());
  // Per new intake: the case it joins, as a stored case (id, ref) or an earlier entry of this batch.
  struct earlier_case {
    std::string id, ref;
    std::optional<std::size_t> in_batch;
  };
  std::vector<std::size_t> opening;
  struct join {
    std::size_t index;
    earlier_case to;
    stored_intake::how how;
  };
  std::vector<join> joining;
  // A reply in a case's thread: a Message-ID it answers is one of the case's, or its subject
  // carries the case's tag and it comes from that case's own journalist (a tag alone is easy to
  // copy; another sender with the same subject opens a case of their own).
  auto find_thread = [&](pg_connection& c, const crypto::keyring& k, const new_case& n) -> std::optional<earlier_case> {
    if (!n.replies_to.empty()) {
      std::string indexes = "{";
      for (std::size_t j = 0; j < n.replies_to.size() && j < 50; ++j) {
        if (j) indexes += ',';
        indexes += "\"\\\\x" + crypto::to_hex(message_id_index(k, n.replies_to[j])) + "\"";
      }
      indexes += "}";
      auto r = c.exec(R"sql(
SELECT c.id, c.ref FROM case_message_ids m JOIN cases c ON c.id = m.case_id
WHERE m.message_id_index = ANY($1::bytea[]) ORDER BY m.created_at DESC LIMIT 1)sql",
                      {text(indexes)});
      if (r.rows() == 1) return earlier_case{std::string{r.get(0, 0)}, std::string{r.get(0, 1)}, std::nullopt};
    }
    if (!n.subject_ref.empty() && !n.journalist_email.empty()) {
      auto r = c.exec("SELECT id, ref FROM cases WHERE ref = $1 AND journalist_email_index = $2",
                      {text(n.subject_ref), bytes(journalist_email_index(k, n.journalist_email))});
      if (r.rows() == 1) return earlier_case{std::string{r.get(0, 0)}, std::string{r.get(0, 1)}, std::nullopt};
    }
    return std::nullopt;
  };
  // A reply to a message earlier in this same batch (a worker catching up after a restart or a
  // burst): that message's Message-ID is not in case_message_ids yet.
  auto find_thread_in_batch = [&](const new_case& n) -> std::optional<earlier_case> {
    for (auto& answered : n.replies_to) {
      if (answered.empty()) continue;
      for (auto k : opening)
        if (batch[k].message_id == answered) return earlier_case{{}, {}, k};
      for (auto& j : joining)
        if (batch[j.index].message_id == answered) return j.to;
    }
    return std::nullopt;
  };
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto& n = batch[i];
    auto r = tx.exec(insert_intake_sql, {text(n.intake_id), text(intake::to_string(n.source)),
                                         number(n.received_unix_ms), number(n.deliveries)});
    if (r.affected() != 1) continue;  // already stored: a redelivery
    std::optional<earlier_case> duplicate_of;
    auto how = stored_intake::how::duplicate;
    auto thread = find_thread(tx, keys, n);
    if (!thread) thread = find_thread_in_batch(n);
    if (thread) {
      duplicate_of = std::move(thread);
      how = stored_intake::how::reply;
    } else if (!n.journalist_email.empty()) {
      auto index = journalist_email_index(keys, n.journalist_email);
      for (auto k : opening) {  // earlier in this batch: not in the table yet
        auto& e = batch[k];
        if (!e.journalist_email.empty() && journalist_email_index(keys, e.journalist_email) == index &&
            e.received_unix_ms > n.received_unix_ms - duplicate_window_ms() &&
            same_request(intake::to_string(e.source), e.sealed_document_plaintext, intake::to_string(n.source),
                         n.sealed_document_plaintext)) {
          duplicate_of = earlier_case{{}, {}, k};
          break;
        }
      }
      if (!duplicate_of) {
        auto recent = tx.exec(recent_requests_sql, {bytes(index), number(n.received_unix_ms - duplicate_window_ms())});
        for (int row = 0; row < recent.rows() && !duplicate_of; ++row) {
          std::string ref{recent.get(row, 1)};
          auto document = keys.open(recent.get_bytes(row, 3), case_request_binding(ref));
          if (document && same_request(recent.get(row, 2), *document, intake::to_string(n.source),
                                       n.sealed_document_plaintext))
            duplicate_of = earlier_case{std::string{recent.get(row, 0)}, ref, std::nullopt};
        }
      }
    }
    if (duplicate_of) joining.push_back({i, std::move(*duplicate_of), how});
    else opening.push_back(i);
  }

  std::vector<std::string> opened_ids(batch.size());
  if (!opening.empty()) {
    auto allocated = tx.exec(allocate_refs_sql, {number(static_cast<std::int64_t>(opening.size()))});
    auto year = static_cast<int>(allocated.get_int(0, 0));
    auto first_number = allocated.get_int(0, 1) - static_cast<std::int64_t>(opening.size()) + 1;
    for (std::size_t k = 0; k < opening.size(); ++k) {
      auto& n = batch[opening[k]];
      auto ref = format_case_ref(year, first_number + static_cast<std::int64_t>(k));
      auto& t = n.triage;
      auto sealed = keys.seal(n.sealed_document_plaintext, case_request_binding(ref));
      auto email_index =
          n.journalist_email.empty() ? null_param() : bytes(journalist_email_index(keys, n.journalist_email));
      auto inserted = tx.exec(
          insert_case_sql,
          {text(ref), text(n.intake_id), text(intake::to_string(n.source)), number(static_cast<int>(t.priority_level)),
           text(text_array_literal(t.topics)), text(text_array_literal(t.regions)), optional_string(t.medium),
           optional_string(t.outlet_name), optional_string(t.outlet_scope),
           t.deadline ? text(format_iso8601(*t.deadline)) : null_param(), email_index, bytes(sealed),
           number(n.received_unix_ms), number(t.priority_score),
           text(boost::json::serialize(routing::needs_json(t.needs))), text(format_iso8601(t.target_at)),
           text(boost::json::serialize(routing::explain_json(t.explain)))});
      std::string case_id{inserted.get(0, 0)};
      tx.exec(link_intake_sql, {text(n.intake_id), text(case_id)});
      if (n.unparsed) tx.exec("UPDATE cases SET unparsed = true WHERE id = $1", {text(case_id)});
      if (!n.message_id.empty()) register_message_id(tx, keys, std::stoll(case_id), n.message_id, "in");
      boost::json::object data{{"intake_id", n.intake_id}, {"source", intake::to_string(n.source)},
                               {"priority", to_string(t.priority_level)}, {"priority_score", t.priority_score}};
      if (n.unparsed) data["unparsed"] = true;
      tx.exec(insert_event_sql, {text(case_id), text("system:worker"), text("case_opened"), text(boost::json::serialize(data))});
      opened_ids[opening[k]] = case_id;
      out[opening[k]] = stored_intake{ref, stored_intake::how::opened};
    }
  }
  for (auto& [i, earlier, how] : joining) {
    auto& n = batch[i];
    if (earlier.in_batch) {
      earlier.id = opened_ids[*earlier.in_batch];
      earlier.ref = out[*earlier.in_batch]->ref;
    }
    tx.exec(insert_message_sql, {text(earlier.id), text(n.intake_id), text(intake::to_string(n.source)),
                                 number(n.received_unix_ms), bytes(keys.seal(n.sealed_document_plaintext,
                                                                             case_message_binding(n.intake_id)))});
    tx.exec(link_intake_sql, {text(n.intake_id), text(earlier.id)});
    if (!n.message_id.empty()) register_message_id(tx, keys, std::stoll(earlier.id), n.message_id, "in");
    boost::json::object data{{"intake_id", n.intake_id}, {"source", intake::to_string(n.source)}};
    auto kind = how == stored_intake::how::reply ? "reply_received" : "duplicate_joined";
    tx.exec(insert_event_sql, {text(earlier.id), text("system:worker"), text(kind), text(boost::json::serialize(data))});
    tx.exec("UPDATE cases SET updated_at = now() WHERE id = $1", {text(earlier.id)});
    out[i] = stored_intake{earlier.ref, how};
  }
  return out;
}

std::string open_proactive_case(pg_connection& tx, const crypto::keyring& keys, std::string_view summary,
                                const routing::triage_result& t, std::string_view actor) {
  auto allocated = tx.exec(allocate_refs_sql, {number(1)});
  auto ref = format_case_ref(static_cast<int>(allocated.get_int(0, 0)), allocated.get_int(0, 1));
  auto document = boost::json::serialize(boost::json::object{{"summary", summary}});
  auto inserted = tx.exec(
      insert_case_sql,
      {text(ref), null_param(), text("staff"), number(static_cast<int>(t.priority_level)),
       text(text_array_literal(t.topics)), text(text_array_literal(t.regions)), optional_string(t.medium),
       optional_string(t.outlet_name), optional_string(t.outlet_scope),
       t.deadline ? text(format_iso8601(*t.deadline)) : null_param(), null_param(),
       bytes(keys.seal(document, case_request_binding(ref))), number(to_unix_ms(now())), number(t.priority_score),
       text(boost::json::serialize(routing::needs_json(t.needs))), text(format_iso8601(t.target_at)),
       text("[]")});
  std::string case_id{inserted.get(0, 0)};
  tx.exec("UPDATE cases SET status = 'triaged' WHERE id = $1", {text(case_id)});
  boost::json::object data{{"source", "staff"}, {"proactive", true}, {"priority", to_string(t.priority_level)},
                           {"priority_score", t.priority_score}};
  tx.exec(insert_event_sql, {text(case_id), text(actor), text("case_opened"), text(boost::json::serialize(data))});
  return ref;
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
  // The filters the status counts share; then the status or open filter and paging on top.
  case_conditions shared;
  if (filter.topic) shared.add("topics @> ARRAY[{}::text]", text(*filter.topic));
  if (filter.region) shared.add("regions @> ARRAY[{}::text]", text(*filter.region));
  if (filter.medium) shared.add("medium = {}", text(*filter.medium));
  if (filter.unassigned) shared.add("assignee_user_id IS NULL");
  if (filter.assignee_id) shared.add("assignee_user_id = {}", number(*filter.assignee_id));

  case_page page;
  auto counted = c.exec(fmt::format("SELECT status, count(*) FROM cases WHERE {} GROUP BY status", shared.sql),
                        shared.params);
  std::size_t i = 0;
  for (auto status : all_case_statuses()) page.counts[i++] = {status, 0};
  for (int row = 0; row < counted.rows(); ++row)
    for (auto& [status, n] : page.counts)
      if (to_string(status) == counted.get(row, 0)) n = counted.get_int(row, 1);
  for (auto& [status, n] : page.counts)
    if (filter.status ? status == *filter.status : !filter.open_only || is_open(status)) page.total += n;

  auto listed = shared;
  if (filter.status) listed.add("status = {}", text(to_string(*filter.status)));
  if (filter.open_only) listed.add(open_statuses_sql());
  std::string_view order = "id DESC";
  if (filter.sort == case_filter::order::urgency) {
    // priority 1 is urgent; an ascending btree puts a NULL deadline last, as the index does.
    order = "priority, deadline ASC NULLS LAST, received_at, id";
  } else if (filter.before_ref) {
    listed.add("id < (SELECT id FROM cases WHERE ref = {})", text(*filter.before_ref));
  }
  auto limit = listed.bind(number(filter.limit));
  auto rows = c.exec(fmt::format("SELECT {} FROM cases WHERE {} ORDER BY {} LIMIT {}", summary_columns, listed.sql,
                                 order, limit),
                     listed.params);
  for (int row = 0; row < rows.rows(); ++row) page.cases.push_back(read_summary(rows, row, 0));
  return page;
}

case_page list_cases(pg_connection& c, const crypto::keyring& keys, const case_filter& filter) {
  auto page = list_cases(c, filter);
  open_assignee_labels(c, keys, page.cases);
  return page;
}

assignment_result assign_case(pg_connection& tx, const crypto::keyring& keys, std::string_view ref,
                              std::optional<std::int64_t> user_id, std::string_view actor) {
  auto r = tx.exec("SELECT id, assignee_user_id FROM cases WHERE ref = $1 FOR UPDATE", {text(ref)});
  if (r.rows() == 0) return {};
  auto case_id = r.get_int(0, 0);
  std::optional<std::int64_t> from;
  if (!r.is_null(0, 1)) from = r.get_int(0, 1);
  // Only someone who can act on the case: staff or admin, not disabled. The row is locked so
  // that a user disabled meanwhile waits for this transaction (or this one sees it disabled).
  if (user_id && tx.exec("SELECT 1 FROM users WHERE id = $1 AND disabled_at IS NULL AND role IN ('staff', 'admin') "
                         "FOR SHARE",
                         {number(*user_id)})
                         .rows() == 0)
    return {assignment::user_not_assignable, std::nullopt};
  assignment_result out{from == user_id ? assignment::unchanged : assignment::changed, std::nullopt};
  if (user_id) out.assignee = labelled_user{*user_id, staff_label(tx, keys, *user_id)};
  if (out.outcome == assignment::unchanged) return out;
  auto id_json = [](std::optional<std::int64_t> id) { return id ? boost::json::value(*id) : boost::json::value(nullptr); };
  tx.exec("UPDATE cases SET assignee_user_id = $2, updated_at = now() WHERE id = $1",
          {number(case_id), user_id ? number(*user_id) : null_param()});
  tx.exec(insert_event_sql, {number(case_id), text(actor), text("assigned"),
                             text(boost::json::serialize(boost::json::object{{"from", id_json(from)}, {"to", id_json(user_id)}}))});
  return out;
}

status_change_result change_case_status(pg_connection& tx, std::string_view ref, case_status to, std::string_view actor) {
  auto r = tx.exec("SELECT id, status FROM cases WHERE ref = $1 FOR UPDATE", {text(ref)});
  if (r.rows() == 0) return {};
  status_change_result out{status_change::changed, std::string{r.get(0, 1)}, r.get_int(0, 0)};
  auto from = parse_case_status(out.from);
  if (from == to) {
    out.outcome = status_change::unchanged;
    return out;
  }
  if (!from || !transition_allowed(*from, to)) {
    out.outcome = status_change::not_allowed;
    return out;
  }
  tx.exec("UPDATE cases SET status = $2, updated_at = now(), "
          "fulfilled_at = CASE WHEN $2 = 'fulfilled' THEN coalesce(fulfilled_at, now()) ELSE fulfilled_at END "
          "WHERE id = $1",
          {number(out.case_id), text(to_string(to))});
  tx.exec(insert_event_sql, {number(out.case_id), text(actor), text("status_changed"),
                             text(fmt::format(R"({{"from":"{}","to":"{}"}})", out.from, to_string(to)))});
  return out;
}

std::vector<offer_summary> list_case_offers(pg_connection& c, std::int64_t case_id) {
  auto r = c.exec(R"sql(
SELECT o.id, o.partner_id, p.name, o.spokesperson_id, s.alias, o.state, o.created_by,
       to_char(o.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
       to_char(o.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
       to_char(o.responded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), o.withdrawn_reason,
       o.decline_reason_sealed IS NOT NULL, o.score
FROM offers o JOIN partners p ON p.id = o.partner_id LEFT JOIN spokespeople s ON s.id = o.spokesperson_id
WHERE o.case_id = $1 ORDER BY o.id)sql",
                  {number(case_id)});
  std::vector<offer_summary> out;
  for (int i = 0; i < r.rows(); ++i) {
    offer_summary o;
    o.id = r.get_int(i, 0);
    o.partner_id = r.get_int(i, 1);
    o.partner_name = r.get(i, 2);
    if (!r.is_null(i, 3)) o.spokesperson_id = r.get_int(i, 3);
    o.spokesperson_alias = r.get_optional(i, 4);
    o.state = r.get(i, 5);
    o.created_by = r.get(i, 6);
    o.created_at = r.get(i, 7);
    o.expires_at = r.get(i, 8);
    o.responded_at = r.get_optional(i, 9);
    o.withdrawn_reason = r.get_optional(i, 10);
    o.has_decline_reason = r.get_bool(i, 11);
    if (!r.is_null(i, 12)) o.score = std::stod(std::string{r.get(i, 12)});
    out.push_back(std::move(o));
  }
  return out;
}

std::optional<case_detail> find_case(pg_connection& c, std::string_view ref) {
  auto r = c.exec(fmt::format("SELECT id, intake_id, triage_explain::text, "
                              "to_char(personal_data_purged_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
                              "waterfall, {} FROM cases WHERE ref = $1",
                              summary_columns),
                  {text(ref)});
  if (r.rows() == 0) return std::nullopt;
  case_detail d;
  d.intake_id = r.get_optional(0, 1);
  d.triage_explain_json = r.get(0, 2);
  d.personal_data_purged_at = r.get_optional(0, 3);
  d.waterfall = r.get_bool(0, 4);
  d.summary = read_summary(r, 0, 5);
  d.offers = list_case_offers(c, r.get_int(0, 0));
  auto events = c.exec(R"sql(
SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), actor, kind, data::text
FROM case_events WHERE case_id = $1 ORDER BY id)sql",
                       {text(r.get(0, 0))});
  for (int i = 0; i < events.rows(); ++i)
    d.timeline.push_back({std::string{events.get(i, 0)}, std::string{events.get(i, 1)},
                          std::string{events.get(i, 2)}, std::string{events.get(i, 3)}});
  return d;
}

std::optional<case_detail> find_case(pg_connection& c, const crypto::keyring& keys, std::string_view ref) {
  auto detail = find_case(c, ref);
  if (detail) open_assignee_labels(c, keys, std::span(&detail->summary, 1));
  return detail;
}

std::optional<intake_state> find_intake(pg_connection& c, std::string_view intake_id) {
  auto r = c.exec(R"sql(
SELECT i.status, c.ref, i.error FROM intakes i LEFT JOIN cases c ON c.id = i.case_id WHERE i.id = $1)sql",
                  {text(intake_id)});
  if (r.rows() == 0) return std::nullopt;
  return intake_state{std::string{r.get(0, 0)}, r.get_optional(0, 1), r.get_optional(0, 2)};
}

std::optional<std::string> reveal_case_request(pg_connection& tx, const crypto::keyring& keys, std::string_view ref,
                                               std::int64_t user_id, std::string_view reason) {
  auto r = tx.exec("SELECT id, request_sealed FROM cases WHERE ref = $1", {text(ref)});
  if (r.rows() == 0) return std::nullopt;
  if (r.is_null(0, 1)) throw personal_data_purged();
  auto plaintext = keys.open(r.get_bytes(0, 1), case_request_binding(ref));
  if (!plaintext) throw std::runtime_error("a case request could not be opened (wrong master key?)");
  // The reason is staff's own words and may name people: it goes sealed into the audit, and the
  // timeline (plaintext JSON) only points at the audit entry.
  auto audit_id = record_reveal(tx, keys, user_id, fmt::format("case:{}", ref), {"request"}, reason);
  boost::json::object data{{"fields", "request"}, {"audit_id", audit_id}};
  tx.exec(insert_event_sql, {text(r.get(0, 0)), text(fmt::format("user:{}", user_id)), text("request_revealed"),
                             text(boost::json::serialize(data))});
  return plaintext;
}

void record_acknowledgement(pg_connection& tx, const crypto::keyring& keys, std::string_view ref,
                            std::string_view message_id) {
  auto r = tx.exec("SELECT id FROM cases WHERE ref = $1", {text(ref)});
  if (r.rows() == 0) return;
  auto case_id = r.get_int(0, 0);
  register_message_id(tx, keys, case_id, message_id, "out");
  tx.exec(insert_event_sql, {number(case_id), text("system:worker"), text("acknowledgement_sent"), text("{}")});
}

// ---- triage corrections and re-triage ----

std::optional<case_triage> lock_case_triage(pg_connection& tx, std::string_view ref) {
  auto r = tx.exec(R"sql(
SELECT id, source, (extract(epoch FROM received_at) * 1000)::bigint, topics, regions, medium, outlet_name,
       outlet_scope, to_char(deadline AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), needs::text,
       priority_score, priority, to_char(target_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
       corrected_fields
FROM cases WHERE ref = $1 FOR UPDATE)sql",
                   {text(ref)});
  if (r.rows() == 0) return std::nullopt;
  case_triage t;
  t.case_id = r.get_int(0, 0);
  t.source = r.get(0, 1);
  t.received_at = from_unix_ms(r.get_int(0, 2));
  auto& f = t.fields;
  f.topics = r.get_text_array(0, 3);
  f.regions = r.get_text_array(0, 4);
  f.medium = r.get_optional(0, 5).value_or("");
  f.outlet_name = r.get_optional(0, 6).value_or("");
  f.outlet_scope = r.get_optional(0, 7).value_or("");
  if (auto d = r.get_optional(0, 8)) f.deadline = parse_iso8601(*d);
  boost::json::error_code ec;
  auto needs = boost::json::parse(r.get(0, 9), ec);
  if (!ec) f.needs = routing::needs_from_json(needs).value_or(routing::voice_needs{});
  f.priority_score = static_cast<int>(r.get_int(0, 10));
  f.priority_level = static_cast<priority>(r.get_int(0, 11));
  if (auto target = r.get_optional(0, 12)) f.target_at = parse_iso8601(*target).value_or(t.received_at);
  t.corrected_fields = r.get_text_array(0, 13);
  return t;
}

void save_case_triage(pg_connection& tx, const case_triage& updated, std::span<const triage_change> changes,
                      std::string_view actor, std::string_view kind, std::string_view explain_json) {
  auto& f = updated.fields;
  auto case_id = number(updated.case_id);
  // A new target time restarts the escalation clock.
  tx.exec(R"sql(
UPDATE cases SET topics = $2::text[], regions = $3::text[], medium = $4, outlet_name = $5, outlet_scope = $6,
       deadline = $7::timestamptz, needs = $8::jsonb, priority_score = $9, priority = $10,
       escalation = CASE WHEN target_at IS DISTINCT FROM $11::timestamptz THEN 'none' ELSE escalation END,
       target_at = $11::timestamptz, corrected_fields = $12::text[],
       triage_explain = COALESCE($13::jsonb, triage_explain), updated_at = now()
WHERE id = $1)sql",
          {case_id, text(text_array_literal(f.topics)), text(text_array_literal(f.regions)), optional_string(f.medium),
           optional_string(f.outlet_name), optional_string(f.outlet_scope),
           f.deadline ? text(format_iso8601(*f.deadline)) : null_param(),
           text(boost::json::serialize(routing::needs_json(f.needs))), number(f.priority_score),
           number(static_cast<int>(f.priority_level)), text(format_iso8601(f.target_at)),
           text(text_array_literal(updated.corrected_fields)),
           explain_json.empty() ? null_param() : text(explain_json)});
  for (auto& change : changes) {
    auto data = fmt::format(R"({{"field":{},"from":{},"to":{}}})", boost::json::serialize(boost::json::value(change.field)),
                            change.from_json, change.to_json);
    tx.exec(insert_event_sql, {case_id, text(actor), text(kind), text(data)});
  }
}

std::string open_case_request(pg_connection& c, const crypto::keyring& keys, std::string_view ref) {
  auto r = c.exec("SELECT request_sealed FROM cases WHERE ref = $1", {text(ref)});
  if (r.rows() == 0) throw std::runtime_error("no such case");
  if (r.is_null(0, 0)) throw personal_data_purged();
  auto plaintext = keys.open(r.get_bytes(0, 0), case_request_binding(ref));
  if (!plaintext) throw std::runtime_error("a case request could not be opened (wrong master key?)");
  return std::move(*plaintext);
}

triage_accuracy read_triage_accuracy(pg_connection& c) {
  triage_accuracy a;
  a.cases = c.exec("SELECT count(*) FROM cases WHERE source <> 'staff'").get_int(0, 0);
  auto r = c.exec(R"sql(
SELECT field, count(*) FROM cases, unnest(corrected_fields) AS field
WHERE source <> 'staff' GROUP BY field ORDER BY field)sql");
  for (int i = 0; i < r.rows(); ++i) a.corrected_by_field.emplace_back(std::string{r.get(i, 0)}, r.get_int(i, 1));
  return a;
}

// ---- deadline escalation ----

std::vector<escalation> escalate_due_cases(pg_connection& tx, time_point now) {
  // Levels by the share of the time from arrival to the target that has gone: half, four fifths,
  // all of it (overdue). A case only ever moves up, so each event is written once.
  auto r = tx.exec(R"sql(
WITH due AS (
  SELECT id, CASE WHEN $1::timestamptz >= target_at THEN 'overdue'
                  WHEN $1::timestamptz >= received_at + (target_at - received_at) * 0.8 THEN 'four_fifths'
                  ELSE 'half' END AS level
  FROM cases
  WHERE status IN ('new', 'triaged') AND escalation <> 'overdue' AND target_at IS NOT NULL
    AND $1::timestamptz >= received_at + (target_at - received_at) * 0.5
  FOR UPDATE SKIP LOCKED
), changed AS (
  UPDATE cases c SET escalation = due.level, updated_at = now()
  FROM due
  WHERE c.id = due.id
    AND array_position(ARRAY['none', 'half', 'four_fifths', 'overdue'], due.level)
        > array_position(ARRAY['none', 'half', 'four_fifths', 'overdue'], c.escalation)
  RETURNING c.id, c.ref, c.escalation
), events AS (
  INSERT INTO case_events (case_id, actor, kind, data)
  SELECT id, 'system:worker', CASE WHEN escalation = 'overdue' THEN 'overdue' ELSE 'escalated' END,
         jsonb_build_object('level', escalation)
  FROM changed
)
SELECT ref, escalation FROM changed ORDER BY ref)sql",
                   {text(format_iso8601(now))});
  std::vector<escalation> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back({std::string{r.get(i, 0)}, std::string{r.get(i, 1)}});
  return out;
}

}  // namespace md::store
