// A stop request that a background thread can sleep on, so that stopping it is immediate rather
// than one sleep late. Holds no thread itself; never use it to wait on an I/O thread.
#pragma once
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace md::server {

class stop_signal {
 public:
  void request() {
    {
      std::lock_guard lock(mutex_);
      requested_ = true;
    }
    wake_.notify_all();
  }
  bool requested() {
    std::lock_guard lock(mutex_);
    return requested_;
  }
  // Sleeps for up to `pause`; true as soon as a stop is requested (or if it already was).
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> pause) {
    std::unique_lock lock(mutex_);
    return wake_.wait_for(lock, pause, [this] { return requested_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable wake_;
  bool requested_ = false;
};

}  // namespace md::server
