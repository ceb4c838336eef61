// libFuzzer target for triage extraction (routing/triage) and above all the deadline parser
// (routing/deadline: find_deadline) on arbitrary text, against the built-in taxonomy, at a few
// fixed reference times: ordinary days, both sides of the BST changes, the year's end, a leap
// day, and the ends of the range that --now accepts. Crashes, leaks, UB and exceptions are the
// findings; it also checks the invariants docs/TRIAGE.md states (see check_deadline and
// check_triage). Needs md_routing and md_config.
//
// Input: byte 0 picks the reference time; the rest is the text that find_deadline reads whole.
// For triage() that text is cut at NUL bytes into new_text, subject, signature, sender address,
// stated outlet and a stated deadline (ISO-8601), in that order; most seeds have no NUL, so it is
// all new_text.
#include <algorithm>
#include <array>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/taxonomy_files.hpp"
#include "routing/deadline.hpp"
#include "routing/triage.hpp"

namespace {

using namespace md;
using namespace md::routing;
using std::chrono::days;
using std::chrono::floor;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::sys_days;
using std::chrono::year;

void require(bool ok) {
  if (!ok) std::abort();
}

const taxonomy& built_in_taxonomy() {
  // Parsed once: it is the same for every input, and parsing it dominates a small input's cost.
  static auto taxonomy = taxonomy::parse(as_embedded(read_taxonomy_files({})));
  return *taxonomy;
}

time_point at(std::string_view iso) {
  auto t = parse_iso8601(iso);
  require(t.has_value());
  return *t;
}

const std::array<time_point, 12>& reference_times() {
  static const std::array<time_point, 12> times{
      at("2026-01-14T10:00:00Z"),      // a Wednesday morning in GMT
      at("2026-06-12T16:45:30.250Z"),  // a Friday afternoon in BST, seconds and milliseconds
      at("2026-03-28T23:30:00Z"),      // Saturday night before the spring change
      at("2026-03-29T00:59:00Z"),      // a minute before BST starts (01:00 UTC)
      at("2026-03-29T01:00:00Z"),      // BST starts: 02:00 London
      at("2026-10-25T00:30:00Z"),      // 01:30 BST, the first of the two 01:30s
      at("2026-10-25T01:30:00Z"),      // 01:30 GMT, the second one
      at("2026-12-31T23:45:00Z"),      // New Year's Eve, late
      at("2028-02-29T17:30:00Z"),      // a leap day, after close of business
      at("2026-05-24T08:00:00Z"),      // a Sunday morning
      at("1970-01-01T00:00:00Z"),      // the earliest --now
      at("9999-12-31T23:59:00Z"),      // the latest --now
  };
  return times;
}

// What a found deadline always satisfies (docs/TRIAGE.md "Response deadline").
void check_deadline(const deadline_finding& d, time_point now) {
  // Rounded down to the minute: never later than stated.
  require(d.at.time_since_epoch() % minutes{1} == milliseconds{0});
  // Years are 1970-2200 when written; relative times reach at most 99 hours or two weeks ahead.
  require(d.at >= sys_days{year{1970} / 1 / 1});
  require(d.at <= std::max(now, time_point{sys_days{year{2201} / 1 / 2}}) + days{400});
  // Only a cued deadline may already be past.
  if (!d.why.starts_with("cued by")) require(d.at >= floor<minutes>(now));
  // The phrase holds the words matched, folded to lower case.
  require(!d.phrase.empty());
  require(std::none_of(d.phrase.begin(), d.phrase.end(), [](unsigned char c) { return std::isupper(c); }));
  require(!d.why.empty());
}

void check_triage(const taxonomy& tax, const triage_input& in, const triage_result& r, time_point now) {
  require(r.priority_score >= 0 && r.priority_score <= 100);
  require(r.priority_level == priority_level_for(tax.priority, r.priority_score));
  for (auto& t : r.topics) require(tax.find_topic(t).has_value());
  for (auto& g : r.regions) require(tax.find_region(g).has_value());
  require(r.outlet_scope.empty() || r.outlet_scope == "national" || r.outlet_scope == "local" ||
          r.outlet_scope == "international");
  require(r.medium.empty() || r.medium == "tv" || r.medium == "radio" || r.medium == "print" ||
          r.medium == "online" || r.medium == "podcast");
  // A stated deadline wins over the text; otherwise the deadline is the text's (subject, then new text).
  if (in.stated_deadline) {
    require(r.deadline == in.stated_deadline);
  } else {
    std::string text{in.subject};
    text.append("\n").append(in.new_text);
    auto found = find_deadline(text, now);
    require(found.has_value() == r.deadline.has_value());
    if (found) require(found->at == *r.deadline);
  }
  // The desk's target: not before now, and not after a deadline still ahead.
  require(r.target_at >= now);
  if (r.deadline && *r.deadline > now) require(r.target_at <= *r.deadline);
  require(!r.explain.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  auto& times = reference_times();
  auto now = times[data[0] % times.size()];
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);

  if (auto found = find_deadline(text, now)) check_deadline(*found, now);

  // The fields triage reads, cut at NULs.
  std::array<std::string_view, 6> fields{};
  std::string_view rest = text;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    auto nul = i + 1 < fields.size() ? rest.find('\0') : std::string_view::npos;
    fields[i] = rest.substr(0, nul);
    if (nul == std::string_view::npos) break;
    rest.remove_prefix(nul + 1);
  }
  triage_input in{fields[1], fields[0], fields[2], fields[3], fields[4], std::nullopt};
  if (!fields[5].empty()) in.stated_deadline = parse_iso8601(fields[5]);
  auto& tax = built_in_taxonomy();
  auto result = triage(tax, in, now);
  check_triage(tax, in, result, now);
  return 0;
}
