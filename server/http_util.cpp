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

namespace {

// Where a string of the document holds U+0000, as a dotted path of object keys (list items are
// named by their list), or nullopt. "$" for a key that holds one: the key is not repeated.
std::optional<std::string> nul_character_at(const boost::json::value& v, const std::string& path) {
  if (v.is_string()) {
    if (v.get_string().find('\0') != boost::json::string::npos) return path.empty() ? "$" : path;
  } else if (v.is_array()) {
    for (auto& item : v.get_array())
      if (auto at = nul_character_at(item, path)) return at;
  } else if (v.is_object()) {
    for (auto& [key, item] : v.get_object()) {
      if (key.find('\0') != boost::json::string_view::npos) return "$";
      auto at = nul_character_at(item, path.empty() ? std::string(key) : path + "." + std::string(key));
      if (at) return at;
    }
  }
  return std::nullopt;
}

}  // namespace

std::variant<boost::json::object, http_response> json_object_body(const http_request& request) {
  boost::json::error_code ec;
  auto value = boost::json::parse(request.body(), ec);
  if (ec) return field_error_response({"$", "request body is not valid JSON"});
  if (!value.is_object()) return field_error_response({"$", "request body must be a JSON object"});
  // No field of the API takes U+0000, and PostgreSQL cannot keep it: libpq ends a text
  // parameter at the first one (an outlet "a\u0000b" was stored as "a", silently) and jsonb
  // refuses it (a triage correction's timeline event failed with 500). Refused here, once, for
  // every handler, naming where it is.
  if (auto at = nul_character_at(value, ""))
    return field_error_response({*at, *at == "$" ? "a field name contains the character U+0000 (NUL)"
                                                 : *at + " must not contain the character U+0000 (NUL)"});
  return std::move(value.get_object());
}

boost::json::value optional_json(const std::optional<std::string>& v) {
  return v ? boost::json::value(*v) : boost::json::value(nullptr);
}

// A reverse proxy in front (loopback or a private network) reports the client in X-Forwarded-For;
// anyone else connecting could write any address there, so it is believed only from those peers.
namespace {

bool trusted_proxy(const asio::ip::address& a) {
  if (a.is_loopback()) return true;
  if (a.is_v4()) {
    auto b = a.to_v4().to_bytes();
    return b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) || (b[0] == 192 && b[1] == 168);
  }
  auto v6 = a.to_v6();
  if (v6.is_v4_mapped()) return trusted_proxy(asio::ip::make_address_v4(asio::ip::v4_mapped, v6));
  return (v6.to_bytes()[0] & 0xfe) == 0xfc;  // unique local fc00::/7
}

}  // namespace

// The rate limit's unit: the client's address, or its /64 for IPv6 (one client usually holds a whole /64).
std::string client_network(const asio::ip::address& peer, const http_request& request) {
  auto address = peer;
  if (trusted_proxy(address)) {
    // The last X-Forwarded-For entry is the one our proxy added; earlier ones are the client's word.
    std::string_view forwarded;
    auto [first, last] = request.equal_range("X-Forwarded-For");
    for (auto it = first; it != last; ++it) forwarded = it->value();
    auto entry = forwarded.substr(forwarded.rfind(',') == std::string_view::npos ? 0 : forwarded.rfind(',') + 1);
    while (!entry.empty() && entry.front() == ' ') entry.remove_prefix(1);
    while (!entry.empty() && entry.back() == ' ') entry.remove_suffix(1);
    boost::system::error_code ec;
    auto claimed = asio::ip::make_address(std::string{entry}, ec);
    if (!entry.empty() && !ec) address = claimed;
  }
  if (!address.is_v6()) return address.to_string();
  auto v6 = address.to_v6();
  if (v6.is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_string();
  auto bytes = v6.to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  return asio::ip::address_v6(bytes).to_string() + "/64";
}

}  // namespace md::server
