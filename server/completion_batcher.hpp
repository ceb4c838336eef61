// Hands completions from other threads (the Redis producer) to the I/O threads in batches: one
// post per burst instead of one cross-thread wake-up per request, which dominated the webhook's
// cost in profiles. Each completion then dispatches to its own strand.
#pragma once
#include <functional>
#include <mutex>
#include <vector>

#include "server/net.hpp"

namespace md::server {

class completion_batcher {
 public:
  explicit completion_batcher(asio::io_context& io) : io_(io) {}

  void add(std::function<void()> completion) {
    std::lock_guard lock(mutex_);
    pending_.push_back(std::move(completion));
    if (scheduled_) return;
    scheduled_ = true;
    asio::post(io_, [this] { drain(); });
  }

 private:
  void drain() {
    std::vector<std::function<void()>> ready;
    {
      std::lock_guard lock(mutex_);
      ready.swap(pending_);
      scheduled_ = false;
    }
    for (auto& f : ready) f();
  }

  asio::io_context& io_;
  std::mutex mutex_;
  std::vector<std::function<void()>> pending_;
  bool scheduled_ = false;
};

}  // namespace md::server
