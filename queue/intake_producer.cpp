// Group-commit producer (see intake_producer.hpp).
#include "queue/intake_producer.hpp"

#include <spdlog/spdlog.h>

#include "core/errors.hpp"
#include "crypto/primitives.hpp"

namespace md::queue {
namespace {

// One atomic step per intake: honour the Idempotency-Key, append to the stream, mark it seen.
// KEYS: stream, seen key[, idempotency key]. ARGV: id, source, received ms, sealed payload,
// seen ttl s, idempotency ttl s.
constexpr std::string_view append_script = R"lua(
if #KEYS == 3 then
  local existing = redis.call('GET', KEYS[3])
  if existing then return {0, existing} end
  redis.call('SET', KEYS[3], ARGV[1], 'EX', ARGV[6])
end
redis.call('XADD', KEYS[1], '*', 'id', ARGV[1], 'src', ARGV[2], 'at', ARGV[3], 'p', ARGV[4])
redis.call('SET', KEYS[2], '1', 'EX', ARGV[5])
return {1, ARGV[1]}
)lua";

}  // namespace

intake_producer::intake_producer(const redis_settings& redis, std::chrono::seconds idempotency_ttl)
    : endpoint_(parse_redis_url(redis.url)),
      timeout_(redis.timeout_ms),
      max_batch_(static_cast<std::size_t>(redis.producer_max_batch)),
      idempotency_ttl_(idempotency_ttl),
      keys_{redis.key_prefix} {
  for (int i = 0; i < redis.producer_connections; ++i) threads_.emplace_back([this] { run_connection(); });
}

intake_producer::~intake_producer() { stop(); }

void intake_producer::submit(append_request request, std::function<void(append_outcome)> done) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      waiting_.push_back(job{std::move(request), std::move(done)});
      wake_.notify_one();
      return;
    }
  }
  done(append_outcome{append_outcome::status::unavailable, {}});
}

void intake_producer::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

void intake_producer::run_connection() {
  std::unique_ptr<redis_connection> connection;
  std::string script_sha;
  std::vector<job> batch;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !waiting_.empty(); });
      if (waiting_.empty()) return;  // stopping, and everything submitted has been answered
      while (!waiting_.empty() && batch.size() < max_batch_) {
        batch.push_back(std::move(waiting_.front()));
        waiting_.pop_front();
      }
    }
    try {
      if (!connection || connection->broken()) {
        connection = std::make_unique<redis_connection>(endpoint_, timeout_);
        script_sha = load_script(*connection);
      }
      append_batch(*connection, script_sha, batch);
    } catch (const unavailable_error& e) {
      spdlog::warn("intake append failed, answering {} intake(s) unavailable: {}", batch.size(), e.what());
      connection.reset();
      for (auto& j : batch)
        if (j.done) j.done(append_outcome{append_outcome::status::unavailable, {}});
    }
    batch.clear();
  }
}

std::string intake_producer::load_script(redis_connection& connection) {
  auto r = connection.command({"SCRIPT", "LOAD", append_script});
  if (is_error(r.get())) throw unavailable_error(fmt::format("redis: SCRIPT LOAD failed: {}", text_of(r.get())));
  return std::string{text_of(r.get())};
}

void intake_producer::append_batch(redis_connection& connection, std::string& script_sha, std::vector<job>& batch,
                                   bool retrying) {
  const std::string stream = keys_.intake_stream();
  const std::string seen_ttl_text = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(seen_ttl).count());
  const std::string idem_ttl_text = std::to_string(idempotency_ttl_.count());
  struct prepared {
    std::string seen_key, idem_key, source, received;
  };
  std::vector<prepared> texts(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto& r = batch[i].request;
    auto& t = texts[i];
    t.seen_key = keys_.intake_seen(r.record.id);
    if (!r.idempotency_key.empty())
      t.idem_key = keys_.idempotency(crypto::to_hex(crypto::token_hash(r.idempotency_key)));
    t.source = std::string{intake::to_string(r.record.source)};
    t.received = std::to_string(r.record.received_unix_ms);
    if (t.idem_key.empty()) {
      // No Idempotency-Key: two plain commands, cheaper for Redis than a script. XADD's reply
      // decides the answer; SET only helps status look-ups while the intake is queued.
      connection.append(std::initializer_list<std::string_view>{"XADD", stream, "*", "id", r.record.id, "src", t.source,
                                                                "at", t.received, "p", r.record.sealed_payload});
      connection.append(std::initializer_list<std::string_view>{"SET", t.seen_key, "1", "EX", seen_ttl_text});
      continue;
    }
    // EVALSHA: Redis neither receives nor hashes the script text per intake.
    connection.append(std::initializer_list<std::string_view>{
        "EVALSHA", script_sha, "3", stream, t.seen_key, t.idem_key, r.record.id, t.source, t.received,
        r.record.sealed_payload, seen_ttl_text, idem_ttl_text});
  }
  // Read every reply before completing anyone: a broken connection mid-batch then fails the
  // rest of the batch as unavailable, never as queued.
  std::vector<append_outcome> outcomes(batch.size());
  bool script_missing = false;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto reply = connection.read_reply();
    auto* r = reply.get();
    if (texts[i].idem_key.empty()) {
      auto seen = connection.read_reply();  // the SET's reply; its failure does not matter
      if (r->type == REDIS_REPLY_STRING) {
        outcomes[i] = {append_outcome::status::queued, batch[i].request.record.id};
      } else {
        spdlog::warn("redis refused an intake append: {}", text_of(r).substr(0, 80));
      }
      continue;
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_INTEGER) {
      outcomes[i].result =
          r->element[0]->integer == 1 ? append_outcome::status::queued : append_outcome::status::replayed;
      outcomes[i].intake_id = std::string{text_of(r->element[1])};
    } else if (text_of(r).starts_with("NOSCRIPT")) {
      script_missing = true;  // someone ran SCRIPT FLUSH: reload, then these are retried below
    } else {
      // MISCONF (persistence failing), OOM, READONLY...: Redis did not take it.
      spdlog::warn("redis refused an intake append: {}", text_of(r).substr(0, 80));
    }
  }
  if (script_missing && !retrying) {
    script_sha = load_script(connection);
    std::vector<job> again;
    std::vector<std::size_t> positions;
    for (std::size_t i = 0; i < batch.size(); ++i)
      if (outcomes[i].intake_id.empty()) {
        again.push_back(std::move(batch[i]));
        positions.push_back(i);
      }
    append_batch(connection, script_sha, again, true);  // completes those jobs itself
    for (auto i : positions) batch[i].done = nullptr;
  }
  for (std::size_t i = 0; i < batch.size(); ++i)
    if (batch[i].done) batch[i].done(std::move(outcomes[i]));
}

}  // namespace md::queue
