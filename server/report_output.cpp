// The report's JSON and CSV renderings (server/report_output.hpp).
#include "server/report_output.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/array.hpp>
#include <map>

#include "core/time.hpp"

namespace md::server {
namespace json = boost::json;
namespace {

using store::report_count;
using store::report_figures;

json::value optional_number(const std::optional<double>& v) { return v ? json::value(*v) : json::value(nullptr); }

json::array counts_json(const std::vector<report_count>& counts) {
  json::array out;
  for (auto& c : counts) out.push_back(json::object{{"key", c.key}, {"count", c.count}});
  return out;
}

json::object period_json(const report_period& p) {
  return {{"from", format_iso_date(p.from)}, {"to", format_iso_date(p.to)}};
}

json::object figures_json(const report_figures& f) {
  auto& r = f.requests;
  auto& c = f.coverage;
  auto& p = f.partners;
  json::array partners;
  for (auto& one : p.by_partner)
    partners.push_back(json::object{{"partner_id", one.partner_id},
                                    {"name", one.name},
                                    {"offers", one.offers},
                                    {"accepted", one.accepted},
                                    {"declined", one.declined},
                                    {"expired", one.expired},
                                    {"accept_rate", optional_number(one.accept_rate)},
                                    {"median_minutes_to_response", optional_number(one.median_minutes_to_response)}});
  return {
      {"requests",
       {{"received", r.received},
        {"taken_on", r.taken_on},
        {"fulfilled", r.fulfilled},
        {"no_match", r.no_match},
        {"declined", r.declined},
        {"withdrawn", r.withdrawn}}},
      {"cases", {{"reactive", f.cases.reactive}, {"proactive", f.cases.proactive}}},
      {"coverage",
       {{"total", c.total},
        {"national", c.national},
        {"local", c.local},
        {"international", c.international},
        {"lived_experience_quoted", c.lived_experience_quoted},
        {"by_scope", counts_json(c.by_scope)},
        {"by_medium", counts_json(c.by_medium)},
        {"by_topic", counts_json(c.by_topic)},
        {"by_region", counts_json(c.by_region)},
        {"by_outlet", counts_json(c.by_outlet)},
        {"by_tone", counts_json(c.by_tone)},
        {"by_month", counts_json(c.by_month)}}},
      {"voices", {{"spokespeople", f.voices.spokespeople}, {"first_time", f.voices.first_time}}},
      {"timings",
       {{"median_minutes_to_first_offer", optional_number(f.timings.median_minutes_to_first_offer)},
        {"median_minutes_to_fulfilment", optional_number(f.timings.median_minutes_to_fulfilment)}}},
      {"partners",
       {{"offers", p.offers},
        {"accepted", p.accepted},
        {"declined", p.declined},
        {"expired", p.expired},
        {"accept_rate", optional_number(p.accept_rate)},
        {"median_minutes_to_response", optional_number(p.median_minutes_to_response)},
        {"by_partner", std::move(partners)}}},
      {"triage",
       {{"cases", f.triage.cases},
        {"corrected_cases", f.triage.corrected_cases},
        {"corrected_share", optional_number(f.triage.corrected_share)},
        {"by_field", counts_json(f.triage.by_field)}}},
  };
}

// A figure's cell: numbers in their shortest exact form ("42.5", "0.6667"), null as empty.
std::string number_cell(std::int64_t n) { return std::to_string(n); }
std::string number_cell(const std::optional<double>& v) { return v ? fmt::format("{}", *v) : std::string{}; }

class csv_writer {
 public:
  csv_writer() { out_ = "section,key,current,previous\r\n"; }
  void row(std::string_view section, std::string_view key, const std::string& current, const std::string& previous) {
    out_ += csv_cell(section) + ',' + csv_cell(key) + ',' + csv_cell(current) + ',' + csv_cell(previous) + "\r\n";
  }
  template <class T>
  void figure(std::string_view section, std::string_view key, const T& current, const T& previous) {
    row(section, key, number_cell(current), number_cell(previous));
  }
  // Every key of either period, in the current period's order and then the previous one's
  // (sorted by key instead for months); 0 where a period does not have it.
  void counts(std::string_view section, const std::vector<report_count>& current,
              const std::vector<report_count>& previous, bool by_key = false) {
    std::vector<std::string> keys;
    std::map<std::string, std::pair<std::int64_t, std::int64_t>> values;
    for (auto& c : current) {
      keys.push_back(c.key);
      values[c.key].first = c.count;
    }
    for (auto& c : previous) {
      if (!values.contains(c.key)) keys.push_back(c.key);
      values[c.key].second = c.count;
    }
    if (by_key) std::sort(keys.begin(), keys.end());
    for (auto& k : keys) figure(section, k, values[k].first, values[k].second);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace

std::string csv_cell(std::string_view text) {
  std::string cell;
  if (!text.empty() && std::string_view{"=+-@\t\r"}.find(text.front()) != std::string_view::npos) cell = "'";
  cell += text;
  if (cell.find_first_of(",\"\r\n") == std::string::npos) return cell;
  std::string quoted = "\"";
  for (char ch : cell) {
    if (ch == '"') quoted += '"';
    quoted += ch;
  }
  return quoted + '"';
}

json::object report_json(const report_range& range, const report_figures& current, const report_figures& previous) {
  return {{"period", period_json(range.current)},
          {"previous_period", period_json(range.previous)},
          {"current", figures_json(current)},
          {"previous", figures_json(previous)}};
}

std::string report_csv(const report_figures& cur, const report_figures& prev) {
  csv_writer w;
  w.figure("requests", "received", cur.requests.received, prev.requests.received);
  w.figure("requests", "taken_on", cur.requests.taken_on, prev.requests.taken_on);
  w.figure("requests", "fulfilled", cur.requests.fulfilled, prev.requests.fulfilled);
  w.figure("requests", "no_match", cur.requests.no_match, prev.requests.no_match);
  w.figure("requests", "declined", cur.requests.declined, prev.requests.declined);
  w.figure("requests", "withdrawn", cur.requests.withdrawn, prev.requests.withdrawn);
  w.figure("cases", "reactive", cur.cases.reactive, prev.cases.reactive);
  w.figure("cases", "proactive", cur.cases.proactive, prev.cases.proactive);
  w.figure("coverage", "total", cur.coverage.total, prev.coverage.total);
  w.figure("coverage", "national", cur.coverage.national, prev.coverage.national);
  w.figure("coverage", "local", cur.coverage.local, prev.coverage.local);
  w.figure("coverage", "international", cur.coverage.international, prev.coverage.international);
  w.figure("coverage", "lived_experience_quoted", cur.coverage.lived_experience_quoted,
           prev.coverage.lived_experience_quoted);
  w.counts("coverage_by_scope", cur.coverage.by_scope, prev.coverage.by_scope);
  w.counts("coverage_by_medium", cur.coverage.by_medium, prev.coverage.by_medium);
  w.counts("coverage_by_topic", cur.coverage.by_topic, prev.coverage.by_topic);
  w.counts("coverage_by_region", cur.coverage.by_region, prev.coverage.by_region);
  w.counts("coverage_by_outlet", cur.coverage.by_outlet, prev.coverage.by_outlet);
  w.counts("coverage_by_tone", cur.coverage.by_tone, prev.coverage.by_tone);
  w.counts("coverage_by_month", cur.coverage.by_month, prev.coverage.by_month, true);
  w.figure("voices", "spokespeople", cur.voices.spokespeople, prev.voices.spokespeople);
  w.figure("voices", "first_time", cur.voices.first_time, prev.voices.first_time);
  w.figure("timings", "median_minutes_to_first_offer", cur.timings.median_minutes_to_first_offer,
           prev.timings.median_minutes_to_first_offer);
  w.figure("timings", "median_minutes_to_fulfilment", cur.timings.median_minutes_to_fulfilment,
           prev.timings.median_minutes_to_fulfilment);
  w.figure("partners", "offers", cur.partners.offers, prev.partners.offers);
  w.figure("partners", "accepted", cur.partners.accepted, prev.partners.accepted);
  w.figure("partners", "declined", cur.partners.declined, prev.partners.declined);
  w.figure("partners", "expired", cur.partners.expired, prev.partners.expired);
  w.figure("partners", "accept_rate", cur.partners.accept_rate, prev.partners.accept_rate);
  w.figure("partners", "median_minutes_to_response", cur.partners.median_minutes_to_response,
           prev.partners.median_minutes_to_response);
  // One row per partner of either period, by id (two organisations may share a name).
  std::vector<std::int64_t> ids;
  std::map<std::int64_t, std::pair<const store::partner_figures*, const store::partner_figures*>> partners;
  for (auto& p : cur.partners.by_partner) {
    ids.push_back(p.partner_id);
    partners[p.partner_id].first = &p;
  }
  for (auto& p : prev.partners.by_partner) {
    if (!partners.contains(p.partner_id)) ids.push_back(p.partner_id);
    partners[p.partner_id].second = &p;
  }
  for (auto id : ids) {
    auto [c, p] = partners[id];
    w.row("partner_accept_rate", (c ? c : p)->name, c ? number_cell(c->accept_rate) : std::string{},
          p ? number_cell(p->accept_rate) : std::string{});
  }
  w.figure("triage", "cases", cur.triage.cases, prev.triage.cases);
  w.figure("triage", "corrected_cases", cur.triage.corrected_cases, prev.triage.corrected_cases);
  w.figure("triage", "corrected_share", cur.triage.corrected_share, prev.triage.corrected_share);
  w.counts("triage_by_field", cur.triage.by_field, prev.triage.by_field);
  return w.take();
}

std::string report_csv_filename(const report_range& range) {
  return "mediadesk-report-" + format_iso_date(range.current.from) + "-" + format_iso_date(range.current.to) + ".csv";
}

}  // namespace md::server
