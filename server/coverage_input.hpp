// Issue 8's inputs, checked: a piece of coverage (POST /api/v1/cases/{ref}/coverage) and the
// aftercare list's state. Pure functions (no I/O); errors name the field and never echo the
// value given, which may be anything a client sent.
#pragma once
#include <chrono>
#include <string_view>
#include <variant>

#include <boost/json/object.hpp>

#include "core/errors.hpp"
#include "store/coverage_store.hpp"

namespace md::server {

// Every field of the contract (docs/API/openapi.yaml CoverageInput); an unknown field is an error
// too, so that a misspelt one is not silently dropped. appeared_on may be at most one day after
// `today` (London): a piece dated later is a typing slip.
std::variant<store::coverage_input, field_error> parse_coverage(const boost::json::object& body,
                                                                std::chrono::year_month_day today);

// GET /api/v1/aftercare?state=open|done|all; empty or absent: open.
std::variant<store::aftercare_state, field_error> parse_aftercare_state(std::string_view text);

}  // namespace md::server
