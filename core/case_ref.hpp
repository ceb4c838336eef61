// Case references "MD-YYYY-NNNNNN": a per-year counter, six digits (more when a year passes a
// million). Pure formatting and parsing; the counter itself lives in the store.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace md {

struct case_ref_parts {
  int year;
  long number;
};

std::string format_case_ref(int year, long number);
std::optional<case_ref_parts> parse_case_ref(std::string_view ref);

}  // namespace md
