// Triage service (see triage_service.hpp).
#include "server/triage_service.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>

#include "config/taxonomy_files.hpp"
#include "intake/webhook.hpp"
#include "mail/reply_text.hpp"
#include "routing/similarity.hpp"

namespace md::server {

std::shared_ptr<const routing::taxonomy> load_taxonomy(const std::string& folder) {
  auto files = read_taxonomy_files(folder);
  auto views = as_embedded(files);
  return routing::taxonomy::parse(views);
}

taxonomy_holder::taxonomy_holder(std::string folder) : folder_(std::move(folder)), current_(load_taxonomy(folder_)) {}

std::shared_ptr<const routing::taxonomy> taxonomy_holder::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

std::optional<std::string> taxonomy_holder::reload() {
  try {
    auto loaded = load_taxonomy(folder_);
    std::lock_guard lock(mutex_);
    current_ = std::move(loaded);
    return std::nullopt;
  } catch (const std::exception& e) {
    return e.what();
  }
}

routing::triage_input request_text::input() const {
  return {subject, new_text, signature, sender, stated_outlet, stated_deadline};
}

request_text text_of(const journalist_request& request) {
  auto parts = mail::split_reply_text(request.body);
  return {request.subject, std::move(parts.new_text), std::move(parts.signature), request.journalist.email,
          request.outlet, request.deadline};
}

request_text text_of(const mail::parsed_message& message) {
  auto parts = mail::split_reply_text(message.text);
  return {message.subject, std::move(parts.new_text), std::move(parts.signature), message.from_address, {}, {}};
}

raw_request text_of_raw(std::string_view raw) {
  if (mail::looks_like_message(raw)) {
    auto message = mail::parse_message(raw);
    return {text_of(message), message.date};
  }
  journalist_request plain;
  plain.body = std::string(raw);
  return {text_of(plain), std::nullopt};
}

std::optional<request_text> text_of_document(std::string_view source, std::string_view document) {
  if (source == "email") return text_of(mail::parse_message(document));
  boost::system::error_code ec;
  auto value = boost::json::parse(document, ec);
  if (ec || !value.is_object()) return std::nullopt;
  auto request = intake::request_from_document(value.as_object());
  if (auto* r = std::get_if<journalist_request>(&request)) return text_of(*r);
  return std::nullopt;
}

bool same_request_documents(std::string_view source_a, std::string_view document_a, std::string_view source_b,
                            std::string_view document_b) {
  auto a = text_of_document(source_a, document_a), b = text_of_document(source_b, document_b);
  return a && b && routing::same_request(a->subject + "\n" + a->new_text, b->subject + "\n" + b->new_text);
}

namespace {

boost::json::value field_json(const routing::triage_result& r, std::string_view field) {
  auto strings = [](const std::vector<std::string>& items) {
    boost::json::array a;
    for (auto& i : items) a.emplace_back(i);
    return a;
  };
  if (field == "topics") return strings(r.topics);
  if (field == "regions") return strings(r.regions);
  if (field == "medium") return r.medium.empty() ? boost::json::value(nullptr) : boost::json::value(r.medium);
  if (field == "outlet") return routing::outlet_json(r.outlet_name, r.outlet_scope);
  if (field == "deadline") return r.deadline ? boost::json::value(format_iso8601(*r.deadline)) : boost::json::value(nullptr);
  if (field == "needs") return routing::needs_json(r.needs);
  return r.priority_score;
}

// A list of ids from the taxonomy: checked one by one, no repeats.
template <typename Known>
std::optional<std::vector<std::string>> known_ids(const boost::json::value& v, std::size_t max, Known&& known) {
  auto* a = v.if_array();
  if (!a || a->size() > max) return std::nullopt;
  std::vector<std::string> out;
  for (auto& item : *a) {
    if (!item.is_string() || !known(item.get_string())) return std::nullopt;
    std::string id(item.get_string());
    if (std::find(out.begin(), out.end(), id) != out.end()) return std::nullopt;
    out.push_back(std::move(id));
  }
  return out;
}

}  // namespace

std::variant<std::vector<std::string>, field_error> apply_triage_correction(const boost::json::object& body,
                                                                             const routing::taxonomy& taxonomy,
                                                                             routing::triage_result& fields) {
  if (body.empty()) return field_error{"$", "name at least one field to correct: topics, regions, medium, outlet, deadline, needs, priority"};
  auto corrected = fields;
  std::vector<std::string> set;
  for (auto& [key, value] : body) {
    std::string_view field = key;
    if (field == "topics") {
      auto ids = known_ids(value, 18, [&](std::string_view id) { return taxonomy.find_topic(id).has_value(); });
      if (!ids) return field_error{"topics", "topics must be a list of distinct topic ids from the taxonomy"};
      corrected.topics = std::move(*ids);
    } else if (field == "regions") {
      auto ids = known_ids(value, 30, [&](std::string_view id) { return taxonomy.find_region(id).has_value(); });
      if (!ids) return field_error{"regions", "regions must be a list of distinct region ids from the taxonomy"};
      corrected.regions = std::move(*ids);
    } else if (field == "medium") {
      static constexpr std::string_view media[] = {"tv", "radio", "print", "online", "podcast"};
      if (value.is_null()) {
        corrected.medium.clear();
      } else if (value.is_string() && std::find(std::begin(media), std::end(media), value.get_string()) != std::end(media)) {
        corrected.medium = std::string(value.get_string());
      } else {
        return field_error{"medium", "medium must be tv, radio, print, online, podcast or null"};
      }
    } else if (field == "outlet") {
      if (value.is_null()) {
        corrected.outlet_name.clear();
        corrected.outlet_scope.clear();
        set.emplace_back(field);
        continue;
      }
      auto* o = value.if_object();
      auto* name = o ? o->if_contains("name") : nullptr;
      auto* scope = o ? o->if_contains("scope") : nullptr;
      if (!name || !name->is_string() || name->get_string().empty() || name->get_string().size() > 200 ||
          o->size() > 2 || (o->size() == 2 && !scope))
        return field_error{"outlet", "outlet must be null or {\"name\": up to 200 characters, \"scope\": national, local or international}"};
      corrected.outlet_name = std::string(name->get_string());
      auto known = taxonomy.find_outlet(corrected.outlet_name);
      if (scope && !scope->is_null()) {
        if (!scope->is_string() || (scope->get_string() != "national" && scope->get_string() != "local" &&
                                    scope->get_string() != "international"))
          return field_error{"outlet.scope", "outlet.scope must be national, local or international"};
        corrected.outlet_scope = std::string(scope->get_string());
      } else {
        corrected.outlet_scope = known ? taxonomy.outlets[*known].scope : std::string{};
      }
    } else if (field == "deadline") {
      if (value.is_null()) {
        corrected.deadline.reset();
      } else {
        auto parsed = value.is_string() ? parse_iso8601(value.get_string()) : std::nullopt;
        if (!parsed) return field_error{"deadline", "deadline must be an ISO-8601 date-time or null"};
        corrected.deadline = parsed;
      }
    } else if (field == "needs") {
      auto needs = routing::needs_from_json(value);
      bool languages_known = needs && std::all_of(needs->languages.begin(), needs->languages.end(), [&](auto& id) {
        return std::any_of(taxonomy.languages.begin(), taxonomy.languages.end(), [&](auto& l) { return l.id == id; });
      });
      if (!needs || !languages_known)
        return field_error{"needs", "needs must be {\"lived_experience\": bool, \"appearance\": on_camera|voice_only|null, "
                                    "\"identification\": named|anonymous|null, \"languages\": [language ids]}"};
      corrected.needs = std::move(*needs);
    } else if (field == "priority") {
      // A score, or a level (what the dashboard's menu sends), which takes its lowest score.
      auto level = value.is_string() ? parse_priority(value.get_string()) : std::nullopt;
      if (level) {
        auto& w = taxonomy.priority;
        corrected.priority_score = *level == priority::urgent ? w.urgent_from
                                   : *level == priority::high ? w.high_from
                                   : *level == priority::normal ? w.normal_from
                                                                : 0;
      } else if (value.is_int64() && value.get_int64() >= 0 && value.get_int64() <= 100) {
        corrected.priority_score = static_cast<int>(value.get_int64());
      } else {
        return field_error{"priority", "priority must be urgent, high, normal, low or a score from 0 to 100"};
      }
      corrected.priority_level = routing::priority_level_for(taxonomy.priority, corrected.priority_score);
    } else {
      return field_error{std::string(field), "not a triage field: use topics, regions, medium, outlet, deadline, needs or priority"};
    }
    set.emplace_back(field);
  }
  fields = std::move(corrected);
  return set;
}

std::vector<store::triage_change> triage_changes(const routing::triage_result& before,
                                                 const routing::triage_result& after) {
  std::vector<store::triage_change> out;
  for (auto field : triage_field_names) {
    auto a = field_json(before, field), b = field_json(after, field);
    if (a != b) out.push_back({std::string(field), boost::json::serialize(a), boost::json::serialize(b)});
  }
  return out;
}

}  // namespace md::server
