// Triage JSON (see triage_json.hpp).
#include "routing/triage_json.hpp"

namespace md::routing {
namespace json = boost::json;
namespace {

json::value optional_text(const std::string& s) { return s.empty() ? json::value(nullptr) : json::value(s); }

json::array strings(const std::vector<std::string>& items) {
  json::array a;
  for (auto& i : items) a.emplace_back(i);
  return a;
}

}  // namespace

json::object needs_json(const voice_needs& needs) {
  return {{"lived_experience", needs.lived_experience},
          {"appearance", optional_text(needs.appearance)},
          {"identification", optional_text(needs.identification)},
          {"languages", strings(needs.languages)}};
}

std::optional<voice_needs> needs_from_json(const json::value& value) {
  auto* o = value.if_object();
  if (!o) return std::nullopt;
  voice_needs needs;
  for (auto& [key, v] : *o) {
    if (key == "lived_experience") {
      if (!v.is_bool()) return std::nullopt;
      needs.lived_experience = v.get_bool();
    } else if (key == "appearance" || key == "identification") {
      auto& target = key == "appearance" ? needs.appearance : needs.identification;
      if (v.is_null()) continue;
      if (!v.is_string()) return std::nullopt;
      target = std::string(v.get_string());
      bool allowed = key == "appearance" ? (target == "on_camera" || target == "voice_only")
                                         : (target == "named" || target == "anonymous");
      if (!allowed) return std::nullopt;
    } else if (key == "languages") {
      auto* a = v.if_array();
      if (!a || a->size() > 20) return std::nullopt;
      for (auto& l : *a) {
        if (!l.is_string() || l.get_string().empty() || l.get_string().size() > 16) return std::nullopt;
        needs.languages.emplace_back(l.get_string());
      }
    } else {
      return std::nullopt;
    }
  }
  return needs;
}

json::value outlet_json(const std::string& name, const std::string& scope) {
  if (name.empty()) return nullptr;
  return json::object{{"name", name}, {"scope", optional_text(scope)}};
}

json::array explain_json(const std::vector<std::string>& explain) { return strings(explain); }

json::object triage_json(const triage_result& result) {
  return {{"topics", strings(result.topics)},
          {"regions", strings(result.regions)},
          {"medium", optional_text(result.medium)},
          {"outlet", outlet_json(result.outlet_name, result.outlet_scope)},
          {"deadline", result.deadline ? json::value(format_iso8601(*result.deadline)) : json::value(nullptr)},
          {"needs", needs_json(result.needs)},
          {"priority", result.priority_score},
          {"explain", strings(result.explain)}};
}

}  // namespace md::routing
