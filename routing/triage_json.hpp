// Triage results as JSON: the `mediadesk triage` contract, the needs object stored with a case,
// and reading needs back. Pure conversions; values are taxonomy ids and times, never free text.
#pragma once
#include <boost/json/object.hpp>
#include <optional>

#include "routing/triage.hpp"

namespace md::routing {

// {"topics", "regions", "medium", "outlet", "deadline", "needs", "priority", "explain"}
boost::json::object triage_json(const triage_result& result);

// {"lived_experience", "appearance", "identification", "languages"}; null for what was not said.
boost::json::object needs_json(const voice_needs& needs);
// nullopt names no field: the caller reports which field held it.
std::optional<voice_needs> needs_from_json(const boost::json::value& value);

boost::json::value outlet_json(const std::string& name, const std::string& scope);
boost::json::array explain_json(const std::vector<std::string>& explain);

}  // namespace md::routing
