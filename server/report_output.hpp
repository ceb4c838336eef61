// The evaluation report as the API answers it: the JSON body of GET /api/v1/reports and the CSV
// of GET /api/v1/reports.csv (header "section,key,current,previous", one row per figure). Pure:
// figures in, text out; the figures hold no personal data (store/report_store.hpp).
#pragma once
#include <boost/json/object.hpp>
#include <string>
#include <string_view>

#include "server/report_input.hpp"
#include "store/report_store.hpp"

namespace md::server {

boost::json::object report_json(const report_range& range, const store::report_figures& current,
                                const store::report_figures& previous);

// RFC 4180 (CRLF line ends, quoted where needed). A key present in one period only shows 0 in
// the other (an empty cell for a partner's accept rate: no offers, no rate); null is empty.
std::string report_csv(const store::report_figures& current, const store::report_figures& previous);

// One CSV cell: quoted if it holds a comma, quote, CR or LF; a text starting with = + - @ tab or
// CR gets a leading ' so that a spreadsheet shows it instead of running it as a formula.
std::string csv_cell(std::string_view text);

// "mediadesk-report-2026-01-01-2026-03-31.csv"
std::string report_csv_filename(const report_range& range);

}  // namespace md::server
