// Triage: from a request to the fields the desk sorts by (topics, regions, outlet, medium,
// deadline, priority). Pure functions, no I/O. The foundation sets priority from the deadline;
// the triage issue adds extraction from free text against the taxonomy in config/.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "core/case_status.hpp"
#include "core/request.hpp"

namespace md::routing {

struct triage_result {
  std::vector<std::string> topics;   // taxonomy ids, best first
  std::vector<std::string> regions;  // most specific first, then its nation / English region
  std::string outlet_name;           // empty when unknown
  std::string outlet_scope;          // national | local | international | empty
  std::string medium;                // tv | radio | print | online | podcast | empty
  std::optional<time_point> deadline;
  priority priority_level = priority::normal;
};

// Priority from time left before the response deadline: under 3 h urgent, under 24 h high.
priority priority_for_deadline(std::optional<time_point> deadline, time_point now);

triage_result triage_request(const journalist_request& request, time_point now);

}  // namespace md::routing
