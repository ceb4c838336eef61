// `mediadesk match [--now T] [--partners F --spokespeople F] < request`: triages one request
// (as `mediadesk triage` does) and prints its matches as one JSON line. With both CSV files it
// needs no database and no master key. Never writes a real name, email or phone anywhere.
#pragma once
#include <iosfwd>
#include <string>
#include <vector>

#include "config/settings.hpp"
#include "routing/matching.hpp"
#include "routing/triage.hpp"

namespace md::server {

struct match_command_flags {
  std::string now;                             // ISO-8601; empty: the message's Date, else the clock
  std::string partners_file, spokespeople_file;  // both or neither
};

// Exit status: 0 printed; 64 a bad flag (--now, one file without the other); 65 bad input (a
// request over 25 MiB, a CSV file with problems: each on err as FILE:LINE:COLUMN: column:
// problem). Without the files the registry comes from PostgreSQL (unavailable_error thrown).
int run_match(const settings& config, const match_command_flags& flags, std::istream& in, std::ostream& out,
              std::ostream& err);

// What matching asks for, from triage's fields.
routing::match_request match_request_from(const routing::triage_result& triage);

// {"matches":[{"partner":{"key","name"},"spokesperson":{"key","alias"}|null,"score":0.723,"reasons":[...]}]}
// best first; the score rounded to 3 decimals. Only keys, names of partners, aliases and reasons.
std::string matches_json(const routing::match_registry& registry, const std::vector<routing::match>& matches);

}  // namespace md::server
