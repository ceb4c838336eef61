// Triage against the labelled corpus in tests/data/triage: prints per-field accuracy and fails
// below 90 % on any field. Reads requests exactly as `mediadesk triage` does (message or plain
// text, the Date header as "now"). MEDIADESK_CORPUS_VERBOSE=1 prints every miss.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "config/taxonomy_files.hpp"
#include "routing/triage_json.hpp"
#include "server/triage_service.hpp"

namespace {

using namespace md;
namespace json = boost::json;

const std::string source_dir = MEDIADESK_SOURCE_DIR;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::set<std::string> as_set(const json::value& v) {
  std::set<std::string> out;
  if (auto* a = v.if_array())
    for (auto& item : *a) out.emplace(item.as_string());
  return out;
}

// Whether the prediction is right for one field, by the rules in tests/data/triage/README.md.
bool field_correct(std::string_view field, const json::object& predicted, const json::object& label) {
  if (field == "topics") {
    auto& p = predicted.at("topics").as_array();
    auto& l = label.at("topics").as_array();
    if (l.empty() || p.empty()) return l.empty() && p.empty();
    auto ls = as_set(l), ps = as_set(p);
    return ls.contains(std::string(p[0].as_string())) && ps.contains(std::string(l[0].as_string()));
  }
  if (field == "regions") return as_set(predicted.at("regions")) == as_set(label.at("regions"));
  if (field == "outlet") {
    auto& p = predicted.at("outlet");
    auto& l = label.at("outlet");
    if (p.is_null() || l.is_null()) return p.is_null() && l.is_null();
    return p.at("name") == l.at("name") && p.at("scope") == l.at("scope");
  }
  if (field.starts_with("needs.")) {
    auto key = field.substr(6);
    auto& p = predicted.at("needs").as_object().at(key);
    auto& l = label.at("needs").as_object().at(key);
    if (key == "languages") return as_set(p) == as_set(l);
    return p == l;
  }
  if (field == "deadline") {
    auto& p = predicted.at("deadline");
    auto& l = label.at("deadline");
    if (p.is_null() || l.is_null()) return p.is_null() && l.is_null();
    return parse_iso8601(p.as_string()) == parse_iso8601(l.as_string());
  }
  return predicted.at(field) == label.at(field);  // medium
}

}  // namespace

TEST_CASE("triage reaches 90 % per field on the labelled corpus", "[triage][corpus]") {
  auto files = read_taxonomy_files(source_dir + "/config/taxonomy");
  auto taxonomy = routing::taxonomy::parse(as_embedded(files));
  auto labels = json::parse(read_file(source_dir + "/tests/data/triage/labels.json")).as_object().at("cases").as_array();
  REQUIRE(labels.size() >= 150);

  const std::vector<std::string> fields = {"topics", "regions", "medium", "outlet", "deadline", "needs.lived_experience",
                                           "needs.appearance", "needs.identification", "needs.languages"};
  std::map<std::string, int> right;
  bool verbose = std::getenv("MEDIADESK_CORPUS_VERBOSE") != nullptr;
  for (auto& entry : labels) {
    auto& label = entry.as_object();
    std::string name(label.at("file").as_string());
    auto raw = read_file(source_dir + "/tests/data/triage/" + name);
    std::optional<time_point> reference;
    if (auto* now = label.if_contains("now")) reference = parse_iso8601(now->as_string());
    auto request = server::text_of_raw(raw);
    if (!reference) reference = request.date;
    INFO(name);
    REQUIRE(reference.has_value());
    auto predicted = routing::triage_json(routing::triage(*taxonomy, request.text.input(), *reference));
    for (auto& field : fields) {
      if (field_correct(field, predicted, label)) {
        ++right[field];
      } else if (verbose) {
        auto key = field.starts_with("needs.") ? std::string("needs") : field;
        std::cout << name << " " << field << ": predicted " << json::serialize(predicted.at(key)) << ", labelled "
                  << json::serialize(label.at(key)) << "\n";
      }
    }
  }
  std::cout << "triage accuracy on " << labels.size() << " labelled requests:\n";
  for (auto& field : fields) {
    double accuracy = static_cast<double>(right[field]) / static_cast<double>(labels.size());
    std::cout << "  " << field << ": " << right[field] << "/" << labels.size() << " = "
              << static_cast<int>(accuracy * 1000) / 10.0 << " %\n";
  }
  for (auto& field : fields) {
    INFO(field);
    CHECK(static_cast<double>(right[field]) / static_cast<double>(labels.size()) >= 0.9);
  }
}
