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
// arrived in [$1, $2), in one pass over them: the first offer's time and the fulfilment's are
// kept on the case (migration 009), so no offer or timeline event is read here. Medians are
// taken over intervals and turned into minutes once: extract() on every row (numeric) cost more
// than the sort itself.
constexpr const char* cases_sql = R"sql(
WITH period AS (
  SELECT c.source <> 'staff' AS reactive, c.status, cardinality(c.corrected_fields) > 0 AS corrected,
         c.first_offer_at IS NOT NULL AS has_offer,
         c.first_offer_at - c.received_at AS to_first_offer,
         CASE WHEN c.status = 'fulfilled' THEN c.fulfilled_at - c.received_at END AS to_fulfilment
  FROM cases c
  WHERE c.received_at >= $1::timestamptz AND c.received_at < $2::timestamptz
)
SELECT count(*) FILTER (WHERE reactive),
       count(*) FILTER (WHERE reactive AND (has_offer OR status IN ('offered', 'accepted', 'fulfilled'))),
       count(*) FILTER (WHERE reactive AND status = 'fulfilled'),
       count(*) FILTER (WHERE reactive AND status = 'no_match'),
       count(*) FILTER (WHERE reactive AND status = 'declined'),
       count(*) FILTER (WHERE reactive AND status = 'withdrawn'),
       count(*) FILTER (WHERE NOT reactive),
       round(extract(epoch FROM percentile_cont(0.5) WITHIN GROUP (ORDER BY to_first_offer) FILTER (WHERE reactive)) / 60, 1),
       round(extract(epoch FROM percentile_cont(0.5) WITHIN GROUP (ORDER BY to_fulfilment) FILTER (WHERE reactive)) / 60, 1),
       count(*) FILTER (WHERE reactive AND corrected)
FROM period)sql";

// How many reactive cases of the period had each triage field corrected by staff. A field named
// twice in one case counts once (only its first position is kept), which lets a hash count it.
constexpr const char* triage_fields_sql = R"sql(
SELECT f.field, count(*) AS n
FROM cases c, unnest(c.corrected_fields) WITH ORDINALITY AS f(field, i)
WHERE c.source <> 'staff' AND c.received_at >= $1::timestamptz AND c.received_at < $2::timestamptz
  AND cardinality(c.corrected_fields) > 0 AND array_position(c.corrected_fields, f.field) = f.i
GROUP BY f.field ORDER BY n DESC, f.field COLLATE "C")sql";

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

// Every by_* list of that coverage in one statement: (list, key, count), each list in its order
// and outlets cut to the top $3. One grouping-sets pass over coverage for its own columns; one
// pass joined to the cases for their topics and regions, where a piece counts once per topic
// (and per region): only an id's first position in the array is kept.
constexpr const char* coverage_lists_sql = R"sql(
WITH own AS (
  SELECT CASE WHEN GROUPING(outlet_scope) = 0 THEN 'scope' WHEN GROUPING(medium) = 0 THEN 'medium'
              WHEN GROUPING(tone) = 0 THEN 'tone' WHEN GROUPING(outlet_name) = 0 THEN 'outlet' ELSE 'month' END AS list,
         coalesce(outlet_scope, medium, tone, outlet_name, to_char(appeared_on, 'YYYY-MM')) AS key, count(*) AS n
  FROM coverage WHERE appeared_on >= $1::date AND appeared_on <= $2::date
  GROUP BY GROUPING SETS ((outlet_scope), (medium), (tone), (outlet_name), (to_char(appeared_on, 'YYYY-MM')))
), from_cases AS (
  SELECT x.list, x.key, count(*) AS n
  FROM coverage v JOIN cases c ON c.id = v.case_id,
  LATERAL (SELECT 'topic', t.key FROM unnest(c.topics) WITH ORDINALITY AS t(key, i)
           WHERE array_position(c.topics, t.key) = t.i
           UNION ALL
           SELECT 'region', r.key FROM unnest(c.regions) WITH ORDINALITY AS r(key, i)
           WHERE array_position(c.regions, r.key) = r.i) AS x(list, key)
  WHERE v.appeared_on >= $1::date AND v.appeared_on <= $2::date
  GROUP BY x.list, x.key
), ranked AS (
  SELECT list, key, n, row_number() OVER (PARTITION BY list ORDER BY n DESC, key COLLATE "C") AS place
  FROM (SELECT * FROM own UNION ALL SELECT * FROM from_cases) AS lists
)
SELECT list, key, n FROM ranked WHERE list <> 'outlet' OR place <= $3::int
ORDER BY list, CASE WHEN list = 'month' THEN 0 ELSE -n END, key COLLATE "C")sql";

// Offers sent in [$1, $2), but those the desk withdrew (the partner never had the chance to
// answer). Grouped on the narrow offer rows first, names joined to the few rows kept: the first
// row is the total (GROUPING = 1), then up to $3 partners.
constexpr const char* partners_sql = R"sql(
WITH grouped AS (
  SELECT GROUPING(partner_id) AS total, partner_id, count(*) AS offers,
         count(*) FILTER (WHERE state = 'accepted') AS accepted,
         count(*) FILTER (WHERE state = 'declined') AS declined,
         count(*) FILTER (WHERE state = 'expired') AS expired,
         round(extract(epoch FROM percentile_cont(0.5) WITHIN GROUP (ORDER BY responded_at - created_at)
                                  FILTER (WHERE state IN ('accepted', 'declined'))) / 60, 1) AS median
  FROM offers
  WHERE created_at >= $1::timestamptz AND created_at < $2::timestamptz AND state <> 'withdrawn'
  GROUP BY GROUPING SETS ((partner_id), ())
)
SELECT g.total, g.partner_id, coalesce(p.name, ''), g.offers, g.accepted, g.declined, g.expired, g.median
FROM grouped g LEFT JOIN partners p ON p.id = g.partner_id
ORDER BY g.total DESC, g.offers DESC, p.name COLLATE "C", g.partner_id
LIMIT $3::int + 1)sql";

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
    // The per-partner medians and the grouping sets sort and hash more than the default 4 MB
    // holds; for this transaction only, so that no other query's memory grows.
    tx.exec("SET LOCAL work_mem = '32MB'");
    report_figures f;
    read_cases(tx, start, end, f);
    read_coverage(tx, first_date, last_date, f);
    read_partners(tx, start, end, f);
    return f;
  });
}

}  // namespace md::store
