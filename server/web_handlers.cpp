// The dashboard's static files: embedded in the binary at build time (web/), or read from
// http.web_root during development. Pages get a strict Content-Security-Policy (no inline script).
#include <fstream>
#include <sstream>

#include "core/embedded_file.hpp"
#include "server/app.hpp"
#include "server/html_page.hpp"
#include "server/http_util.hpp"

std::span<const md::embedded_file> embedded_web_assets();

namespace md::server {
namespace {

std::string_view content_type_for(std::string_view name) {
  auto ends = [&](std::string_view s) { return name.ends_with(s); };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js") || ends(".mjs")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  if (ends(".ico")) return "image/x-icon";
  if (ends(".json")) return "application/json";
  return "application/octet-stream";
}

std::optional<std::string> read_asset(const app_context& app, std::string_view name) {
  if (name.find("..") != std::string_view::npos || name.find('\\') != std::string_view::npos) return std::nullopt;
  if (!app.config.http.web_root.empty()) {
    std::ifstream in(app.config.http.web_root + "/" + std::string{name}, std::ios::binary);
    if (!in) return std::nullopt;
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
  }
  for (auto& f : embedded_web_assets())
    if (f.name == name) return std::string{f.content};
  return std::nullopt;
}

http_response asset_response(const app_context& app, std::string_view name) {
  auto content = read_asset(app, name);
  if (!content) return error_response(http::status::not_found, "not found");
  http_response r{http::status::ok, 11};
  r.set(http::field::content_type, content_type_for(name));
  r.set("Content-Security-Policy", content_security_policy);
  r.set(http::field::cache_control, name.ends_with(".html") ? "no-store" : "no-cache");
  // Behind TLS (secure cookies on), browsers are told to use HTTPS only from now on.
  if (app.config.session.secure_cookie) r.set(http::field::strict_transport_security, "max-age=31536000");
  r.body() = std::move(*content);
  return r;
}

}  // namespace

void add_web_routes(router& r, app_context& app) {
  r.add(http::verb::get, "/", [&app](request_context&) -> awaitable<http_response> {
    co_return asset_response(app, "index.html");
  });
  r.add(http::verb::get, "/static/*", [&app](request_context& ctx) -> awaitable<http_response> {
    co_return asset_response(app, ctx.path_param("*"));
  });
}

}  // namespace md::server
