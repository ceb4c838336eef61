// The journalist's response deadline from free text (docs/TRIAGE.md "Response deadline"), in
// Europe/London rules. Pure, linear-time, never throws on input; its result holds only date/time words.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "core/time.hpp"

namespace md::routing {

struct deadline_finding {
  time_point at;
  std::string phrase;  // the date/time words matched and their cue, lowercased, e.g. "by 4pm tomorrow"
  std::string why;     // e.g. "cued by 'by'; 1 event time ignored ('6pm live')" (date/time words only)
};

// The response deadline in text (subject + new text), relative to now; nullopt when none is found.
std::optional<deadline_finding> find_deadline(std::string_view text, time_point now);

}  // namespace md::routing
