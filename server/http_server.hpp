// The HTTP front door (Boost.Beast): an acceptor, one coroutine per connection with a fresh
// parser, explicit header/body limits and a deadline before every read, a connection cap, a
// route table, and graceful shutdown (idle connections close, in-flight requests finish, open
// streams end at once). Handlers are plain functions of the request; nothing here knows what
// they do. A handler may also take over its connection for a long-lived stream (server-sent
// events) through request_context::stream; every stream write still has a deadline.
#pragma once
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "server/metrics.hpp"
#include "server/net.hpp"

namespace md::server {

// The connection of a streaming response, handed to its writer. Used on the connection's strand
// only, except notifier(). The writer returns when write() fails or closing() holds.
class response_stream {
 public:
  struct state;
  explicit response_stream(std::shared_ptr<state> s) : state_(std::move(s)) {}
  // Sends bytes (kept alive by the caller until this completes) within the write deadline.
  // false: the client is gone or reads too slowly, or the server is shutting down.
  awaitable<bool> write(std::string_view bytes);
  // Returns at `until`, after a notification, or at shutdown, whichever comes first. A
  // notification that came before the wait makes it return at once (no lost wake-up).
  awaitable<void> wait(std::chrono::steady_clock::time_point until);
  // For any thread: ends the current or next wait(). Harmless once the stream has ended.
  std::function<void()> notifier() const;
  bool closing() const;  // begin_shutdown() was called: return now

 private:
  std::shared_ptr<state> state_;
};
using stream_writer = std::function<awaitable<void>(response_stream&)>;

struct request_context {
  http_request& request;
  tcp::endpoint remote;
  std::vector<std::pair<std::string, std::string>> path_params;
  std::string_view path_param(std::string_view name) const;
  // A database id in the path: 1 to 18 digits, else nullopt (the caller answers 404).
  std::optional<std::int64_t> id_param(std::string_view name) const;
  // Set by a handler that streams: the server sends the handler's response header (no
  // Content-Length; chunked for HTTP/1.1; its body is ignored), runs this writer, then closes
  // the connection. Unset: an ordinary response.
  stream_writer stream = {};
};

using route_handler = std::function<awaitable<http_response>(request_context&)>;

// Defined in router.cpp (no sockets or coroutines there: the fuzz target http_request links it alone).
class router {
 public:
  // pattern: "/api/v1/cases/{ref}"; a trailing "/*" matches any rest of the path.
  void add(http::verb method, std::string pattern, route_handler handler);
  struct match {
    const route_handler* handler = nullptr;
    std::string_view pattern;
    std::vector<std::pair<std::string, std::string>> params;
  };
  // nullopt: no route for this path. handler null: the path exists but not for this method.
  std::optional<match> find(http::verb method, std::string_view path) const;

 private:
  struct route {
    http::verb method;
    std::string pattern;
    std::vector<std::string> segments;
    route_handler handler;
  };
  std::vector<route> routes_;
};

struct http_limits {
  std::size_t header_limit = 16 * 1024;
  std::size_t body_limit = 256 * 1024;
  std::chrono::milliseconds header_timeout{10'000}, body_timeout{30'000}, idle_timeout{60'000};
  std::size_t max_connections = 4096;
  // Each write of a streaming response: a client that stops reading is dropped after this.
  std::chrono::milliseconds stream_write_timeout{10'000};
};

class http_server {
 public:
  http_server(asio::io_context& io, const tcp::endpoint& endpoint, http_limits limits, const router& routes,
              metrics_registry& metrics);
  ~http_server();
  void start();
  tcp::endpoint local_endpoint() const;
  // Stops accepting; idle connections are closed, busy ones close after their response, and
  // streams are told to end now (a write in progress is cancelled).
  void begin_shutdown();
  std::size_t open_connections() const { return open_connections_.load(); }

 private:
  struct connection;
  awaitable<void> accept_loop();
  awaitable<void> serve_connection(std::shared_ptr<connection> c);
  awaitable<http_response> dispatch(http_request& request, const tcp::endpoint& remote, std::string& route_label,
                                    stream_writer& writer);
  awaitable<void> serve_stream(connection& c, http_response& response, bool head, stream_writer& writer);

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  http_limits limits_;
  const router& routes_;
  metrics_registry& metrics_;
  std::atomic<std::size_t> open_connections_{0};
  std::atomic<bool> shutting_down_{false};
  std::mutex connections_mutex_;
  std::map<std::uint64_t, std::weak_ptr<connection>> connections_;
  std::uint64_t next_connection_id_ = 0;
};

}  // namespace md::server
