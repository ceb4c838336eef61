// Cases, intakes and the timeline in PostgreSQL. One write path: every change to a case goes
// through a function here that also appends its timeline event in the same transaction.
// Personal fields go in sealed; what comes out of the read functions is non-personal, but for
// the staff labels (staff's own emails) that the overloads given a key ring open.
#pragma once
#include <array>
#include <chrono>
#include <functional>
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

// A staff member named on a case (its assignee, a note's author). The label (their email, from
// store/user_store) is filled only by the read functions given a key ring; else it stays empty.
struct labelled_user {
  std::int64_t user_id = 0;
  std::string label;
};

struct case_summary {
  std::string ref;
  std::string status, source;
  std::vector<std::string> topics, regions;
  std::optional<std::string> medium, outlet_name, outlet_scope;
  std::optional<std::string> deadline;  // ISO-8601 UTC
  priority priority_level = priority::normal;
  int priority_score = 0;
  std::string needs_json = "{}";  // routing::voice_needs as JSON
  std::optional<std::string> target_at;  // ISO-8601 UTC
  std::string escalation = "none";        // none | half | four_fifths | overdue
  std::vector<std::string> corrected_fields;
  bool unparsed = false;  // an email that could not be parsed: read the raw message
  std::string created_at, updated_at, received_at;
  std::optional<labelled_user> assignee;
};

struct timeline_event {
  std::string at, actor, kind;
  std::string data_json;  // a JSON object, non-personal
};

// An offer as staff see it: who it went to (partner name, spokesperson alias) and its state.
struct offer_summary {
  std::int64_t id = 0, partner_id = 0;
  std::string partner_name;
  std::optional<std::int64_t> spokesperson_id;
  std::optional<std::string> spokesperson_alias;
  std::string state;  // sent | accepted | declined | expired | withdrawn
  std::string created_by, created_at, expires_at;
  std::optional<std::string> responded_at, withdrawn_reason;
  bool has_decline_reason = false;
  std::optional<double> score;
};

struct case_detail {
  case_summary summary;
  std::vector<offer_summary> offers;  // oldest first
  bool waterfall = false;             // offers go down the ranked list automatically
  std::optional<std::string> intake_id;
  std::optional<std::string> personal_data_purged_at;  // erased or past retention: the request is gone
  std::string triage_explain_json = "[]";
  std::vector<timeline_event> timeline;
};

// The case list's filters. Every one given must hold. topic and region are taxonomy ids (a case
// matches if its array holds the id); the caller validates them, and they only ever go to SQL
// as parameters.
struct case_filter {
  std::optional<case_status> status;
  bool open_only = false;  // new, triaged, offered, accepted (not with status)
  std::optional<std::string> topic, region, medium;
  bool unassigned = false;                  // assignee_user_id IS NULL
  std::optional<std::int64_t> assignee_id;  // assigned to this user
  enum class order { recent, urgency } sort = order::recent;
  int limit = 50;
  std::optional<std::string> before_ref;  // keyset paging (recent only): cases older than this one
};

// The eight statuses in lifecycle order, with their counts.
using status_counts = std::array<std::pair<case_status, std::int64_t>, 8>;

struct case_page {
  std::vector<case_summary> cases;
  std::int64_t total = 0;  // all cases matching every filter but before and limit
  // Per status under every filter but status and open: what the dashboard shows beside each
  // status for the current topic, region, medium and assignee.
  status_counts counts{};
};

// What the worker stores for one intake that became a case.
struct new_case {
  std::string intake_id;
  intake::intake_source source;
  std::int64_t received_unix_ms = 0;
  std::int64_t deliveries = 1;
  std::string sealed_document_plaintext;  // the request as received (JSON text or the raw email): sealed here
  std::string journalist_email;           // for the blind index only
  routing::triage_result triage;
  // Email threading: its own Message-ID, the ids it answers (In-Reply-To, References), and a
  // case tag in its subject ("[MD-2026-000123]"), which counts only from that case's journalist.
  std::string message_id;
  std::vector<std::string> replies_to;
  std::string subject_ref;
  bool unparsed = false;  // the raw message could not be parsed: staff read it as it came
};

// Whether two stored documents (source, plaintext) ask the same thing: the worker's judgement,
// given to the store so that duplicates are found in the same transaction as they are stored.
using same_request_test = std::function<bool(std::string_view source_a, std::string_view document_a,
                                             std::string_view source_b, std::string_view document_b)>;

struct stored_intake {
  enum class how { opened, duplicate, reply };
  std::string ref;           // the case the intake opened or joined
  how outcome = how::opened;  // duplicate: the same ask again; reply: an email in the case's thread
  bool joined() const { return outcome != how::opened; }
};

// How far back a journalist's earlier requests are compared for duplicates.
inline constexpr std::chrono::hours duplicate_window{24};

// Stores a batch in the caller's transaction. Idempotent on intake id: an intake already stored
// is skipped (nullopt). An email answering a message of a case (by Message-ID, or by the case's
// tag in the subject from that case's own journalist) joins that case as a reply; a request from
// the same journalist as one in the last 24 hours that `same_request` judges the same joins it
// as a duplicate (a case_messages row and a timeline event each) instead of opening another.
std::vector<std::optional<stored_intake>> store_new_cases(pg_connection& tx, const crypto::keyring& keys,
                                                          std::span<const new_case> batch,
                                                          const same_request_test& same_request);

// A case the desk opens itself (a story it pitches, counted as proactive): source 'staff', no
// intake, straight to triaged with the fields staff gave, the summary sealed as its request
// ({"summary": ...}) and a `case_opened` event; in the caller's transaction. Returns the ref.
std::string open_proactive_case(pg_connection& tx, const crypto::keyring& keys, std::string_view summary,
                                const routing::triage_result& fields, std::string_view actor);

// ---- triage corrections and re-triage ----

struct case_triage {
  std::int64_t case_id = 0;
  std::string source;
  time_point received_at{};
  routing::triage_result fields;  // explain left empty
  std::vector<std::string> corrected_fields;
};
// The case's triage fields, locked for update in the caller's transaction; nullopt if unknown.
std::optional<case_triage> lock_case_triage(pg_connection& tx, std::string_view ref);

// One field's change, for the timeline (values are non-personal JSON).
struct triage_change {
  std::string field;
  std::string from_json, to_json;
};
// Writes a case's triage fields and one event of `kind` per change (triage_corrected by staff,
// retriaged by the system), in the caller's transaction.
void save_case_triage(pg_connection& tx, const case_triage& updated, std::span<const triage_change> changes,
                      std::string_view actor, std::string_view kind, std::string_view explain_json);

// Thrown when a case's personal data is asked for after it was purged (erasure or retention).
class personal_data_purged : public std::runtime_error {
 public:
  personal_data_purged() : std::runtime_error("the personal data of this case was erased") {}
};

// The sealed request of a case, opened for processing by the system (re-triage); not a reveal
// to a person, so no event. Throws personal_data_purged once purged, runtime_error if it cannot
// be opened.
std::string open_case_request(pg_connection& c, const crypto::keyring& keys, std::string_view ref);

// Triage's real accuracy in use: how many cases had each field corrected by staff.
struct triage_accuracy {
  std::int64_t cases = 0;
  std::vector<std::pair<std::string, std::int64_t>> corrected_by_field;
};
triage_accuracy read_triage_accuracy(pg_connection& c);

// ---- deadline escalation ----

struct escalation {
  std::string ref, level;  // half | four_fifths | overdue
};
// Moves open cases without an offer to the escalation level their time has reached, with a
// timeline event each; safe with several workers (each row changes once per level).
std::vector<escalation> escalate_due_cases(pg_connection& tx, time_point now);

struct failed_intake {
  std::string intake_id;  // may be empty for a malformed stream entry
  std::string source;     // "webhook" | "email" | "form" | "unknown"
  std::int64_t received_unix_ms = 0;
  std::int64_t deliveries = 1;
  std::string reason;     // a fixed description, never input text
};
// Records a dead-lettered intake as failed (unless it was processed meanwhile).
void store_failed_intake(pg_connection& c, const failed_intake& f);

// Staff move a case along its lifecycle (core/case_status: which moves are allowed), with a
// `status_changed` event {from, to}, in the caller's transaction.
enum class status_change { changed, unchanged, not_allowed, unknown_case };
struct status_change_result {
  status_change outcome = status_change::unknown_case;
  std::string from;  // the status before
  std::int64_t case_id = 0;
};
status_change_result change_case_status(pg_connection& tx, std::string_view ref, case_status to, std::string_view actor);

// recent: newest first, keyset-paged by before_ref. urgency: priority (most urgent first), then
// deadline (soonest first, none last), then the oldest request; no paging.
case_page list_cases(pg_connection& c, const case_filter& filter);
// The same, with the assignees' labels opened (what staff see).
case_page list_cases(pg_connection& c, const crypto::keyring& keys, const case_filter& filter);
std::vector<offer_summary> list_case_offers(pg_connection& c, std::int64_t case_id);
std::optional<case_detail> find_case(pg_connection& c, std::string_view ref);
// The same, with the assignee's label opened (what staff see).
std::optional<case_detail> find_case(pg_connection& c, const crypto::keyring& keys, std::string_view ref);

// Assigns a case to a user (staff or admin, not disabled) or to nobody, with an `assigned`
// event {"from": id|null, "to": id|null}, in the caller's transaction. Assigning the current
// assignee again changes nothing and writes no event.
enum class assignment { changed, unchanged, unknown_case, user_not_assignable };
struct assignment_result {
  assignment outcome = assignment::unknown_case;
  std::optional<labelled_user> assignee;  // after the call, label opened (changed, unchanged)
};
assignment_result assign_case(pg_connection& tx, const crypto::keyring& keys, std::string_view ref,
                              std::optional<std::int64_t> user_id, std::string_view actor);

struct intake_state {
  std::string status;  // processed | failed
  std::optional<std::string> case_ref, error;
};
std::optional<intake_state> find_intake(pg_connection& c, std::string_view intake_id);

// A deliberate reveal: opens the sealed request of a case and records who saw it and why in the
// reveal audit (the reason sealed) and on the case's timeline (the audit entry's id), in the
// caller's transaction. nullopt for an unknown case; throws personal_data_purged once purged.
std::optional<std::string> reveal_case_request(pg_connection& tx, const crypto::keyring& keys, std::string_view ref,
                                               std::int64_t user_id, std::string_view reason);

std::string case_request_binding(std::string_view ref);
// Records a Message-ID the desk sent or received for a case, so that replies naming it thread.
void register_message_id(pg_connection& tx, const crypto::keyring& keys, std::int64_t case_id,
                         std::string_view message_id, std::string_view direction);
std::string message_id_index(const crypto::keyring& keys, std::string_view message_id);
// The automatic acknowledgement of a case was queued: its Message-ID (for threading) and an
// `acknowledgement_sent` event, in the caller's transaction.
void record_acknowledgement(pg_connection& tx, const crypto::keyring& keys, std::string_view ref,
                            std::string_view message_id);
std::string journalist_email_index(const crypto::keyring& keys, std::string_view email);

}  // namespace md::store
