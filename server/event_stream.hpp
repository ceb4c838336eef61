// The live feed's hub: one Redis subscriber thread per serve process fans the events channel out
// to each open event stream's bounded queue. It never forwards anything but typed JSON events.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "queue/redis_connection.hpp"
#include "server/metrics.hpp"
#include "server/stop_signal.hpp"

namespace md::server {

// The server-sent-events frame for a message from the events channel ("event: <type>" and the
// message, as published, in "data:" lines), or nullopt when it must be dropped: not a JSON
// object, no string "type" made only of a-z and _, or larger than an event ever is.
std::optional<std::string> event_frame(std::string_view message);
// What a stream sends when it may have missed events: the dashboard then reloads what it shows.
inline constexpr std::string_view resync_frame = "event: resync\ndata: {}\n\n";

class event_hub;

// One open stream's place in the hub: a bounded queue of frames. Destroying it leaves the hub.
class event_subscription {
 public:
  struct batch {
    bool resync = false;  // events were lost (queue overflow, or the feed was down)
    std::vector<std::shared_ptr<const std::string>> frames;
  };
  event_subscription(event_hub& hub, std::uint64_t id) : hub_(hub), id_(id) {}
  ~event_subscription();
  event_subscription(const event_subscription&) = delete;
  event_subscription& operator=(const event_subscription&) = delete;

  // Called (from the hub's thread, under its lock) after each frame or resync: keep it short.
  void set_wake(std::function<void()> wake);
  batch take();  // everything queued, and whether a resync is due; empties the queue

 private:
  friend class event_hub;
  void push(std::shared_ptr<const std::string> frame, std::size_t limit);
  void resync();
  event_hub& hub_;
  std::uint64_t id_;
  std::mutex mutex_;
  std::deque<std::shared_ptr<const std::string>> frames_;
  bool resync_ = false;
  std::function<void()> wake_;
};

struct event_hub_options {
  queue::redis_endpoint endpoint;
  std::string channel;
  // Connect and SUBSCRIBE; short, since stop() may wait for one attempt in progress.
  std::chrono::milliseconds timeout{1'000};
  std::size_t max_subscriptions = 1'000;
  std::size_t queue_limit = 256;  // frames waiting for one stream; beyond, cleared and one resync
};

class event_hub {
 public:
  event_hub(event_hub_options options, metrics_registry& metrics);
  ~event_hub();  // stop()
  event_hub(const event_hub&) = delete;
  event_hub& operator=(const event_hub&) = delete;

  void start();  // the subscriber thread: subscribes, and after a loss re-subscribes with backoff
  void stop();   // joins it: within one poll interval, or one connection attempt
  // nullptr when max_subscriptions streams are open (the caller answers 503).
  std::shared_ptr<event_subscription> subscribe();
  bool subscribed() const { return subscribed_.load(); }

  // The fan-out, run by the subscriber thread; public for the unit tests.
  void deliver(std::string_view message);
  void resync_all();

 private:
  friend class event_subscription;
  void leave(std::uint64_t id);
  void run();
  void listen(queue::redis_connection& connection);

  event_hub_options options_;
  metrics_registry& metrics_;
  std::mutex mutex_;  // guards subscriptions_ and next_id_
  std::map<std::uint64_t, event_subscription*> subscriptions_;
  std::uint64_t next_id_ = 0;
  std::atomic<bool> subscribed_{false};
  std::thread thread_;
  stop_signal stop_;
};

}  // namespace md::server
