// Parsing the registry's CSV files (issue 5: `mediadesk import partners|spokespeople FILE.csv`,
// and `mediadesk match --partners F --spokespeople F` reads the same files without a database)
// into complete, validated in-memory rows. Pure: no I/O, no database, no clock.
//
// The contract (stable: other tools write these files):
//   partners.csv      key,name,contact_name,contact_email,regions,topics
//   spokespeople.csv  key,partner_key,alias,full_name,email,phone,regions,topics,languages,media,
//                     identification,consent_granted,consent_expires,consent_withdrawn,max_per_month
// A header row naming exactly these columns, in any order; UTF-8 (a BOM is fine), CRLF or LF.
// (The other registry file given by mistake is said in one error, not one per column.)
// Lists are separated by ';' (spaces around items and empty items ignored, repeats dropped,
// ids lower-cased); dates are YYYY-MM-DD; an empty field means none; spaces around any value
// are dropped, quoted or not. Re-importing a file updates
// rows by key (that is the importer's job; this only parses).
//
// All or nothing: a result has either every row and no errors, or no rows and every error
// (up to import_limits::max_errors, then one final "too many errors" entry; reading stops there).
// Each error names the physical line its record starts on and the column: its 1-based position
// in the file and its name (column 0 / empty name when it concerns the whole row, line 0 the
// whole file). Messages never repeat the value of a personal column (contact_name,
// contact_email, full_name, email, phone), nor of name or alias; they name a bad key, id, date
// or number because that helps and is not personal.
//
// What is checked, per column:
//   key             required; 1-64 of A-Z a-z 0-9 _ . - ; unique in the file (the second use is
//                   the error, naming the first line). Keys are case-sensitive.
//   partner_key     empty = the desk's own spokesperson; else a key, and one of known_partner_keys
//                   when those are given (importing both files, or `match`).
//   name, alias     required; contact_name, full_name optional. At most 200 bytes (alias 100),
//                   no line breaks or control characters (they end up in email subjects).
//   contact_email   required (offers go to partners by email); email optional. One '@', a
//                   local part, a domain of dot-separated labels with at least one dot, printable
//                   ASCII without spaces or any of <>()[],;:\" , at most 254 bytes; lower-cased.
//   phone           optional; digits, spaces, + - ( ) only, '+' only first, 7-20 digits.
//                   Stored as '+' and the digits when it starts with '+' (a "(0)" trunk prefix
//                   dropped: "+44 (0)7700 900123" -> "+447700900123"), else as the digits alone
//                   ("07700 900123" -> "07700900123"): no guessing of country codes.
//   regions, topics, languages   ids known to the taxonomy (regions at any level, "uk" too).
//   media           each of tv, radio, print, online, podcast.
//   identification  named | first_name | anonymous: the most identifying level the consent
//                   allows (named covers first_name and anonymous; first_name covers anonymous).
//   consent_*       real calendar dates from 2000-01-01 to 2099-12-31. A consent is the date it
//                   was granted: consent_expires and consent_withdrawn need consent_granted;
//                   expires must be after granted, withdrawn not before it. A row with
//                   consent_granted must give identification and media: a consent that does not
//                   say what it covers could never be matched, and guessing would be unsafe.
//                   Dates in the future are fine (a consent that starts later); whether a consent
//                   is live today is for matching, which knows the date.
//   max_per_month   empty = the desk's default cap; else a whole number 0..100 (0 pauses the
//                   person: never put forward).
#pragma once
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "routing/csv.hpp"
#include "routing/taxonomy.hpp"

namespace md::routing {

inline constexpr std::string_view partner_columns[] = {"key", "name", "contact_name", "contact_email", "regions", "topics"};
inline constexpr std::string_view spokesperson_columns[] = {
    "key",    "partner_key", "alias",     "full_name", "email",          "phone",           "regions",           "topics",
    "languages", "media",    "identification", "consent_granted", "consent_expires", "consent_withdrawn", "max_per_month"};

inline constexpr std::string_view media_values[] = {"tv", "radio", "print", "online", "podcast"};
inline constexpr std::string_view identification_values[] = {"named", "first_name", "anonymous"};

struct import_error {
  std::size_t line = 0;     // physical line where the row starts; 0: the file as a whole
  std::size_t column = 0;   // 1-based position in the file; 0: the whole row
  std::string column_name;  // the contract's name for that column; empty with column 0
  std::string message;
  bool operator==(const import_error&) const = default;
};

template <typename T>
struct import_result {
  std::vector<T> rows;  // all of the file's rows, in file order, or none when there are errors
  std::vector<import_error> errors;
  bool ok() const { return errors.empty(); }
};

struct partner_import_row {
  std::string key, name, contact_name, contact_email;
  std::vector<std::string> regions, topics;  // taxonomy ids
  std::size_t line = 0;
  bool operator==(const partner_import_row&) const = default;
};

struct spokesperson_import_row {
  std::string key;
  std::string partner_key;  // empty: the desk's own
  std::string alias, full_name, email, phone;
  std::vector<std::string> regions, topics, languages, media;  // ids; media from media_values
  std::string identification;  // named | first_name | anonymous | empty (none given)
  std::optional<std::chrono::sys_days> consent_granted, consent_expires, consent_withdrawn;
  std::optional<int> max_per_month;  // empty: the desk's default
  std::size_t line = 0;
  bool operator==(const spokesperson_import_row&) const = default;
};

struct import_limits {
  csv::limits csv;
  std::size_t max_errors = 100;
};

using key_set = std::set<std::string, std::less<>>;

import_result<partner_import_row> parse_partners_csv(std::string_view text, const taxonomy& taxonomy,
                                                     const import_limits& limits = {});

// known_partner_keys: when given, a non-empty partner_key must be one of them.
import_result<spokesperson_import_row> parse_spokespeople_csv(std::string_view text, const taxonomy& taxonomy,
                                                              const key_set* known_partner_keys = nullptr,
                                                              const import_limits& limits = {});

// The keys of parsed partners, for cross-checking a spokespeople file against them.
key_set keys_of(const std::vector<partner_import_row>& partners);

// One field checked exactly as the import checks its column, for the staff API (JSON bodies):
// the same value rules and the same messages, so a value is judged alike however it arrives.
// The value is trimmed; an empty one is returned as "" without a problem (whether a field may
// be empty or cleared is the caller's rule). problem never contains a personal value.
struct registry_field_check {
  std::string value;  // normalised: email lower-cased, phone as described above, ids lower-cased
  std::optional<std::string> problem;
};
// field: key, partner_key, name, alias, contact_name, full_name, contact_email, email, phone,
// identification, or story_notes (free text up to 4000 bytes; line breaks and tabs allowed, no
// other control characters). Another name is a programming error: std::invalid_argument.
registry_field_check check_registry_field(std::string_view field, std::string_view value, const taxonomy& taxonomy);
// field: regions, topics, languages or media. Items are trimmed, lower-cased, deduplicated and
// empty ones skipped; the result is the ids, or the first problem (naming the unknown id).
// Another name is std::invalid_argument.
std::variant<std::vector<std::string>, std::string> check_registry_list(std::string_view field,
                                                                        const std::vector<std::string>& items,
                                                                        const taxonomy& taxonomy);

}  // namespace md::routing
