// Appends intakes to the Redis stream with group commit: callers on any thread submit, a few
// connection threads take everything waiting, pipeline it, and complete each caller once Redis
// has answered. With appendfsync always one fsync then covers a whole batch. An intake is
// answered "queued" only after Redis has acknowledged it; any failure answers "unavailable".
#pragma once
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/settings.hpp"
#include "intake/intake_record.hpp"
#include "queue/keys.hpp"
#include "queue/redis_connection.hpp"

namespace md::queue {

struct append_request {
  intake::intake_record record;
  std::string idempotency_key;  // as sent by the client; empty for none (stored only hashed)
};

struct append_outcome {
  enum class status { queued, replayed, unavailable } result = status::unavailable;
  std::string intake_id;  // for queued: the record's id; for replayed: the id first answered
};

class intake_producer {
 public:
  intake_producer(const redis_settings& redis, std::chrono::seconds idempotency_ttl);
  ~intake_producer();
  intake_producer(const intake_producer&) = delete;
  intake_producer& operator=(const intake_producer&) = delete;

  // Thread-safe. done runs on a producer thread: keep it short (post elsewhere).
  void submit(append_request request, std::function<void(append_outcome)> done);
  // Finishes what was submitted, then joins the threads. Later submits answer unavailable.
  void stop();

  // How long an intake stays findable as "queued" without being processed.
  static constexpr std::chrono::hours seen_ttl{24 * 7};

 private:
  struct job {
    append_request request;
    std::function<void(append_outcome)> done;
  };
  void run_connection();
  void append_batch(redis_connection& connection, std::string& script_sha, std::vector<job>& batch,
                    bool retrying = false);
  static std::string load_script(redis_connection& connection);

  redis_endpoint endpoint_;
  std::chrono::milliseconds timeout_;
  std::size_t max_batch_;
  std::chrono::seconds idempotency_ttl_;
  redis_keys keys_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<job> waiting_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace md::queue
