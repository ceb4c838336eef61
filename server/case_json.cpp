// Case JSON (see case_json.hpp).
#include "server/case_json.hpp"

#include <boost/json/parse.hpp>

#include "core/case_status.hpp"
#include "server/http_util.hpp"

namespace md::server {
namespace json = boost::json;
namespace {

// A JSON column read back; an unreadable one shows as `fallback` rather than failing the page.
json::value parsed_or(std::string_view text, json::value fallback) {
  json::error_code ec;
  auto v = json::parse(text, ec);
  return ec ? fallback : v;
}

}  // namespace

json::object labelled_user_json(const store::labelled_user& u) { return {{"id", u.user_id}, {"label", u.label}}; }

json::object case_summary_json(const store::case_summary& s) {
  json::array topics(s.topics.begin(), s.topics.end());
  json::array regions(s.regions.begin(), s.regions.end());
  json::array corrected(s.corrected_fields.begin(), s.corrected_fields.end());
  return json::object{{"ref", s.ref},
                      {"status", s.status},
                      {"source", s.source},
                      {"proactive", s.source == "staff"},
                      {"topics", std::move(topics)},
                      {"regions", std::move(regions)},
                      {"medium", optional_json(s.medium)},
                      {"outlet", json::object{{"name", optional_json(s.outlet_name)},
                                              {"scope", optional_json(s.outlet_scope)}}},
                      {"deadline", optional_json(s.deadline)},
                      {"needs", parsed_or(s.needs_json, json::object{})},
                      {"priority", to_string(s.priority_level)},
                      {"priority_score", s.priority_score},
                      {"target_at", optional_json(s.target_at)},
                      {"escalation", s.escalation},
                      {"overdue", s.escalation == "overdue"},
                      {"corrected_fields", std::move(corrected)},
                      {"unparsed", s.unparsed},
                      {"received_at", s.received_at},
                      {"created_at", s.created_at},
                      {"assignee", s.assignee ? json::value(labelled_user_json(*s.assignee)) : json::value(nullptr)}};
}

json::object case_detail_json(const store::case_detail& d) {
  auto out = case_summary_json(d.summary);
  out["updated_at"] = d.summary.updated_at;
  out["intake_id"] = optional_json(d.intake_id);
  out["personal_data_purged_at"] = optional_json(d.personal_data_purged_at);
  out["triage_explain"] = parsed_or(d.triage_explain_json, json::array{});
  json::array timeline;
  for (auto& e : d.timeline)
    timeline.push_back(json::object{{"at", e.at}, {"actor", e.actor}, {"kind", e.kind},
                                    {"data", parsed_or(e.data_json, json::object{})}});
  out["timeline"] = std::move(timeline);
  json::array offers;
  for (auto& o : d.offers)
    offers.push_back(json::object{
        {"id", o.id},
        {"state", o.state},
        {"partner", json::object{{"id", o.partner_id}, {"name", o.partner_name}}},
        {"spokesperson", o.spokesperson_id ? json::value(json::object{{"id", *o.spokesperson_id},
                                                                      {"alias", o.spokesperson_alias.value_or("")}})
                                           : json::value(nullptr)},
        {"score", o.score ? json::value(*o.score) : json::value(nullptr)},
        {"created_by", o.created_by},
        {"created_at", o.created_at},
        {"expires_at", o.expires_at},
        {"responded_at", optional_json(o.responded_at)},
        {"closed_reason", optional_json(o.withdrawn_reason)},
        {"decline_reason_given", o.has_decline_reason}});
  out["offers"] = std::move(offers);
  out["waterfall"] = d.waterfall;
  // The moves staff may make from here (core/case_status's table), for the dashboard's menu.
  json::array next;
  if (auto from = parse_case_status(d.summary.status))
    for (auto to : all_case_statuses())
      if (transition_allowed(*from, to)) next.push_back(json::string(to_string(to)));
  out["next_statuses"] = std::move(next);
  return out;
}

}  // namespace md::server
