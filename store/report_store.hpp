// The evaluation report's figures for one period (issue 8): requests, coverage, voices, timings,
// partner responsiveness, triage accuracy. Read only, aggregates in SQL; it reads plaintext,
// non-personal columns only (partner names are organisations, hence public) and opens no seal.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/pg.hpp"

namespace md::store {

// One row of a by_* list: a taxonomy id, outlet name, "YYYY-MM", ... and how many.
struct report_count {
  std::string key;
  std::int64_t count = 0;
  bool operator==(const report_count&) const = default;
};

struct partner_figures {
  std::int64_t partner_id = 0;
  std::string name;
  std::int64_t offers = 0, accepted = 0, declined = 0, expired = 0;
  std::optional<double> accept_rate, median_minutes_to_response;
};

struct report_figures {
  struct {
    std::int64_t received = 0, taken_on = 0, fulfilled = 0, no_match = 0, declined = 0, withdrawn = 0;
  } requests;
  struct {
    std::int64_t reactive = 0, proactive = 0;
  } cases;
  struct {
    std::int64_t total = 0, national = 0, local = 0, international = 0, lived_experience_quoted = 0;
    // Sorted by count descending, then key (by_month: by key ascending); by_outlet is the top 20.
    std::vector<report_count> by_scope, by_medium, by_topic, by_region, by_outlet, by_tone, by_month;
  } coverage;
  struct {
    std::int64_t spokespeople = 0, first_time = 0;
  } voices;
  struct {
    std::optional<double> median_minutes_to_first_offer, median_minutes_to_fulfilment;
  } timings;
  struct {
    std::int64_t offers = 0, accepted = 0, declined = 0, expired = 0;
    std::optional<double> accept_rate, median_minutes_to_response;
    std::vector<partner_figures> by_partner;  // by offers descending, then name; the top 50
  } partners;
  struct {
    std::int64_t cases = 0, corrected_cases = 0;
    std::optional<double> corrected_share;
    std::vector<report_count> by_field;
  } triage;
};

inline constexpr int report_top_outlets = 20;
inline constexpr int report_top_partners = 50;

// The figures for the London calendar days first..last (inclusive): instants in
// [London midnight starting `first`, London midnight ending `last`), coverage by its London
// date. Medians are in minutes, rounded to 0.1; rates are 0..1, rounded to 4 places; both are
// nullopt when nothing was there to measure. Runs in one read-only snapshot; docs/REPORTS.md
// gives each definition in the staff's words.
report_figures read_report(pg_connection& c, std::chrono::year_month_day first, std::chrono::year_month_day last);

}  // namespace md::store
