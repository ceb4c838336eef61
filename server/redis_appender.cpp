// Asynchronous group-commit appender (see redis_appender.hpp).
#include "server/redis_appender.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <future>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/write.hpp>

#include "crypto/primitives.hpp"

namespace md::server {
namespace {

// With an Idempotency-Key, a signed message's key or a sender's allowance, one atomic step:
// honour the keys, count the sender, append, mark the intake seen. A key or allowance not used is
// passed as "" (one script rather than eight variants; this is a single Redis, never a cluster).
// KEYS: stream, seen key, idempotency key or "", signed-message key or "", sender counter or "".
// ARGV: id, source, received ms, sealed payload, seen ttl s, idempotency ttl s, sender limit,
// sender window s, signed-message ttl s.
// Returns {1, id} appended, {0, first id} replayed, {2, ttl} over the sender's allowance.
constexpr std::string_view idempotent_append_script = R"lua(
for i = 3, 4 do
  if KEYS[i] ~= '' then
    local existing = redis.call('GET', KEYS[i])
    if existing then return {0, existing} end
  end
end
if KEYS[5] ~= '' then
  local n = redis.call('INCR', KEYS[5])
  if n == 1 then redis.call('EXPIRE', KEYS[5], ARGV[8]) end
  if n > tonumber(ARGV[7]) then return {2, tostring(redis.call('TTL', KEYS[5]))} end
end
if KEYS[3] ~= '' then redis.call('SET', KEYS[3], ARGV[1], 'EX', ARGV[6]) end
if KEYS[4] ~= '' then redis.call('SET', KEYS[4], ARGV[1], 'EX', ARGV[9]) end
redis.call('XADD', KEYS[1], '*', 'id', ARGV[1], 'src', ARGV[2], 'at', ARGV[3], 'p', ARGV[4])
redis.call('SET', KEYS[2], '1', 'EX', ARGV[5])
return {1, ARGV[1]}
)lua";
constexpr std::string_view idempotent_append_sha = "0a47192b3a95eafd431b87acaacd7eddcae790e5";  // SHA1 of the script text

// Redis protocol: an array of bulk strings.
void append_command(std::string& out, std::initializer_list<std::string_view> args) {
  out += '*';
  out += std::to_string(args.size());
  out += "\r\n";
  for (auto a : args) {
    out += '$';
    out += std::to_string(a.size());
    out += "\r\n";
    out.append(a);
    out += "\r\n";
  }
}

constexpr auto reconnect_pause = std::chrono::milliseconds(250);

}  // namespace

std::string_view redis_appender::script() { return idempotent_append_script; }
std::string_view redis_appender::script_sha() { return idempotent_append_sha; }

redis_appender::redis_appender(asio::io_context& io, const redis_settings& redis, std::chrono::seconds idempotency_ttl)
    : strand_(asio::make_strand(io)),
      endpoint_(queue::parse_redis_url(redis.url)),
      timeout_(redis.timeout_ms),
      keys_{redis.key_prefix},
      stream_(keys_.intake_stream()),
      seen_ttl_text_(std::to_string(std::chrono::duration_cast<std::chrono::seconds>(queue::intake_seen_ttl).count())),
      idempotency_ttl_text_(std::to_string(idempotency_ttl.count())),
      socket_(strand_),
      watchdog_(strand_),
      reader_(redisReaderCreate(), &redisReaderFree) {}

redis_appender::~redis_appender() = default;

void redis_appender::submit(queue::append_request request, std::function<void(queue::append_outcome)> done) {
  asio::post(strand_, [this, j = job{std::move(request), std::move(done)}]() mutable { enqueue(std::move(j)); });
}

void redis_appender::stop() {
  std::promise<void> stopped;
  auto future = stopped.get_future();
  asio::post(strand_, [this, &stopped] {
    fail_all("stopping");
    state_ = state::stopped;
    watchdog_.cancel();
    stopped.set_value();
  });
  future.wait_for(std::chrono::seconds(5));
}

void redis_appender::enqueue(job j) {
  j.sent = std::chrono::steady_clock::now();
  switch (state_) {
    case state::stopped:
      j.done({queue::append_outcome::status::unavailable, {}});
      return;
    case state::ready:
      encode(j, false);
      awaiting_reply_.push_back(std::move(j));
      flush();
      return;
    case state::connecting:
      awaiting_connection_.push_back(std::move(j));
      return;
    case state::disconnected:
      // Just failed: answer at once (503) rather than storm a Redis that is down.
      if (std::chrono::steady_clock::now() - last_failure_ < reconnect_pause) {
        j.done({queue::append_outcome::status::unavailable, {}});
        return;
      }
      awaiting_connection_.push_back(std::move(j));
      connect();
      return;
  }
}

void redis_appender::encode(job& j, bool use_eval) {
  auto& r = j.request.record;
  auto seen_key = keys_.intake_seen(r.id);
  auto source = intake::to_string(r.source);
  auto received = std::to_string(r.received_unix_ms);
  const auto& stream = stream_;
  const auto& seen_ttl = seen_ttl_text_;
  if (j.request.idempotency_key.empty() && j.request.signed_message_key.empty() &&
      j.request.sender_rate_key.empty()) {
    // Two plain commands: XADD's reply decides the answer; SET only helps status look-ups.
    append_command(pending_writes_, {"XADD", stream, "*", "id", r.id, "src", source, "at", received, "p",
                                     r.sealed_payload});
    append_command(pending_writes_, {"SET", seen_key, "1", "EX", seen_ttl});
    j.replies_expected = 2;
    return;
  }
  // Both kinds of key share one namespace: a signed message's key starts "signed ", and a
  // client's Idempotency-Key cannot hold a space (intake::signed_message_key).
  auto key_of = [&](const std::string& value) {
    return value.empty() ? std::string{} : keys_.idempotency(crypto::to_hex(crypto::token_hash(value)));
  };
  auto idem_key = key_of(j.request.idempotency_key);
  auto signed_key = key_of(j.request.signed_message_key);
  const auto& idem_ttl = idempotency_ttl_text_;
  auto signed_ttl = std::to_string(std::max<std::int64_t>(1, j.request.signed_message_ttl.count()));
  auto sender_limit = std::to_string(j.request.sender_limit);
  append_command(pending_writes_, {use_eval ? "EVAL" : "EVALSHA", use_eval ? script() : script_sha(), "5", stream,
                                   seen_key, idem_key, signed_key, j.request.sender_rate_key, r.id, source,
                                   received, r.sealed_payload, seen_ttl, idem_ttl, sender_limit, "3600",
                                   signed_ttl});
  j.replies_expected = 1;
}

void redis_appender::flush() {
  if (writing_ || pending_writes_.empty() || state_ != state::ready) return;
  writing_ = true;
  in_flight_writes_.clear();
  in_flight_writes_.swap(pending_writes_);
  asio::async_write(socket_, asio::buffer(in_flight_writes_),
                    asio::bind_executor(strand_, [this, generation = generation_](beast::error_code ec, std::size_t) {
                      if (generation != generation_) return;
                      writing_ = false;
                      if (ec) return fail_all(ec.message());
                      flush();
                    }));
}

void redis_appender::connect() {
  state_ = state::connecting;
  ++generation_;
  beast::error_code ignored;
  socket_.close(ignored);
  reader_.reset(redisReaderCreate());
  arm_watchdog();
  auto on_connected = [this, generation = generation_](beast::error_code ec) {
    if (generation != generation_) return;
    if (ec) return fail_all("connect: " + ec.message());
    start_session();
  };
  if (!endpoint_.socket_path.empty()) {
    socket_.async_connect(asio::local::stream_protocol::endpoint(endpoint_.socket_path),
                          asio::bind_executor(strand_, on_connected));
    return;
  }
  beast::error_code ec;
  auto address = asio::ip::make_address(endpoint_.host, ec);
  if (ec) {  // a host name: resolve it (rare; the URL usually holds an address)
    tcp::resolver resolver(strand_);
    auto results = resolver.resolve(endpoint_.host, std::to_string(endpoint_.port), ec);
    if (ec || results.empty()) return fail_all("cannot resolve the Redis host");
    address = results.begin()->endpoint().address();
  }
  socket_.async_connect(tcp::endpoint(address, static_cast<unsigned short>(endpoint_.port)),
                        asio::bind_executor(strand_, on_connected));
}

void redis_appender::start_session() {
  // AUTH and SELECT go first in the same pipeline; their replies are checked as they come.
  handshake_replies_ = 0;
  std::string handshake;
  if (!endpoint_.password.empty()) {
    append_command(handshake, {"AUTH", endpoint_.password});
    ++handshake_replies_;
  }
  if (endpoint_.database != 0) {
    auto db = std::to_string(endpoint_.database);
    append_command(handshake, {"SELECT", db});
    ++handshake_replies_;
  }
  pending_writes_.insert(0, handshake);
  state_ = state::ready;
  while (!awaiting_connection_.empty()) {
    auto j = std::move(awaiting_connection_.front());
    awaiting_connection_.pop_front();
    encode(j, false);
    awaiting_reply_.push_back(std::move(j));
  }
  flush();
  read_more();
}

void redis_appender::read_more() {
  socket_.async_read_some(
      asio::buffer(read_buffer_),
      asio::bind_executor(strand_, [this, generation = generation_](beast::error_code ec, std::size_t n) {
        if (generation != generation_) return;
        if (ec) return fail_all(ec.message());
        if (redisReaderFeed(reader_.get(), read_buffer_.data(), n) != REDIS_OK) return fail_all("bad reply");
        for (;;) {
          void* raw = nullptr;
          if (redisReaderGetReply(reader_.get(), &raw) != REDIS_OK) return fail_all("bad reply");
          if (!raw) break;
          deliver(queue::redis_reply{static_cast<redisReply*>(raw)});
          if (generation != generation_) return;  // deliver failed everything
        }
        read_more();
      }));
}

void redis_appender::deliver(queue::redis_reply reply) {
  if (handshake_replies_ > 0) {
    --handshake_replies_;
    if (queue::is_error(reply.get())) fail_all("authentication or SELECT refused");
    return;
  }
  if (awaiting_reply_.empty()) return fail_all("a reply nobody asked for");
  auto& j = awaiting_reply_.front();
  j.replies.push_back(std::move(reply));
  if (static_cast<int>(j.replies.size()) < j.replies_expected) return;
  auto done = std::move(j);
  awaiting_reply_.pop_front();
  complete(done);
}

void redis_appender::complete(job& j) {
  auto* r = j.replies.front().get();
  queue::append_outcome outcome;
  if (j.replies_expected == 2) {
    if (r->type == REDIS_REPLY_STRING) outcome = {queue::append_outcome::status::queued, j.request.record.id};
  } else if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_INTEGER) {
    auto answer = r->element[0]->integer;
    if (answer == 2) {
      outcome.result = queue::append_outcome::status::limited;
      auto ttl = queue::text_of(r->element[1]);
      std::from_chars(ttl.data(), ttl.data() + ttl.size(), outcome.retry_after_s);
      outcome.retry_after_s = std::max<std::int64_t>(1, outcome.retry_after_s);
    } else {
      outcome.result = answer == 1 ? queue::append_outcome::status::queued : queue::append_outcome::status::replayed;
      outcome.intake_id = std::string{queue::text_of(r->element[1])};
    }
  } else if (queue::text_of(r).starts_with("NOSCRIPT") && !j.retried) {
    // The script cache was flushed: send this one with the script text (Redis caches it again).
    j.retried = true;
    j.replies.clear();
    encode(j, true);
    awaiting_reply_.push_back(std::move(j));
    flush();
    return;
  }
  if (outcome.result == queue::append_outcome::status::unavailable)
    spdlog::warn("redis refused an intake append: {}", queue::text_of(r).substr(0, 80));  // MISCONF, OOM...
  if (j.done) j.done(std::move(outcome));
}

void redis_appender::fail_all(std::string_view why) {
  if (state_ == state::stopped) return;
  auto count = awaiting_reply_.size() + awaiting_connection_.size();
  if (count > 0 || state_ != state::disconnected)
    spdlog::warn("redis appender: {}; answering {} intake(s) unavailable", why, count);
  ++generation_;  // callbacks of this socket are now stale
  beast::error_code ignored;
  socket_.close(ignored);
  state_ = state::disconnected;
  last_failure_ = std::chrono::steady_clock::now();
  writing_ = false;
  pending_writes_.clear();
  in_flight_writes_.clear();
  handshake_replies_ = 0;
  auto failed = std::move(awaiting_reply_);
  awaiting_reply_.clear();
  for (auto& j : awaiting_connection_) failed.push_back(std::move(j));
  awaiting_connection_.clear();
  for (auto& j : failed)
    if (j.done) j.done({queue::append_outcome::status::unavailable, {}});
}

void redis_appender::arm_watchdog() {
  // Every 100 ms: an append older than redis.timeout_ms, or a connect that long, fails all.
  watchdog_.expires_after(std::chrono::milliseconds(100));
  watchdog_.async_wait(asio::bind_executor(strand_, [this](beast::error_code ec) {
    if (ec || state_ == state::stopped) return;
    auto now = std::chrono::steady_clock::now();
    bool stuck = (!awaiting_reply_.empty() && now - awaiting_reply_.front().sent > timeout_) ||
                 (!awaiting_connection_.empty() && now - awaiting_connection_.front().sent > timeout_);
    if (stuck) fail_all("Redis did not answer in time");
    if (state_ != state::disconnected) arm_watchdog();
  }));
}

}  // namespace md::server
