// Matching: who can be put in front of a journalist for one request. Pure: no I/O, no clock
// (now is given), no personal data (the registry given here holds keys, aliases and the
// non-personal terms of consents only).
//
// Hard rules (a candidate failing any is excluded, with the reason):
//   spokesperson  a live consent (granted <= now < expires, not withdrawn) that covers the
//                 request's medium (any medium when the request has none), its need for
//                 identification (named -> a named consent; anonymous -> any level; not said ->
//                 first_name or named), at least one of the request's topics (a consent with no
//                 topics covers the person's own topics), and no excluded outlet; the monthly cap
//                 not reached (0 pauses the person); not erased; their partner (if any) not
//                 away, not archived and under capacity.
//   partner       (a partner-level match: spokesperson null) covers one of the request's regions
//                 (or the request has none) and one of its topics; not away, archived or at
//                 capacity.
// Ranking (score 0..1, every match with its reasons): region (same place > same region >
// neighbouring region > national), topic fit, language, the partner's record (accept rate,
// response time), fairness (people used less recently first), and whether the partner usually
// answers in time for this deadline.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/time.hpp"
#include "routing/taxonomy.hpp"

namespace md::routing {

// What the request asks for (from triage, or the case's corrected triage fields).
struct match_request {
  std::vector<std::string> topics;     // taxonomy ids, best first
  std::vector<std::string> regions;    // place ids then their ancestors, as triage outputs them
  std::string medium;                  // tv | radio | print | online | podcast | empty
  std::string outlet_name;             // canonical outlet name | empty
  std::string identification;          // named | anonymous | empty (not said)
  std::vector<std::string> languages;  // language ids asked for
  std::optional<time_point> deadline;
};

struct match_consent {
  std::int64_t id = 0;  // 0 without a database
  std::vector<std::string> media;
  std::string identification;  // named | first_name | anonymous: the most identifying level allowed
  std::vector<std::string> topics;            // empty: every topic the person covers
  std::vector<std::string> excluded_outlets;  // canonical outlet names
  time_point granted_at{};
  std::optional<time_point> expires_at, withdrawn_at;
};

// The partner's record with the desk, for ranking.
struct partner_record_stats {
  std::int64_t offers_answered = 0, offers_accepted = 0;  // responses received, of them accepted
  std::optional<double> median_response_minutes;           // nullopt: no responses yet
};

struct match_partner {
  std::int64_t id = 0;  // the database id; 0 when read from CSV
  std::string key, name;
  std::vector<std::string> regions, topics, languages;
  std::optional<time_point> away_until;
  std::optional<std::int64_t> capacity;  // open offers at once; nullopt: no limit
  std::int64_t open_offers = 0;
  bool archived = false;
  partner_record_stats record;
};

struct match_spokesperson {
  std::int64_t id = 0;  // the database id; 0 when read from CSV
  std::string key, alias;
  std::optional<std::size_t> partner;  // index into match_registry::partners; nullopt: the desk's own
  std::vector<std::string> regions, topics, languages;
  std::optional<std::int64_t> max_per_month;  // nullopt: match_options::default_max_per_month
  std::int64_t engagements_this_month = 0;    // offers accepted for them this calendar month
  std::optional<time_point> last_engaged_at;  // their last accepted offer
  bool erased = false;
  std::vector<match_consent> consents;
};

struct match_registry {
  std::vector<match_partner> partners;
  std::vector<match_spokesperson> spokespeople;
};

struct match_options {
  std::int64_t default_max_per_month = 4;
  std::size_t limit = 20;          // matches returned, best first
  bool with_exclusions = false;    // also list who was excluded and why
  std::size_t exclusion_limit = 200;
};

struct match {
  std::size_t partner = 0;                 // index into the registry's partners
  std::optional<std::size_t> spokesperson;  // index into spokespeople; nullopt: a partner-level match
  std::optional<std::int64_t> consent_id;   // the consent that covers the request (spokespeople)
  double score = 0;                         // 0..1
  std::vector<std::string> reasons;         // why, one short phrase each; never personal data
};

struct exclusion {
  std::optional<std::size_t> partner;       // set for a partner-level exclusion
  std::optional<std::size_t> spokesperson;  // set for a spokesperson's exclusion
  std::vector<std::string> reasons;         // every hard rule failed, one phrase each
};

struct match_result {
  std::vector<match> matches;  // best first (ties: partner key, then spokesperson key)
  std::vector<exclusion> excluded;
};

// Built once per registry (an index by topic and region), then asked many times; immutable and
// safe to share between threads.
class matcher {
 public:
  matcher(std::shared_ptr<const taxonomy> taxonomy, match_registry registry);
  ~matcher();
  matcher(matcher&&) noexcept;
  matcher& operator=(matcher&&) noexcept;

  match_result find(const match_request& request, time_point now, const match_options& options = {}) const;
  const match_registry& registry() const;

 private:
  struct index;
  std::unique_ptr<index> index_;
};

// Send-time check for one person: the id of a live consent that covers the request, or the
// reason none does (the same rules and phrases as matching's exclusions).
std::variant<std::int64_t, std::string> covering_consent(const match_spokesperson& person, const match_request& request,
                                                         time_point now);

}  // namespace md::routing
