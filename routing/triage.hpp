// Triage: from a request's words to the fields the desk sorts and matches by (topics, regions,
// outlet, medium, voice needed, response deadline, priority and the desk's target time), each
// explained. Pure functions over the taxonomy; no I/O. The CLI, the worker and re-triage share it.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/case_status.hpp"
#include "core/time.hpp"
#include "routing/taxonomy.hpp"

namespace md::routing {

// What kind of voice the journalist needs.
struct voice_needs {
  bool lived_experience = false;
  std::string appearance;      // on_camera | voice_only | empty (not said)
  std::string identification;  // named | anonymous | empty (not said)
  std::vector<std::string> languages;  // language ids
  bool operator==(const voice_needs&) const = default;
};

struct triage_input {
  std::string_view subject;
  std::string_view new_text;   // what the sender wrote now: no quoted history, no signature
  std::string_view signature;  // read for the outlet only
  std::string_view sender_address;  // read for the outlet's email domain
  std::string_view stated_outlet;   // an outlet field (webhook, form); empty if none
  std::optional<time_point> stated_deadline;  // a deadline field; wins over the text
};

struct triage_result {
  std::vector<std::string> topics;   // taxonomy ids, best first
  std::vector<std::string> regions;  // per place: its id, then its ancestors up to the region level
  std::string outlet_name;           // canonical name; the stated text if not in the taxonomy; empty when unknown
  std::string outlet_scope;          // national | local | international | empty
  std::string medium;                // tv | radio | print | online | podcast | empty
  voice_needs needs;
  std::optional<time_point> deadline;
  int priority_score = 0;            // 0..100
  priority priority_level = priority::normal;
  time_point target_at{};            // the desk's own target for a first offer
  std::vector<std::string> explain;  // why, one line per field; built from taxonomy terms and date words only
};

triage_result triage(const taxonomy& tax, const triage_input& input, time_point now);

// The queue level a score falls in.
priority priority_level_for(const priority_weights& weights, int score);

// Priority and target time for fields that are already known (after a staff correction).
struct priority_outcome {
  int score = 0;
  priority level = priority::normal;
  time_point target_at{};
  std::string explain;
};
priority_outcome prioritise(const taxonomy& tax, std::optional<time_point> deadline, std::string_view outlet_scope,
                            const std::vector<std::string>& topics, bool urgent_words, time_point now);

}  // namespace md::routing
