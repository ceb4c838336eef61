// The evaluation report's figures (store/report_store.hpp): five aggregate statements in one
// read-only snapshot, so the figures agree with each other even while staff keep working.
// Only plaintext, non-personal columns are read; nothing sealed is selected.
#include "store/report_store.hpp"

#include <charconv>
#include <cmath>
#include <map>

#include "core/london_time.hpp"
#include "core/time.hpp"

namespace md::store {
namespace {

// Requests, reactive vs proactive, the two timings and the triage totals, over the cases that
// arrived in [$1, $2). First offers and first fulfilments are grouped once and joined, so the
// plan is one pass over each (hash joins), not a lookup per case.
constexpr const char* cases_sql = R"sql(
WITH period AS (
  SELECT id, source, status, received_at, corrected_fields FROM cases
  WHERE received_at >= $1::timestamptz AND received_at < $2::timestamptz
), first_offer AS (
  SELECT case_id, min(created_at) AS at FROM offers
  WHERE case_id IN (SELECT id FROM period WHERE source <> 'staff') GROUP BY case_id
), first_fulfilled AS (
  SELECT case_id, min(at) AS at FROM case_events
  WHERE kind = 'status_changed' AND data ->> 'to' = 'fulfilled'
    AND case_id IN (SELECT id FROM period WHERE source <> 'staff' AND status = 'fulfilled')
  GROUP BY case_id
), reactive AS (
  SELECT p.status, p.corrected_fields, fo.at IS NOT NULL AS has_offer,
         extract(epoch FROM fo.at - p.received_at)::float8 / 60 AS to_first_offer,
         CASE WHEN p.status = 'fulfilled' THEN extract(epoch FROM ff.at - p.received_at)::float8 / 60 END AS to_fulfilment
  FROM period p
  LEFT JOIN first_offer fo ON fo.case_id = p.id
  LEFT JOIN first_fulfilled ff ON ff.case_id = p.id
  WHERE p.source <> 'staff'
)
SELECT count(*),
       count(*) FILTER (WHERE has_offer OR status IN ('offered', 'accepted', 'fulfilled')),
       count(*) FILTER (WHERE status = 'fulfilled'),
       count(*) FILTER (WHERE status = 'no_match'),
       count(*) FILTER (WHERE status = 'declined'),
       count(*) FILTER (WHERE status = 'withdrawn'),
       (SELECT count(*) FROM period WHERE source = 'staff'),
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY to_first_offer))::numeric, 1),
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY to_fulfilment))::numeric, 1),
       count(*) FILTER (WHERE cardinality(corrected_fields) > 0)
FROM reactive)sql";

// How many reactive cases of the period had each triage field corrected by staff.
constexpr const char* triage_fields_sql = R"sql(
SELECT field, count(DISTINCT c.id) AS n
FROM cases c, unnest(c.corrected_fields) AS field
WHERE c.source <> 'staff' AND c.received_at >= $1::timestamptz AND c.received_at < $2::timestamptz
GROUP BY field ORDER BY n DESC, field COLLATE "C")sql";

// Coverage that appeared on the London dates $1..$2 (inclusive).
constexpr const char* coverage_totals_sql = R"sql(
SELECT count(*),
       count(*) FILTER (WHERE outlet_scope = 'national'),
       count(*) FILTER (WHERE outlet_scope = 'local'),
       count(*) FILTER (WHERE outlet_scope = 'international'),
       count(*) FILTER (WHERE lived_experience_quoted),
       count(DISTINCT spokesperson_id),
       count(DISTINCT spokesperson_id) FILTER (WHERE first_time)
FROM coverage WHERE appeared_on >= $1::date AND appeared_on <= $2::date)sql";

// Every by_* list of the coverage in one statement: (list, key, count), each list already in its
// order. Topics and regions are the case's; a piece counts once per topic (and per region).
constexpr const char* coverage_lists_sql = R"sql(
WITH cov AS (
  SELECT v.id, v.outlet_scope, v.medium, v.outlet_name, v.tone, v.appeared_on, c.topics, c.regions
  FROM coverage v JOIN cases c ON c.id = v.case_id
  WHERE v.appeared_on >= $1::date AND v.appeared_on <= $2::date
), lists AS (
  SELECT 'scope'::text AS list, outlet_scope AS key, count(*) AS n FROM cov GROUP BY outlet_scope
  UNION ALL SELECT 'medium', medium, count(*) FROM cov GROUP BY medium
  UNION ALL SELECT 'topic', t, count(DISTINCT cov.id) FROM cov, unnest(cov.topics) AS t GROUP BY t
  UNION ALL SELECT 'region', r, count(DISTINCT cov.id) FROM cov, unnest(cov.regions) AS r GROUP BY r
  UNION ALL (SELECT 'outlet', outlet_name, count(*) FROM cov GROUP BY outlet_name
             ORDER BY count(*) DESC, outlet_name COLLATE "C" LIMIT $3)
  UNION ALL SELECT 'tone', tone, count(*) FROM cov GROUP BY tone
  UNION ALL SELECT 'month', to_char(appeared_on, 'YYYY-MM'), count(*) FROM cov GROUP BY 2
)
SELECT list, key, n FROM lists
ORDER BY list, CASE WHEN list = 'month' THEN 0 ELSE -n END, key COLLATE "C")sql";

// Offers sent in [$1, $2), but those the desk withdrew (the partner never had the chance to
// answer). The first row is the total (GROUPING = 1), then up to $3 partners.
constexpr const char* partners_sql = R"sql(
WITH o AS (
  SELECT partner_id, state, created_at, responded_at FROM offers
  WHERE created_at >= $1::timestamptz AND created_at < $2::timestamptz AND state <> 'withdrawn'
)
SELECT GROUPING(o.partner_id), o.partner_id, p.name, count(*),
       count(*) FILTER (WHERE o.state = 'accepted'),
       count(*) FILTER (WHERE o.state = 'declined'),
       count(*) FILTER (WHERE o.state = 'expired'),
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM o.responded_at - o.created_at)::float8 / 60)
              FILTER (WHERE o.state IN ('accepted', 'declined')))::numeric, 1)
FROM o JOIN partners p ON p.id = o.partner_id
GROUP BY GROUPING SETS ((o.partner_id, p.name), ())
ORDER BY GROUPING(o.partner_id) DESC, count(*) DESC, p.name COLLATE "C", o.partner_id
LIMIT $3 + 1)sql";

std::optional<double> optional_double(const pg_result& r, int row, int col) {
  if (r.is_null(row, col)) return std::nullopt;
  auto s = r.get(row, col);
  double v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

// part / whole rounded to 4 places; none when there is nothing to divide by.
std::optional<double> share(std::int64_t part, std::int64_t whole) {
  if (whole <= 0) return std::nullopt;
  return std::round(static_cast<double>(part) / static_cast<double>(whole) * 10000.0) / 10000.0;
}

void read_cases(pg_connection& c, const pg_param& start, const pg_param& end, report_figures& f) {
  auto r = c.exec(cases_sql, {start, end});
  f.requests = {r.get_int(0, 0), r.get_int(0, 1), r.get_int(0, 2), r.get_int(0, 3), r.get_int(0, 4), r.get_int(0, 5)};
  f.cases = {r.get_int(0, 0), r.get_int(0, 6)};
  f.timings = {optional_double(r, 0, 7), optional_double(r, 0, 8)};
  f.triage.cases = r.get_int(0, 0);
  f.triage.corrected_cases = r.get_int(0, 9);
  f.triage.corrected_share = share(f.triage.corrected_cases, f.triage.cases);
  auto fields = c.exec(triage_fields_sql, {start, end});
  for (int i = 0; i < fields.rows(); ++i)
    f.triage.by_field.push_back({std::string{fields.get(i, 0)}, fields.get_int(i, 1)});
}

void read_coverage(pg_connection& c, const pg_param& first, const pg_param& last, report_figures& f) {
  auto t = c.exec(coverage_totals_sql, {first, last});
  auto& cov = f.coverage;
  cov.total = t.get_int(0, 0);
  cov.national = t.get_int(0, 1);
  cov.local = t.get_int(0, 2);
  cov.international = t.get_int(0, 3);
  cov.lived_experience_quoted = t.get_int(0, 4);
  f.voices = {t.get_int(0, 5), t.get_int(0, 6)};
  const std::map<std::string_view, std::vector<report_count>*> lists = {
      {"scope", &cov.by_scope}, {"medium", &cov.by_medium}, {"topic", &cov.by_topic}, {"region", &cov.by_region},
      {"outlet", &cov.by_outlet}, {"tone", &cov.by_tone},   {"month", &cov.by_month}};
  auto r = c.exec(coverage_lists_sql, {first, last, number(report_top_outlets)});
  for (int i = 0; i < r.rows(); ++i) lists.at(r.get(i, 0))->push_back({std::string{r.get(i, 1)}, r.get_int(i, 2)});
}

void read_partners(pg_connection& c, const pg_param& start, const pg_param& end, report_figures& f) {
  auto r = c.exec(partners_sql, {start, end, number(report_top_partners)});
  auto& p = f.partners;
  for (int i = 0; i < r.rows(); ++i) {
    partner_figures one{r.is_null(i, 1) ? 0 : r.get_int(i, 1),
                        std::string{r.get(i, 2)},
                        r.get_int(i, 3),
                        r.get_int(i, 4),
                        r.get_int(i, 5),
                        r.get_int(i, 6),
                        share(r.get_int(i, 4), r.get_int(i, 4) + r.get_int(i, 5) + r.get_int(i, 6)),
                        optional_double(r, i, 7)};
    if (r.get_int(i, 0) == 1) {
      p.offers = one.offers;
      p.accepted = one.accepted;
      p.declined = one.declined;
      p.expired = one.expired;
      p.accept_rate = one.accept_rate;
      p.median_minutes_to_response = one.median_minutes_to_response;
    } else {
      p.by_partner.push_back(std::move(one));
    }
  }
}

}  // namespace

report_figures read_report(pg_connection& c, std::chrono::year_month_day first, std::chrono::year_month_day last) {
  using std::chrono::days;
  using std::chrono::sys_days;
  auto start = text(format_iso8601(from_london(first, 0, 0)));
  auto end = text(format_iso8601(from_london(std::chrono::year_month_day{sys_days{last} + days{1}}, 0, 0)));
  auto first_date = text(format_iso_date(first)), last_date = text(format_iso_date(last));
  return c.transaction([&](pg_connection& tx) {
    tx.exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    report_figures f;
    read_cases(tx, start, end, f);
    read_coverage(tx, first_date, last_date, f);
    read_partners(tx, start, end, f);
    return f;
  });
}

}  // namespace md::store
