// hiredis wrapper (see redis_connection.hpp).
#include "queue/redis_connection.hpp"

#include <boost/url/parse.hpp>
#include <fmt/format.h>

#include <poll.h>

#include <cerrno>
#include <charconv>
#include <stdexcept>

#include "core/errors.hpp"

namespace md::queue {

redis_endpoint parse_redis_url(std::string_view url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) throw std::invalid_argument("redis.url is not a valid URL");
  redis_endpoint e;
  auto to_int = [](std::string_view s, std::string_view what) {
    int v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size()) throw std::invalid_argument(fmt::format("redis.url: bad {}", what));
    return v;
  };
  if (parsed->scheme() == "unix") {
    e.socket_path = std::string{parsed->path()};
    for (auto param : parsed->params()) {
      if (param.key == "db") e.database = to_int(param.value, "db");
      else if (param.key == "password") e.password = param.value;
    }
  } else if (parsed->scheme() == "redis") {
    e.host = parsed->host();
    if (e.host.empty()) e.host = "127.0.0.1";
    if (parsed->has_port()) e.port = to_int(parsed->port(), "port");
    if (parsed->has_password()) e.password = parsed->password();
    std::string path = parsed->path();
    if (path.size() > 1) e.database = to_int(std::string_view{path}.substr(1), "database number");
  } else {
    throw std::invalid_argument("redis.url must start with redis:// or unix://");
  }
  return e;
}

bool is_error(const redisReply* r) { return r == nullptr || r->type == REDIS_REPLY_ERROR; }

std::string_view text_of(const redisReply* r) {
  if (r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_ERROR))
    return {r->str, r->len};
  return {};
}

namespace {
timeval to_timeval(std::chrono::milliseconds ms) {
  return timeval{static_cast<time_t>(ms.count() / 1000), static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}
}  // namespace

redis_connection::redis_connection(const redis_endpoint& endpoint, std::chrono::milliseconds timeout) {
  auto tv = to_timeval(timeout);
  context_ = endpoint.socket_path.empty() ? redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port, tv)
                                          : redisConnectUnixWithTimeout(endpoint.socket_path.c_str(), tv);
  if (context_ == nullptr) throw unavailable_error("redis: out of memory while connecting");
  // A constructor that throws runs no destructor: free the context here on every failure.
  try {
    if (context_->err) fail("connect");
    if (redisSetTimeout(context_, tv) != REDIS_OK) fail("set timeout");
    if (!endpoint.password.empty()) {
      auto r = command({"AUTH", endpoint.password});
      if (is_error(r.get())) throw unavailable_error("redis: authentication failed");
    }
    if (endpoint.database != 0) {
      auto db = std::to_string(endpoint.database);
      auto r = command({"SELECT", db});
      if (is_error(r.get())) throw unavailable_error("redis: cannot select the database");
    }
  } catch (...) {
    redisFree(context_);
    context_ = nullptr;
    throw;
  }
}

redis_connection::~redis_connection() {
  if (context_) redisFree(context_);
}

void redis_connection::fail(std::string_view what) {
  broken_ = true;
  // hiredis error strings describe the socket ("Connection refused"), never the data.
  throw unavailable_error(fmt::format("redis {}: {}", what, context_ ? context_->errstr : "no context"));
}

void redis_connection::set_timeout(std::chrono::milliseconds timeout) {
  if (redisSetTimeout(context_, to_timeval(timeout)) != REDIS_OK) fail("set timeout");
}

void redis_connection::append(std::span<const std::string_view> args) {
  if (broken_) fail("append on a broken connection");
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  argv.reserve(args.size());
  lengths.reserve(args.size());
  for (auto a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  if (redisAppendCommandArgv(context_, static_cast<int>(argv.size()), argv.data(), lengths.data()) != REDIS_OK)
    fail("append");
}

redis_reply redis_connection::read_reply() {
  if (broken_) fail("read on a broken connection");
  void* raw = nullptr;
  if (redisGetReply(context_, &raw) != REDIS_OK || raw == nullptr) fail("read");
  return redis_reply{static_cast<redisReply*>(raw)};
}

redis_reply redis_connection::poll_reply(std::chrono::milliseconds wait) {
  if (broken_) fail("read on a broken connection");
  auto buffered = [this]() -> redis_reply {
    void* raw = nullptr;
    if (redisReaderGetReply(context_->reader, &raw) != REDIS_OK) {
      broken_ = true;
      throw unavailable_error("redis read: protocol error");
    }
    return redis_reply{static_cast<redisReply*>(raw)};
  };
  if (auto r = buffered()) return r;
  pollfd p{context_->fd, POLLIN, 0};
  int ready = ::poll(&p, 1, static_cast<int>(wait.count()));
  if (ready < 0 && errno != EINTR) fail("poll");
  if (ready <= 0) return nullptr;
  // Readable (or closed): this read does not block, and EOF marks the connection broken.
  if (redisBufferRead(context_) != REDIS_OK) fail("read");
  return buffered();
}

void redis_connection::enable_keepalive() {
  if (redisEnableKeepAlive(context_) != REDIS_OK) fail("keepalive");
}

redis_reply redis_connection::command(std::span<const std::string_view> args) {
  append(args);
  return read_reply();
}

}  // namespace md::queue
