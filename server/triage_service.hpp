// Triage as the roles use it: the current taxonomy (reloaded on SIGHUP), a request's text from
// whatever door it came in by (webhook JSON, email).
// The worker, `mediadesk triage` and re-triage all go through here, so they cannot disagree.
#pragma once
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/errors.hpp"
#include "core/request.hpp"
#include "mail/message.hpp"
#include "routing/triage.hpp"
#include "routing/triage_json.hpp"
#include "store/case_store.hpp"

namespace md::server {

// Loads the taxonomy from a folder (empty: the built-in copies); throws std::runtime_error
// naming the file and line of any problem.
std::shared_ptr<const routing::taxonomy> load_taxonomy(const std::string& folder);

class taxonomy_holder {
 public:
  explicit taxonomy_holder(std::string folder);  // loads now; throws like load_taxonomy
  std::shared_ptr<const routing::taxonomy> current() const;
  // Loads again and swaps; on a problem keeps the current taxonomy and returns the problem.
  std::optional<std::string> reload();

 private:
  std::string folder_;
  mutable std::mutex mutex_;
  std::shared_ptr<const routing::taxonomy> current_;
};

// A request's words as triage reads them: the body split into new text, quoted history and
// signature. Owns its strings; input() views them.
struct request_text {
  std::string subject, new_text, signature, sender, stated_outlet;
  std::optional<time_point> stated_deadline;
  routing::triage_input input() const;
};
request_text text_of(const journalist_request& request);
request_text text_of(const mail::parsed_message& message);

// A request as `mediadesk triage` reads it: an RFC 5322 message (with its Date header, the
// reference time when none is given) or plain text.
struct raw_request {
  request_text text;
  std::optional<time_point> date;
};
raw_request text_of_raw(std::string_view raw);

// The stored document of an intake (what was sealed), by source, as request text; nullopt when
// it cannot be read (then it is triaged as nothing).
std::optional<request_text> text_of_document(std::string_view source, std::string_view document);

// store::same_request_test: two stored documents ask the same thing (routing::same_request over
// subject and new text).
bool same_request_documents(std::string_view source_a, std::string_view document_a, std::string_view source_b,
                            std::string_view document_b);

// The triage fields staff may correct, by their API names.
inline constexpr std::string_view triage_field_names[] = {"topics", "regions", "medium", "outlet",
                                                          "deadline", "needs", "priority"};

// Applies a correction body ({"topics": [...], "medium": null, ...}) to fields, checking every
// value against the taxonomy first: on a problem nothing is applied. Returns the fields set.
std::variant<std::vector<std::string>, field_error> apply_triage_correction(const boost::json::object& body,
                                                                             const routing::taxonomy& taxonomy,
                                                                             routing::triage_result& fields);

// Per field that differs: its name and both values as JSON, for the timeline.
std::vector<store::triage_change> triage_changes(const routing::triage_result& before,
                                                 const routing::triage_result& after);

}  // namespace md::server
