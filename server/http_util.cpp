// Handler helpers (see http_util.hpp).
#include "server/http_util.hpp"

#include <boost/json/parse.hpp>

#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>

namespace md::server {

http_response json_response(http::status status, const boost::json::value& body) {
  http_response r{status, 11};
  r.set(http::field::content_type, "application/json");
  r.body() = boost::json::serialize(body);
  return r;
}

http_response error_response(http::status status, std::string_view message) {
  return json_response(status, boost::json::object{{"error", message}});
}

http_response field_error_response(const field_error& e) {
  return json_response(http::status::bad_request, boost::json::object{{"error", e.message}, {"field", e.field}});
}

std::map<std::string, std::string> query_params(std::string_view target) {
  std::map<std::string, std::string> out;
  auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed) return out;
  for (auto p : parsed->params()) out[p.key] = p.value;
  return out;
}

std::optional<std::string> cookie_value(const http_request& request, std::string_view name) {
  auto [first, last] = request.equal_range(http::field::cookie);
  for (auto it = first; it != last; ++it) {
    std::string_view header = it->value();
    while (!header.empty()) {
      auto semi = header.find(';');
      auto pair = header.substr(0, semi);
      header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
      while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
      auto eq = pair.find('=');
      if (eq != std::string_view::npos && pair.substr(0, eq) == name) return std::string{pair.substr(eq + 1)};
    }
  }
  return std::nullopt;
}

std::variant<boost::json::object, http_response> json_object_body(const http_request& request) {
  boost::json::error_code ec;
  auto value = boost::json::parse(request.body(), ec);
  if (ec) return field_error_response({"$", "request body is not valid JSON"});
  if (!value.is_object()) return field_error_response({"$", "request body must be a JSON object"});
  return std::move(value.get_object());
}

boost::json::value optional_json(const std::optional<std::string>& v) {
  return v ? boost::json::value(*v) : boost::json::value(nullptr);
}

}  // namespace md::server
