// Internal notes on a case: staff's own words, which may name people, so sealed by the key ring
// and bound to the note's own row. Must not hand a note's text to anyone but staff (and the
// journalist's own export), nor put it in a log, an error or the timeline.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/keyring.hpp"
#include "store/case_store.hpp"
#include "store/pg.hpp"

namespace md::store {

// What a note's text is bound to: "case_notes.text:<note id>" (the key rotation sweep too).
std::string case_note_binding(std::int64_t note_id);

struct case_note {
  std::int64_t id = 0;
  std::string at;        // ISO-8601 UTC
  labelled_user author;  // label opened
  std::optional<std::string> text;  // nullopt once purged
  bool purged = false;
};

// Adds a note (text sealed) with a `note_added` event {"note_id"} in the caller's transaction.
// nullopt for an unknown case; throws personal_data_purged once the case's personal data was
// purged (a note added then would outlive every purge). The case row is locked, so a purge
// running meanwhile either waits for the note and clears it, or is seen here.
std::optional<case_note> add_case_note(pg_connection& tx, const crypto::keyring& keys, std::string_view ref,
                                       std::int64_t author_user_id, std::string_view text);

// A case's notes, oldest first, opened. nullopt for an unknown case. Throws std::runtime_error
// (naming only the note's id) if a text does not open.
std::optional<std::vector<case_note>> list_case_notes(pg_connection& c, const crypto::keyring& keys,
                                                      std::string_view ref);
std::vector<case_note> list_case_notes(pg_connection& c, const crypto::keyring& keys, std::int64_t case_id);

}  // namespace md::store
