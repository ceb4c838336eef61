// Case reference formatting (see case_ref.hpp).
#include "core/case_ref.hpp"

#include <fmt/format.h>

#include <charconv>

namespace md {

std::string format_case_ref(int year, long number) { return fmt::format("MD-{:04}-{:06}", year, number); }

std::optional<case_ref_parts> parse_case_ref(std::string_view ref) {
  if (ref.size() < 14 || ref.size() > 20 || ref.substr(0, 3) != "MD-" || ref[7] != '-') return std::nullopt;
  case_ref_parts parts{};
  auto year_text = ref.substr(3, 4), number_text = ref.substr(8);
  auto [p1, e1] = std::from_chars(year_text.data(), year_text.data() + year_text.size(), parts.year);
  auto [p2, e2] = std::from_chars(number_text.data(), number_text.data() + number_text.size(), parts.number);
  if (e1 != std::errc{} || p1 != year_text.data() + year_text.size()) return std::nullopt;
  if (e2 != std::errc{} || p2 != number_text.data() + number_text.size() || parts.number < 1) return std::nullopt;
  return parts;
}

}  // namespace md
