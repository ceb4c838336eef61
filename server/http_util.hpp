// Small helpers that every handler uses: JSON responses and errors in the contract's shape
// ({"error", "field"}), query parameters, cookies.
#pragma once
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <map>
#include <optional>
#include <string>
#include <variant>

#include "core/errors.hpp"
#include "server/net.hpp"

namespace md::server {

http_response json_response(http::status status, const boost::json::value& body);
http_response error_response(http::status status, std::string_view message);
http_response field_error_response(const field_error& e);  // 400 {"error", "field"}

// The body as a JSON object, or the 400 response to send ("$": not JSON / not an object; the
// field's dotted path, e.g. "outlet.name", when a string holds U+0000, which no field takes).
std::variant<boost::json::object, http_response> json_object_body(const http_request& request);

// nullptr for nullopt, else the string.
boost::json::value optional_json(const std::optional<std::string>& v);

// Query parameters of the request target, decoded. Repeated names keep the last value.
std::map<std::string, std::string> query_params(std::string_view target);
std::optional<std::string> cookie_value(const http_request& request, std::string_view name);

// Who a rate limit counts: the peer's address, or what a reverse proxy in front of us (loopback or
// a private network) put last in X-Forwarded-For; an IPv6 client by its /64 (one client usually
// holds a whole /64).
std::string client_network(const asio::ip::address& peer, const http_request& request);

}  // namespace md::server
