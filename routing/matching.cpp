// Matching (see matching.hpp): the hard rules, the ranking and its reasons. The registry is
// compiled once into flat bit-mask records and per-topic candidate lists, so that a find touches
// only the people and partners who share one of the request's topics, never the whole registry.
// The per-person consent rules exist once more over the registry's own strings (covering_consent
// and the exclusion phrases); the unit tests hold the two to the same answers.
#include "routing/matching.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>
#include <stdexcept>
#include <span>
#include <string_view>

#include "routing/registry_import.hpp"

namespace md::routing {
namespace {

using namespace std::chrono;

// ---- Ranking weights: they sum to 1, so the score stays in [0, 1]. ------------------------------
// Region and topic carry half of the score together: the journalist asked for a place and a
// subject, and a voice from the place on the subject is what makes a story. Fairness is next:
// the desk protects people from over-exposure and shares opportunities around its network.
// The partner's record, language and deadline fit refine the order among similar candidates.
constexpr double weight_region = 0.25;
constexpr double weight_topic = 0.25;
constexpr double weight_fairness = 0.20;
constexpr double weight_record = 0.10;
constexpr double weight_language = 0.10;
constexpr double weight_deadline = 0.10;
static_assert(weight_region + weight_topic + weight_fairness + weight_record + weight_language + weight_deadline > 0.999 &&
              weight_region + weight_topic + weight_fairness + weight_record + weight_language + weight_deadline < 1.001);

// Region tiers. Not asked: the same for everyone, so it changes no order; 1 keeps a good match's
// score high when the journalist named no place.
constexpr double region_same_place = 1.0;
constexpr double region_same_region = 0.7;
constexpr double region_neighbouring = 0.4;
constexpr double region_national = 0.25;
constexpr double region_elsewhere = 0.0;
constexpr double region_not_asked = 1.0;

// The partner's record, Bayesian-smoothed: a partner with no history scores as if it had answered
// prior_offers offers at the prior rate and speed, i.e. neutral (0.5), and its own answers move it
// gradually, so one early decline does not sink a new partner.
constexpr double prior_offers = 4;
constexpr double prior_accept_rate = 0.5;
constexpr double prior_response_minutes = 120;  // the speed at which the speed part is 0.5

// Fairness: someone put forward this long ago (or never) counts as fully rested.
constexpr double rested_after_days = 60;

// Explicit limits of the bit-mask index (the shipped taxonomy has 18 topics, 14 region-level
// areas and 73 languages); a larger taxonomy is refused when the matcher is built.
constexpr std::size_t max_topics = 64;
constexpr std::size_t max_areas = 32;
constexpr std::size_t max_languages = 128;

constexpr std::int64_t never = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t no_end = std::numeric_limits<std::int64_t>::max();
constexpr std::uint32_t no_partner = std::numeric_limits<std::uint32_t>::max();

std::int64_t ms(time_point t) { return t.time_since_epoch().count(); }

std::string day_text(time_point t) {
  year_month_day ymd{floor<days>(t)};
  return fmt::format("{:04}-{:02}-{:02}", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                     static_cast<unsigned>(ymd.day()));
}

// "about 40 min", "about 3 h", "about 2 days".
std::string duration_text(double minutes) {
  if (minutes < 90) return fmt::format("about {} min", std::max<long>(1, std::lround(minutes)));
  if (minutes < 48 * 60) return fmt::format("about {} h", std::lround(minutes / 60));
  return fmt::format("about {} days", std::lround(minutes / (24 * 60)));
}

std::string joined(const std::vector<std::string>& items, std::string_view separator = ", ") {
  std::string out;
  for (auto& i : items) {
    if (!out.empty()) out += separator;
    out += i;
  }
  return out;
}

bool contains(const std::vector<std::string>& items, std::string_view item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

bool same_text_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// A label as it reads inside a phrase: "Asylum process and backlog" -> "asylum process and
// backlog", but "EU Settlement Scheme" stays as it is.
std::string in_phrase(const std::string& label) {
  std::string out = label;
  if (out.size() > 1 && out[0] >= 'A' && out[0] <= 'Z' && out[1] >= 'a' && out[1] <= 'z') out[0] = static_cast<char>(out[0] - 'A' + 'a');
  return out;
}

// named covers first_name and anonymous; first_name covers anonymous. -1: not a level.
int identification_level(std::string_view level) {
  if (level == "named") return 2;
  if (level == "first_name") return 1;
  if (level == "anonymous") return 0;
  return -1;
}

// The least identifying level a request needs: named -> named; anonymous -> any; not said ->
// first_name (a person who agreed only to be anonymous is never put forward on a guess).
int level_needed(std::string_view identification) {
  if (identification == "named") return 2;
  if (identification == "anonymous") return 0;
  return 1;
}

std::string level_words(std::string_view level) { return level == "first_name" ? "first name" : std::string(level); }

int medium_bit(std::string_view medium) {
  for (std::size_t i = 0; i < std::size(media_values); ++i)
    if (media_values[i] == medium) return static_cast<int>(i);
  return -1;
}

// The request's topics without repeats, best first.
std::vector<std::string> unique_topics(const std::vector<std::string>& topics) {
  std::vector<std::string> out;
  for (auto& t : topics)
    if (!contains(out, t)) out.push_back(t);
  return out;
}

// The first topic weighs most: 1, 1/2, 1/3, ...
double topic_weight(std::size_t position) { return 1.0 / static_cast<double>(position + 1); }

// ---- The consent rules over the registry's strings (covering_consent, exclusion phrases) ------

struct consent_verdict {
  std::vector<std::string> problems;
  double topic_fit = 0;
};

consent_verdict judge_consent(const match_spokesperson& person, const match_consent& consent,
                              const match_request& request, const std::vector<std::string>& topics, time_point now) {
  consent_verdict v;
  // Withdrawal is final whatever its date: a recorded "no" is never overridden by a clock.
  if (consent.withdrawn_at) v.problems.push_back("consent withdrawn " + day_text(*consent.withdrawn_at));
  else if (consent.granted_at > now) v.problems.push_back("consent starts " + day_text(consent.granted_at));
  else if (consent.expires_at && *consent.expires_at <= now)
    v.problems.push_back("no live consent (expired " + day_text(*consent.expires_at) + ")");

  if (!request.medium.empty() && (medium_bit(request.medium) < 0 || !contains(consent.media, request.medium)))
    v.problems.push_back("consent does not cover " + request.medium);

  int needed = level_needed(request.identification);
  int level = identification_level(consent.identification);
  bool identification_ok = needed == 2 ? level == 2 : level >= needed;
  if (!identification_ok) {
    std::string has = consent.identification.empty() ? std::string("none") : consent.identification;
    v.problems.push_back(needed == 2   ? "needs a named consent (has " + has + ")"
                         : needed == 1 ? "needs a first_name or named consent (has " + has + ")"
                                       : "needs a consent level (has " + has + ")");
  }

  auto& covered = consent.topics.empty() ? person.topics : consent.topics;
  double total = 0;
  for (std::size_t i = 0; i < topics.size(); ++i) {
    total += topic_weight(i);
    if (contains(covered, topics[i])) v.topic_fit += topic_weight(i);
  }
  if (total > 0) v.topic_fit /= total;
  if (topics.empty()) v.problems.push_back("the request has no topic");
  else if (v.topic_fit == 0)
    v.problems.push_back((topics.size() == 1 ? "consent does not cover topic: " : "consent does not cover topics: ") +
                         joined(topics));

  if (!request.outlet_name.empty())
    for (auto& outlet : consent.excluded_outlets)
      if (same_text_ignoring_case(outlet, request.outlet_name)) {
        v.problems.push_back("excluded outlet: " + outlet);
        break;
      }
  return v;
}

// The consent that covers the request (best topic fit, then the latest granted), or the problems
// of the one that comes closest.
std::variant<std::size_t, std::vector<std::string>> judge_consents(const match_spokesperson& person,
                                                                   const match_request& request, time_point now) {
  if (person.consents.empty()) return std::vector<std::string>{"no consent recorded"};
  auto topics = unique_topics(request.topics);
  std::optional<std::size_t> best;
  double best_fit = -1;
  std::vector<std::string> closest;
  std::optional<std::size_t> closest_at;
  for (std::size_t i = 0; i < person.consents.size(); ++i) {
    auto& c = person.consents[i];
    auto v = judge_consent(person, c, request, topics, now);
    if (v.problems.empty()) {
      if (!best || v.topic_fit > best_fit || (v.topic_fit == best_fit && c.granted_at > person.consents[*best].granted_at))
        best = i, best_fit = v.topic_fit;
    } else if (!closest_at || v.problems.size() < closest.size() ||
               (v.problems.size() == closest.size() && c.granted_at > person.consents[*closest_at].granted_at)) {
      closest = std::move(v.problems);
      closest_at = i;
    }
  }
  if (best) return *best;
  return closest;
}

std::vector<std::string> partner_problems(const match_partner& p, time_point now) {
  std::vector<std::string> out;
  if (p.archived) out.push_back("partner archived");
  if (p.away_until && *p.away_until > now) out.push_back("partner away until " + day_text(*p.away_until));
  if (p.capacity && p.open_offers >= *p.capacity)
    out.push_back(fmt::format("partner at capacity ({} open offer{})", p.open_offers, p.open_offers == 1 ? "" : "s"));
  return out;
}

bool partner_open(const match_partner& p, time_point now) {
  return !p.archived && !(p.away_until && *p.away_until > now) && !(p.capacity && p.open_offers >= *p.capacity);
}

std::int64_t cap_of(const match_spokesperson& s, const match_options& options) {
  return s.max_per_month.value_or(options.default_max_per_month);
}

// Every hard rule one spokesperson fails, one phrase each.
std::vector<std::string> person_problems(const match_registry& registry, const match_spokesperson& s,
                                         const match_request& request, time_point now, const match_options& options) {
  if (s.erased) return {"erased"};
  std::vector<std::string> out;
  if (!s.partner) out.push_back("the desk's own: no partner to send an offer through");
  else if (*s.partner < registry.partners.size())
    for (auto& problem : partner_problems(registry.partners[*s.partner], now)) out.push_back(problem);
  auto cap = cap_of(s, options);
  if (cap <= 0) out.push_back(fmt::format("paused (cap {})", std::max<std::int64_t>(0, cap)));
  else if (s.engagements_this_month >= cap)
    out.push_back(fmt::format("monthly cap reached ({} of {})", s.engagements_this_month, cap));
  auto consent = judge_consents(s, request, now);
  if (auto* problems = std::get_if<std::vector<std::string>>(&consent))
    for (auto& problem : *problems) out.push_back(problem);
  return out;
}

// ---- The compiled registry -------------------------------------------------------------------

struct language_mask {
  std::uint64_t bits[2] = {0, 0};
  void set(std::size_t i) { bits[i / 64] |= std::uint64_t{1} << (i % 64); }
  int common(const language_mask& o) const { return std::popcount(bits[0] & o.bits[0]) + std::popcount(bits[1] & o.bits[1]); }
  bool has(std::size_t i) const { return bits[i / 64] >> (i % 64) & 1; }
};

using area_bits = std::uint32_t;  // one bit per region-level area (max_areas)

struct consent_entry {
  std::int64_t granted = 0, expires = no_end;
  std::uint64_t topics = 0;  // the topics it covers (the person's when the consent names none)
  std::uint8_t media = 0;    // bits in media_values order
  std::int8_t level = -1;
  bool withdrawn = false, excludes_outlets = false;
};

// Where someone works, as the ranking reads it.
struct place_entry {
  area_bits areas = 0;     // region-level areas named (or the area of a place named)
  area_bits national = 0;  // areas covered through "uk" / "england" (or no regions at all)
  std::uint32_t places_begin = 0, places_count = 0;  // the regions named below region level
  std::uint64_t topics = 0;
  language_mask languages;
};

// What a scan reads of one spokesperson, copied into each topic list they are in, so that a
// find streams through memory instead of chasing records (a million people do not fit in any
// cache; measured, chasing cost about 4 times more). 88 bytes; everything else stays in
// person_entry and the registry, read only for the few that are ranked or excluded.
struct candidate {
  std::int64_t granted = 0, expires = no_end;  // the first consent's live interval
  std::int64_t last_engaged = never;
  std::uint64_t topics = 0;          // every topic they are a candidate for (theirs and their consents')
  std::uint64_t consent_topics = 0;  // what the first consent covers
  area_bits areas = 0, national = 0;
  language_mask languages;
  std::uint32_t person = 0, partner = no_partner, key_rank = 0;
  std::int16_t max_per_month = 0, engagements = 0;  // clamped; a cap over 32767 is no cap in practice
  std::uint16_t place = 0;  // their one place below region level, when places == 1
  std::uint8_t media = 0;
  std::int8_t level = -1;
  std::uint8_t flags = 0;
  std::uint8_t places = 0;  // places below region level: 0, 1 (in place) or more (in person_entry)
};
static_assert(sizeof(candidate) == 88);
constexpr std::uint8_t flag_erased = 1, flag_default_cap = 2, flag_withdrawn = 4, flag_excludes_outlets = 8,
                       flag_several_consents = 16, flag_no_consent = 32;

struct person_entry {
  std::uint32_t places_begin = 0, places_count = 0;
  std::uint32_t consents_begin = 0, consents_count = 0;
};

struct partner_entry {
  place_entry where;
  double record = 0.5;         // smoothed accept rate and speed, 0..1
  double median_minutes = -1;  // the raw median response time; -1: no answers yet
  std::uint32_t key_rank = 0;
};

struct compiled_request {
  std::vector<std::size_t> topics;  // taxonomy indexes, best first, known and unique
  std::uint64_t topic_bits = 0;
  double topic_total = 0;
  bool has_regions = false;
  area_bits areas = 0, neighbours = 0;
  std::vector<std::uint32_t> places;  // region indexes below region level, as asked
  int medium = -1;                    // bit; -1 any
  bool medium_unknown = false;        // a medium no consent can name
  int level = 1;
  language_mask languages;
  int language_count = 0;
  std::optional<double> minutes_left;  // to the deadline
  std::int64_t now = 0;
  bool outlet_excluded_somewhere = false;  // some consent excludes the request's outlet
};

// A partner as one find sees it (available now; its record and deadline fit, weighted), for the
// scan: small and dense, so it stays in cache however many people point at it.
struct partner_now {
  double weighted_record_and_deadline = 0;
  std::uint32_t key_rank = 0;
  bool ok = false;
};

struct evaluation {
  double score = 0;
  std::uint32_t consent = 0;  // index into the person's consents
};

struct ranked {
  double score;
  std::uint32_t partner_rank, person_rank;  // person_rank 0: partner-level (first among equals)
  std::size_t partner;
  const candidate* person;  // nullptr: partner-level
  std::uint32_t consent;
};

// True when a ranks before b.
bool ranks_before(const ranked& a, const ranked& b) {
  if (a.score != b.score) return a.score > b.score;
  if (a.partner_rank != b.partner_rank) return a.partner_rank < b.partner_rank;
  return a.person_rank < b.person_rank;
}

double quantised(double score) { return std::round(std::clamp(score, 0.0, 1.0) * 1e6) / 1e6; }

std::int16_t clamped16(std::int64_t v) { return static_cast<std::int16_t>(std::clamp<std::int64_t>(v, -1, 32767)); }

}  // namespace

struct matcher::index {
  std::shared_ptr<const taxonomy> tax;
  match_registry registry;
  std::vector<int> area_of_region;       // region index -> area bit (-1: a container)
  std::vector<std::size_t> area_region;  // area bit -> region index
  std::vector<area_bits> neighbours;     // area bit -> neighbouring areas
  std::vector<area_bits> under;          // region index -> areas below it (containers)
  area_bits uk_areas = 0;
  std::vector<person_entry> people;
  std::vector<consent_entry> consents;
  std::vector<partner_entry> partners;
  std::vector<std::uint32_t> places;
  std::set<std::string, std::less<>> excluded_outlets;  // lower-cased: every outlet some consent excludes
  std::vector<std::vector<candidate>> people_by_topic;
  std::vector<std::vector<std::uint32_t>> partners_by_topic;

  void build_areas();
  place_entry place_of(const std::vector<std::string>& regions, const std::vector<std::string>& topics,
                       const std::vector<std::string>& languages);
  std::uint64_t topic_bits(const std::vector<std::string>& topics) const;

  compiled_request compile(const match_request& request, time_point now) const;
  double region_score(area_bits areas, area_bits national, std::span<const std::uint32_t> own_places,
                      const compiled_request& r, std::vector<std::string>* reasons) const;
  double topic_fit(std::uint64_t covered, const compiled_request& r) const;
  void topic_reason(std::uint64_t covered, const compiled_request& r, std::vector<std::string>& reasons) const;
  double language_score(const language_mask& spoken, const compiled_request& r, std::vector<std::string>* reasons) const;
  double record_score(std::size_t partner, std::vector<std::string>* reasons) const;
  double deadline_score(std::size_t partner, const compiled_request& r, std::vector<std::string>* reasons) const;
  std::optional<evaluation> person(const candidate& c, std::int64_t cap, const compiled_request& r,
                                   const match_request& request, const std::vector<partner_now>& partners_now,
                                   std::vector<std::string>* reasons) const;
  std::optional<double> partner(std::uint32_t i, const compiled_request& r, const std::vector<partner_now>& partners_now,
                                std::vector<std::string>* reasons) const;
};

void matcher::index::build_areas() {
  auto& t = *tax;
  area_of_region.assign(t.regions.size(), -1);
  under.assign(t.regions.size(), 0);
  for (std::size_t i = 0; i < t.regions.size(); ++i)
    if (t.regions[i].region_level == static_cast<int>(i)) {
      if (area_region.size() >= max_areas)
        throw std::length_error(fmt::format("matching supports at most {} region-level areas", max_areas));
      area_region.push_back(i);
    }
  for (std::size_t bit = 0; bit < area_region.size(); ++bit) area_of_region[area_region[bit]] = static_cast<int>(bit);
  for (std::size_t i = 0; i < t.regions.size(); ++i) {
    int level = t.regions[i].region_level;
    if (level >= 0) area_of_region[i] = area_of_region[static_cast<std::size_t>(level)];
  }
  neighbours.assign(area_region.size(), 0);
  for (std::size_t bit = 0; bit < area_region.size(); ++bit) {
    auto area = area_bits{1} << bit;
    for (auto& id : t.regions[area_region[bit]].neighbours)
      if (auto n = t.find_region(id); n && area_of_region[*n] >= 0) neighbours[bit] |= area_bits{1} << area_of_region[*n];
    // Every container above an area covers it ("uk" covers Wales, "england" the North East).
    for (int at = t.regions[area_region[bit]].parent; at >= 0; at = t.regions[static_cast<std::size_t>(at)].parent)
      under[static_cast<std::size_t>(at)] |= area;
  }
  if (auto uk = t.find_region("uk")) uk_areas = under[*uk];
  else uk_areas = area_region.size() == max_areas ? ~area_bits{0} : (area_bits{1} << area_region.size()) - 1;
}

std::uint64_t matcher::index::topic_bits(const std::vector<std::string>& topics) const {
  std::uint64_t bits = 0;
  for (auto& id : topics)
    if (auto i = tax->find_topic(id)) bits |= std::uint64_t{1} << *i;
  return bits;
}

place_entry matcher::index::place_of(const std::vector<std::string>& regions, const std::vector<std::string>& topics,
                                     const std::vector<std::string>& languages) {
  place_entry w;
  w.places_begin = static_cast<std::uint32_t>(places.size());
  for (auto& id : regions) {
    auto r = tax->find_region(id);
    if (!r) continue;
    if (area_of_region[*r] < 0) {
      w.national |= under[*r];
      continue;
    }
    w.areas |= area_bits{1} << area_of_region[*r];
    if (tax->regions[*r].region_level != static_cast<int>(*r)) places.push_back(static_cast<std::uint32_t>(*r));
  }
  w.places_count = static_cast<std::uint32_t>(places.size()) - w.places_begin;
  if (w.areas == 0 && w.national == 0) w.national = uk_areas;  // no regions: a national voice
  w.topics = topic_bits(topics);
  for (auto& id : languages)
    if (auto l = tax->find_language(id)) w.languages.set(*l);
  return w;
}

matcher::matcher(std::shared_ptr<const taxonomy> taxonomy, match_registry registry) : index_(std::make_unique<index>()) {
  auto& x = *index_;
  if (!taxonomy) throw std::invalid_argument("matcher: no taxonomy");
  if (taxonomy->topics.size() > max_topics)
    throw std::length_error(fmt::format("matching supports at most {} topics", max_topics));
  if (taxonomy->languages.size() > max_languages)
    throw std::length_error(fmt::format("matching supports at most {} languages", max_languages));
  if (registry.spokespeople.size() >= no_partner || registry.partners.size() >= no_partner)
    throw std::length_error("matching supports fewer than 2^32 spokespeople and partners");
  x.tax = std::move(taxonomy);
  x.registry = std::move(registry);
  x.build_areas();
  auto& reg = x.registry;

  // Ties are broken by key: ranks computed once so that comparing two candidates is cheap.
  auto ranks_by_key = [](auto& items) {
    std::vector<std::uint32_t> order(items.size()), rank(items.size());
    std::iota(order.begin(), order.end(), 0u);
    std::sort(order.begin(), order.end(), [&](auto a, auto b) { return items[a].key < items[b].key; });
    for (std::uint32_t r = 0; r < order.size(); ++r) rank[order[r]] = r;
    return rank;
  };
  auto partner_ranks = ranks_by_key(reg.partners);
  auto person_ranks = ranks_by_key(reg.spokespeople);

  x.people_by_topic.resize(x.tax->topics.size());
  x.partners_by_topic.resize(x.tax->topics.size());
  x.partners.reserve(reg.partners.size());
  for (std::uint32_t i = 0; i < reg.partners.size(); ++i) {
    auto& p = reg.partners[i];
    partner_entry e;
    e.where = x.place_of(p.regions, p.topics, p.languages);
    e.key_rank = partner_ranks[i];
    auto answered = static_cast<double>(std::max<std::int64_t>(0, p.record.offers_answered));
    auto accepted = static_cast<double>(std::clamp<std::int64_t>(p.record.offers_accepted, 0, p.record.offers_answered));
    double accept_rate = (accepted + prior_accept_rate * prior_offers) / (answered + prior_offers);
    double minutes = p.record.median_response_minutes
                         ? (answered * std::max(0.0, *p.record.median_response_minutes) + prior_offers * prior_response_minutes) /
                               (answered + prior_offers)
                         : prior_response_minutes;
    double speed = prior_response_minutes / (prior_response_minutes + minutes);
    e.record = 0.5 * accept_rate + 0.5 * speed;
    if (p.record.median_response_minutes) e.median_minutes = std::max(0.0, *p.record.median_response_minutes);
    for (std::size_t t = 0; t < x.tax->topics.size(); ++t)
      if (e.where.topics >> t & 1) x.partners_by_topic[t].push_back(i);
    x.partners.push_back(e);
  }

  // Sizes first, so that the lists are allocated once.
  std::vector<std::size_t> list_sizes(x.tax->topics.size());
  std::vector<std::uint64_t> person_topics(reg.spokespeople.size());
  for (std::size_t i = 0; i < reg.spokespeople.size(); ++i) {
    auto& s = reg.spokespeople[i];
    auto bits = x.topic_bits(s.topics);
    for (auto& c : s.consents) bits |= x.topic_bits(c.topics);
    person_topics[i] = bits;
    for (std::size_t t = 0; t < list_sizes.size(); ++t) list_sizes[t] += bits >> t & 1;
  }
  for (std::size_t t = 0; t < list_sizes.size(); ++t) x.people_by_topic[t].reserve(list_sizes[t]);

  x.people.reserve(reg.spokespeople.size());
  for (std::uint32_t i = 0; i < reg.spokespeople.size(); ++i) {
    auto& s = reg.spokespeople[i];
    person_entry e;
    candidate c;
    c.person = i;
    bool own_partner = s.partner && *s.partner < reg.partners.size();
    // Effective regions: their own, else their partner's.
    auto& regions = !s.regions.empty() || !own_partner ? s.regions : reg.partners[*s.partner].regions;
    auto where = x.place_of(regions, s.topics, s.languages);
    e.places_begin = where.places_begin;
    e.places_count = where.places_count;
    c.areas = where.areas;
    c.national = where.national;
    c.languages = where.languages;
    c.places = static_cast<std::uint8_t>(std::min<std::uint32_t>(where.places_count, 2));
    if (where.places_count == 1 && x.places[where.places_begin] < 0xFFFF) c.place = static_cast<std::uint16_t>(x.places[where.places_begin]);
    else if (where.places_count == 1) c.places = 2;  // too large an index to hold here: read it from the list
    if (own_partner) c.partner = static_cast<std::uint32_t>(*s.partner);
    if (s.erased) c.flags |= flag_erased;
    if (!s.max_per_month) c.flags |= flag_default_cap;
    c.max_per_month = clamped16(s.max_per_month.value_or(0));
    c.engagements = clamped16(s.engagements_this_month);
    if (s.last_engaged_at) c.last_engaged = ms(*s.last_engaged_at);
    c.key_rank = person_ranks[i] + 1;  // 0 is the partner-level match
    c.topics = person_topics[i];
    e.consents_begin = static_cast<std::uint32_t>(x.consents.size());
    for (auto& consent : s.consents) {
      consent_entry k;
      k.granted = ms(consent.granted_at);
      if (consent.expires_at) k.expires = ms(*consent.expires_at);
      k.withdrawn = consent.withdrawn_at.has_value();
      for (auto& m : consent.media)
        if (int b = medium_bit(m); b >= 0) k.media |= static_cast<std::uint8_t>(1u << b);
      k.level = static_cast<std::int8_t>(identification_level(consent.identification));
      k.topics = consent.topics.empty() ? where.topics : x.topic_bits(consent.topics);
      k.excludes_outlets = !consent.excluded_outlets.empty();
      for (auto& outlet : consent.excluded_outlets) x.excluded_outlets.insert(ascii_lower(outlet));
      x.consents.push_back(k);
    }
    e.consents_count = static_cast<std::uint32_t>(s.consents.size());
    if (s.consents.empty()) c.flags |= flag_no_consent;
    else if (s.consents.size() > 1) c.flags |= flag_several_consents;
    else {
      auto& k = x.consents[e.consents_begin];
      c.granted = k.granted, c.expires = k.expires, c.consent_topics = k.topics;
      c.media = k.media, c.level = k.level;
      if (k.withdrawn) c.flags |= flag_withdrawn;
      if (k.excludes_outlets) c.flags |= flag_excludes_outlets;
    }
    // A person is a candidate for every topic they or a consent of theirs name.
    for (std::size_t t = 0; t < x.tax->topics.size(); ++t)
      if (c.topics >> t & 1) x.people_by_topic[t].push_back(c);
    x.people.push_back(e);
  }
}

matcher::~matcher() = default;
matcher::matcher(matcher&&) noexcept = default;
matcher& matcher::operator=(matcher&&) noexcept = default;

const match_registry& matcher::registry() const { return index_->registry; }

compiled_request matcher::index::compile(const match_request& request, time_point now) const {
  compiled_request r;
  r.now = ms(now);
  for (auto& id : request.topics)
    if (auto t = tax->find_topic(id); t && !(r.topic_bits >> *t & 1)) {
      r.topic_total += topic_weight(r.topics.size());
      r.topics.push_back(*t);
      r.topic_bits |= std::uint64_t{1} << *t;
    }
  for (auto& id : request.regions) {
    auto i = tax->find_region(id);
    if (!i || area_of_region[*i] < 0) continue;  // "uk", "england": no region asked
    r.has_regions = true;
    r.areas |= area_bits{1} << area_of_region[*i];
    if (tax->regions[*i].region_level != static_cast<int>(*i)) r.places.push_back(static_cast<std::uint32_t>(*i));
  }
  for (std::size_t bit = 0; bit < area_region.size(); ++bit)
    if (r.areas >> bit & 1) r.neighbours |= neighbours[bit];
  r.neighbours &= ~r.areas;
  if (!request.medium.empty()) {
    r.medium = medium_bit(request.medium);
    r.medium_unknown = r.medium < 0;
  }
  r.level = level_needed(request.identification);
  // Most outlets are excluded by no one: then no consent's list needs reading.
  r.outlet_excluded_somewhere = !request.outlet_name.empty() && excluded_outlets.contains(ascii_lower(request.outlet_name));
  for (auto& id : request.languages)
    if (auto l = tax->find_language(id); l && !r.languages.has(*l)) {
      r.languages.set(*l);
      ++r.language_count;
    }
  if (request.deadline) r.minutes_left = duration<double, std::ratio<60>>(*request.deadline - now).count();
  return r;
}

double matcher::index::region_score(area_bits areas, area_bits national, std::span<const std::uint32_t> own_places,
                                    const compiled_request& r, std::vector<std::string>* reasons) const {
  if (!r.has_regions) return region_not_asked;
  auto name_of_area = [&](area_bits bits) { return tax->regions[area_region[std::countr_zero(bits)]].name; };
  if (areas & r.areas) {
    for (auto place : own_places)
      if (std::find(r.places.begin(), r.places.end(), place) != r.places.end()) {
        if (reasons) reasons->push_back("same place: " + tax->regions[place].name);
        return region_same_place;
      }
    if (reasons) reasons->push_back("same region: " + name_of_area(areas & r.areas));
    return region_same_region;
  }
  if (areas & r.neighbours) {
    if (reasons) reasons->push_back("neighbouring region: " + name_of_area(areas & r.neighbours));
    return region_neighbouring;
  }
  if (national & r.areas) {
    if (reasons) reasons->push_back("national");
    return region_national;
  }
  if (reasons) reasons->push_back(areas ? "elsewhere: " + name_of_area(areas) : std::string("elsewhere"));
  return region_elsewhere;
}

double matcher::index::topic_fit(std::uint64_t covered, const compiled_request& r) const {
  if (r.topic_total <= 0) return 0;
  double fit = 0;
  for (std::size_t i = 0; i < r.topics.size(); ++i)
    if (covered >> r.topics[i] & 1) fit += topic_weight(i);
  return fit / r.topic_total;
}

void matcher::index::topic_reason(std::uint64_t covered, const compiled_request& r, std::vector<std::string>& reasons) const {
  std::vector<std::string> labels;
  for (auto t : r.topics)
    if (covered >> t & 1) labels.push_back(in_phrase(tax->topics[t].label));
  reasons.push_back("topics: " + joined(labels));
}

double matcher::index::language_score(const language_mask& spoken, const compiled_request& r,
                                      std::vector<std::string>* reasons) const {
  if (r.language_count == 0) return 1;
  if (reasons) {
    std::vector<std::string> yes, no;
    for (std::size_t l = 0; l < tax->languages.size(); ++l)
      if (r.languages.has(l)) (spoken.has(l) ? yes : no).push_back(tax->languages[l].label);
    if (!yes.empty()) reasons->push_back("speaks " + joined(yes));
    if (!no.empty()) reasons->push_back("does not speak " + joined(no));
  }
  return static_cast<double>(spoken.common(r.languages)) / r.language_count;
}

double matcher::index::record_score(std::size_t partner, std::vector<std::string>* reasons) const {
  if (reasons) {
    auto& record = registry.partners[partner].record;
    if (record.offers_answered <= 0) reasons->push_back("no offers answered yet");
    else reasons->push_back(fmt::format("accepts {} of {} offers", record.offers_accepted, record.offers_answered));
    if (record.median_response_minutes)
      reasons->push_back("answers in " + duration_text(*record.median_response_minutes));
  }
  return partners[partner].record;
}

double matcher::index::deadline_score(std::size_t partner, const compiled_request& r, std::vector<std::string>* reasons) const {
  double median = partners[partner].median_minutes;
  // Only a known, slower-than-the-deadline record lowers the score: no history is not a penalty,
  // and a passed deadline is the same for everyone.
  if (!r.minutes_left || median < 0 || *r.minutes_left <= 0 || median <= *r.minutes_left) return 1;
  if (reasons)
    reasons->push_back("usually answers in " + duration_text(median) + ", deadline in " + duration_text(*r.minutes_left));
  return *r.minutes_left / median;
}

std::optional<evaluation> matcher::index::person(const candidate& c, std::int64_t cap, const compiled_request& r,
                                                 const match_request& request, const std::vector<partner_now>& partners_now,
                                                 std::vector<std::string>* reasons) const {
  if ((c.flags & (flag_erased | flag_no_consent)) || c.partner == no_partner || !partners_now[c.partner].ok) return std::nullopt;
  if (cap <= 0 || c.engagements >= cap || r.medium_unknown) return std::nullopt;
  auto excluded_outlet = [&](std::uint32_t k) {
    if (!r.outlet_excluded_somewhere) return false;
    auto& excluded = registry.spokespeople[c.person].consents[k].excluded_outlets;
    return std::any_of(excluded.begin(), excluded.end(),
                       [&](auto& o) { return same_text_ignoring_case(o, request.outlet_name); });
  };
  auto covers = [&](std::int64_t granted, std::int64_t expires, bool withdrawn, std::uint8_t media, int level,
                    std::uint64_t topics) {
    return !withdrawn && granted <= r.now && r.now < expires && (r.medium < 0 || (media >> r.medium & 1)) &&
           (r.level == 2 ? level == 2 : level >= r.level) && (topics & r.topic_bits);
  };
  // The common case, one consent, from the candidate record itself.
  std::optional<std::uint32_t> best;
  double best_fit = -1;
  std::uint64_t best_topics = 0;
  if (!(c.flags & flag_several_consents)) {
    if (!covers(c.granted, c.expires, c.flags & flag_withdrawn, c.media, c.level, c.consent_topics)) return std::nullopt;
    if ((c.flags & flag_excludes_outlets) && excluded_outlet(0)) return std::nullopt;
    best = 0, best_fit = topic_fit(c.consent_topics, r), best_topics = c.consent_topics;
  } else {
    auto& e = people[c.person];
    for (std::uint32_t k = 0; k < e.consents_count; ++k) {
      auto& consent = consents[e.consents_begin + k];
      if (!covers(consent.granted, consent.expires, consent.withdrawn, consent.media, consent.level, consent.topics)) continue;
      if (consent.excludes_outlets && excluded_outlet(k)) continue;
      double fit = topic_fit(consent.topics, r);
      if (!best || fit > best_fit || (fit == best_fit && consent.granted > consents[e.consents_begin + *best].granted))
        best = k, best_fit = fit, best_topics = consent.topics;
    }
    if (!best) return std::nullopt;
  }

  std::uint32_t one_place = c.place;
  auto own_places = c.places <= 1 ? std::span<const std::uint32_t>(&one_place, c.places)
                                  : std::span<const std::uint32_t>(places.data() + people[c.person].places_begin,
                                                                   people[c.person].places_count);
  double region = region_score(c.areas, c.national, own_places, r, reasons);
  if (reasons) topic_reason(best_topics, r, *reasons);
  double language = language_score(c.languages, r, reasons);
  if (reasons) {
    auto& consent = registry.spokespeople[c.person].consents[*best];
    std::string media = r.medium >= 0 ? request.medium : joined(consent.media, "/");
    reasons->push_back("consent: " + media + ", " + level_words(consent.identification));
  }
  double rested = c.last_engaged == never
                      ? 1.0
                      : std::clamp(static_cast<double>(r.now - c.last_engaged) / (rested_after_days * 86'400'000.0), 0.0, 1.0);
  double unused = 1.0 - std::min(1.0, static_cast<double>(c.engagements) / static_cast<double>(cap));
  double fairness = 0.5 * rested + 0.5 * unused;
  if (reasons) {
    if (c.last_engaged == never) reasons->push_back("not put forward yet");
    else {
      auto days_ago = std::max<std::int64_t>(0, (r.now - c.last_engaged) / 86'400'000);
      reasons->push_back(days_ago == 0 ? std::string("last put forward today")
                                       : fmt::format("last put forward {} day{} ago", days_ago, days_ago == 1 ? "" : "s"));
    }
    if (c.engagements > 0) reasons->push_back(fmt::format("put forward {} of {} this month", c.engagements, cap));
  }
  if (reasons) record_score(c.partner, reasons), deadline_score(c.partner, r, reasons);
  double score = weight_region * region + weight_topic * best_fit + weight_language * language +
                 weight_fairness * fairness + partners_now[c.partner].weighted_record_and_deadline;
  return evaluation{quantised(score), *best};
}

std::optional<double> matcher::index::partner(std::uint32_t i, const compiled_request& r, const std::vector<partner_now>& partners_now,
                                              std::vector<std::string>* reasons) const {
  auto& e = partners[i];
  if (!partners_now[i].ok) return std::nullopt;
  // A partner-level match must cover the place asked (here, or nationally): the partner finds
  // the voice, so it must be able to find one there.
  if (r.has_regions && !(e.where.areas & r.areas) && !(e.where.national & r.areas)) return std::nullopt;
  double region = region_score(e.where.areas, e.where.national,
                               std::span<const std::uint32_t>(places.data() + e.where.places_begin, e.where.places_count), r,
                               reasons);
  double topic = topic_fit(e.where.topics, r);
  if (reasons) topic_reason(e.where.topics, r, *reasons);
  // A partner's languages are often not recorded (the CSV has no column for them): then it is
  // neither a bonus nor a penalty, and the reason says it is not known.
  double language = 0.5;
  if (r.language_count > 0 && registry.partners[i].languages.empty()) {
    if (reasons) reasons->push_back("partner's languages not recorded");
  } else {
    language = language_score(e.where.languages, r, reasons);
  }
  auto open = registry.partners[i].open_offers;
  double fairness = 1.0 / (1.0 + static_cast<double>(std::max<std::int64_t>(0, open)));
  if (reasons) reasons->push_back(open <= 0 ? std::string("no open offers") : fmt::format("{} open offer{}", open, open == 1 ? "" : "s"));
  double record = record_score(i, reasons);
  double deadline = deadline_score(i, r, reasons);
  return quantised(weight_region * region + weight_topic * topic + weight_language * language + weight_fairness * fairness +
                   weight_record * record + weight_deadline * deadline);
}

match_result matcher::find(const match_request& request, time_point now, const match_options& options) const {
  auto& x = *index_;
  match_result result;
  auto r = x.compile(request, now);
  if (r.topics.empty()) return result;  // consent is given per topic: no topic, no one to match

  std::vector<partner_now> partners_now(x.registry.partners.size());
  for (std::size_t p = 0; p < partners_now.size(); ++p)
    partners_now[p] = {weight_record * x.record_score(p, nullptr) + weight_deadline * x.deadline_score(p, r, nullptr),
                       x.partners[p].key_rank, partner_open(x.registry.partners[p], now)};

  // The best `limit` so far, as a heap whose top is the worst of them.
  std::vector<ranked> best;
  auto worse = [](const ranked& a, const ranked& b) { return ranks_before(a, b); };
  auto offer = [&](const ranked& entry) {
    if (options.limit == 0) return;
    if (best.size() < options.limit) {
      best.push_back(entry);
      std::push_heap(best.begin(), best.end(), worse);
    } else if (ranks_before(entry, best.front())) {
      std::pop_heap(best.begin(), best.end(), worse);
      best.back() = entry;
      std::push_heap(best.begin(), best.end(), worse);
    }
  };
  auto listing = [&] { return options.with_exclusions && result.excluded.size() < options.exclusion_limit; };
  auto cap_of_candidate = [&](const candidate& c) -> std::int64_t {
    return (c.flags & flag_default_cap) ? options.default_max_per_month : c.max_per_month;
  };

  // Each candidate once: in the list of the request's k-th topic, skip whoever also has an
  // earlier request topic (they were seen in that topic's list).
  std::uint64_t earlier = 0;
  for (auto t : r.topics) {
    for (auto& c : x.people_by_topic[t]) {
      if (c.topics & earlier) continue;
      if (auto ev = x.person(c, cap_of_candidate(c), r, request, partners_now, nullptr))
        offer({ev->score, partners_now[c.partner].key_rank, c.key_rank, c.partner, &c, ev->consent});
      else if (listing()) {
        auto problems = person_problems(x.registry, x.registry.spokespeople[c.person], request, now, options);
        if (problems.empty()) problems.push_back("no consent covers this request");  // never expected: the rules agree
        result.excluded.push_back({std::nullopt, c.person, std::move(problems)});
      }
    }
    for (auto i : x.partners_by_topic[t]) {
      if (x.partners[i].where.topics & earlier) continue;
      if (auto score = x.partner(i, r, partners_now, nullptr))
        offer({*score, x.partners[i].key_rank, 0, i, nullptr, 0});
      else if (listing()) {
        auto problems = partner_problems(x.registry.partners[i], now);
        auto& w = x.partners[i].where;
        if (r.has_regions && !(w.areas & r.areas) && !(w.national & r.areas)) {
          std::vector<std::string> names;
          for (std::size_t bit = 0; bit < x.area_region.size(); ++bit)
            if (r.areas >> bit & 1) names.push_back(x.tax->regions[x.area_region[bit]].name);
          problems.push_back("region not covered: " + joined(names));
        }
        result.excluded.push_back({static_cast<std::size_t>(i), std::nullopt, std::move(problems)});
      }
    }
    earlier |= std::uint64_t{1} << t;
  }

  std::sort_heap(best.begin(), best.end(), worse);
  for (auto& b : best) {
    match m;
    m.partner = b.partner;
    if (b.person) {
      m.spokesperson = b.person->person;
      auto ev = x.person(*b.person, cap_of_candidate(*b.person), r, request, partners_now, &m.reasons);
      m.score = ev->score;
      m.consent_id = x.registry.spokespeople[b.person->person].consents[b.consent].id;
    } else {
      m.score = *x.partner(static_cast<std::uint32_t>(b.partner), r, partners_now, &m.reasons);
    }
    result.matches.push_back(std::move(m));
  }
  return result;
}

std::variant<std::int64_t, std::string> covering_consent(const match_spokesperson& person, const match_request& request,
                                                         time_point now) {
  if (person.erased) return std::string("erased");
  auto verdict = judge_consents(person, request, now);
  if (auto* i = std::get_if<std::size_t>(&verdict)) return person.consents[*i].id;
  return joined(std::get<std::vector<std::string>>(verdict), "; ");
}

}  // namespace md::routing
