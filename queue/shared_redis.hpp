// One lazily (re)connected Redis connection shared under a mutex, for low-volume calls that
// are not the intake path: readiness, queue statistics, rate limits, publishing events.
#pragma once
#include <memory>
#include <mutex>

#include "queue/redis_connection.hpp"

namespace md::queue {

class shared_redis {
 public:
  shared_redis(redis_endpoint endpoint, std::chrono::milliseconds timeout)
      : endpoint_(std::move(endpoint)), timeout_(timeout) {}

  // Runs fn(connection) under the lock; throws unavailable_error when Redis cannot be reached.
  template <class Fn>
  auto with(Fn&& fn) {
    std::lock_guard lock(mutex_);
    if (!connection_ || connection_->broken()) {
      connection_.reset();
      connection_ = std::make_unique<redis_connection>(endpoint_, timeout_);
    }
    return fn(*connection_);
  }

 private:
  redis_endpoint endpoint_;
  std::chrono::milliseconds timeout_;
  std::mutex mutex_;
  std::unique_ptr<redis_connection> connection_;
};

}  // namespace md::queue
