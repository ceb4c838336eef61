// The reports' date range: parsing, checks and the previous period (server/report_input.hpp).
#include "server/report_input.hpp"

#include "core/time.hpp"

namespace md::server {

using std::chrono::days;
using std::chrono::sys_days;
using std::chrono::year_month_day;

int days_in(const report_period& p) { return static_cast<int>((sys_days{p.to} - sys_days{p.from}).count()) + 1; }

std::variant<report_range, field_error> parse_report_range(const std::map<std::string, std::string>& params,
                                                           year_month_day today) {
  report_period current{today.year() / std::chrono::January / 1, today};
  for (auto [name, date] : {std::pair{"from", &current.from}, std::pair{"to", &current.to}}) {
    auto it = params.find(name);
    if (it == params.end() || it->second.empty()) continue;
    auto parsed = parse_iso_date(it->second);
    if (!parsed) return field_error{name, std::string{name} + " must be a date, YYYY-MM-DD"};
    *date = *parsed;
  }
  if (sys_days{current.to} < sys_days{current.from}) return field_error{"to", "to must not be before from"};
  auto length = days_in(current);
  if (length > max_report_days)
    return field_error{"to", "the range from..to may span at most " + std::to_string(max_report_days) + " days"};
  auto previous_to = sys_days{current.from} - days{1};
  return report_range{current, {year_month_day{previous_to - days{length - 1}}, year_month_day{previous_to}}};
}

}  // namespace md::server
