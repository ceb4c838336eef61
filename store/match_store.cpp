// Reads the registry for matching (see match_store.hpp). Three queries, whatever the size.
#include "store/match_store.hpp"

#include <map>

namespace md::store {
namespace {

// Partners with their open offers and their record: responses, acceptances, median minutes.
constexpr std::string_view partners_sql = R"sql(
SELECT p.id, p.key, p.name, p.regions, p.topics, p.languages,
       (extract(epoch FROM p.away_until) * 1000)::bigint, p.capacity, p.archived_at IS NOT NULL,
       coalesce(o.open, 0), coalesce(o.answered, 0), coalesce(o.accepted, 0), o.median_minutes
FROM partners p
LEFT JOIN (
  SELECT partner_id,
         count(*) FILTER (WHERE state = 'sent') AS open,
         count(*) FILTER (WHERE state IN ('accepted', 'declined')) AS answered,
         count(*) FILTER (WHERE state = 'accepted') AS accepted,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM responded_at - created_at) / 60)
           FILTER (WHERE state IN ('accepted', 'declined')) AS median_minutes
  FROM offers GROUP BY partner_id
) o ON o.partner_id = p.id
ORDER BY p.id)sql";

constexpr std::string_view spokespeople_sql = R"sql(
SELECT s.id, coalesce(s.key, ''), s.alias, s.partner_id, s.regions, s.topics, s.languages, s.max_per_month,
       s.erased_at IS NOT NULL, coalesce(e.this_month, 0), (extract(epoch FROM e.last_engaged) * 1000)::bigint
FROM spokespeople s
LEFT JOIN (
  SELECT spokesperson_id,
         count(*) FILTER (WHERE responded_at >= date_trunc('month', $1::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')
           AS this_month,
         max(responded_at) AS last_engaged
  FROM offers WHERE state = 'accepted' AND spokesperson_id IS NOT NULL GROUP BY spokesperson_id
) e ON e.spokesperson_id = s.id
ORDER BY s.id)sql";

constexpr std::string_view consents_sql = R"sql(
SELECT c.spokesperson_id, c.id, c.media, c.identification, c.topics, c.excluded_outlets,
       (extract(epoch FROM c.granted_at) * 1000)::bigint, (extract(epoch FROM c.expires_at) * 1000)::bigint,
       (extract(epoch FROM c.withdrawn_at) * 1000)::bigint
FROM consents c JOIN spokespeople s ON s.id = c.spokesperson_id
WHERE s.erased_at IS NULL
ORDER BY c.spokesperson_id, c.id)sql";

std::optional<time_point> optional_time(const pg_result& r, int row, int col) {
  if (r.is_null(row, col)) return std::nullopt;
  return from_unix_ms(r.get_int(row, col));
}

std::optional<std::int64_t> optional_int(const pg_result& r, int row, int col) {
  if (r.is_null(row, col)) return std::nullopt;
  return r.get_int(row, col);
}

}  // namespace

routing::match_registry load_match_registry(pg_connection& c, time_point now) {
  routing::match_registry registry;
  std::map<std::int64_t, std::size_t> partner_index, person_index;

  auto partners = c.exec(partners_sql);
  registry.partners.reserve(static_cast<std::size_t>(partners.rows()));
  for (int i = 0; i < partners.rows(); ++i) {
    routing::match_partner p;
    p.id = partners.get_int(i, 0);
    p.key = partners.get(i, 1);
    p.name = partners.get(i, 2);
    p.regions = partners.get_text_array(i, 3);
    p.topics = partners.get_text_array(i, 4);
    p.languages = partners.get_text_array(i, 5);
    p.away_until = optional_time(partners, i, 6);
    p.capacity = optional_int(partners, i, 7);
    p.archived = partners.get_bool(i, 8);
    p.open_offers = partners.get_int(i, 9);
    p.record.offers_answered = partners.get_int(i, 10);
    p.record.offers_accepted = partners.get_int(i, 11);
    if (!partners.is_null(i, 12)) p.record.median_response_minutes = std::stod(std::string{partners.get(i, 12)});
    partner_index[p.id] = registry.partners.size();
    registry.partners.push_back(std::move(p));
  }

  auto people = c.exec(spokespeople_sql, {text(format_iso8601(now))});
  registry.spokespeople.reserve(static_cast<std::size_t>(people.rows()));
  for (int i = 0; i < people.rows(); ++i) {
    routing::match_spokesperson s;
    s.id = people.get_int(i, 0);
    s.key = people.get(i, 1);
    s.alias = people.get(i, 2);
    if (auto partner = optional_int(people, i, 3)) s.partner = partner_index.at(*partner);
    s.regions = people.get_text_array(i, 4);
    s.topics = people.get_text_array(i, 5);
    s.languages = people.get_text_array(i, 6);
    s.max_per_month = optional_int(people, i, 7);
    s.erased = people.get_bool(i, 8);
    s.engagements_this_month = people.get_int(i, 9);
    s.last_engaged_at = optional_time(people, i, 10);
    person_index[s.id] = registry.spokespeople.size();
    registry.spokespeople.push_back(std::move(s));
  }

  auto consents = c.exec(consents_sql);
  for (int i = 0; i < consents.rows(); ++i) {
    routing::match_consent k;
    k.id = consents.get_int(i, 1);
    k.media = consents.get_text_array(i, 2);
    k.identification = consents.get(i, 3);
    k.topics = consents.get_text_array(i, 4);
    k.excluded_outlets = consents.get_text_array(i, 5);
    k.granted_at = from_unix_ms(consents.get_int(i, 6));
    k.expires_at = optional_time(consents, i, 7);
    k.withdrawn_at = optional_time(consents, i, 8);
    registry.spokespeople[person_index.at(consents.get_int(i, 0))].consents.push_back(std::move(k));
  }
  return registry;
}

}  // namespace md::store
