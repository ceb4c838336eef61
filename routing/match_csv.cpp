// CSV rows to the registry matching reads (see match_csv.hpp).
#include "routing/match_csv.hpp"

#include <map>
#include <string_view>

namespace md::routing {
namespace {

time_point at_midnight(std::chrono::sys_days day) { return std::chrono::time_point_cast<std::chrono::milliseconds>(day); }

std::optional<time_point> at_midnight(const std::optional<std::chrono::sys_days>& day) {
  if (!day) return std::nullopt;
  return at_midnight(*day);
}

}  // namespace

match_registry registry_from_csv(const std::vector<partner_import_row>& partners,
                                 const std::vector<spokesperson_import_row>& spokespeople) {
  match_registry registry;
  std::map<std::string_view, std::size_t> partner_index;
  registry.partners.reserve(partners.size());
  for (auto& row : partners) {
    match_partner p;
    p.key = row.key;
    p.name = row.name;
    p.regions = row.regions;
    p.topics = row.topics;
    partner_index.emplace(row.key, registry.partners.size());
    registry.partners.push_back(std::move(p));
  }
  registry.spokespeople.reserve(spokespeople.size());
  for (auto& row : spokespeople) {
    match_spokesperson s;
    s.key = row.key;
    s.alias = row.alias;
    if (auto it = partner_index.find(row.partner_key); !row.partner_key.empty() && it != partner_index.end())
      s.partner = it->second;
    s.regions = row.regions;
    s.topics = row.topics;
    s.languages = row.languages;
    if (row.max_per_month) s.max_per_month = *row.max_per_month;
    if (row.consent_granted) {
      match_consent c;
      c.media = row.media;
      c.identification = row.identification;
      c.granted_at = at_midnight(*row.consent_granted);
      c.expires_at = at_midnight(row.consent_expires);
      c.withdrawn_at = at_midnight(row.consent_withdrawn);
      s.consents.push_back(std::move(c));
    }
    registry.spokespeople.push_back(std::move(s));
  }
  return registry;
}

}  // namespace md::routing
