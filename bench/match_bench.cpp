// Matching benchmark: generated registries of 10k, 100k and 1M spokespeople (and 1 % as many
// partners) spread over the real taxonomy's topics, places, media and consent states with a fixed
// seed; the time to build the matcher and the memory it adds; then the time of one find for 2,000
// varied requests (p50 / p99 / max), without and with the exclusions list. Prints a table for
// docs/PERFORMANCE.md. Not a test: run it by hand (build/bench/match_bench [max people]).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include "config/taxonomy_files.hpp"
#include "routing/matching.hpp"

namespace {

using namespace md;
using namespace md::routing;
using clock_used = std::chrono::steady_clock;

constexpr std::uint32_t seed = 20261127;
constexpr int requests = 2000;

double resident_mib() {
  std::ifstream in("/proc/self/statm");
  long pages = 0, resident = 0;
  in >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1 << 20);
}

// Picks by weight; the weights need not sum to 1.
struct weighted {
  std::vector<double> cumulative;
  explicit weighted(const std::vector<double>& weights) {
    double sum = 0;
    for (auto w : weights) cumulative.push_back(sum += w);
  }
  std::size_t operator()(std::mt19937& rng) const {
    auto x = std::uniform_real_distribution<double>(0, cumulative.back())(rng);
    return static_cast<std::size_t>(std::upper_bound(cumulative.begin(), cumulative.end(), x) - cumulative.begin());
  }
};

// The taxonomy as a generator sees it: topics by how often the sector meets them, areas by
// population (London heaviest), and the places below each area.
struct world {
  const taxonomy& tax;
  std::vector<std::size_t> areas;                    // region indexes of the region-level entries
  std::vector<std::vector<std::size_t>> places;      // per area: the regions below it
  weighted topic_pick, area_pick;
  std::vector<std::string> languages;

  static std::vector<double> topic_weights(const taxonomy& t) {
    std::vector<double> w;
    for (auto& topic : t.topics) {
      double x = 1;
      if (topic.id == "asylum_process") x = 6;
      else if (topic.id == "channel_crossings" || topic.id == "housing") x = 4;
      else if (topic.id == "detention" || topic.id == "deportation" || topic.id == "community") x = 3;
      else if (topic.id == "covid" || topic.id == "windrush") x = 0.5;
      w.push_back(x);
    }
    return w;
  }
  static std::vector<std::size_t> area_list(const taxonomy& t) {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < t.regions.size(); ++i)
      if (t.regions[i].region_level == static_cast<int>(i)) out.push_back(i);
    return out;
  }
  static std::vector<double> area_weights(const taxonomy& t, const std::vector<std::size_t>& areas) {
    std::vector<double> w;
    for (auto a : areas) {
      auto& id = t.regions[a].id;
      w.push_back(id == "london" ? 8 : id == "france" || id == "greece" ? 0.7 : id == "northern_ireland" ? 1 : 3);
    }
    return w;
  }

  explicit world(const taxonomy& t)
      : tax(t), areas(area_list(t)), topic_pick(topic_weights(t)), area_pick(area_weights(t, areas)) {
    places.resize(areas.size());
    for (std::size_t i = 0; i < t.regions.size(); ++i) {
      int level = t.regions[i].region_level;
      if (level < 0 || level == static_cast<int>(i)) continue;
      auto a = std::find(areas.begin(), areas.end(), static_cast<std::size_t>(level)) - areas.begin();
      places[static_cast<std::size_t>(a)].push_back(i);
    }
    for (auto& l : t.languages) languages.push_back(l.id);
  }

  std::vector<std::string> topics(std::mt19937& rng, int most) {
    std::vector<std::string> out;
    int n = std::uniform_int_distribution<int>(1, most)(rng);
    for (int tries = 0; static_cast<int>(out.size()) < n && tries < 20; ++tries) {
      auto& id = tax.topics[topic_pick(rng)].id;
      if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
    }
    return out;
  }

  // A person's or partner's regions: mostly a place and its area, some an area only, a few national.
  std::vector<std::string> regions(std::mt19937& rng) {
    auto roll = std::uniform_real_distribution<double>(0, 1)(rng);
    if (roll < 0.05) return {"uk"};
    if (roll < 0.07) return {};
    auto a = area_pick(rng);
    std::vector<std::string> out{tax.regions[areas[a]].id};
    if (roll < 0.8 && !places[a].empty())
      out.push_back(tax.regions[places[a][std::uniform_int_distribution<std::size_t>(0, places[a].size() - 1)(rng)]].id);
    return out;
  }
};

match_registry generate(world& w, std::size_t people, std::mt19937& rng, time_point now) {
  using namespace std::chrono;
  auto uniform = [&](double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); };
  auto integer = [&](int a, int b) { return std::uniform_int_distribution<int>(a, b)(rng); };
  static const std::vector<std::string> media{"tv", "radio", "print", "online", "podcast"};
  match_registry reg;
  std::size_t partners = std::max<std::size_t>(1, people / 100);
  for (std::size_t p = 0; p < partners; ++p) {
    match_partner partner;
    partner.id = static_cast<std::int64_t>(p + 1);
    partner.key = fmt::format("partner-{:06}", p);
    partner.name = fmt::format("Partner {}", p);
    partner.regions = w.regions(rng);
    partner.topics = w.topics(rng, 4);
    if (uniform(0, 1) < 0.3) partner.languages = {w.languages[static_cast<std::size_t>(integer(0, static_cast<int>(w.languages.size()) - 1))]};
    partner.archived = uniform(0, 1) < 0.03;
    if (uniform(0, 1) < 0.05) partner.away_until = now + days(integer(1, 30));
    if (uniform(0, 1) < 0.2) {
      partner.capacity = integer(1, 5);
      partner.open_offers = integer(0, 5);
    }
    if (uniform(0, 1) < 0.7) {
      partner.record.offers_answered = integer(1, 40);
      partner.record.offers_accepted = integer(0, static_cast<int>(partner.record.offers_answered));
      partner.record.median_response_minutes = uniform(5, 600);
    }
    reg.partners.push_back(std::move(partner));
  }
  for (std::size_t s = 0; s < people; ++s) {
    match_spokesperson person;
    person.id = static_cast<std::int64_t>(s + 1);
    person.key = fmt::format("sp-{:07}", s);
    person.alias = fmt::format("Alias {}", s);
    if (uniform(0, 1) < 0.97) person.partner = static_cast<std::size_t>(integer(0, static_cast<int>(partners) - 1));
    if (uniform(0, 1) < 0.85) person.regions = w.regions(rng);  // else their partner's
    person.topics = w.topics(rng, 3);
    person.languages = {"en"};
    for (int l = integer(0, 2); l > 0; --l)
      person.languages.push_back(w.languages[static_cast<std::size_t>(integer(0, static_cast<int>(w.languages.size()) - 1))]);
    if (uniform(0, 1) < 0.4) person.max_per_month = uniform(0, 1) < 0.05 ? 0 : integer(1, 4);
    person.engagements_this_month = uniform(0, 1) < 0.7 ? 0 : integer(1, 4);
    if (uniform(0, 1) < 0.5) person.last_engaged_at = now - days(integer(0, 400));
    person.erased = uniform(0, 1) < 0.01;
    // Consent states: mostly live, some expired, withdrawn, not started yet, or none at all.
    auto state = uniform(0, 1);
    if (state >= 0.07) {
      match_consent c;
      c.id = person.id;
      for (auto& m : media)
        if (uniform(0, 1) < 0.55) c.media.push_back(m);
      if (c.media.empty()) c.media.push_back(media[static_cast<std::size_t>(integer(0, 4))]);
      auto level = uniform(0, 1);
      c.identification = level < 0.3 ? "named" : level < 0.7 ? "first_name" : "anonymous";
      c.granted_at = now - days(integer(1, 700));
      c.expires_at = c.granted_at + days(integer(365, 1100));
      if (state < 0.22) c.expires_at = now - days(integer(1, 200));  // expired
      else if (state < 0.27) c.withdrawn_at = now - days(integer(1, 100));
      else if (state < 0.30) c.granted_at = now + days(integer(1, 60)), c.expires_at = *c.expires_at + days(400);
      if (uniform(0, 1) < 0.2) c.topics = {person.topics.front()};
      if (uniform(0, 1) < 0.05) c.excluded_outlets = {"Daily Mail", "GB News"};
      person.consents.push_back(std::move(c));
    }
    reg.spokespeople.push_back(std::move(person));
  }
  return reg;
}

std::vector<match_request> make_requests(world& w, std::mt19937& rng, time_point now) {
  auto uniform = [&](double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); };
  static const std::vector<std::string> media{"tv", "radio", "print", "online", "podcast"};
  std::vector<match_request> out;
  for (int i = 0; i < requests; ++i) {
    match_request r;
    r.topics = w.topics(rng, 3);
    if (uniform(0, 1) < 0.85) {
      // A place as triage outputs it: the place, then its ancestors up to the region level.
      auto a = w.area_pick(rng);
      auto place = w.areas[a];
      if (uniform(0, 1) < 0.75 && !w.places[a].empty())
        place = w.places[a][static_cast<std::size_t>(uniform(0, static_cast<double>(w.places[a].size()) - 0.001))];
      for (int at = static_cast<int>(place); at >= 0; at = w.tax.regions[static_cast<std::size_t>(at)].parent) {
        r.regions.push_back(w.tax.regions[static_cast<std::size_t>(at)].id);
        if (w.tax.regions[static_cast<std::size_t>(at)].region_level == at) break;
      }
    }
    if (uniform(0, 1) < 0.8) r.medium = media[static_cast<std::size_t>(uniform(0, 4.999))];
    auto id = uniform(0, 1);
    r.identification = id < 0.25 ? "named" : id < 0.5 ? "anonymous" : "";
    if (uniform(0, 1) < 0.2) r.languages = {w.languages[static_cast<std::size_t>(uniform(0, static_cast<double>(w.languages.size()) - 0.001))]};
    if (uniform(0, 1) < 0.6) r.outlet_name = w.tax.outlets[static_cast<std::size_t>(uniform(0, static_cast<double>(w.tax.outlets.size()) - 0.001))].name;
    if (uniform(0, 1) < 0.8) r.deadline = now + std::chrono::minutes(static_cast<int>(uniform(30, 48 * 60)));
    out.push_back(std::move(r));
  }
  return out;
}

struct timing {
  double p50, p99, max, mean_matches;
};

timing time_finds(const matcher& m, const std::vector<match_request>& reqs, time_point now, bool with_exclusions) {
  match_options options;
  options.with_exclusions = with_exclusions;
  std::vector<double> us;
  double matches = 0;
  for (auto& r : reqs) {
    auto start = clock_used::now();
    auto result = m.find(r, now, options);
    auto stop = clock_used::now();
    matches += static_cast<double>(result.matches.size());
    us.push_back(std::chrono::duration<double, std::micro>(stop - start).count());
  }
  std::sort(us.begin(), us.end());
  auto at = [&](double q) { return us[std::min(us.size() - 1, static_cast<std::size_t>(q * static_cast<double>(us.size())))]; };
  return {at(0.5), at(0.99), us.back(), matches / static_cast<double>(reqs.size())};
}

std::string ms_text(double us) { return us < 1000 ? fmt::format("{:.0f} µs", us) : fmt::format("{:.1f} ms", us / 1000); }

}  // namespace

int main(int argc, char** argv) {
  std::size_t largest = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
  auto files = read_taxonomy_files(std::string(MEDIADESK_SOURCE_DIR) + "/config/taxonomy");
  auto tax = taxonomy::parse(as_embedded(files));
  auto now = *parse_iso8601("2026-11-27T09:00:00Z");
  world w(*tax);
  std::mt19937 request_rng(seed + 1);
  auto reqs = make_requests(w, request_rng, now);

  std::cout << "| spokespeople | partners | registry memory | build | index memory | find p50 | p99 | max | p99 with exclusions | matches per request |\n"
               "|---|---|---|---|---|---|---|---|---|---|\n";
  for (std::size_t people : {10'000u, 100'000u, 1'000'000u}) {
    if (people > largest) break;
    std::mt19937 rng(seed);
    auto empty = resident_mib();
    auto registry = generate(w, people, rng, now);
    auto registry_mib = resident_mib() - empty;
    auto partners = registry.partners.size();
    auto before = resident_mib();
    auto start = clock_used::now();
    matcher m(tax, std::move(registry));
    auto build_ms = std::chrono::duration<double, std::milli>(clock_used::now() - start).count();
    auto index_mib = resident_mib() - before;
    time_finds(m, reqs, now, false);  // warm up: page in the index once
    auto plain = time_finds(m, reqs, now, false);
    auto listing = time_finds(m, reqs, now, true);
    std::cout << fmt::format("| {} | {} | {:.0f} MiB | {:.0f} ms | {:.0f} MiB | {} | {} | {} | {} | {:.1f} |\n", people, partners, registry_mib, build_ms,
                             index_mib, ms_text(plain.p50), ms_text(plain.p99), ms_text(plain.max), ms_text(listing.p99),
                             plain.mean_matches)
              << std::flush;
  }
  return 0;
}
