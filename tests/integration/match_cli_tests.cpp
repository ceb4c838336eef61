// Integration: `mediadesk match` as a client runs it — the real binary on the demo registry's CSV
// files (config/demo), requests as RFC 5322 messages and plain text on stdin: the JSON parses,
// best first, every hard rule holds against the files' consents at --now, no name, email or
// phone from the files reaches stdout or stderr, a bad file exits 65 naming line and column,
// one file alone exits 64; and the database path gives the same answer as the files.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <boost/json/parse.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "config/taxonomy_files.hpp"
#include "routing/registry_import.hpp"
#include "support/test_env.hpp"

using namespace md;
using namespace md::test;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

const fs::path demo = fs::path(MEDIADESK_SOURCE_DIR) / "config/demo";

std::string read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

const routing::taxonomy& cli_taxonomy() {
  static auto t = routing::taxonomy::parse(as_embedded(read_taxonomy_files({})));
  return *t;
}

struct demo_registry {
  std::vector<routing::partner_import_row> partners;
  std::vector<routing::spokesperson_import_row> people;
  std::vector<std::string> personal;  // every name, email and phone in the files, as written and as parsed
};

const demo_registry& registry() {
  static demo_registry r = [] {
    demo_registry out;
    auto partners = routing::parse_partners_csv(read_text(demo / "partners.csv"), cli_taxonomy());
    auto keys = routing::keys_of(partners.rows);
    auto people = routing::parse_spokespeople_csv(read_text(demo / "spokespeople.csv"), cli_taxonomy(), &keys);
    REQUIRE(partners.ok());
    REQUIRE(people.ok());
    out.partners = partners.rows;
    out.people = people.rows;
    for (auto& p : out.partners)
      for (auto* v : {&p.contact_name, &p.contact_email})
        if (!v->empty()) out.personal.push_back(lower(*v));
    for (auto& s : out.people) {
      for (auto* v : {&s.full_name, &s.email, &s.phone})
        if (!v->empty()) out.personal.push_back(lower(*v));
      if (!s.phone.empty()) out.personal.push_back(s.phone.substr(s.phone.size() - 6));  // the subscriber digits
    }
    return out;
  }();
  return r;
}

struct cli_result {
  int status;
  std::string out, err;
};

// Runs the binary with only PATH in its environment (no database, no master key).
cli_result run_match(const std::string& args, const std::string& request, const std::string& env = "env -i PATH=/usr/bin:/bin") {
  static int counter = 0;
  auto err_file = test_home() / fmt::format("match-stderr-{}.txt", ++counter);
  auto r = run_command(fmt::format("{} '{}' --config /dev/null match {} 2>'{}'", env, MEDIADESK_BINARY, args, err_file.string()),
                       request);
  return {r.status, r.out, read_text(err_file)};
}

std::string files_args() {
  return fmt::format("--partners '{}' --spokespeople '{}'", (demo / "partners.csv").string(),
                     (demo / "spokespeople.csv").string());
}

json::object triaged(const std::string& now, const std::string& request) {
  auto r = run_command(fmt::format("env -i PATH=/usr/bin:/bin '{}' --config /dev/null triage --now {} 2>/dev/null",
                                   MEDIADESK_BINARY, now),
                       request);
  REQUIRE(r.status == 0);
  return json::parse(r.out).as_object();
}

std::vector<std::string> strings_of(const json::value& v) {
  std::vector<std::string> out;
  if (v.is_array())
    for (auto& s : v.as_array()) out.emplace_back(s.as_string());
  return out;
}

bool has(const std::vector<std::string>& items, const std::string& item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

// Checks one run's JSON against the files' rows: best first, the hard rules at `now`.
void check_matches(const std::string& now, const std::string& request, const cli_result& r) {
  INFO(r.err);
  REQUIRE(r.status == 0);
  auto doc = json::parse(r.out);
  auto matches = doc.as_object().at("matches").as_array();  // named: never iterate a temporary's member
  REQUIRE_FALSE(matches.empty());
  auto fields = triaged(now, request);
  auto topics = strings_of(fields.at("topics"));
  std::string medium = fields.at("medium").is_string() ? std::string(fields.at("medium").as_string()) : "";
  auto& needs = fields.at("needs").as_object();
  std::string identification = needs.at("identification").is_string() ? std::string(needs.at("identification").as_string()) : "";
  auto at = *parse_iso8601(now);
  double previous = 2;
  for (auto& value : matches) {
    auto& m = value.as_object();
    REQUIRE(m.size() == 4);
    auto score = m.at("score").to_number<double>();
    CHECK(score >= 0);
    CHECK(score <= 1);
    CHECK(score <= previous);  // best first
    previous = score;
    CHECK_FALSE(m.at("reasons").as_array().empty());
    std::string partner_key(m.at("partner").at("key").as_string());
    auto partner = std::find_if(registry().partners.begin(), registry().partners.end(),
                                [&](auto& p) { return p.key == partner_key; });
    REQUIRE(partner != registry().partners.end());
    CHECK(m.at("partner").at("name").as_string() == partner->name);
    if (m.at("spokesperson").is_null()) {
      CHECK(std::any_of(topics.begin(), topics.end(), [&](auto& t) { return has(partner->topics, t); }));
      continue;
    }
    REQUIRE(m.at("spokesperson").as_object().size() == 2);
    std::string key(m.at("spokesperson").at("key").as_string());
    auto row = std::find_if(registry().people.begin(), registry().people.end(), [&](auto& s) { return s.key == key; });
    REQUIRE(row != registry().people.end());
    INFO("spokesperson " << key);
    CHECK(m.at("spokesperson").at("alias").as_string() == row->alias);
    CHECK(row->partner_key == partner_key);
    // The consent, live at now: granted <= now < expires, never withdrawn.
    REQUIRE(row->consent_granted);
    CHECK(std::chrono::sys_days(*row->consent_granted) <= at);
    if (row->consent_expires) CHECK(at < std::chrono::sys_days(*row->consent_expires));
    CHECK_FALSE(row->consent_withdrawn);
    if (!medium.empty()) CHECK(has(row->media, medium));
    if (identification == "named") CHECK(row->identification == "named");
    else if (identification.empty()) CHECK(row->identification != "anonymous");
    CHECK(std::any_of(topics.begin(), topics.end(), [&](auto& t) { return has(row->topics, t); }));
    CHECK(row->max_per_month.value_or(4) > 0);
  }
}

void check_nothing_personal(const cli_result& r) {
  auto out = lower(r.out), err = lower(r.err);
  for (auto& value : registry().personal) {
    INFO(value);
    CHECK(out.find(value) == std::string::npos);
    CHECK(err.find(value) == std::string::npos);
  }
}

const std::string newcastle_radio =
    "From: Sam Reporter <sam.reporter@bbc.co.uk>\r\n"
    "To: desk@desk.example\r\n"
    "Subject: Asylum seeker in Newcastle for radio tomorrow\r\n"
    "Date: Mon, 02 Jun 2025 09:00:00 +0000\r\n"
    "Message-ID: <match-1@bbc.co.uk>\r\n"
    "\r\n"
    "Hello, we are looking for someone who has been through the asylum process in Newcastle to talk\r\n"
    "on BBC Radio Newcastle tomorrow morning. A first name is fine. Could you let me know by 3pm today?\r\n"
    "Thanks, Sam\r\n";

const std::string london_tv_named =
    "From: Priya Desk <p.desk@itv.example>\r\n"
    "To: desk@desk.example\r\n"
    "Subject: Immigration detention - named interviewee for TV\r\n"
    "Date: Tue, 03 Jun 2025 10:30:00 +0100\r\n"
    "\r\n"
    "We need someone who has been held in immigration detention, happy to be named and on camera,\r\n"
    "for a TV news piece filmed in London on Thursday.\r\n";

const std::string plain_birmingham =
    "Looking for an Arabic speaker in Birmingham to talk about housing and asylum hotels for a podcast.\n"
    "Anonymous is fine. Deadline Friday 12:00.\n";

}  // namespace

TEST_CASE("mediadesk match: the demo registry's files, hard rules respected, nothing personal", "[match]") {
  struct req {
    std::string now, text;
  };
  std::vector<req> requests{{"2025-06-02T09:00:00Z", newcastle_radio},
                            {"2025-06-03T09:30:00Z", london_tv_named},
                            {"2025-11-20T09:00:00Z", plain_birmingham},
                            {"2026-11-27T09:00:00Z", newcastle_radio},
                            {"2026-03-01T09:00:00Z", plain_birmingham}};
  for (auto& [now, text] : requests) {
    INFO("--now " << now << "\n" << text);
    auto r = run_match(fmt::format("--now {} {}", now, files_args()), text);
    check_matches(now, text, r);
    check_nothing_personal(r);
    CHECK(r.out.find('\n') == r.out.size() - 1);  // one line
  }

  // The Newcastle request at a date when sp-001 (Kestrel, Newcastle, radio, named) is live: their
  // partner first (partner-level, tied with them, so first by the tie rule), then them.
  auto r = run_match(fmt::format("--now 2025-06-02T09:00:00Z {}", files_args()), newcastle_radio);
  auto doc = json::parse(r.out);
  auto matches = doc.as_object().at("matches").as_array();
  REQUIRE(matches.size() >= 2);
  CHECK(matches[0].at("partner").at("key") == "heron-kettle-tyneside");
  CHECK(matches[0].at("spokesperson").is_null());
  auto& first = matches[1].as_object();
  CHECK(first.at("spokesperson").at("key") == "sp-001");
  auto reasons = strings_of(first.at("reasons"));
  CHECK(has(reasons, "same place: Newcastle"));
  CHECK(has(reasons, "consent: radio, named"));

  // Without --now the message's Date header is the reference: the same answer as --now at that time.
  auto by_date = run_match(files_args(), newcastle_radio);
  CHECK(by_date.status == 0);
  CHECK(by_date.out == r.out);

  // The withdrawn consent of sp-007 (Merseyside) never appears, even at a date before the withdrawal.
  auto liverpool = "Asylum process story in Liverpool for print, anonymous is fine. Any speakers of Pashto?\n";
  for (auto now : {"2025-06-01T09:00:00Z", "2025-12-01T09:00:00Z"}) {
    auto l = run_match(fmt::format("--now {} {}", now, files_args()), liverpool);
    REQUIRE(l.status == 0);
    CHECK(l.out.find("\"sp-007\"") == std::string::npos);
  }

  // A request with nothing to match on: an empty list, exit 0.
  auto nothing = run_match(fmt::format("--now 2025-06-02T09:00:00Z {}", files_args()), "hello\n");
  CHECK(nothing.status == 0);
  CHECK(nothing.out == "{\"matches\":[]}\n");
}

TEST_CASE("mediadesk match: usage errors exit 64, bad files 65 with line and column", "[match]") {
  auto partners = (demo / "partners.csv").string(), people = (demo / "spokespeople.csv").string();
  auto only_partners = run_match(fmt::format("--partners '{}'", partners), newcastle_radio);
  CHECK(only_partners.status == 64);
  CHECK(only_partners.out.empty());
  CHECK(only_partners.err.find("--spokespeople") != std::string::npos);
  CHECK(run_match(fmt::format("--spokespeople '{}'", people), newcastle_radio).status == 64);
  CHECK(run_match(fmt::format("--now yesterday {}", files_args()), newcastle_radio).status == 64);

  // A bad consent date on the third line, and a bad email (never repeated) on the fourth.
  std::istringstream in(read_text(people));
  std::string line, text;
  for (int n = 1; std::getline(in, line); ++n) {
    if (n == 3) {
      auto pos = line.find("2025-06-15");
      REQUIRE(pos != std::string::npos);
      line.replace(pos, 10, "2025-02-30");
    }
    if (n == 4) {
      auto comma = line.find(",,", line.find(",", line.find(",", line.find(",") + 1) + 1));  // the empty email field
      REQUIRE(comma != std::string::npos);
      line.insert(comma + 1, "Zq9-not-an-email");
    }
    text += line + "\n";
  }
  auto bad = test_home() / "bad-spokespeople.csv";
  std::ofstream(bad, std::ios::binary) << text;
  auto r = run_match(fmt::format("--now 2025-06-02T09:00:00Z --partners '{}' --spokespeople '{}'", partners, bad.string()),
                     newcastle_radio);
  INFO(r.err);
  CHECK(r.status == 65);
  CHECK(r.out.empty());
  CHECK(r.err.find(bad.string() + ":3:12: consent_granted: ") != std::string::npos);
  CHECK(r.err.find(bad.string() + ":4:5: email: ") != std::string::npos);
  CHECK(r.err.find("Zq9-not-an-email") == std::string::npos);
  check_nothing_personal(r);

  // A spokespeople file whose partner keys the partners file lacks.
  auto few = test_home() / "few-partners.csv";
  std::ofstream(few, std::ios::binary) << "key,name,contact_name,contact_email,regions,topics\n"
                                          "heron-kettle-tyneside,Heron,,a@example.org,north_east,asylum_process\n";
  auto unknown = run_match(fmt::format("--partners '{}' --spokespeople '{}'", few.string(), people), newcastle_radio);
  CHECK(unknown.status == 65);
  CHECK(unknown.err.find(people + ":4:2: partner_key: ") != std::string::npos);

  auto missing = run_match(fmt::format("--partners '{}' --spokespeople '{}'", partners, "/nonexistent/people.csv"),
                           newcastle_radio);
  CHECK(missing.status == 65);
  CHECK(missing.err.find("/nonexistent/people.csv") != std::string::npos);
}

TEST_CASE("mediadesk match: from the database, the same answer as from the files", "[match]") {
  test_stack stack("match_database");
  auto env = [&] {
    std::string out = "env -i";
    for (auto& [name, value] : stack.environment()) out += " " + name + "='" + value + "'";
    return out;
  }();
  for (auto kind : {"partners", "spokespeople"}) {
    auto imported = run_command(fmt::format("{} '{}' --config /dev/null import {} '{}' 2>&1", env, MEDIADESK_BINARY, kind,
                                            (demo / (std::string(kind) + ".csv")).string()));
    INFO(imported.out);
    REQUIRE(imported.status == 0);
  }
  for (auto& [now, text] : std::vector<std::pair<std::string, std::string>>{{"2025-06-02T09:00:00Z", newcastle_radio},
                                                                            {"2025-11-20T09:00:00Z", plain_birmingham}}) {
    auto from_files = run_match(fmt::format("--now {} {}", now, files_args()), text);
    auto from_database = run_match(fmt::format("--now {}", now), text, env);
    INFO(from_database.err);
    REQUIRE(from_database.status == 0);
    CHECK(from_database.out == from_files.out);
    check_nothing_personal(from_database);
  }
}
