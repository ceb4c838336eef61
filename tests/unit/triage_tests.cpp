// Unit tests for triage's parts: word folding and term matching, the taxonomy's checks, region
// chains, outlet choice, needs, priority and target time, duplicates, corrections.
#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include "config/taxonomy_files.hpp"
#include "routing/similarity.hpp"
#include "routing/triage.hpp"
#include "server/triage_service.hpp"

namespace {

using namespace md;
using namespace md::routing;

std::vector<text_file> taxonomy_texts() { return read_taxonomy_files(std::string(MEDIADESK_SOURCE_DIR) + "/config/taxonomy"); }

const taxonomy& shared_taxonomy() {
  static auto t = taxonomy::parse(as_embedded(taxonomy_texts()));
  return *t;
}

std::vector<std::string> words_of(std::string_view text) {
  word_list w(text);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < w.size(); ++i) out.emplace_back(w.word(i));
  return out;
}

time_point at(std::string_view iso) { return *parse_iso8601(iso); }

triage_result run(std::string_view subject, std::string_view body, std::string_view sender = {},
                  std::string_view signature = {}) {
  triage_input in{subject, body, signature, sender, {}, std::nullopt};
  return triage(shared_taxonomy(), in, at("2026-01-14T10:00:00Z"));
}

// The taxonomy files with one file's text replaced.
std::string parse_problem(std::string_view file, std::string content) {
  auto files = taxonomy_texts();
  for (auto& f : files)
    if (f.name == file) f.content = std::move(content);
  try {
    taxonomy::parse(as_embedded(files));
  } catch (const std::exception& e) {
    return e.what();
  }
  return {};
}

}  // namespace

TEST_CASE("text folds into lowercase words without accents, apostrophes or punctuation", "[triage]") {
  CHECK(words_of("Asylum-seekers in Dover's hotels; café, DON'T £49!") ==
        std::vector<std::string>{"asylum", "seekers", "in", "dover", "hotels", "cafe", "dont", "£49"});
  CHECK(words_of("Yarl\xE2\x80\x99s Wood & Calais") == std::vector<std::string>{"yarl", "wood", "&", "calais"});
  CHECK(words_of("").empty());
  CHECK(words_of("\xff\xfe\xC3") .empty());  // stray bytes are breaks, never a crash
  word_list w("Reading reading Dover's");
  CHECK(w.capitalised(0));
  CHECK_FALSE(w.capitalised(1));
  CHECK(w.possessive(2));
  term_matcher m;
  REQUIRE(m.add("yarls wood", 1));
  REQUIRE(m.add("dover", 2));
  for (auto text : {"Yarl's Wood", "Yarls Wood", "yarl\xE2\x80\x99s wood"}) {
    word_list words(text);
    auto found = m.find_all(words);
    INFO(text);
    REQUIRE(found.size() == 1);
    CHECK(found[0].target == 1);
  }
  CHECK(m.find_all(word_list("Dover's harbour")).size() == 1);
  CHECK(m.find_all(word_list("Yarl Wood")).empty());
}

TEST_CASE("terms match whole words, prefixes and case-sensitive names", "[triage]") {
  term_matcher m;
  REQUIRE(m.add("small boat*", 1));
  REQUIRE(m.add("deport*", 2));
  REQUIRE(m.add("reading", 3, true));
  REQUIRE(m.add("bbc radio kent", 4));
  REQUIRE(m.add("kent", 5));
  CHECK_FALSE(m.add("Capital", 9));
  CHECK_FALSE(m.add("de*", 9));
  CHECK_FALSE(m.add("two  spaces", 9));
  CHECK_FALSE(m.add("", 9));

  word_list text("Small boats, deportations and reading lists in Reading; BBC Radio Kent covers Kent");
  auto all = m.find_all(text);
  std::vector<std::uint32_t> targets;
  for (auto& match : all) targets.push_back(match.target);
  CHECK(targets == std::vector<std::uint32_t>{1, 2, 3, 4, 5, 5});  // every occurrence, "kent" in the name too
  auto longest = m.find_longest(text);
  targets.clear();
  for (auto& match : longest) targets.push_back(match.target);
  CHECK(targets == std::vector<std::uint32_t>{1, 2, 3, 4, 5});  // "kent" inside "bbc radio kent" is hidden
  CHECK(longest[3].word_count == 3);
  word_list deported("they were deported");
  CHECK(m.find_all(deported).size() == 1);
  word_list not_deport("a depot");
  CHECK(m.find_all(not_deport).empty());
}

TEST_CASE("the shipped taxonomy loads and holds every required id", "[triage]") {
  auto& t = shared_taxonomy();
  for (auto id : taxonomy::required_topics) CHECK(t.find_topic(id));
  for (auto id : taxonomy::required_regions) {
    auto r = t.find_region(id);
    REQUIRE(r);
    CHECK(t.regions[*r].level == "region");
  }
  CHECK(t.outlets.size() >= 100);
  CHECK(t.regions.size() >= 300);
}

TEST_CASE("taxonomy problems name the file and what is wrong", "[triage]") {
  CHECK_THAT(parse_problem("topics.toml", "[[topic]]\nid = \"housing\"\nlabel = \"Housing\"\ncolour = 1\n"),
             Catch::Contains("topics.toml") && Catch::Contains("unknown key 'colour'"));
  CHECK_THAT(parse_problem("topics.toml", "[[topic]]\nid = \"housing\"\nlabel = \"Housing\"\n"),
             Catch::Contains("required topic 'asylum_process'"));
  CHECK_THAT(parse_problem("topics.toml", "[[topic]\nid = "), Catch::Contains("topics.toml line 1"));
  CHECK_THAT(parse_problem("languages.toml", "[[language]]\nid = \"ar\"\nlabel = \"Arabic\"\naliases = [\"Arabic!\"]\n"),
             Catch::Contains("not a valid term"));
  CHECK_THAT(parse_problem("priority.toml", "[points]\ntime = 90\nreach = 25\ntopic = 15\n"),
             Catch::Contains("must not exceed 100"));
}

TEST_CASE("regions: each place with its ancestors up to the region level, in order", "[triage]") {
  auto r = run("Families in Dover", "and people sleeping rough near Calais, then Kent again");
  REQUIRE(r.regions.size() >= 5);
  CHECK(r.regions[0] == "dover");
  CHECK(std::find(r.regions.begin(), r.regions.end(), "south_east") != r.regions.end());
  CHECK(std::find(r.regions.begin(), r.regions.end(), "calais") != r.regions.end());
  CHECK(std::find(r.regions.begin(), r.regions.end(), "france") != r.regions.end());
  CHECK(std::count(r.regions.begin(), r.regions.end(), "kent") == 1);
  CHECK(run("", "A story about the UK and England generally").regions.empty());
  CHECK(run("", "a reading list").regions.empty());  // Reading is only the town with a capital R
}

TEST_CASE("outlet: signature and cued mentions beat the sender's domain", "[triage]") {
  auto domain_only = run("Request", "Looking for a case study", "jo@theguardian.com");
  CHECK(domain_only.outlet_name == "The Guardian");
  CHECK(domain_only.outlet_scope == "national");
  auto signature = run("Request", "Looking for a case study", "jo@bbc.co.uk", "Jo\nProducer, BBC Radio Kent");
  CHECK(signature.outlet_name == "BBC Radio Kent");
  CHECK(signature.outlet_scope == "local");
  CHECK(signature.medium == "radio");
  auto none = run("Request", "Looking for a case study", "jo@gmail.com");
  CHECK(none.outlet_name.empty());
}

TEST_CASE("needs: lived experience, appearance, identification and languages", "[triage]") {
  auto r = run("", "We need someone with lived experience, voice only and anonymous, ideally an Arabic speaker");
  CHECK(r.needs.lived_experience);
  CHECK(r.needs.appearance == "voice_only");
  CHECK(r.needs.identification == "anonymous");
  CHECK(r.needs.languages == std::vector<std::string>{"ar"});
  auto negated = run("", "They don't need to be named and it doesn't need to be on camera");
  CHECK(negated.needs.identification == "anonymous");
  CHECK(negated.needs.appearance == "voice_only");
  auto plain = run("", "Arabic food festival in the city");  // a language with no request word near it
  CHECK(plain.needs.languages.empty());
}

TEST_CASE("priority: time left, reach and topic weight, explained; target before the deadline", "[triage]") {
  auto& t = shared_taxonomy();
  auto now = at("2026-01-14T10:00:00Z");
  auto soon = prioritise(t, now + std::chrono::hours(1), "national", {"channel_crossings"}, false, now);
  auto later = prioritise(t, now + std::chrono::hours(48), "local", {"covid"}, false, now);
  auto none = prioritise(t, std::nullopt, "", {}, false, now);
  auto urgent_words = prioritise(t, std::nullopt, "", {}, true, now);
  CHECK(soon.score > later.score);
  CHECK(later.score > none.score);
  CHECK(urgent_words.score > none.score);
  CHECK(soon.level == priority::urgent);
  CHECK(none.level != priority::urgent);
  CHECK((soon.score >= 0 && soon.score <= 100));
  CHECK_THAT(soon.explain, Catch::Contains("time") && Catch::Contains("reach") && Catch::Contains("channel_crossings"));
  // The target is a share of the way to the deadline, never after it.
  CHECK(soon.target_at > now);
  CHECK(soon.target_at < now + std::chrono::hours(1));
  CHECK(none.target_at == now + std::chrono::hours(24));
  auto passed = prioritise(t, now - std::chrono::hours(1), "local", {}, false, now);
  CHECK(passed.target_at == now);
  CHECK(priority_level_for(t.priority, 100) == priority::urgent);
  CHECK(priority_level_for(t.priority, 0) == priority::low);
}

TEST_CASE("the same request twice is recognised; a different one is not", "[triage]") {
  std::string form = "Looking for a refugee doctor in Birmingham who retrained in the NHS, for ITV News tonight";
  std::string email = "Hi, following up my form: looking for a refugee doctor in Birmingham who retrained in the NHS. "
                      "It's for ITV News tonight, filming at 2pm. Thanks, Sam";
  CHECK(same_request(form, email));
  CHECK(same_request(email, form));
  CHECK_FALSE(same_request(form, "Need an Afghan family resettled in Leeds talking about housing for a radio piece"));
  CHECK_FALSE(same_request("hi", "hi"));  // too few words to judge
}

TEST_CASE("corrections are checked against the taxonomy and applied all or nothing", "[triage]") {
  auto& t = shared_taxonomy();
  auto fields = run("Small boats", "Need someone in Dover by 4pm");
  auto before = fields;
  auto apply = [&](std::string_view body) {
    return server::apply_triage_correction(boost::json::parse(body).as_object(), t, fields);
  };
  auto bad = apply(R"({"topics": ["housing"], "medium": "telepathy"})");
  REQUIRE(std::holds_alternative<field_error>(bad));
  CHECK(std::get<field_error>(bad).field == "medium");
  CHECK(fields.topics == before.topics);  // nothing applied
  CHECK(std::get<field_error>(apply(R"({"topics": ["not_a_topic"]})")).field == "topics");
  CHECK(std::get<field_error>(apply(R"({"regions": ["atlantis"]})")).field == "regions");
  CHECK(std::get<field_error>(apply(R"({"deadline": "tomorrow"})")).field == "deadline");
  CHECK(std::get<field_error>(apply(R"({"priority": 101})")).field == "priority");
  CHECK(std::get<field_error>(apply(R"({"colour": "red"})")).field == "colour");
  CHECK(std::get<field_error>(apply(R"({})")).field == "$");
  CHECK(std::get<field_error>(apply(R"({"needs": {"languages": ["klingon"]}})")).field == "needs");

  auto ok = apply(R"({"topics": ["housing", "children"], "outlet": {"name": "The Guardian"}, "deadline": null,
                     "priority": 90, "needs": {"lived_experience": true, "appearance": null,
                     "identification": "anonymous", "languages": ["ar"]}})");
  REQUIRE(std::holds_alternative<std::vector<std::string>>(ok));
  CHECK(fields.topics == std::vector<std::string>{"housing", "children"});
  CHECK(fields.outlet_scope == "national");  // from the taxonomy when not given
  CHECK_FALSE(fields.deadline);
  CHECK(fields.priority_level == priority::urgent);
  auto changes = server::triage_changes(before, fields);
  std::vector<std::string> changed;
  for (auto& c : changes) changed.push_back(c.field);
  CHECK(std::find(changed.begin(), changed.end(), "topics") != changed.end());
  CHECK(std::find(changed.begin(), changed.end(), "regions") == changed.end());
}
