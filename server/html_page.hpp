// Server-rendered pages (the public form, the partner's respond page): a small Mustache subset
// over web/*.html templates, every value HTML-escaped (there is deliberately no raw form), with
// the same strict Content-Security-Policy as the dashboard (no inline script or style).
#pragma once
#include <boost/json/object.hpp>
#include <string>
#include <string_view>

#include "server/app.hpp"
#include "server/net.hpp"

namespace md::server {

inline constexpr std::string_view content_security_policy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

std::string html_escape(std::string_view text);

// Renders web/<template_name> ({{name}}, {{#name}}…{{/name}} once or per list item,
// {{^name}}…{{/name}}) with the context; no-store, text/html, the CSP above. The template comes
// from http.web_root in development, else from the binary.
http_response html_page(const app_context& app, std::string_view template_name, http::status status,
                        boost::json::object context);

}  // namespace md::server
