// Coverage logged on a case, and aftercare check-ins with the spokespeople who took part. Each
// write goes through a function here that appends its timeline event in the same transaction.
// A piece's link and headline are sealed per row (coverage.details:<id>): a headline may name a
// spokesperson the desk shows only by alias.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/time.hpp"
#include "crypto/keyring.hpp"
#include "store/pg.hpp"

namespace md::store {

struct coverage_input {
  std::string outlet_name;
  std::string outlet_scope;  // national | local | international
  std::string medium;        // tv | radio | print | online | podcast
  std::chrono::year_month_day appeared_on{};
  std::optional<std::string> link, headline;
  bool lived_experience_quoted = false;
  std::optional<std::int64_t> spokesperson_id;
  bool first_time = false;  // only with a spokesperson
  std::string tone;         // positive | balanced | negative
};

struct spokesperson_alias {
  std::int64_t id = 0;
  std::string alias;
};

struct coverage_record {
  std::int64_t id = 0;
  std::string outlet_name, outlet_scope, medium, appeared_on;  // appeared_on: YYYY-MM-DD
  std::optional<std::string> link, headline;                   // nullopt also once purged
  bool lived_experience_quoted = false;
  std::optional<spokesperson_alias> spokesperson;
  bool first_time = false;
  std::string tone, recorded_by, created_at;
};

struct aftercare_task {
  std::int64_t id = 0;
  std::string case_ref;
  spokesperson_alias spokesperson;
  std::string reason;  // offer_accepted | coverage
  std::string due_at, created_at;
  std::optional<std::string> done_at;
  bool overdue = false;  // open and past due at the time of reading
};

// When a new aftercare task falls due, given when the engagement happened (config [aftercare]).
struct aftercare_policy {
  int due_working_days = 1;
  int due_hour = 17;
  time_point due_after(time_point engaged_at) const;
};

std::string coverage_details_binding(std::int64_t coverage_id);

// Creates the check-in task for a spokesperson's part in a case, with an `aftercare_created`
// event, unless the case already has one for them; in the caller's transaction. Returns the
// new task's id, or nullopt when it already existed.
std::optional<std::int64_t> create_aftercare_task(pg_connection& tx, std::int64_t case_id, std::int64_t spokesperson_id,
                                                  std::string_view reason, time_point due_at, std::string_view actor);

enum class coverage_outcome { added, unknown_case, purged, unknown_spokesperson };
struct added_coverage {
  coverage_outcome outcome = coverage_outcome::unknown_case;
  coverage_record coverage;
  std::optional<aftercare_task> aftercare;  // created by this coverage
};
// Logs a piece of coverage with a `coverage_logged` event and, when it names a spokesperson
// (not erased), their aftercare task; in the caller's transaction. A case whose personal data was
// purged takes no more coverage (purged): the details would outlive every purge.
added_coverage add_coverage(pg_connection& tx, const crypto::keyring& keys, std::string_view ref,
                            const coverage_input& input, std::string_view actor, const aftercare_policy& policy);

// Oldest first; nullopt for an unknown case.
std::optional<std::vector<coverage_record>> list_coverage(pg_connection& c, const crypto::keyring& keys,
                                                          std::string_view ref);

enum class aftercare_state { open, done, all };
struct aftercare_list {
  std::vector<aftercare_task> tasks;  // due first; at most 500
  std::int64_t open = 0, overdue = 0;
};
aftercare_list list_aftercare(pg_connection& c, aftercare_state state, time_point now);

// Marks a task done with an `aftercare_done` event (once: done again changes nothing); in the
// caller's transaction. nullopt for an unknown task.
std::optional<aftercare_task> complete_aftercare(pg_connection& tx, std::int64_t task_id, std::string_view actor,
                                                 time_point now);

}  // namespace md::store
