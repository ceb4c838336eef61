// Coverage and aftercare (see coverage_store.hpp). Queries are named constants; a piece's link
// and headline go in sealed together and come out only through list_coverage.
#include "store/coverage_store.hpp"

#include <fmt/format.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <stdexcept>

#include "core/london_time.hpp"

namespace md::store {
namespace {

constexpr std::string_view insert_event_sql = R"sql(
INSERT INTO case_events (case_id, actor, kind, data) VALUES ($1, $2, $3, $4::jsonb))sql";

// The task, unless the case has one for this spokesperson already (several accepted offers or
// pieces of coverage are one engagement to check in on).
constexpr std::string_view insert_task_sql = R"sql(
INSERT INTO aftercare_tasks (case_id, spokesperson_id, reason, due_at)
VALUES ($1, $2, $3, $4::timestamptz)
ON CONFLICT (case_id, spokesperson_id) DO NOTHING
RETURNING id)sql";

// The case, locked against a concurrent purge, and the new row's id: the seal is bound to it.
constexpr std::string_view lock_case_for_coverage_sql = R"sql(
SELECT id, personal_data_purged_at IS NOT NULL, nextval(pg_get_serial_sequence('coverage', 'id'))
FROM cases WHERE ref = $1 FOR UPDATE)sql";

constexpr std::string_view insert_coverage_sql = R"sql(
INSERT INTO coverage (id, case_id, outlet_name, outlet_scope, medium, appeared_on, lived_experience_quoted,
                      spokesperson_id, first_time, tone, details_sealed, recorded_by)
OVERRIDING SYSTEM VALUE
VALUES ($1, $2, $3, $4, $5, $6::date, $7::boolean, $8, $9::boolean, $10, $11, $12))sql";

constexpr std::string_view coverage_columns = R"sql(
v.id, v.outlet_name, v.outlet_scope, v.medium, to_char(v.appeared_on, 'YYYY-MM-DD'), v.lived_experience_quoted,
v.spokesperson_id, s.alias, v.first_time, v.tone, v.recorded_by, {}, v.details_sealed)sql";

constexpr std::string_view task_columns = R"sql(
t.id, c.ref, t.spokesperson_id, s.alias, t.reason, {}, {}, {}, t.done_at IS NULL AND t.due_at < $1::timestamptz)sql";

pg_param flag(bool b) { return text(b ? "true" : "false"); }

std::string details_json(const coverage_input& in) {
  boost::json::object o;
  if (in.link) o["link"] = *in.link;
  if (in.headline) o["headline"] = *in.headline;
  return boost::json::serialize(o);
}

coverage_record coverage_from_row(const pg_result& r, int row, const crypto::keyring& keys) {
  coverage_record v{r.get_int(row, 0), std::string{r.get(row, 1)}, std::string{r.get(row, 2)},
                    std::string{r.get(row, 3)}, std::string{r.get(row, 4)}};
  v.lived_experience_quoted = r.get_bool(row, 5);
  if (!r.is_null(row, 6)) v.spokesperson = spokesperson_alias{r.get_int(row, 6), std::string{r.get(row, 7)}};
  v.first_time = r.get_bool(row, 8);
  v.tone = r.get(row, 9);
  v.recorded_by = r.get(row, 10);
  v.created_at = r.get(row, 11);
  if (!r.is_null(row, 12)) {
    auto opened = keys.open(r.get_bytes(row, 12), coverage_details_binding(v.id));
    if (!opened)
      throw std::runtime_error(fmt::format("coverage.details: the row {} does not open (wrong master key?)", v.id));
    auto details = boost::json::parse(*opened).as_object();
    if (auto* link = details.if_contains("link")) v.link = std::string(link->as_string());
    if (auto* headline = details.if_contains("headline")) v.headline = std::string(headline->as_string());
  }
  return v;
}

aftercare_task task_from_row(const pg_result& r, int row) {
  return {r.get_int(row, 0),
          std::string{r.get(row, 1)},
          {r.get_int(row, 2), std::string{r.get(row, 3)}},
          std::string{r.get(row, 4)},
          std::string{r.get(row, 5)},
          std::string{r.get(row, 6)},
          r.get_optional(row, 7),
          r.get_bool(row, 8)};
}

std::string task_select(std::string_view where) {
  return fmt::format("SELECT {} FROM aftercare_tasks t JOIN cases c ON c.id = t.case_id "
                     "JOIN spokespeople s ON s.id = t.spokesperson_id WHERE {}",
                     fmt::format(task_columns, iso8601_sql("t.due_at"), iso8601_sql("t.created_at"),
                                 iso8601_sql("t.done_at")),
                     where);
}

}  // namespace

time_point aftercare_policy::due_after(time_point engaged_at) const {
  return london_working_days_later(engaged_at, due_working_days, due_hour);
}

std::string coverage_details_binding(std::int64_t coverage_id) { return fmt::format("coverage.details:{}", coverage_id); }

std::optional<std::int64_t> create_aftercare_task(pg_connection& tx, std::int64_t case_id, std::int64_t spokesperson_id,
                                                  std::string_view reason, time_point due_at, std::string_view actor) {
  auto inserted = tx.exec(insert_task_sql, {number(case_id), number(spokesperson_id), text(reason),
                                            text(format_iso8601(due_at))});
  if (inserted.rows() == 0) return std::nullopt;
  auto task_id = inserted.get_int(0, 0);
  boost::json::object data{{"task_id", task_id}, {"spokesperson_id", spokesperson_id}, {"reason", reason},
                           {"due_at", format_iso8601(due_at)}};
  tx.exec(insert_event_sql, {number(case_id), text(actor), text("aftercare_created"), text(boost::json::serialize(data))});
  return task_id;
}

added_coverage add_coverage(pg_connection& tx, const crypto::keyring& keys, std::string_view ref,
                            const coverage_input& in, std::string_view actor, const aftercare_policy& policy) {
  added_coverage out;
  auto found = tx.exec(lock_case_for_coverage_sql, {text(ref)});
  if (found.rows() == 0) return out;
  if (found.get_bool(0, 1)) {
    out.outcome = coverage_outcome::purged;
    return out;
  }
  auto case_id = found.get_int(0, 0);
  auto coverage_id = found.get_int(0, 2);
  bool spokesperson_active = false;
  if (in.spokesperson_id) {
    auto s = tx.exec("SELECT erased_at IS NULL FROM spokespeople WHERE id = $1", {number(*in.spokesperson_id)});
    if (s.rows() == 0) {
      out.outcome = coverage_outcome::unknown_spokesperson;
      return out;
    }
    spokesperson_active = s.get_bool(0, 0);
  }
  tx.exec(insert_coverage_sql,
          {number(coverage_id), number(case_id), text(in.outlet_name), text(in.outlet_scope), text(in.medium),
           text(format_iso_date(in.appeared_on)), flag(in.lived_experience_quoted),
           in.spokesperson_id ? number(*in.spokesperson_id) : null_param(), flag(in.first_time), text(in.tone),
           bytes(keys.seal(details_json(in), coverage_details_binding(coverage_id))), text(actor)});
  boost::json::object data{{"coverage_id", coverage_id}, {"outlet_scope", in.outlet_scope}, {"medium", in.medium},
                           {"tone", in.tone}, {"first_time", in.first_time}};
  tx.exec(insert_event_sql, {number(case_id), text(actor), text("coverage_logged"), text(boost::json::serialize(data))});
  tx.exec("UPDATE cases SET updated_at = now() WHERE id = $1", {number(case_id)});
  // An erased spokesperson is past checking in on: the desk no longer holds their contact.
  if (in.spokesperson_id && spokesperson_active) {
    if (auto task_id = create_aftercare_task(tx, case_id, *in.spokesperson_id, "coverage", policy.due_after(now()), actor)) {
      auto t = tx.exec(task_select("t.id = $2"), {text(format_iso8601(now())), number(*task_id)});
      out.aftercare = task_from_row(t, 0);
    }
  }
  auto row = tx.exec(fmt::format("SELECT {} FROM coverage v LEFT JOIN spokespeople s ON s.id = v.spokesperson_id "
                                 "WHERE v.id = $1",
                                 fmt::format(coverage_columns, iso8601_sql("v.created_at"))),
                     {number(coverage_id)});
  out.coverage = coverage_from_row(row, 0, keys);
  out.outcome = coverage_outcome::added;
  return out;
}

std::optional<std::vector<coverage_record>> list_coverage(pg_connection& c, const crypto::keyring& keys,
                                                          std::string_view ref) {
  auto found = c.exec("SELECT id FROM cases WHERE ref = $1", {text(ref)});
  if (found.rows() == 0) return std::nullopt;
  auto r = c.exec(fmt::format("SELECT {} FROM coverage v LEFT JOIN spokespeople s ON s.id = v.spokesperson_id "
                              "WHERE v.case_id = $1 ORDER BY v.id LIMIT 1000",
                              fmt::format(coverage_columns, iso8601_sql("v.created_at"))),
                  {number(found.get_int(0, 0))});
  std::vector<coverage_record> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(coverage_from_row(r, i, keys));
  return out;
}

aftercare_list list_aftercare(pg_connection& c, aftercare_state state, time_point now) {
  std::string_view where = state == aftercare_state::open   ? "t.done_at IS NULL"
                           : state == aftercare_state::done ? "t.done_at IS NOT NULL"
                                                            : "true";
  // Open tasks by when they fall due; done ones most recently done first.
  auto order = state == aftercare_state::done ? " ORDER BY t.done_at DESC, t.id DESC" : " ORDER BY t.due_at, t.id";
  auto r = c.exec(task_select(where) + std::string{order} + " LIMIT 500", {text(format_iso8601(now))});
  aftercare_list out;
  for (int i = 0; i < r.rows(); ++i) out.tasks.push_back(task_from_row(r, i));
  auto counts = c.exec("SELECT count(*), count(*) FILTER (WHERE due_at < $1::timestamptz) FROM aftercare_tasks "
                       "WHERE done_at IS NULL",
                       {text(format_iso8601(now))});
  out.open = counts.get_int(0, 0);
  out.overdue = counts.get_int(0, 1);
  return out;
}

std::optional<aftercare_task> complete_aftercare(pg_connection& tx, std::int64_t task_id, std::string_view actor,
                                                 time_point now) {
  auto done = tx.exec("UPDATE aftercare_tasks SET done_at = $2::timestamptz, done_by = $3 "
                      "WHERE id = $1 AND done_at IS NULL RETURNING case_id",
                      {number(task_id), text(format_iso8601(now)), text(actor)});
  if (done.rows() > 0)
    tx.exec(insert_event_sql, {number(done.get_int(0, 0)), text(actor), text("aftercare_done"),
                               text(fmt::format(R"({{"task_id":{}}})", task_id))});
  auto r = tx.exec(task_select("t.id = $2"), {text(format_iso8601(now)), number(task_id)});
  if (r.rows() == 0) return std::nullopt;
  return task_from_row(r, 0);
}

}  // namespace md::store
