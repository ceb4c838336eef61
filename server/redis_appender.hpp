// Appends intakes to the Redis stream from the I/O threads themselves: one asynchronous
// connection on its own strand. Commands accumulate while a write is in flight and go out
// together (group commit: with appendfsync always one fsync covers the batch); replies come
// back in order and complete their callers. No threads of its own and no cross-thread
// hand-offs, which profiles showed to dominate an earlier thread-based producer. A caller is answered
// "queued" only after Redis acknowledged its append; any failure answers "unavailable".
#pragma once
#include <hiredis/hiredis.h>

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include "config/settings.hpp"
#include "queue/append.hpp"
#include "queue/keys.hpp"
#include "queue/redis_connection.hpp"
#include "server/net.hpp"

namespace md::server {

class redis_appender {
 public:
  redis_appender(asio::io_context& io, const redis_settings& redis, std::chrono::seconds idempotency_ttl);
  ~redis_appender();
  redis_appender(const redis_appender&) = delete;
  redis_appender& operator=(const redis_appender&) = delete;

  // Thread-safe. done runs on the appender's strand (an I/O thread): keep it short.
  void submit(queue::append_request request, std::function<void(queue::append_outcome)> done);
  // Closes the connection and answers whatever is still waiting "unavailable".
  void stop();

  // SHA1 of the idempotent-append script, as Redis names it (checked against SCRIPT LOAD in the
  // tests); EVALSHA needs no round trip to learn it.
  static std::string_view script_sha();
  static std::string_view script();

 private:
  struct job {
    queue::append_request request;
    std::function<void(queue::append_outcome)> done;
    int replies_expected = 1;
    std::vector<queue::redis_reply> replies;
    bool retried = false;
    std::chrono::steady_clock::time_point sent;
  };

  void enqueue(job j);
  void encode(job& j, bool use_eval);
  void flush();
  void connect();
  void start_session();
  void read_more();
  void deliver(queue::redis_reply reply);
  void complete(job& j);
  void fail_all(std::string_view why);
  void arm_watchdog();

  asio::strand<asio::io_context::executor_type> strand_;
  queue::redis_endpoint endpoint_;
  std::chrono::milliseconds timeout_;
  queue::redis_keys keys_;
  // Per-append text computed once: this is the webhook's hot path.
  std::string stream_, seen_ttl_text_, idempotency_ttl_text_;
  asio::generic::stream_protocol::socket socket_;
  asio::steady_timer watchdog_;
  enum class state { disconnected, connecting, ready, stopped } state_ = state::disconnected;
  std::chrono::steady_clock::time_point last_failure_{};
  std::string pending_writes_, in_flight_writes_;
  bool writing_ = false;
  std::deque<job> awaiting_reply_;  // written or queued to write, in reply order
  std::deque<job> awaiting_connection_;
  int handshake_replies_ = 0;  // AUTH / SELECT replies still to come
  std::array<char, 16 * 1024> read_buffer_{};
  std::unique_ptr<redisReader, void (*)(redisReader*)> reader_;
  std::uint64_t generation_ = 0;  // bumps on every (re)connect: late callbacks of old sockets are ignored
};

}  // namespace md::server
