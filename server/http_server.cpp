// HTTP listener and connections (see http_server.hpp).
#include "server/http_server.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <tuple>

#include "core/errors.hpp"
#include "server/http_util.hpp"

namespace md::server {
namespace {

// Headers every response carries; pages add their Content-Security-Policy themselves.
void add_standard_headers(http_response& r) {
  r.set(http::field::server, "mediadesk");
  r.set("X-Content-Type-Options", "nosniff");
  r.set("Referrer-Policy", "no-referrer");
  r.set("X-Frame-Options", "DENY");
  if (r.find(http::field::cache_control) == r.end()) r.set(http::field::cache_control, "no-store");
}

}  // namespace

// A streaming response's side of its connection; touched only on the connection's strand.
struct response_stream::state {
  state(beast::tcp_stream& socket, bool chunked, std::chrono::milliseconds write_timeout)
      : socket(socket), wake(socket.get_executor()), chunked(chunked), write_timeout(write_timeout) {}
  // Shutdown: end the writer's wait, and a write stuck on a client that does not read.
  void shut_down() {
    closing = true;
    wake.cancel();
    if (writing) socket.cancel();
  }
  beast::tcp_stream& socket;
  asio::steady_timer wake;  // waited on by wait(); cancelled as the signal
  bool chunked;
  std::chrono::milliseconds write_timeout;
  bool notified = false, closing = false, writing = false, failed = false;
};

awaitable<bool> response_stream::write(std::string_view bytes) {
  auto& s = *state_;
  if (s.closing || s.failed) co_return false;
  if (bytes.empty()) co_return true;  // an empty chunk would end a chunked body
  s.writing = true;
  s.socket.expires_after(s.write_timeout);
  auto buffer = asio::buffer(bytes.data(), bytes.size());
  beast::error_code ec;
  if (s.chunked) {
    auto chunk = http::make_chunk(buffer);
    auto [write_ec, written] = co_await asio::async_write(s.socket, chunk, use_nothrow);
    ec = write_ec;
  } else {
    auto [write_ec, written] = co_await asio::async_write(s.socket, buffer, use_nothrow);
    ec = write_ec;
  }
  s.writing = false;
  s.socket.expires_never();  // between writes the stream may be quiet for long
  if (ec) s.failed = true;
  co_return !s.failed && !s.closing;
}

awaitable<void> response_stream::wait(std::chrono::steady_clock::time_point until) {
  auto& s = *state_;
  if (!s.notified && !s.closing) {
    s.wake.expires_at(until);
    co_await s.wake.async_wait(use_nothrow);  // expired or cancelled: either way, look again
  }
  // Whatever was notified before this point is visible to the caller's next look.
  s.notified = false;
}

std::function<void()> response_stream::notifier() const {
  std::weak_ptr<state> weak = state_;
  auto executor = state_->wake.get_executor();
  return [weak, executor] {
    asio::post(executor, [weak] {
      if (auto s = weak.lock()) {
        s->notified = true;
        s->wake.cancel();
      }
    });
  };
}

bool response_stream::closing() const { return state_->closing; }

struct http_server::connection {
  explicit connection(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
  bool busy = false;             // a request is being handled: finish it before closing
  bool close_requested = false;  // shutdown: close after the current response
  std::shared_ptr<response_stream::state> streaming;  // while a stream's writer runs
};

namespace {

// The deadline of one read (header or body). Beast's tcp_stream closes the socket when its own
// deadline passes, so after one no 408 could ever be written: the slow client saw a bare close.
// This timer instead cancels the pending read and leaves the socket open for the 408. It runs on
// the connection's strand, like the coroutine; `done` stops a timer that fired just as the read
// finished from cancelling anything later.
class read_deadline {
 public:
  read_deadline(beast::tcp_stream& stream, std::shared_ptr<void> keep_alive, std::chrono::milliseconds limit)
      : state_(std::make_shared<state>(stream.get_executor())) {
    state_->timer.expires_after(limit);
    state_->timer.async_wait([s = state_, &stream, keep_alive = std::move(keep_alive)](beast::error_code ec) {
      if (ec || s->done) return;
      s->expired = true;
      beast::error_code ignored;
      stream.socket().cancel(ignored);
    });
    // A backstop only: should the cancel not end the read, Beast closes the socket a little later.
    stream.expires_after(limit + std::chrono::seconds(2));
  }
  ~read_deadline() {
    state_->done = true;
    state_->timer.cancel();
  }
  read_deadline(const read_deadline&) = delete;
  read_deadline& operator=(const read_deadline&) = delete;
  bool expired() const { return state_->expired; }

 private:
  struct state {
    explicit state(const asio::any_io_executor& executor) : timer(executor) {}
    asio::steady_timer timer;
    bool done = false, expired = false;
  };
  std::shared_ptr<state> state_;
};

}  // namespace

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
        if (c->streaming) {
          c->streaming->shut_down();  // a stream has no natural end: end it now
        } else if (!c->busy) {
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
  bool linger = false;  // an error answer went out: see the lingering close below
  for (;;) {
    if (c->close_requested) break;
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits_.header_limit));
    parser.body_limit(limits_.body_limit);
    // The first request gets the header timeout; a kept-alive connection may idle longer.
    beast::error_code header_ec;
    bool header_expired;
    {
      read_deadline deadline(stream, c, first ? limits_.header_timeout : limits_.idle_timeout);
      std::size_t header_bytes;
      std::tie(header_ec, header_bytes) = co_await http::async_read_header(stream, buffer, parser, use_nothrow);
      header_expired = (header_ec && deadline.expired()) || header_ec == beast::error::timeout;
    }
    std::optional<http_response> early;
    if (header_expired) {
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
        beast::error_code body_ec;
        bool body_expired;
        {
          read_deadline deadline(stream, c, limits_.body_timeout);
          std::size_t body_bytes;
          std::tie(body_ec, body_bytes) = co_await http::async_read(stream, buffer, parser, use_nothrow);
          body_expired = (body_ec && deadline.expired()) || body_ec == beast::error::timeout;
        }
        if (body_ec == http::error::body_limit)
          early = error_response(http::status::payload_too_large, "request body is too large");
        else if (body_expired)
          early = error_response(http::status::request_timeout, "request body took too long");
        else if (body_ec)
          break;
      }
    }
    std::string route_label = "(none)";
    auto& request = parser.get();
    http_response response;
    stream_writer writer;
    if (early) {
      response = std::move(*early);
    } else {
      beast::error_code remote_ec;
      auto remote = stream.socket().remote_endpoint(remote_ec);
      response = co_await dispatch(request, remote, route_label, writer);
    }
    // Version first: keep_alive's Connection header depends on it.
    response.version(request.version() ? request.version() : 11);
    if (writer) {
      add_standard_headers(response);
      metrics_.count_request(route_label, request.method_string(), response.result_int());
      co_await serve_stream(*c, response, request.method() == http::verb::head, writer);
      break;
    }
    response.keep_alive(!early && request.keep_alive() && !c->close_requested);
    response.prepare_payload();
    add_standard_headers(response);
    if (request.method() == http::verb::head) response.body().clear();
    metrics_.count_request(route_label, early ? "-" : std::string_view{request.method_string()},
                           response.result_int());
    stream.expires_after(limits_.body_timeout);
    auto [write_ec, written] = co_await http::async_write(stream, response, use_nothrow);
    c->busy = false;
    linger = early && !write_ec;
    if (write_ec || !response.keep_alive()) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  if (linger) {
    // After an error answer (408, 413, 431, 400) the client may still be sending. Closing with
    // unread bytes makes the kernel send a reset, and the client's kernel then drops the answer
    // it has not read yet: the slow client saw a bare reset instead of its 408. So read and
    // discard until the client closes too, for at most a second, then close (a lingering close).
    stream.expires_after(std::chrono::seconds(1));
    std::array<char, 4096> discard;
    for (;;) {
      auto [read_ec, n] = co_await stream.async_read_some(asio::buffer(discard), use_nothrow);
      if (read_ec) break;
    }
  }
  stream.close();
}

// The header as the handler made it, then the writer until it returns; the caller closes.
// The caller's shared_ptr keeps the connection alive throughout.
awaitable<void> http_server::serve_stream(connection& c, http_response& response, bool head, stream_writer& writer) {
  http::response<http::empty_body> header{std::move(response.base())};
  // HTTP/1.0 has no chunked encoding: there the body simply ends when the connection closes.
  bool chunked = header.version() >= 11;
  header.keep_alive(false);
  header.chunked(chunked);
  http::response_serializer<http::empty_body> serializer{header};
  c.stream.expires_after(limits_.stream_write_timeout);
  auto [header_ec, header_bytes] = co_await http::async_write_header(c.stream, serializer, use_nothrow);
  c.stream.expires_never();
  if (header_ec || head) co_return;
  auto state = std::make_shared<response_stream::state>(c.stream, chunked, limits_.stream_write_timeout);
  state->closing = c.close_requested;  // shutdown began while the header was on its way
  c.streaming = state;
  response_stream out{state};
  try {
    co_await writer(out);
  } catch (const std::exception& e) {
    spdlog::error("a stream's writer failed: {}", e.what());
  }
  c.streaming.reset();
  if (chunked && !state->failed) {
    // The last chunk says the body is complete rather than cut off; a short deadline, since
    // nobody may be reading.
    auto last = http::make_chunk_last();
    c.stream.expires_after(std::chrono::seconds(1));
    co_await asio::async_write(c.stream, last, use_nothrow);
  }
}

awaitable<http_response> http_server::dispatch(http_request& request, const tcp::endpoint& remote,
                                               std::string& route_label, stream_writer& writer) {
  auto target = std::string_view{request.target()};
  auto path = target.substr(0, target.find('?'));
  auto match = routes_.find(request.method(), path);
  if (!match) co_return error_response(http::status::not_found, "not found");
  route_label = std::string{match->pattern};
  if (!match->handler)
    co_return error_response(http::status::method_not_allowed, "method not allowed");
  request_context ctx{request, remote, std::move(match->params)};
  try {
    auto response = co_await (*match->handler)(ctx);
    writer = std::move(ctx.stream);
    co_return response;
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
