// HTTP listener and connections (see http_server.hpp).
#include "server/http_server.hpp"

#include <spdlog/spdlog.h>


#include "core/errors.hpp"
#include "server/http_util.hpp"

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

// Headers every response carries; pages add their Content-Security-Policy themselves.
void add_standard_headers(http_response& r) {
  r.set(http::field::server, "mediadesk");
  r.set("X-Content-Type-Options", "nosniff");
  r.set("Referrer-Policy", "no-referrer");
  r.set("X-Frame-Options", "DENY");
  if (r.find(http::field::cache_control) == r.end()) r.set(http::field::cache_control, "no-store");
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

struct http_server::connection {
  explicit connection(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
  bool busy = false;             // a request is being handled: finish it before closing
  bool close_requested = false;  // shutdown: close after the current response
};

http_server::http_server(asio::io_context& io, const tcp::endpoint& endpoint, http_limits limits, const router& routes,
                         metrics_registry& metrics)
    : io_(io), acceptor_(io), limits_(limits), routes_(routes), metrics_(metrics) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(asio::socket_base::max_listen_connections);
}

http_server::~http_server() = default;

tcp::endpoint http_server::local_endpoint() const { return acceptor_.local_endpoint(); }

void http_server::start() {
  asio::co_spawn(acceptor_.get_executor(), accept_loop(), [](std::exception_ptr e) {
    if (e) try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("http accept loop ended: {}", ex.what());
      }
  });
}

void http_server::begin_shutdown() {
  shutting_down_ = true;
  asio::post(acceptor_.get_executor(), [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
  });
  std::lock_guard lock(connections_mutex_);
  for (auto& [id, weak] : connections_) {
    if (auto c = weak.lock()) {
      asio::post(c->stream.get_executor(), [c] {
        c->close_requested = true;
        if (!c->busy) {
          beast::error_code ignored;
          c->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
          c->stream.close();
        }
      });
    }
  }
}

awaitable<void> http_server::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(asio::make_strand(io_), use_nothrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || shutting_down_) co_return;
      // EMFILE and friends: back off briefly rather than spin.
      spdlog::warn("accept failed: {}", ec.message());
      asio::steady_timer pause(acceptor_.get_executor(), std::chrono::milliseconds(50));
      co_await pause.async_wait(use_nothrow);
      continue;
    }
    auto c = std::make_shared<connection>(std::move(socket));
    std::uint64_t id;
    {
      std::lock_guard lock(connections_mutex_);
      id = next_connection_id_++;
      connections_[id] = c;
    }
    ++open_connections_;
    auto executor = c->stream.get_executor();
    asio::co_spawn(executor, serve_connection(c), [this, id](std::exception_ptr e) {
      // Every connection coroutine ends here: an exception in one never stops the server.
      if (e) try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          spdlog::error("http connection ended by an error: {}", ex.what());
        }
      --open_connections_;
      std::lock_guard lock(connections_mutex_);
      connections_.erase(id);
    });
  }
}

awaitable<void> http_server::serve_connection(std::shared_ptr<connection> c) {
  auto& stream = c->stream;
  beast::flat_buffer buffer;
  if (open_connections_.load() > limits_.max_connections) {
    auto r = error_response(http::status::service_unavailable, "too many connections; retry later");
    r.set(http::field::retry_after, "1");
    r.keep_alive(false);
    add_standard_headers(r);
    r.prepare_payload();
    stream.expires_after(std::chrono::seconds(2));
    co_await http::async_write(stream, r, use_nothrow);
    co_return;
  }
  bool first = true;
  for (;;) {
    if (c->close_requested) break;
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits_.header_limit));
    parser.body_limit(limits_.body_limit);
    // The first request gets the header timeout; a kept-alive connection may idle longer.
    stream.expires_after(first ? limits_.header_timeout : limits_.idle_timeout);
    auto [header_ec, header_bytes] = co_await http::async_read_header(stream, buffer, parser, use_nothrow);
    std::optional<http_response> early;
    if (header_ec == beast::error::timeout) {
      if (buffer.size() == 0) break;  // idle: just close
      early = error_response(http::status::request_timeout, "request headers took too long");
    } else if (header_ec == http::error::body_limit) {  // Content-Length over the limit, seen with the header
      early = error_response(http::status::payload_too_large, "request body is too large");
    } else if (header_ec == http::error::header_limit) {
      early = error_response(http::status::request_header_fields_too_large, "request headers are too large");
    } else if (header_ec) {
      if (header_ec != http::error::end_of_stream && header_ec != asio::error::operation_aborted &&
          header_ec != asio::error::connection_reset && header_ec != asio::error::eof &&
          header_ec != asio::error::bad_descriptor)
        early = error_response(http::status::bad_request, "malformed HTTP request");
      if (!early) break;
    }
    first = false;
    c->busy = true;
    if (!early) {
      auto& header = parser.get();
      auto length = parser.content_length();
      if (length && *length > limits_.body_limit) {
        early = error_response(http::status::payload_too_large, "request body is too large");
      } else {
        if (beast::iequals(header[http::field::expect], "100-continue")) {
          http::response<http::empty_body> cont{http::status::continue_, header.version()};
          stream.expires_after(limits_.body_timeout);
          co_await http::async_write(stream, cont, use_nothrow);
        }
        stream.expires_after(limits_.body_timeout);
        auto [body_ec, body_bytes] = co_await http::async_read(stream, buffer, parser, use_nothrow);
        if (body_ec == http::error::body_limit)
          early = error_response(http::status::payload_too_large, "request body is too large");
        else if (body_ec == beast::error::timeout)
          early = error_response(http::status::request_timeout, "request body took too long");
        else if (body_ec)
          break;
      }
    }
    std::string route_label = "(none)";
    auto& request = parser.get();
    http_response response;
    if (early) {
      response = std::move(*early);
    } else {
      beast::error_code remote_ec;
      auto remote = stream.socket().remote_endpoint(remote_ec);
      response = co_await dispatch(request, remote, route_label);
    }
    // Version first: keep_alive's Connection header depends on it.
    response.version(request.version() ? request.version() : 11);
    response.keep_alive(!early && request.keep_alive() && !c->close_requested);
    response.prepare_payload();
    add_standard_headers(response);
    if (request.method() == http::verb::head) response.body().clear();
    metrics_.count_request(route_label, early ? "-" : std::string_view{request.method_string()},
                           response.result_int());
    stream.expires_after(limits_.body_timeout);
    auto [write_ec, written] = co_await http::async_write(stream, response, use_nothrow);
    c->busy = false;
    if (write_ec || !response.keep_alive()) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.close();
}

awaitable<http_response> http_server::dispatch(http_request& request, const tcp::endpoint& remote,
                                               std::string& route_label) {
  auto target = std::string_view{request.target()};
  auto path = target.substr(0, target.find('?'));
  auto match = routes_.find(request.method(), path);
  if (!match) co_return error_response(http::status::not_found, "not found");
  route_label = std::string{match->pattern};
  if (!match->handler)
    co_return error_response(http::status::method_not_allowed, "method not allowed");
  request_context ctx{request, remote, std::move(match->params)};
  try {
    co_return co_await (*match->handler)(ctx);
  } catch (const unavailable_error& e) {
    spdlog::warn("{} {}: {}", std::string_view{request.method_string()}, route_label, e.what());
    auto r = error_response(http::status::service_unavailable, "temporarily unavailable; retry later");
    r.set(http::field::retry_after, "5");
    co_return r;
  } catch (const std::exception& e) {
    // 5xx bodies reveal nothing internal; the log says what happened.
    spdlog::error("{} {}: {}", std::string_view{request.method_string()}, route_label, e.what());
  }
  co_return error_response(http::status::internal_server_error, "internal error");
}

}  // namespace md::server
