// The route table and a matched route's path parameters (see http_server.hpp). Apart from the
// listener so that it builds, and is fuzzed (tests/fuzz/fuzz_http_request.cpp), without sockets
// or coroutines.
#include "server/http_server.hpp"

namespace md::server {
namespace {

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  std::size_t start = 1;
  while (start <= path.size()) {
    auto slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    out.emplace_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

}  // namespace

std::string_view request_context::path_param(std::string_view name) const {
  for (auto& [k, v] : path_params)
    if (k == name) return v;
  return {};
}

std::optional<std::int64_t> request_context::id_param(std::string_view name) const {
  auto text = path_param(name);
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string_view::npos)
    return std::nullopt;
  return std::stoll(std::string{text});
}

void router::add(http::verb method, std::string pattern, route_handler handler) {
  auto segments = split_path(pattern);
  routes_.push_back(route{method, std::move(pattern), std::move(segments), std::move(handler)});
}

std::optional<router::match> router::find(http::verb method, std::string_view path) const {
  auto segments = split_path(path);
  std::optional<match> path_only;
  for (auto& r : routes_) {
    std::vector<std::pair<std::string, std::string>> params;
    bool ok = true;
    bool wildcard = !r.segments.empty() && r.segments.back() == "*";
    std::size_t fixed = wildcard ? r.segments.size() - 1 : r.segments.size();
    if (wildcard ? segments.size() < fixed : segments.size() != fixed) continue;
    for (std::size_t i = 0; i < fixed && ok; ++i) {
      auto& s = r.segments[i];
      if (s.size() > 2 && s.front() == '{' && s.back() == '}') {
        if (segments[i].empty()) ok = false;
        else params.emplace_back(s.substr(1, s.size() - 2), segments[i]);
      } else if (s != segments[i]) {
        ok = false;
      }
    }
    if (!ok) continue;
    if (wildcard) {
      std::string rest;
      for (std::size_t i = fixed; i < segments.size(); ++i) rest += (i > fixed ? "/" : "") + segments[i];
      params.emplace_back("*", rest);
    }
    if (r.method == method || (method == http::verb::head && r.method == http::verb::get))
      return match{&r.handler, r.pattern, std::move(params)};
    if (!path_only) path_only = match{nullptr, r.pattern, {}};
  }
  return path_only;
}

}  // namespace md::server
