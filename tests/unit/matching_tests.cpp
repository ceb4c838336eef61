// Unit tests for matching (issue 6): every hard rule failing and passing with its exclusion
// phrase, the ranking factors one at a time (region tiers, topic fit, fairness, language, the
// partner's record, deadline fit), partner-level matches, tie order, limits, scores in [0, 1],
// reasons free of personal data, the index agreeing with the per-person rules on a random
// registry, and the CSV registry converter on the demo files. Real taxonomy (config/taxonomy).
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "config/taxonomy_files.hpp"
#include "routing/match_csv.hpp"
#include "routing/matching.hpp"
#include "routing/registry_import.hpp"
#include "server/match_command.hpp"

namespace {

using namespace md;
using namespace md::routing;
using namespace std::chrono_literals;
using std::chrono::days;
using std::chrono::minutes;
using std::chrono::sys_days;
using strings = std::vector<std::string>;

const std::shared_ptr<const taxonomy>& matching_taxonomy() {
  static auto t = taxonomy::parse(as_embedded(read_taxonomy_files(std::string(MEDIADESK_SOURCE_DIR) + "/config/taxonomy")));
  return t;
}

time_point at(std::string_view iso) { return *parse_iso8601(iso); }

const time_point now_ = at("2026-11-27T10:00:00Z");

std::string read_demo(std::string_view name) {
  std::ifstream in(std::string(MEDIADESK_SOURCE_DIR) + "/config/demo/" + std::string(name), std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

match_partner make_partner(std::string key, strings regions = {"north_east", "newcastle"},
                           strings topics = {"asylum_process", "housing"}) {
  match_partner p;
  p.key = std::move(key);
  p.name = "Partner " + p.key;
  p.regions = std::move(regions);
  p.topics = std::move(topics);
  return p;
}

match_consent make_consent(strings media = {"tv", "radio", "print", "online", "podcast"}, std::string identification = "named") {
  match_consent c;
  c.id = 7;
  c.media = std::move(media);
  c.identification = std::move(identification);
  c.granted_at = at("2026-01-01T00:00:00Z");
  c.expires_at = at("2027-01-01T00:00:00Z");
  return c;
}

match_spokesperson make_person(std::string key, std::size_t partner = 0, strings regions = {"north_east", "newcastle"},
                               strings topics = {"asylum_process", "housing"}) {
  match_spokesperson s;
  s.key = std::move(key);
  s.alias = "Alias " + s.key;
  s.partner = partner;
  s.regions = std::move(regions);
  s.topics = std::move(topics);
  s.consents.push_back(make_consent());
  return s;
}

match_request make_request() {
  match_request r;
  r.topics = {"asylum_process"};
  r.regions = {"newcastle", "tyne_and_wear", "north_east"};
  r.medium = "radio";
  return r;
}

// One partner, one person; the test changes them.
match_registry one_person() {
  match_registry reg;
  reg.partners.push_back(make_partner("p-1"));
  reg.spokespeople.push_back(make_person("sp-1"));
  return reg;
}

match_result run(const match_registry& reg, const match_request& request, time_point now = now_,
                 match_options options = {}) {
  options.with_exclusions = true;
  matcher m(matching_taxonomy(), reg);
  return m.find(request, now, options);
}

const match* person_match(const match_result& r, std::size_t person) {
  for (auto& m : r.matches)
    if (m.spokesperson == person) return &m;
  return nullptr;
}

const match* partner_match(const match_result& r, std::size_t partner) {
  for (auto& m : r.matches)
    if (!m.spokesperson && m.partner == partner) return &m;
  return nullptr;
}

// The exclusion phrases of a person, or nullopt if they are not listed as excluded.
std::optional<strings> person_exclusion(const match_result& r, std::size_t person) {
  for (auto& e : r.excluded)
    if (e.spokesperson == person) return e.reasons;
  return std::nullopt;
}

std::optional<strings> partner_exclusion(const match_result& r, std::size_t partner) {
  for (auto& e : r.excluded)
    if (!e.spokesperson && e.partner == partner) return e.reasons;
  return std::nullopt;
}

bool has(const strings& items, std::string_view item) { return std::find(items.begin(), items.end(), item) != items.end(); }

// The person is matched (and not excluded) under the registry as changed by `change`.
template <typename F>
bool passes(F change, match_request request = make_request(), time_point now = now_) {
  auto reg = one_person();
  change(reg, request);
  auto r = run(reg, request, now);
  bool matched = person_match(r, 0) != nullptr;
  CHECK(matched != person_exclusion(r, 0).has_value());
  return matched;
}

// The person's exclusion phrases (empty when matched).
template <typename F>
strings excluded_for(F change, match_request request = make_request(), time_point now = now_) {
  auto reg = one_person();
  change(reg, request);
  auto r = run(reg, request, now);
  auto e = person_exclusion(r, 0);
  if (e) CHECK(person_match(r, 0) == nullptr);
  return e.value_or(strings{});
}

using reg_t = match_registry;
using req_t = match_request;

}  // namespace

TEST_CASE("matching: a live consent is granted <= now < expires and not withdrawn", "[matching]") {
  CHECK(passes([](reg_t&, req_t&) {}));
  // Granted exactly now: live.
  CHECK(passes([](reg_t& g, req_t&) { g.spokespeople[0].consents[0].granted_at = now_; }));
  // Starts one millisecond later: not yet.
  CHECK(excluded_for([](reg_t& g, req_t&) { g.spokespeople[0].consents[0].granted_at = now_ + 1ms; }) ==
        strings{"consent starts 2026-11-27"});
  CHECK(excluded_for([](reg_t& g, req_t&) { g.spokespeople[0].consents[0].granted_at = at("2027-01-01T00:00:00Z"); }) ==
        strings{"consent starts 2027-01-01"});
  // Expires exactly now: over. One millisecond later: still live.
  CHECK(excluded_for([](reg_t& g, req_t&) { g.spokespeople[0].consents[0].expires_at = now_; }) ==
        strings{"no live consent (expired 2026-11-27)"});
  CHECK(passes([](reg_t& g, req_t&) { g.spokespeople[0].consents[0].expires_at = now_ + 1ms; }));
  CHECK(excluded_for([](reg_t& g, req_t&) { g.spokespeople[0].consents[0].expires_at = at("2026-10-01T00:00:00Z"); }) ==
        strings{"no live consent (expired 2026-10-01)"});
  // No expiry: live for good.
  CHECK(passes([](reg_t& g, req_t&) { g.spokespeople[0].consents[0].expires_at.reset(); }));
  // Withdrawn: never put forward, whatever the withdrawal's date.
  CHECK(excluded_for([](reg_t& g, req_t&) { g.spokespeople[0].consents[0].withdrawn_at = at("2026-09-01T12:00:00Z"); }) ==
        strings{"consent withdrawn 2026-09-01"});
  CHECK(excluded_for([](reg_t& g, req_t&) { g.spokespeople[0].consents[0].withdrawn_at = now_ + 24h; }) ==
        strings{"consent withdrawn 2026-11-28"});
  CHECK(excluded_for([](reg_t& g, req_t&) { g.spokespeople[0].consents.clear(); }) == strings{"no consent recorded"});
}

TEST_CASE("matching: the consent must cover the request's medium", "[matching]") {
  CHECK(excluded_for([](reg_t& g, req_t&) { g.spokespeople[0].consents[0].media = {"print", "online"}; }) ==
        strings{"consent does not cover radio"});
  CHECK(passes([](reg_t& g, req_t&) { g.spokespeople[0].consents[0].media = {"radio"}; }));
  // No medium asked: any consent medium will do.
  CHECK(passes([](reg_t& g, req_t& r) {
    g.spokespeople[0].consents[0].media = {"print"};
    r.medium.clear();
  }));
  CHECK(excluded_for([](reg_t& g, req_t& r) { r.medium = "tv"; g.spokespeople[0].consents[0].media = {"radio"}; }) ==
        strings{"consent does not cover tv"});
}

TEST_CASE("matching: the consent must allow the identification asked for", "[matching]") {
  struct row {
    std::string asked, level;
    bool ok;
    std::string phrase;
  };
  std::vector<row> rows{
      {"named", "named", true, ""},
      {"named", "first_name", false, "needs a named consent (has first_name)"},
      {"named", "anonymous", false, "needs a named consent (has anonymous)"},
      {"anonymous", "named", true, ""},
      {"anonymous", "first_name", true, ""},
      {"anonymous", "anonymous", true, ""},
      {"", "named", true, ""},
      {"", "first_name", true, ""},
      {"", "anonymous", false, "needs a first_name or named consent (has anonymous)"},
      {"anonymous", "", false, "needs a consent level (has none)"},
  };
  for (auto& x : rows) {
    INFO("asked '" << x.asked << "', consent '" << x.level << "'");
    auto change = [&](reg_t& g, req_t& r) {
      r.identification = x.asked;
      g.spokespeople[0].consents[0].identification = x.level;
    };
    CHECK(passes(change) == x.ok);
    if (!x.ok) CHECK(excluded_for(change) == strings{x.phrase});
  }
}

TEST_CASE("matching: the consent must cover a topic asked, through its own topics or the person's", "[matching]") {
  // Consent topics given: they decide, even beyond the person's own topics.
  auto with_consent_topics = [](reg_t& g, req_t&) { g.spokespeople[0].consents[0].topics = {"detention"}; };
  CHECK(excluded_for(with_consent_topics) == strings{"consent does not cover topic: asylum_process"});
  auto detention = make_request();
  detention.topics = {"detention"};
  CHECK(passes(with_consent_topics, detention));
  // Empty consent topics: the person's own topics.
  CHECK(passes([](reg_t& g, req_t& r) { r.topics = {"housing"}; }));
  auto reg = one_person();
  auto other = make_request();
  other.topics = {"detention"};
  auto r = run(reg, other);
  CHECK(r.matches.empty());
  CHECK(r.excluded.empty());  // not a candidate at all: no shared topic
  auto verdict = covering_consent(reg.spokespeople[0], other, now_);
  REQUIRE(std::holds_alternative<std::string>(verdict));
  CHECK(std::get<std::string>(verdict) == "consent does not cover topic: detention");
  // Several topics asked: one covered is enough.
  CHECK(passes([](reg_t&, req_t& r) { r.topics = {"detention", "housing"}; }));
  CHECK(excluded_for(
            [](reg_t& g, req_t& r) {
              r.topics = {"detention", "housing"};
              g.spokespeople[0].consents[0].topics = {"windrush"};
              g.spokespeople[0].topics = {"windrush", "detention"};
            }) == strings{"consent does not cover topics: detention, housing"});
}

TEST_CASE("matching: an excluded outlet excludes", "[matching]") {
  auto change = [](reg_t& g, req_t& r) {
    g.spokespeople[0].consents[0].excluded_outlets = {"BBC News"};
    r.outlet_name = "BBC News";
  };
  CHECK(excluded_for(change) == strings{"excluded outlet: BBC News"});
  CHECK(passes([](reg_t& g, req_t& r) {
    g.spokespeople[0].consents[0].excluded_outlets = {"BBC News"};
    r.outlet_name = "The Guardian";
  }));
  CHECK(passes([](reg_t& g, req_t&) { g.spokespeople[0].consents[0].excluded_outlets = {"BBC News"}; }));
}

TEST_CASE("matching: the monthly cap, 0 pausing the person", "[matching]") {
  CHECK(excluded_for([](reg_t& g, req_t&) {
          g.spokespeople[0].max_per_month = 2;
          g.spokespeople[0].engagements_this_month = 2;
        }) == strings{"monthly cap reached (2 of 2)"});
  CHECK(passes([](reg_t& g, req_t&) {
    g.spokespeople[0].max_per_month = 2;
    g.spokespeople[0].engagements_this_month = 1;
  }));
  // The default cap (4) when the person has none.
  CHECK(excluded_for([](reg_t& g, req_t&) { g.spokespeople[0].engagements_this_month = 4; }) ==
        strings{"monthly cap reached (4 of 4)"});
  CHECK(passes([](reg_t& g, req_t&) { g.spokespeople[0].engagements_this_month = 3; }));
  CHECK(excluded_for([](reg_t& g, req_t&) { g.spokespeople[0].max_per_month = 0; }) == strings{"paused (cap 0)"});
  // match_options' default applies.
  auto reg = one_person();
  reg.spokespeople[0].engagements_this_month = 1;
  match_options options;
  options.default_max_per_month = 1;
  CHECK(person_exclusion(run(reg, make_request(), now_, options), 0) == strings{"monthly cap reached (1 of 1)"});
}

TEST_CASE("matching: the partner must be available: not away, archived or at capacity", "[matching]") {
  CHECK(excluded_for([](reg_t& g, req_t&) { g.partners[0].away_until = at("2026-12-01T00:00:00Z"); }) ==
        strings{"partner away until 2026-12-01"});
  CHECK(passes([](reg_t& g, req_t&) { g.partners[0].away_until = now_; }));  // back now
  CHECK(excluded_for([](reg_t& g, req_t&) { g.partners[0].archived = true; }) == strings{"partner archived"});
  CHECK(excluded_for([](reg_t& g, req_t&) {
          g.partners[0].capacity = 3;
          g.partners[0].open_offers = 3;
        }) == strings{"partner at capacity (3 open offers)"});
  CHECK(passes([](reg_t& g, req_t&) {
    g.partners[0].capacity = 3;
    g.partners[0].open_offers = 2;
  }));
  // The same rules for the partner-level match.
  auto reg = one_person();
  reg.partners[0].away_until = at("2026-12-01T00:00:00Z");
  auto r = run(reg, make_request());
  CHECK(partner_match(r, 0) == nullptr);
  CHECK(partner_exclusion(r, 0) == strings{"partner away until 2026-12-01"});
}

TEST_CASE("matching: erased people and the desk's own are never put forward", "[matching]") {
  CHECK(excluded_for([](reg_t& g, req_t&) {
          g.spokespeople[0].erased = true;
          g.spokespeople[0].consents.clear();
        }) == strings{"erased"});
  CHECK(excluded_for([](reg_t& g, req_t&) { g.spokespeople[0].partner.reset(); }) ==
        strings{"the desk's own: no partner to send an offer through"});
  auto reg = one_person();
  reg.spokespeople[0].erased = true;
  CHECK(covering_consent(reg.spokespeople[0], make_request(), now_) == std::variant<std::int64_t, std::string>{"erased"});
}

TEST_CASE("matching: an exclusion lists every rule failed", "[matching]") {
  auto reasons = excluded_for([](reg_t& g, req_t& r) {
    g.partners[0].archived = true;
    g.spokespeople[0].max_per_month = 0;
    auto& c = g.spokespeople[0].consents[0];
    c.expires_at = at("2026-10-01T00:00:00Z");
    c.media = {"print"};
    c.identification = "first_name";
    r.identification = "named";
  });
  CHECK(reasons == strings{"partner archived", "paused (cap 0)", "no live consent (expired 2026-10-01)",
                           "consent does not cover radio", "needs a named consent (has first_name)"});
}

TEST_CASE("matching: covering_consent picks a covering consent or says why none does", "[matching]") {
  auto person = make_person("sp-1");
  person.consents[0].id = 11;
  person.consents[0].media = {"print"};
  auto second = make_consent({"radio"}, "named");
  second.id = 12;
  person.consents.push_back(second);
  CHECK(covering_consent(person, make_request(), now_) == std::variant<std::int64_t, std::string>{std::int64_t{12}});
  auto tv = make_request();
  tv.medium = "tv";
  CHECK(covering_consent(person, tv, now_) == std::variant<std::int64_t, std::string>{"consent does not cover tv"});
  person.consents[1].withdrawn_at = at("2026-09-01T00:00:00Z");
  auto verdict = covering_consent(person, make_request(), now_);
  REQUIRE(std::holds_alternative<std::string>(verdict));
  // The closest consent's problems: each has one.
  CHECK((std::get<std::string>(verdict) == "consent withdrawn 2026-09-01" ||
         std::get<std::string>(verdict) == "consent does not cover radio"));
  // The match carries the covering consent's id.
  match_registry reg;
  reg.partners.push_back(make_partner("p-1"));
  person.consents[1].withdrawn_at.reset();
  reg.spokespeople.push_back(person);
  auto r = run(reg, make_request());
  REQUIRE(person_match(r, 0));
  CHECK(person_match(r, 0)->consent_id == 12);
  CHECK(has(person_match(r, 0)->reasons, "consent: radio, named"));
}

TEST_CASE("matching: same place beats same region beats neighbouring beats national beats elsewhere", "[matching]") {
  match_registry reg;
  reg.partners.push_back(make_partner("p-1", {"uk"}));
  reg.spokespeople.push_back(make_person("sp-elsewhere", 0, {"london"}));
  reg.spokespeople.push_back(make_person("sp-national", 0, {"uk"}));
  reg.spokespeople.push_back(make_person("sp-neighbour", 0, {"leeds"}));
  reg.spokespeople.push_back(make_person("sp-region", 0, {"gateshead"}));
  reg.spokespeople.push_back(make_person("sp-place", 0, {"newcastle"}));
  auto r = run(reg, make_request());
  strings order;
  for (auto& m : r.matches)
    if (m.spokesperson) order.push_back(reg.spokespeople[*m.spokesperson].key);
  CHECK(order == strings{"sp-place", "sp-region", "sp-neighbour", "sp-national", "sp-elsewhere"});
  CHECK(has(person_match(r, 4)->reasons, "same place: Newcastle"));
  CHECK(has(person_match(r, 3)->reasons, "same region: North East"));
  CHECK(has(person_match(r, 2)->reasons, "neighbouring region: Yorkshire and the Humber"));
  CHECK(has(person_match(r, 1)->reasons, "national"));
  CHECK(has(person_match(r, 0)->reasons, "elsewhere: London"));

  // A place above the asked one counts as the same place (the county of the city asked).
  reg.spokespeople[0].regions = {"tyne_and_wear"};
  CHECK(has(person_match(run(reg, make_request()), 0)->reasons, "same place: Tyne and Wear"));
  // Several places: any one of them may be the place asked.
  reg.spokespeople[0].regions = {"leeds", "gateshead", "newcastle"};
  CHECK(has(person_match(run(reg, make_request()), 0)->reasons, "same place: Newcastle"));
  reg.spokespeople[0].regions = {"leeds", "gateshead"};
  CHECK(has(person_match(run(reg, make_request()), 0)->reasons, "same region: North East"));
  // No own regions: the partner's ("uk": national). No regions at all: national too.
  reg.spokespeople[0].regions.clear();
  CHECK(has(person_match(run(reg, make_request()), 0)->reasons, "national"));
  reg.partners[0].regions.clear();
  CHECK(has(person_match(run(reg, make_request()), 0)->reasons, "national"));
  // "england" does not cover Scotland: a Glasgow request finds the English-national person elsewhere.
  reg.spokespeople[1].regions = {"england"};
  auto glasgow = make_request();
  glasgow.regions = {"glasgow", "scotland"};
  CHECK(has(person_match(run(reg, glasgow), 1)->reasons, "elsewhere"));

  // No region asked: region is neutral, so the scores are equal.
  auto anywhere = make_request();
  anywhere.regions.clear();
  auto n = run(reg, anywhere);
  CHECK(person_match(n, 2)->score == person_match(n, 4)->score);
  for (auto& m : n.matches)
    for (auto& reason : m.reasons) CHECK_FALSE(reason.starts_with("same"));
}

TEST_CASE("matching: topic fit, the first topic weighing most", "[matching]") {
  match_registry reg;
  reg.partners.push_back(make_partner("p-1"));
  reg.spokespeople.push_back(make_person("sp-second", 0, {"newcastle"}, {"housing"}));
  reg.spokespeople.push_back(make_person("sp-first", 0, {"newcastle"}, {"asylum_process"}));
  reg.spokespeople.push_back(make_person("sp-both", 0, {"newcastle"}, {"housing", "asylum_process"}));
  auto request = make_request();
  request.topics = {"asylum_process", "housing"};
  auto r = run(reg, request);
  CHECK(person_match(r, 2)->score > person_match(r, 1)->score);
  CHECK(person_match(r, 1)->score > person_match(r, 0)->score);
  CHECK(has(person_match(r, 2)->reasons, "topics: asylum process and backlog, housing and asylum hotels"));
  CHECK(has(person_match(r, 0)->reasons, "topics: housing and asylum hotels"));
  // Listed once though in both topics' candidate lists.
  CHECK(std::count_if(r.matches.begin(), r.matches.end(), [](auto& m) { return m.spokesperson == 2u; }) == 1);
}

TEST_CASE("matching: fairness puts people used less recently first", "[matching]") {
  match_registry reg;
  reg.partners.push_back(make_partner("p-1"));
  for (auto key : {"sp-a", "sp-b", "sp-c", "sp-d"}) reg.spokespeople.push_back(make_person(key));
  reg.spokespeople[0].last_engaged_at = now_ - days(2);
  reg.spokespeople[1].last_engaged_at = now_ - days(35);
  reg.spokespeople[3].last_engaged_at = now_ - days(35);
  reg.spokespeople[3].engagements_this_month = 1;
  auto r = run(reg, make_request());
  CHECK(person_match(r, 2)->score > person_match(r, 1)->score);  // never > 35 days ago
  CHECK(person_match(r, 1)->score > person_match(r, 0)->score);  // 35 days ago > 2 days ago
  CHECK(person_match(r, 1)->score > person_match(r, 3)->score);  // engaged this month lowers
  CHECK(has(person_match(r, 2)->reasons, "not put forward yet"));
  CHECK(has(person_match(r, 1)->reasons, "last put forward 35 days ago"));
  CHECK(has(person_match(r, 3)->reasons, "put forward 1 of 4 this month"));
}

TEST_CASE("matching: languages asked are a bonus, not a rule", "[matching]") {
  match_registry reg;
  reg.partners.push_back(make_partner("p-1"));
  reg.spokespeople.push_back(make_person("sp-en"));
  reg.spokespeople.push_back(make_person("sp-ar"));
  reg.spokespeople[0].languages = {"en"};
  reg.spokespeople[1].languages = {"ar", "en"};
  auto request = make_request();
  request.languages = {"ar"};
  auto r = run(reg, request);
  REQUIRE(person_match(r, 0));
  REQUIRE(person_match(r, 1));
  CHECK(person_match(r, 1)->score > person_match(r, 0)->score);
  CHECK(has(person_match(r, 1)->reasons, "speaks Arabic"));
  CHECK(has(person_match(r, 0)->reasons, "does not speak Arabic"));
  // A partner whose languages are not recorded is neither helped nor hurt at the partner level.
  REQUIRE(partner_match(r, 0));
  CHECK(has(partner_match(r, 0)->reasons, "partner's languages not recorded"));
  reg.partners.push_back(make_partner("p-ar"));
  reg.partners.back().languages = {"ar"};
  reg.partners.push_back(make_partner("p-en"));
  reg.partners.back().languages = {"en"};
  auto with_languages = run(reg, request);
  CHECK(partner_match(with_languages, 1)->score > partner_match(with_languages, 0)->score);
  CHECK(partner_match(with_languages, 0)->score > partner_match(with_languages, 2)->score);
  CHECK(has(partner_match(with_languages, 1)->reasons, "speaks Arabic"));
}

TEST_CASE("matching: the partner's record, smoothed, and whether it answers in time", "[matching]") {
  match_registry reg;
  reg.partners.push_back(make_partner("p-good"));
  reg.partners.push_back(make_partner("p-new"));
  reg.partners.push_back(make_partner("p-poor"));
  reg.partners[0].record = {10, 8, 40.0};
  reg.partners[2].record = {10, 1, 600.0};
  for (std::size_t p = 0; p < 3; ++p) reg.spokespeople.push_back(make_person("sp-" + std::to_string(p), p));
  auto r = run(reg, make_request());
  CHECK(person_match(r, 0)->score > person_match(r, 1)->score);
  CHECK(person_match(r, 1)->score > person_match(r, 2)->score);
  CHECK(has(person_match(r, 0)->reasons, "accepts 8 of 10 offers"));
  CHECK(has(person_match(r, 0)->reasons, "answers in about 40 min"));
  CHECK(has(person_match(r, 1)->reasons, "no offers answered yet"));
  CHECK(has(person_match(r, 2)->reasons, "answers in about 10 h"));
  // A new partner's record is neutral: one decline does not put it below the prior by much.
  reg.partners[1].record = {1, 0, 30.0};
  auto after_one = run(reg, make_request());
  CHECK(person_match(after_one, 1)->score > person_match(after_one, 2)->score);

  // Deadline in an hour: a partner who usually takes 3 hours is lowered, and told why; one with no
  // history is not.
  reg.partners[1].record = {};
  reg.partners[2].record = {10, 8, 180.0};
  auto request = make_request();
  request.deadline = now_ + 1h;
  auto d = run(reg, request);
  CHECK(person_match(d, 2)->score < person_match(d, 1)->score);
  CHECK(has(person_match(d, 2)->reasons, "usually answers in about 3 h, deadline in about 60 min"));
  request.deadline = now_ + 5h;
  auto later = run(reg, request);
  CHECK(person_match(later, 2)->score > person_match(d, 2)->score);
  for (auto& reason : person_match(later, 2)->reasons) CHECK_FALSE(reason.starts_with("usually answers"));
}

TEST_CASE("matching: partner-level matches need the place (or national) and a topic", "[matching]") {
  match_registry reg;
  reg.partners.push_back(make_partner("p-newcastle", {"newcastle"}));
  reg.partners.push_back(make_partner("p-leeds", {"leeds"}));
  reg.partners.push_back(make_partner("p-uk", {"uk"}));
  reg.partners.push_back(make_partner("p-none", {}));
  reg.partners.push_back(make_partner("p-other-topic", {"newcastle"}, {"windrush"}));
  auto r = run(reg, make_request());
  REQUIRE(partner_match(r, 0));
  CHECK(has(partner_match(r, 0)->reasons, "same place: Newcastle"));
  CHECK(has(partner_match(r, 0)->reasons, "no open offers"));
  CHECK_FALSE(partner_match(r, 0)->consent_id);
  CHECK(partner_match(r, 1) == nullptr);  // a neighbouring region is not covering it
  CHECK(partner_exclusion(r, 1) == strings{"region not covered: North East"});
  REQUIRE(partner_match(r, 2));
  CHECK(has(partner_match(r, 2)->reasons, "national"));
  CHECK(partner_match(r, 3));
  CHECK(partner_match(r, 4) == nullptr);
  CHECK_FALSE(partner_exclusion(r, 4));  // no shared topic: not a candidate
  CHECK(r.matches.front().partner == 0);
  // No place asked: every partner on the topic.
  auto anywhere = make_request();
  anywhere.regions.clear();
  CHECK(partner_match(run(reg, anywhere), 1));
  // Capacity counts for partner-level matches too.
  reg.partners[0].capacity = 1;
  reg.partners[0].open_offers = 1;
  CHECK(partner_exclusion(run(reg, make_request()), 0) == strings{"partner at capacity (1 open offer)"});
}

TEST_CASE("matching: ties are ordered by partner key, then spokesperson key; limit keeps the best", "[matching]") {
  match_registry reg;
  reg.partners.push_back(make_partner("p-b"));
  reg.partners.push_back(make_partner("p-a"));
  reg.spokespeople.push_back(make_person("sp-2", 0));
  reg.spokespeople.push_back(make_person("sp-1", 0));
  reg.spokespeople.push_back(make_person("sp-4", 1));
  reg.spokespeople.push_back(make_person("sp-3", 1));
  auto r = run(reg, make_request());
  strings order;
  for (auto& m : r.matches) order.push_back(reg.partners[m.partner].key + "/" + (m.spokesperson ? reg.spokespeople[*m.spokesperson].key : "-"));
  // All six score the same here (same place, full topic, nobody used, no record): by partner
  // key, the partner-level match first, then by spokesperson key.
  REQUIRE(r.matches.size() == 6);
  for (auto& m : r.matches) CHECK(m.score == r.matches.front().score);
  CHECK(order == strings{"p-a/-", "p-a/sp-3", "p-a/sp-4", "p-b/-", "p-b/sp-1", "p-b/sp-2"});
  match_options two;
  two.limit = 2;
  auto best_two = run(reg, make_request(), now_, two);
  REQUIRE(best_two.matches.size() == 2);
  CHECK_FALSE(best_two.matches[0].spokesperson);
  CHECK(best_two.matches[1].spokesperson == 3u);
  // A better score wins over key order.
  reg.spokespeople[0].languages = {"ar"};
  auto arabic = make_request();
  arabic.languages = {"ar"};
  CHECK(run(reg, arabic).matches.front().spokesperson == 0u);
  match_options none;
  none.limit = 0;
  CHECK(run(reg, make_request(), now_, none).matches.empty());
}

TEST_CASE("matching: a request without a topic matches no one", "[matching]") {
  auto reg = one_person();
  auto request = make_request();
  request.topics.clear();
  auto r = run(reg, request);
  CHECK(r.matches.empty());
  CHECK(r.excluded.empty());
  request.topics = {"not_a_topic"};
  CHECK(run(reg, request).matches.empty());
}

TEST_CASE("matching: the index agrees with the per-person rules on a random registry", "[matching]") {
  auto& tax = *matching_taxonomy();
  std::mt19937 rng(20261127);
  auto pick = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); };
  auto chance = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
  std::vector<std::string> region_ids;
  for (auto& r : tax.regions) region_ids.push_back(r.id);
  auto some_topics = [&](std::size_t most) {
    strings out;
    for (std::size_t n = 1 + pick(most); out.size() < n;) {
      auto& id = tax.topics[pick(std::min<std::size_t>(6, tax.topics.size()))].id;  // a few topics: many overlaps
      if (!has(out, id)) out.push_back(id);
    }
    return out;
  };
  const strings media{"tv", "radio", "print", "online", "podcast"}, levels{"named", "first_name", "anonymous"};
  match_registry reg;
  for (int p = 0; p < 12; ++p) {
    auto partner = make_partner(fmt::format("p-{:02}", p), {region_ids[pick(region_ids.size())]}, some_topics(3));
    partner.archived = chance(0.1);
    if (chance(0.1)) partner.away_until = now_ + days(pick(5)) - days(2);
    if (chance(0.2)) partner.capacity = static_cast<std::int64_t>(pick(3)), partner.open_offers = static_cast<std::int64_t>(pick(3));
    if (chance(0.5)) partner.record = {static_cast<std::int64_t>(pick(10) + 1), 0, double(pick(600))};
    partner.record.offers_accepted = partner.record.offers_answered / 2;
    if (chance(0.5)) partner.languages = {"ar"};
    reg.partners.push_back(partner);
  }
  for (int s = 0; s < 400; ++s) {
    auto person = make_person(fmt::format("sp-{:03}", s), pick(12),
                              chance(0.2) ? strings{} : strings{region_ids[pick(region_ids.size())]}, some_topics(3));
    if (chance(0.05)) person.partner.reset();
    person.erased = chance(0.03);
    if (chance(0.3)) person.max_per_month = static_cast<std::int64_t>(pick(4));
    person.engagements_this_month = static_cast<std::int64_t>(pick(4));
    if (chance(0.5)) person.last_engaged_at = now_ - days(pick(100));
    if (chance(0.3)) person.languages = {"ar"};
    person.consents.clear();
    for (std::size_t c = pick(3); c > 0; --c) {
      strings consent_media;
      for (auto& m : media)
        if (chance(0.5)) consent_media.push_back(m);
      auto consent = make_consent(consent_media, levels[pick(3)]);
      consent.id = s * 10 + static_cast<int>(c);
      consent.granted_at = now_ - days(pick(400)) + days(30);
      if (chance(0.8)) consent.expires_at = consent.granted_at + days(pick(500) + 1);
      if (chance(0.1)) consent.withdrawn_at = consent.granted_at + days(1);
      if (chance(0.3)) consent.topics = some_topics(2);
      if (chance(0.1)) consent.excluded_outlets = {"BBC News"};
      person.consents.push_back(consent);
    }
    reg.spokespeople.push_back(person);
  }
  matcher m(matching_taxonomy(), reg);
  for (int q = 0; q < 200; ++q) {
    match_request request;
    request.topics = some_topics(2);
    if (chance(0.8)) {
      auto& region = tax.regions[pick(tax.regions.size())];
      for (int at = static_cast<int>(&region - tax.regions.data()); at >= 0; at = tax.regions[at].parent) {
        if (tax.regions[at].region_level < 0) break;
        request.regions.push_back(tax.regions[at].id);
        if (at == tax.regions[at].region_level) break;
      }
    }
    if (chance(0.8)) request.medium = media[pick(media.size())];
    request.identification = strings{"", "named", "anonymous"}[pick(3)];
    if (chance(0.3)) request.outlet_name = "BBC News";
    if (chance(0.3)) request.languages = {"ar"};
    if (chance(0.5)) request.deadline = now_ + minutes(pick(600));
    match_options options;
    options.with_exclusions = true;
    options.limit = 10'000;
    options.exclusion_limit = 10'000;
    auto r = m.find(request, now_, options);
    INFO("request " << q);
    std::map<std::size_t, int> seen;
    for (std::size_t i = 1; i < r.matches.size(); ++i) CHECK(r.matches[i - 1].score >= r.matches[i].score);
    for (auto& x : r.matches) {
      CHECK(x.score >= 0);
      CHECK(x.score <= 1);
      CHECK_FALSE(x.reasons.empty());
      if (!x.spokesperson) continue;
      ++seen[*x.spokesperson];
      auto& person = reg.spokespeople[*x.spokesperson];
      CHECK(person.partner == x.partner);
      auto verdict = covering_consent(person, request, now_);
      REQUIRE(std::holds_alternative<std::int64_t>(verdict));
      CHECK(x.consent_id);
      auto& partner = reg.partners[x.partner];
      CHECK_FALSE(partner.archived);
      CHECK_FALSE((partner.away_until && *partner.away_until > now_));
      CHECK_FALSE((partner.capacity && partner.open_offers >= *partner.capacity));
      CHECK_FALSE(person.erased);
      CHECK(person.engagements_this_month < person.max_per_month.value_or(4));
    }
    for (auto& e : r.excluded) {
      CHECK_FALSE(e.reasons.empty());
      CHECK_FALSE(has(e.reasons, "no consent covers this request"));  // the index and the rules disagreed
      if (!e.spokesperson) continue;
      ++seen[*e.spokesperson];
      auto& person = reg.spokespeople[*e.spokesperson];
      bool other_rule = person.erased || !person.partner || person.engagements_this_month >= person.max_per_month.value_or(4);
      auto& partner = reg.partners[person.partner.value_or(0)];
      other_rule = other_rule || partner.archived || (partner.away_until && *partner.away_until > now_) ||
                   (partner.capacity && partner.open_offers >= *partner.capacity);
      if (!other_rule) CHECK(std::holds_alternative<std::string>(covering_consent(person, request, now_)));
    }
    // Every candidate (sharing a topic asked) exactly once, matched or excluded.
    for (std::size_t i = 0; i < reg.spokespeople.size(); ++i) {
      auto& person = reg.spokespeople[i];
      strings topics = person.topics;
      for (auto& c : person.consents) topics.insert(topics.end(), c.topics.begin(), c.topics.end());
      bool candidate = std::any_of(request.topics.begin(), request.topics.end(), [&](auto& t) { return has(topics, t); });
      CHECK(seen[i] == (candidate ? 1 : 0));
    }
    // A smaller limit gives the same best ones.
    options.limit = 5;
    auto top = m.find(request, now_, options);
    REQUIRE(top.matches.size() == std::min<std::size_t>(5, r.matches.size()));
    for (std::size_t i = 0; i < top.matches.size(); ++i) {
      CHECK(top.matches[i].spokesperson == r.matches[i].spokesperson);
      CHECK(top.matches[i].partner == r.matches[i].partner);
      CHECK(top.matches[i].score == r.matches[i].score);
    }
  }
}

TEST_CASE("matching: registry_from_csv reads the demo files without personal data", "[matching]") {
  auto& tax = *matching_taxonomy();
  auto partners = parse_partners_csv(read_demo("partners.csv"), tax);
  REQUIRE(partners.ok());
  auto keys = keys_of(partners.rows);
  auto people = parse_spokespeople_csv(read_demo("spokespeople.csv"), tax, &keys);
  REQUIRE(people.ok());
  auto reg = registry_from_csv(partners.rows, people.rows);
  REQUIRE(reg.partners.size() == 34);
  REQUIRE(reg.spokespeople.size() == 62);
  std::size_t consents = 0, withdrawn = 0, desk_own = 0;
  for (std::size_t i = 0; i < reg.spokespeople.size(); ++i) {
    auto& s = reg.spokespeople[i];
    auto& row = people.rows[i];
    CHECK(s.key == row.key);
    CHECK(s.alias == row.alias);
    CHECK(s.id == 0);
    if (row.partner_key.empty()) {
      CHECK_FALSE(s.partner);
      ++desk_own;
    } else {
      REQUIRE(s.partner);
      CHECK(reg.partners[*s.partner].key == row.partner_key);
    }
    CHECK(s.max_per_month == (row.max_per_month ? std::optional<std::int64_t>{*row.max_per_month} : std::nullopt));
    CHECK(s.consents.size() == (row.consent_granted ? 1u : 0u));
    for (auto& c : s.consents) {
      ++consents;
      CHECK(c.id == 0);
      CHECK(c.topics.empty());
      CHECK(c.excluded_outlets.empty());
      CHECK(c.media == row.media);
      CHECK(c.identification == row.identification);
      CHECK(c.granted_at == time_point(sys_days(*row.consent_granted)));
      CHECK(format_iso8601(c.granted_at).ends_with("T00:00:00.000Z"));
      if (row.consent_expires) CHECK(c.expires_at == time_point(sys_days(*row.consent_expires)));
      if (c.withdrawn_at) ++withdrawn;
    }
  }
  CHECK(consents == 60);
  CHECK(withdrawn == 5);
  CHECK(desk_own == 4);
  CHECK(reg.partners[0].key == partners.rows[0].key);
  CHECK(reg.partners[0].name == partners.rows[0].name);

  // Reasons (and the CLI's JSON) never carry a name, email or phone from the files.
  strings personal;
  for (auto& row : people.rows)
    for (auto* v : {&row.full_name, &row.email, &row.phone})
      if (!v->empty()) personal.push_back(*v);
  for (auto& row : partners.rows)
    for (auto* v : {&row.contact_name, &row.contact_email})
      if (!v->empty()) personal.push_back(*v);
  REQUIRE(personal.size() > 50);
  matcher m(matching_taxonomy(), reg);
  std::size_t matched = 0;
  for (auto& t : tax.topics)
    for (auto region : {"newcastle", "london", "birmingham", "calais", ""}) {
      match_request request;
      request.topics = {t.id};
      if (*region) request.regions = {region};
      request.languages = {"ar"};
      request.deadline = at("2025-06-01T12:00:00Z");
      match_options options;
      options.with_exclusions = true;
      auto r = m.find(request, at("2025-06-01T09:00:00Z"), options);
      matched += r.matches.size();
      auto json = server::matches_json(reg, r.matches);
      for (auto& value : personal) CHECK(json.find(value) == std::string::npos);
      for (auto& e : r.excluded)
        for (auto& reason : e.reasons)
          for (auto& value : personal) CHECK(reason.find(value) == std::string::npos);
    }
  CHECK(matched > 100);
}

TEST_CASE("matching: the CLI's JSON", "[matching]") {
  auto reg = one_person();
  reg.partners[0].name = "Heron \"Kettle\"";
  reg.spokespeople.push_back(make_person("sp-2"));
  std::vector<match> matches(2);
  matches[0].partner = 0;
  matches[0].spokesperson = 1;
  matches[0].score = 0.72349;
  matches[0].reasons = {"same place: Newcastle"};
  matches[1].partner = 0;
  matches[1].score = 0.5;
  CHECK(server::matches_json(reg, matches) ==
        R"({"matches":[{"partner":{"key":"p-1","name":"Heron \"Kettle\""},"spokesperson":{"key":"sp-2","alias":"Alias sp-2"},)"
        R"("score":0.723,"reasons":["same place: Newcastle"]},)"
        R"({"partner":{"key":"p-1","name":"Heron \"Kettle\""},"spokesperson":null,"score":0.5,"reasons":[]}]})");
  CHECK(server::matches_json(reg, {}) == R"({"matches":[]})");
}
