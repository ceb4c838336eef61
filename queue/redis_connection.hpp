// One synchronous hiredis connection with explicit connect and command timeouts, and replies
// owned by RAII. I/O failures throw md::unavailable_error and leave the connection broken;
// Redis error replies come back as replies for the caller to judge.
#pragma once
#include <hiredis/hiredis.h>

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace md::queue {

struct redis_endpoint {
  std::string host;         // empty for a unix socket
  int port = 6379;
  std::string socket_path;  // for unix:// URLs
  std::string password;
  int database = 0;
};

// redis://[[user]:password@]host[:port][/db] or unix:///path/to.sock[?db=N&password=...]
redis_endpoint parse_redis_url(std::string_view url);  // throws std::invalid_argument

struct reply_deleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using redis_reply = std::unique_ptr<redisReply, reply_deleter>;

bool is_error(const redisReply* r);
std::string_view text_of(const redisReply* r);  // string, status or error text; empty otherwise

class redis_connection {
 public:
  redis_connection(const redis_endpoint& endpoint, std::chrono::milliseconds timeout);
  ~redis_connection();
  redis_connection(const redis_connection&) = delete;
  redis_connection& operator=(const redis_connection&) = delete;

  redis_reply command(std::span<const std::string_view> args);
  redis_reply command(std::initializer_list<std::string_view> args) {
    return command(std::span<const std::string_view>{args.begin(), args.size()});
  }
  // Pipelining: append many, then read as many replies.
  void append(std::span<const std::string_view> args);
  redis_reply read_reply();
  // For a subscriber: a reply if one is buffered or arrives within wait, else null. Unlike a
  // read timeout (which hiredis treats as a failure) a quiet wait leaves the connection usable,
  // so a long-lived reader can look at a stop flag between waits.
  redis_reply poll_reply(std::chrono::milliseconds wait);
  // TCP keepalive, so that a subscriber that only reads notices a peer that vanished silently.
  void enable_keepalive();
  void set_timeout(std::chrono::milliseconds timeout);
  bool broken() const { return broken_; }

 private:
  [[noreturn]] void fail(std::string_view what);
  redisContext* context_ = nullptr;
  bool broken_ = false;
};

}  // namespace md::queue
