// `mediadesk match` (see match_command.hpp).
#include "server/match_command.hpp"

#include <fmt/format.h>

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <filesystem>
#include <fstream>
#include <istream>
#include <ostream>
#include <sstream>

#include "routing/match_csv.hpp"
#include "routing/registry_import.hpp"
#include "server/triage_service.hpp"
#include "store/match_store.hpp"

namespace md::server {
namespace {

constexpr int exit_usage = 64;       // EX_USAGE
constexpr int exit_data_error = 65;  // EX_DATAERR
constexpr std::size_t request_limit = 25 << 20;  // as `mediadesk triage`
constexpr std::uintmax_t max_file_bytes = 10u << 20;  // as `mediadesk import`

std::string json_text(std::string_view text) { return boost::json::serialize(boost::json::string(text)); }

// 0.723, 0.7, 1: three decimals at most, no trailing zeros.
std::string score_text(double score) {
  auto text = fmt::format("{:.3f}", std::clamp(score, 0.0, 1.0));
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text;
}

std::optional<std::string> read_limited(std::istream& in, std::size_t limit) {
  std::string input;
  char buffer[64 * 1024];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    input.append(buffer, static_cast<std::size_t>(in.gcount()));
    if (input.size() > limit) return std::nullopt;
  }
  return input;
}

std::optional<std::string> read_file(const std::string& file, std::ostream& err) {
  std::error_code ec;
  auto size = std::filesystem::file_size(file, ec);
  if (ec) {
    err << file << ": cannot read: " << ec.message() << "\n";
    return std::nullopt;
  }
  if (size > max_file_bytes) {
    err << file << ": larger than 10 MiB; split it\n";
    return std::nullopt;
  }
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) {
    err << file << ": cannot read\n";
    return std::nullopt;
  }
  return text.str();
}

// The same lines as `mediadesk import`: FILE:LINE:COLUMN: column: problem. The parser's messages
// never quote a personal value.
void report(std::ostream& err, std::string_view source, const std::vector<routing::import_error>& errors) {
  for (auto& e : errors) {
    err << source << ":" << e.line;
    if (e.column) err << ":" << e.column << ": " << e.column_name;
    err << ": " << e.message << "\n";
  }
}

// Both files parsed (spokespeople checked against the partners' keys), or nullopt with every
// problem of both reported.
std::optional<routing::match_registry> registry_from_files(const routing::taxonomy& taxonomy,
                                                           const match_command_flags& flags, std::ostream& err) {
  auto partners_text = read_file(flags.partners_file, err);
  auto people_text = read_file(flags.spokespeople_file, err);
  if (!partners_text || !people_text) return std::nullopt;
  auto partners = routing::parse_partners_csv(*partners_text, taxonomy);
  auto keys = routing::keys_of(partners.rows);
  // With a bad partners file its keys are unknown: the spokespeople are still checked for
  // everything else, so that one run shows every problem.
  auto people = routing::parse_spokespeople_csv(*people_text, taxonomy, partners.ok() ? &keys : nullptr);
  if (partners.ok() && people.ok()) return routing::registry_from_csv(partners.rows, people.rows);
  report(err, flags.partners_file, partners.errors);
  report(err, flags.spokespeople_file, people.errors);
  auto problems = partners.errors.size() + people.errors.size();
  err << "nothing was matched (" << problems << (problems == 1 ? " problem" : " problems") << " in the registry files)\n";
  return std::nullopt;
}

}  // namespace

routing::match_request match_request_from(const routing::triage_result& triage) {
  routing::match_request r;
  r.topics = triage.topics;
  r.regions = triage.regions;
  r.medium = triage.medium;
  r.outlet_name = triage.outlet_name;
  r.identification = triage.needs.identification;
  r.languages = triage.needs.languages;
  r.deadline = triage.deadline;
  return r;
}

std::string matches_json(const routing::match_registry& registry, const std::vector<routing::match>& matches) {
  std::string out = R"({"matches":[)";
  for (std::size_t i = 0; i < matches.size(); ++i) {
    auto& m = matches[i];
    auto& partner = registry.partners.at(m.partner);
    if (i) out += ",";
    out += R"({"partner":{"key":)" + json_text(partner.key) + R"(,"name":)" + json_text(partner.name) + "},";
    out += R"("spokesperson":)";
    if (m.spokesperson) {
      auto& person = registry.spokespeople.at(*m.spokesperson);
      out += R"({"key":)" + json_text(person.key) + R"(,"alias":)" + json_text(person.alias) + "}";
    } else {
      out += "null";
    }
    out += R"(,"score":)" + score_text(m.score) + R"(,"reasons":[)";
    for (std::size_t k = 0; k < m.reasons.size(); ++k) out += (k ? "," : "") + json_text(m.reasons[k]);
    out += "]}";
  }
  return out + "]}";
}

int run_match(const settings& config, const match_command_flags& flags, std::istream& in, std::ostream& out,
              std::ostream& err) {
  std::optional<time_point> reference;
  if (!flags.now.empty()) {
    reference = parse_iso8601(flags.now);
    if (!reference) {
      err << "--now: expected an ISO-8601 date-time such as 2026-11-27T09:30:00Z\n";
      return exit_usage;
    }
  }
  if (flags.partners_file.empty() != flags.spokespeople_file.empty()) {
    err << "match: give both --partners and --spokespeople (the CSV registry), or neither (the database)\n";
    return exit_usage;
  }
  auto input = read_limited(in, request_limit);
  if (!input) {
    err << "stdin: the request is larger than 25 MiB\n";
    return exit_data_error;
  }

  auto taxonomy = load_taxonomy(config.triage.taxonomy_dir);
  auto request = text_of_raw(*input);
  if (!reference) reference = request.date;
  auto at = reference.value_or(now());
  auto triaged = routing::triage(*taxonomy, request.text.input(), at);

  routing::match_registry registry;
  if (!flags.partners_file.empty()) {
    auto from_files = registry_from_files(*taxonomy, flags, err);
    if (!from_files) return exit_data_error;
    registry = std::move(*from_files);
  } else {
    // A command-line tool: one connection, generous statement time (a large registry).
    store::pg_connection c({config.database.url, std::chrono::seconds(config.database.connect_timeout_s),
                            std::chrono::milliseconds(10 * 60'000)});
    registry = store::load_match_registry(c, at);
  }
  routing::matcher matcher(taxonomy, std::move(registry));
  auto result = matcher.find(match_request_from(triaged), at);
  out << matches_json(matcher.registry(), result.matches) << "\n";
  return 0;
}

}  // namespace md::server
