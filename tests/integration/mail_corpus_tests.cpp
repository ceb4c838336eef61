// Integration: the mail corpus (tests/data/mail/*.eml, expectations in manifest.json) sent file by
// file, bytes unchanged, through the real SMTP listener of `mediadesk serve` to a real worker:
// every message is queued (250 queued as <id>) and processed, none is lost (the stored message is
// the one sent), replies and resends land on their case while a stranger's copy of a case tag
// opens its own, the decoded text holds what the manifest says (and not the quoted history), the
// unparsed flag and the automatic acknowledgement are as expected.
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "mail/message.hpp"
#include "mail/reply_text.hpp"
#include "support/test_env.hpp"

using namespace md;
using namespace md::test;
using namespace std::chrono_literals;

namespace {

const std::filesystem::path corpus_dir = std::filesystem::path(MEDIADESK_SOURCE_DIR) / "tests/data/mail";
const std::string client_script = std::string(MEDIADESK_SOURCE_DIR) + "/tests/integration/smtp_client.py";

std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Parses JSON that may hold any bytes in its strings (a revealed message need not be UTF-8).
boost::json::value parse_json(const std::string& text) {
  boost::json::parse_options options;
  options.allow_invalid_utf8 = true;
  boost::system::error_code ec;
  auto value = boost::json::parse(text, ec, {}, options);
  INFO(text.substr(0, 500));
  REQUIRE_FALSE(ec);
  return value;
}

struct corpus_entry {
  std::string file, expect, event;
  bool unparsed = false;
  std::vector<std::string> contains, absent;
  std::optional<bool> acknowledged;
  std::optional<std::string> subject, from_name;
  bool joins() const { return expect.starts_with("joins:"); }
  std::string target() const { return expect.substr(6); }
};

std::vector<corpus_entry> load_manifest() {
  auto value = parse_json(read_bytes(corpus_dir / "manifest.json"));
  auto strings = [](const boost::json::object& o, const char* key) {
    std::vector<std::string> out;
    if (auto* a = o.if_contains(key))
      for (auto& v : a->as_array()) out.emplace_back(v.as_string());
    return out;
  };
  std::vector<corpus_entry> out;
  for (auto& item : value.as_array()) {
    auto& o = item.as_object();
    corpus_entry e;
    e.file = std::string(o.at("file").as_string());
    e.expect = std::string(o.at("expect").as_string());
    e.unparsed = o.at("unparsed").as_bool();
    e.contains = strings(o, "contains");
    e.absent = strings(o, "absent");
    if (auto* v = o.if_contains("event")) e.event = std::string(v->as_string());
    if (auto* v = o.if_contains("acknowledged")) e.acknowledged = v->as_bool();
    if (auto* v = o.if_contains("subject")) e.subject = std::string(v->as_string());
    if (auto* v = o.if_contains("from_name")) e.from_name = std::string(v->as_string());
    out.push_back(std::move(e));
  }
  return out;
}

// The client's last output line: {"step": [code, "text"], ...}.
boost::json::object run_client(const std::string& scenario, int port, const std::string& arg) {
  auto command = fmt::format("python3 '{}' {} 127.0.0.1 {} '{}' 2>&1", client_script, scenario, port, arg);
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe);
  std::string output;
  char chunk[4096];
  while (auto n = std::fread(chunk, 1, sizeof chunk, pipe)) output.append(chunk, n);
  int status = ::pclose(pipe);
  INFO(command << "\n" << output);
  REQUIRE(status == 0);
  auto trimmed = output.substr(0, output.find_last_not_of('\n') + 1);
  auto value = parse_json(trimmed.substr(trimmed.find_last_of('\n') == std::string::npos ? 0 : trimmed.find_last_of('\n') + 1));
  REQUIRE(value.is_object());
  return value.as_object();
}

// What the SMTP session stores of the bytes sent: each line (to its LF, one CR before it dropped)
// ended by CRLF; dot-stuffing is undone on the way in.
std::string as_stored(std::string_view raw) {
  std::string out;
  std::size_t pos = 0;
  while (pos < raw.size()) {
    auto lf = raw.find('\n', pos);
    auto line = raw.substr(pos, lf == std::string_view::npos ? std::string_view::npos : lf - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out.append(line);
    out += "\r\n";
    if (lf == std::string_view::npos) break;
    pos = lf + 1;
  }
  return out;
}

// Replaces each {{ref:FILE}} with the case reference of that earlier file.
std::string substitute_refs(std::string raw, const std::map<std::string, std::string>& case_of) {
  for (auto at = raw.find("{{ref:"); at != std::string::npos; at = raw.find("{{ref:", at)) {
    auto end = raw.find("}}", at);
    REQUIRE(end != std::string::npos);
    auto file = raw.substr(at + 6, end - at - 6);
    INFO("placeholder for " << file);
    REQUIRE(case_of.contains(file));
    raw.replace(at, end + 2 - at, case_of.at(file));
  }
  return raw;
}

std::vector<std::string> placeholder_files(const std::string& raw) {
  std::vector<std::string> out;
  for (auto at = raw.find("{{ref:"); at != std::string::npos; at = raw.find("{{ref:", at + 1))
    if (auto end = raw.find("}}", at); end != std::string::npos) out.push_back(raw.substr(at + 6, end - at - 6));
  return out;
}

boost::json::object case_detail(http_client& admin, const std::string& ref) {
  auto r = admin.get("/api/v1/cases/" + ref);
  INFO(ref << ": " << r.body.substr(0, 500));
  REQUIRE(r.status == 200);
  return parse_json(r.body).as_object().at("case").as_object();
}

// The timeline events of a case of one kind, as their data objects.
std::vector<boost::json::object> events(const boost::json::object& detail, std::string_view kind) {
  std::vector<boost::json::object> out;
  for (auto& e : detail.at("timeline").as_array())
    if (e.as_object().at("kind").as_string() == kind) out.push_back(e.as_object().at("data").as_object());
  return out;
}

bool has_event_for(const boost::json::object& detail, std::string_view kind, const std::string& intake_id) {
  for (auto& data : events(detail, kind))
    if (auto* id = data.if_contains("intake_id"); id && id->as_string() == intake_id) return true;
  return false;
}

}  // namespace

TEST_CASE("mail corpus: every message through the SMTP listener is queued, processed, threaded and decoded",
          "[smtp][corpus]") {
  auto started = std::chrono::steady_clock::now();
  auto manifest = load_manifest();
  REQUIRE(manifest.size() >= 34);
  test_stack stack("mail_corpus");
  int smtp_port = server::free_loopback_port();
  auto serve = stack.start("serve", {{"MEDIADESK_SMTP_PORT", std::to_string(smtp_port)},
                                     {"MEDIADESK_SMTP_DOMAINS", "desk.example"}});
  REQUIRE(stack.wait_for_log(serve, fmt::format("serving SMTP on 127.0.0.1:{}", smtp_port)));
  stack.start("worker");
  auto admin = stack.admin();
  auto outgoing = stack.home() / "corpus";
  std::filesystem::create_directories(outgoing);

  std::map<std::string, std::string> intake_of, case_of, sent;  // by file
  auto case_of_file = [&](const std::string& file) {
    if (!case_of.contains(file)) {
      auto status = stack.wait_for_intake(admin, intake_of.at(file));
      INFO(file << ": " << status);
      REQUIRE(json_string(status, "status") == "processed");
      case_of[file] = json_string(status, "case");
    }
    return case_of[file];
  };

  // In file order. A reply is sent once the message it answers has its case: threading looks the
  // earlier message up in PostgreSQL, and a tag needs the reference the case was given.
  for (auto& e : manifest) {
    INFO(e.file);
    auto raw = read_bytes(corpus_dir / e.file);
    REQUIRE_FALSE(raw.empty());
    if (e.joins()) case_of_file(e.target());
    for (auto& file : placeholder_files(raw)) case_of_file(file);
    raw = substitute_refs(std::move(raw), case_of);
    auto path = outgoing / e.file;
    std::ofstream(path, std::ios::binary | std::ios::trunc) << raw;
    auto r = run_client("file", smtp_port, path.string());
    INFO(boost::json::serialize(r));
    REQUIRE(r.contains("data"));
    auto& data = r.at("data").as_array();
    const std::string prefix = "2.0.0 Ok: queued as ";
    REQUIRE(data.at(0).to_number<int>() == 250);
    std::string reply(data.at(1).as_string());
    REQUIRE(reply.starts_with(prefix));
    auto id = reply.substr(prefix.size());
    CHECK(crypto::is_valid_intake_id(id));
    CHECK_FALSE(intake_of.contains(e.file));
    intake_of[e.file] = id;
    sent[e.file] = raw;
  }
  std::set<std::string> ids;
  for (auto& [file, id] : intake_of) ids.insert(id);
  CHECK(ids.size() == manifest.size());  // one intake per message

  // Every intake processed; as many cases as new requests; each reply on its target's case.
  std::size_t new_cases = 0;
  std::set<std::string> refs;
  for (auto& e : manifest) {
    INFO(e.file);
    auto ref = case_of_file(e.file);
    REQUIRE(ref.starts_with("MD-"));
    refs.insert(ref);
    if (e.joins()) CHECK(ref == case_of.at(e.target()));
    else ++new_cases;
  }
  CHECK(refs.size() == new_cases);
  auto db = stack.database();
  CHECK(count_rows(db, "SELECT count(*) FROM cases") == static_cast<std::int64_t>(new_cases));
  CHECK(count_rows(db, "SELECT count(*) FROM intakes WHERE status = 'processed'") ==
        static_cast<std::int64_t>(manifest.size()));

  std::size_t acknowledged = 0;
  for (auto& e : manifest) {
    INFO(e.file << " (" << case_of[e.file] << ", intake " << intake_of[e.file] << ")");
    auto& ref = case_of[e.file];
    auto detail = case_detail(admin, ref);
    std::string stored;
    if (e.joins()) {
      // On the target's timeline; the message itself kept sealed beside the case.
      CHECK(has_event_for(detail, e.event.empty() ? "reply_received" : e.event, intake_of[e.file]));
      auto row = db.exec("SELECT sealed FROM case_messages WHERE intake_id = $1", {store::text(intake_of[e.file])});
      if (row.rows() != 1) {
        FAIL_CHECK("the message is not kept on the case it joined");
        continue;
      }
      // The binding the case store seals messages with (store/case_store.cpp: case_message_binding).
      auto opened = stack.keys().open(row.get_bytes(0, 0), "case_messages.sealed:" + intake_of[e.file]);
      REQUIRE(opened);
      stored = *opened;
    } else {
      CHECK(has_event_for(detail, "case_opened", intake_of[e.file]));
      CHECK(detail.at("unparsed").as_bool() == e.unparsed);
      auto reveal = admin.request("POST", "/api/v1/cases/" + ref + "/reveal", R"({"reason":"mail corpus test"})");
      REQUIRE(reveal.status == 200);
      auto request = parse_json(reveal.body).as_object().at("request");
      if (!request.is_string()) {
        FAIL_CHECK("the revealed request is not the message: " << boost::json::serialize(request).substr(0, 200));
        continue;
      }
      stored = std::string(request.as_string());
    }
    // Nothing lost: what was sent, behind the trace fields the door adds (Received names the intake).
    CHECK(stored.starts_with("Return-Path: <"));
    CHECK(stored.find(" id " + intake_of[e.file] + "; ") != std::string::npos);
    CHECK(stored.ends_with(as_stored(sent[e.file])));

    // Decoded as the worker decodes it.
    auto m = mail::parse_message(stored);
    auto parts = mail::split_reply_text(m.text);
    CHECK(m.parsed == !e.unparsed);
    for (auto& fragment : e.contains) {
      INFO("contains: " << fragment << "\nnew text:\n" << parts.new_text);
      CHECK(parts.new_text.find(fragment) != std::string::npos);
    }
    for (auto& fragment : e.absent) {
      INFO("absent: " << fragment << "\nnew text:\n" << parts.new_text);
      CHECK(parts.new_text.find(fragment) == std::string::npos);
    }
    if (e.subject) CHECK(m.subject == *e.subject);
    if (e.from_name) CHECK(m.from_name == *e.from_name);
    if (e.acknowledged && *e.acknowledged) {
      ++acknowledged;
      CHECK(eventually([&] { return !events(case_detail(admin, ref), "acknowledgement_sent").empty(); }, 10s));
    }
  }
  // The acknowledgements come after the commit: by now every one due is on its timeline, so those
  // not due (auto-replies, bounces, lists, what is no message) would be there too.
  for (auto& e : manifest) {
    INFO(e.file);
    if (e.acknowledged && !*e.acknowledged) CHECK(events(case_detail(admin, case_of[e.file]), "acknowledgement_sent").empty());
    if (e.acknowledged && *e.acknowledged) CHECK(events(case_detail(admin, case_of[e.file]), "acknowledgement_sent").size() == 1);
  }
  CHECK(stack.redis().command({"XLEN", "md:outbox"})->integer == static_cast<long long>(acknowledged));

  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  WARN(fmt::format("mail corpus: {} messages, {} cases, {} acknowledged, {:.1f} s", manifest.size(), new_cases,
                   acknowledged, seconds));
  CHECK(seconds < 60);
}
