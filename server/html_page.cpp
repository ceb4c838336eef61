// Server-rendered pages (see html_page.hpp).
#include "server/html_page.hpp"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "core/embedded_file.hpp"

std::span<const md::embedded_file> embedded_web_assets();

namespace md::server {
namespace json = boost::json;

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

namespace {

std::string_view trim_tag(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

bool truthy(const json::value& v) {
  if (v.is_bool()) return v.get_bool();
  if (v.is_string()) return !v.get_string().empty();
  if (v.is_array()) return !v.get_array().empty();
  if (v.is_int64()) return v.get_int64() != 0;
  return v.is_object();
}

const json::value* lookup(const std::vector<const json::value*>& stack, std::string_view name) {
  for (auto it = stack.rbegin(); it != stack.rend(); ++it) {
    if (!(*it)->is_object()) continue;
    if (auto* v = (*it)->get_object().if_contains(name)) return v;
  }
  return nullptr;
}

// A small Mustache subset: {{name}} (always escaped: there is deliberately no raw form),
// {{#name}}…{{/name}} (once, or once per list item) and {{^name}}…{{/name}}. A malformed
// template is a bug in web/submit.html, so it throws (500) rather than rendering half a page.
void render_span(std::string_view t, std::vector<const json::value*>& stack, std::string& out) {
  while (!t.empty()) {
    auto open = t.find("{{");
    if (open == std::string_view::npos) {
      out += t;
      return;
    }
    out += t.substr(0, open);
    auto close = t.find("}}", open + 2);
    if (close == std::string_view::npos) throw std::logic_error("page template: unclosed tag");
    auto tag = trim_tag(t.substr(open + 2, close - open - 2));
    t.remove_prefix(close + 2);
    if (tag.empty() || tag.front() == '/') throw std::logic_error("page template: unexpected tag");
    if (tag.front() != '#' && tag.front() != '^') {
      if (auto* v = lookup(stack, tag)) {
        if (v->is_string())
          out += html_escape(v->get_string());
        else if (v->is_int64())
          out += std::to_string(v->get_int64());
      }
      continue;
    }
    auto name = trim_tag(tag.substr(1));
    std::size_t depth = 1, pos = 0, inner_end = 0, after = 0;
    while (depth > 0) {
      auto next = t.find("{{", pos);
      auto next_close = next == std::string_view::npos ? next : t.find("}}", next + 2);
      if (next_close == std::string_view::npos) throw std::logic_error("page template: unclosed section");
      auto inner = trim_tag(t.substr(next + 2, next_close - next - 2));
      if (!inner.empty() && trim_tag(inner.substr(1)) == name) {
        if (inner.front() == '#' || inner.front() == '^') ++depth;
        if (inner.front() == '/' && --depth == 0) {
          inner_end = next;
          after = next_close + 2;
        }
      }
      pos = next_close + 2;
    }
    auto body = t.substr(0, inner_end);
    t.remove_prefix(after);
    auto* v = lookup(stack, name);
    bool shown = v && truthy(*v);
    if (tag.front() == '^') {
      if (!shown) render_span(body, stack, out);
    } else if (shown && v->is_array()) {
      for (auto& item : v->get_array()) {
        stack.push_back(&item);
        render_span(body, stack, out);
        stack.pop_back();
      }
    } else if (shown) {
      stack.push_back(v);
      render_span(body, stack, out);
      stack.pop_back();
    }
  }
}

// The template from http.web_root in development, else the copy built into the binary.
std::string load_template(const app_context& app, std::string_view name) {
  if (!app.config.http.web_root.empty()) {
    std::ifstream in(app.config.http.web_root + "/" + std::string{name}, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    if (in) return buffer.str();
  }
  for (auto& f : embedded_web_assets())
    if (f.name == name) return std::string{f.content};
  throw std::runtime_error(fmt::format("web asset {} is missing", name));
}

}  // namespace

http_response html_page(const app_context& app, std::string_view template_name, http::status status,
                        json::object context) {
  json::value root(std::move(context));
  std::vector<const json::value*> stack{&root};
  std::string html;
  render_span(load_template(app, template_name), stack, html);
  http_response r{status, 11};
  r.set(http::field::content_type, "text/html; charset=utf-8");
  r.set("Content-Security-Policy", content_security_policy);
  r.set(http::field::cache_control, "no-store");
  r.body() = std::move(html);
  return r;
}


}  // namespace md::server
