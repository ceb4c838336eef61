// Cases, intakes and the timeline in PostgreSQL. One write path: every change to a case goes
// through a function here that also appends its timeline event in the same transaction.
// Personal fields go in sealed; what comes out of the read functions is non-personal.
#pragma once
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/case_status.hpp"
#include "core/request.hpp"
#include "crypto/keyring.hpp"
#include "intake/intake_record.hpp"
#include "routing/triage.hpp"
#include "store/pg.hpp"

namespace md::store {

struct case_summary {
  std::string ref;
  std::string status, source;
  std::vector<std::string> topics, regions;
  std::optional<std::string> medium, outlet_name, outlet_scope;
  std::optional<std::string> deadline;  // ISO-8601 UTC
  priority priority_level = priority::normal;
  std::string created_at, updated_at;
};

struct timeline_event {
  std::string at, actor, kind;
  std::string data_json;  // a JSON object, non-personal
};

struct case_detail {
  case_summary summary;
  std::optional<std::string> intake_id;
  std::vector<timeline_event> timeline;
};

struct case_filter {
  std::optional<case_status> status;
  int limit = 50;
  std::optional<std::string> before_ref;  // keyset paging: cases older than this one
};

struct case_page {
  std::vector<case_summary> cases;
  std::int64_t total = 0;  // all cases matching the status filter
};

// What the worker stores for one intake that became a case.
struct new_case {
  std::string intake_id;
  intake::intake_source source;
  std::int64_t received_unix_ms = 0;
  std::int64_t deliveries = 1;
  std::string sealed_document_plaintext;  // the request as received (JSON text): sealed here
  std::string journalist_email;           // for the blind index only
  routing::triage_result triage;
};

// Stores a batch in the caller's transaction. Idempotent on intake id: an intake already
// stored is skipped. Returns, per input, the new case's ref or nullopt if it was already stored.
std::vector<std::optional<std::string>> store_new_cases(pg_connection& tx, const crypto::keyring& keys,
                                                        std::span<const new_case> batch);

struct failed_intake {
  std::string intake_id;  // may be empty for a malformed stream entry
  std::string source;     // "webhook" | "email" | "form" | "unknown"
  std::int64_t received_unix_ms = 0;
  std::int64_t deliveries = 1;
  std::string reason;     // a fixed description, never input text
};
// Records a dead-lettered intake as failed (unless it was processed meanwhile).
void store_failed_intake(pg_connection& c, const failed_intake& f);

case_page list_cases(pg_connection& c, const case_filter& filter);
std::optional<case_detail> find_case(pg_connection& c, std::string_view ref);

struct intake_state {
  std::string status;  // processed | failed
  std::optional<std::string> case_ref, error;
};
std::optional<intake_state> find_intake(pg_connection& c, std::string_view intake_id);

// A deliberate reveal: opens the sealed request of a case and records who saw it and why on the
// case's timeline, in the caller's transaction. nullopt for an unknown case.
std::optional<std::string> reveal_case_request(pg_connection& tx, const crypto::keyring& keys, std::string_view ref,
                                               std::string_view actor, std::string_view reason);

std::string case_request_binding(std::string_view ref);
std::string journalist_email_index(const crypto::keyring& keys, std::string_view email);

}  // namespace md::store
