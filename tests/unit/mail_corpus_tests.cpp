// Unit tests over the mail corpus (tests/data/mail/*.eml and manifest.json): every message parsed
// by md::mail::parse_message and split by split_reply_text, as the file is and as the SMTP door
// delivers it (line ends made CRLF, Return-Path and Received on top), against the manifest's
// decoded-text fragments, flags, subjects, sender names and attachments. Pure: no servers.
#include <catch2/catch.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "mail/auto_reply.hpp"
#include "mail/message.hpp"
#include "mail/reply_text.hpp"
#include "routing/similarity.hpp"

using namespace md;

namespace {

const std::filesystem::path corpus_dir = std::filesystem::path(MEDIADESK_SOURCE_DIR) / "tests/data/mail";

std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct corpus_entry {
  std::string file, expect;
  bool unparsed = false;
  std::vector<std::string> contains, absent;
  std::optional<bool> acknowledged;
  std::optional<std::string> subject, from_name;
  std::optional<std::vector<std::string>> attachments;
};

std::vector<std::string> strings(const boost::json::object& o, const char* key) {
  std::vector<std::string> out;
  if (auto* a = o.if_contains(key))
    for (auto& v : a->as_array()) out.emplace_back(v.as_string());
  return out;
}

std::vector<corpus_entry> load_manifest() {
  auto value = boost::json::parse(read_bytes(corpus_dir / "manifest.json"));
  std::vector<corpus_entry> out;
  for (auto& item : value.as_array()) {
    auto& o = item.as_object();
    corpus_entry e;
    e.file = std::string(o.at("file").as_string());
    e.expect = std::string(o.at("expect").as_string());
    e.unparsed = o.at("unparsed").as_bool();
    e.contains = strings(o, "contains");
    e.absent = strings(o, "absent");
    if (auto* v = o.if_contains("acknowledged")) e.acknowledged = v->as_bool();
    if (auto* v = o.if_contains("subject")) e.subject = std::string(v->as_string());
    if (auto* v = o.if_contains("from_name")) e.from_name = std::string(v->as_string());
    if (o.contains("attachments")) e.attachments = strings(o, "attachments");
    out.push_back(std::move(e));
  }
  return out;
}

// What the SMTP door stores: every line (to its LF) ended by CRLF, trace fields on top.
std::string as_delivered(std::string_view raw, std::string_view sender) {
  std::string out = "Return-Path: <" + std::string(sender) +
                    ">\r\nReceived: from client.example ([127.0.0.1]) by mx.desk.example with ESMTP id "
                    "01J0000000000000000000TEST; Tue, 14 Jul 2026 17:30:00 +0000\r\n";
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

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

std::string placeholder_for(const std::string& file) { return "{{ref:" + file + "}}"; }

}  // namespace

TEST_CASE("mail corpus: every file is in the manifest, and the manifest names only files", "[mail][corpus]") {
  auto manifest = load_manifest();
  std::vector<std::string> files;
  for (auto& f : std::filesystem::directory_iterator(corpus_dir))
    if (f.path().extension() == ".eml") files.push_back(f.path().filename().string());
  std::sort(files.begin(), files.end());
  std::vector<std::string> listed;
  for (auto& e : manifest) listed.push_back(e.file);
  CHECK(listed == files);
  CHECK(files.size() >= 34);
  for (auto& e : manifest) {
    INFO(e.file);
    bool joins = e.expect.starts_with("joins:");
    CHECK((e.expect == "new_case" || joins));
    if (joins) CHECK(std::find(listed.begin(), listed.end(), e.expect.substr(6)) < std::find(listed.begin(), listed.end(), e.file));
  }
}

TEST_CASE("mail corpus: each message decodes to the manifest's text, as sent and as delivered", "[mail][corpus]") {
  for (auto& e : load_manifest()) {
    auto raw = read_bytes(corpus_dir / e.file);
    REQUIRE_FALSE(raw.empty());
    for (bool delivered : {false, true}) {
      INFO(e.file << (delivered ? " (as delivered)" : " (as sent)"));
      auto input = delivered ? as_delivered(raw, "sender@news.example") : raw;
      auto m = mail::parse_message(input);
      auto parts = mail::split_reply_text(m.text);
      CHECK(m.parsed == !e.unparsed);
      CHECK(valid_utf8(m.text));
      CHECK(valid_utf8(m.subject));
      CHECK(valid_utf8(m.from_name));
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
      if (e.attachments) {
        std::vector<std::string> names;
        for (auto& a : m.attachments) names.push_back(a.filename);
        CHECK(names == *e.attachments);
      }
      // Acknowledgement as the worker decides it, for the mail as delivered (an envelope sender).
      if (delivered && e.acknowledged) CHECK(mail::may_acknowledge(m, "requests@desk.example") == *e.acknowledged);
    }
  }
}

TEST_CASE("mail corpus: replies carry what threads them, and a stranger's copy of a tag does not", "[mail][corpus]") {
  auto manifest = load_manifest();
  std::map<std::string, mail::parsed_message> parsed;
  for (auto& e : manifest) parsed[e.file] = mail::parse_message(read_bytes(corpus_dir / e.file));
  auto words = [](const mail::parsed_message& m) { return m.subject + "\n" + mail::split_reply_text(m.text).new_text; };
  for (auto& e : manifest) {
    INFO(e.file);
    auto& m = parsed[e.file];
    if (e.expect.starts_with("joins:")) {
      auto target_file = e.expect.substr(6);
      auto& target = parsed[target_file];
      bool by_id = !target.message_id.empty() &&
                   (m.in_reply_to == target.message_id ||
                    std::find(m.references.begin(), m.references.end(), target.message_id) != m.references.end());
      bool by_tag = m.subject.find(placeholder_for(target_file)) != std::string::npos && m.from_address == target.from_address;
      bool same_request = m.from_address == target.from_address && routing::same_request(words(target), words(m));
      CHECK((by_id || by_tag || same_request));
    } else {
      // A new case names no earlier corpus message; a tag it carries is someone else's.
      for (auto& [file, other] : parsed) {
        if (file >= e.file) break;
        if (!other.message_id.empty()) {
          CHECK(m.in_reply_to != other.message_id);
          CHECK(std::find(m.references.begin(), m.references.end(), other.message_id) == m.references.end());
        }
        if (m.subject.find(placeholder_for(file)) != std::string::npos) CHECK(m.from_address != other.from_address);
        if (!m.from_address.empty() && m.from_address == other.from_address) CHECK_FALSE(routing::same_request(words(other), words(m)));
      }
    }
  }
}
