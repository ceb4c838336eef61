// The live feed's hub (see event_stream.hpp): Redis pub/sub in, bounded per-stream queues out.
// It must never log a message's content (only its size), and never spin while Redis is down.
#include "server/event_stream.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json/parse.hpp>

#include "core/errors.hpp"

namespace md::server {
namespace {

// Our events are {"type", "ref"} or {"type", "count"}: anything this large is not one of them.
constexpr std::size_t max_message_bytes = 4096;
constexpr std::size_t max_type_bytes = 64;
// How often the subscriber looks at its stop flag while the channel is quiet.
constexpr auto poll_interval = std::chrono::milliseconds(200);
constexpr auto first_backoff = std::chrono::milliseconds(100);
constexpr auto max_backoff = std::chrono::milliseconds(2'000);

bool is_event_type(std::string_view type) {
  return !type.empty() && type.size() <= max_type_bytes &&
         std::all_of(type.begin(), type.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; });
}

}  // namespace

std::optional<std::string> event_frame(std::string_view message) {
  if (message.size() > max_message_bytes) return std::nullopt;
  boost::json::error_code ec;
  auto value = boost::json::parse(message, ec);
  if (ec || !value.is_object()) return std::nullopt;
  auto* type = value.get_object().if_contains("type");
  if (!type || !type->is_string() || !is_event_type(type->get_string())) return std::nullopt;
  std::string frame = "event: ";
  frame += type->get_string();
  frame += '\n';
  // Raw line breaks can only be whitespace between JSON tokens; SSE joins "data:" lines with \n,
  // so the client still parses exactly what was published.
  std::size_t start = 0;
  while (start <= message.size()) {
    auto end = message.find_first_of("\r\n", start);
    if (end == std::string_view::npos) end = message.size();
    frame += "data: ";
    frame += message.substr(start, end - start);
    frame += '\n';
    if (end < message.size() && message[end] == '\r' && end + 1 < message.size() && message[end + 1] == '\n') ++end;
    start = end + 1;
  }
  frame += '\n';
  return frame;
}

// ---- subscriptions ----

event_subscription::~event_subscription() { hub_.leave(id_); }

void event_subscription::set_wake(std::function<void()> wake) {
  std::lock_guard lock(mutex_);
  wake_ = std::move(wake);
  if (resync_ || !frames_.empty()) wake_();
}

event_subscription::batch event_subscription::take() {
  std::lock_guard lock(mutex_);
  batch b{std::exchange(resync_, false), {frames_.begin(), frames_.end()}};
  frames_.clear();
  return b;
}

void event_subscription::push(std::shared_ptr<const std::string> frame, std::size_t limit) {
  std::lock_guard lock(mutex_);
  if (frames_.size() >= limit) {
    // A stream that cannot keep up gets one resync instead of an ever longer queue.
    frames_.clear();
    resync_ = true;
  } else {
    frames_.push_back(std::move(frame));
  }
  if (wake_) wake_();
}

void event_subscription::resync() {
  std::lock_guard lock(mutex_);
  frames_.clear();  // older than the reload the resync causes
  resync_ = true;
  if (wake_) wake_();
}

// ---- the hub ----

event_hub::event_hub(event_hub_options options, metrics_registry& metrics)
    : options_(std::move(options)), metrics_(metrics) {}

event_hub::~event_hub() { stop(); }

std::shared_ptr<event_subscription> event_hub::subscribe() {
  std::lock_guard lock(mutex_);
  if (subscriptions_.size() >= options_.max_subscriptions) return nullptr;
  auto id = next_id_++;
  auto s = std::make_shared<event_subscription>(*this, id);
  subscriptions_[id] = s.get();
  ++metrics_.event_streams_open;
  return s;
}

void event_hub::leave(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  if (subscriptions_.erase(id)) --metrics_.event_streams_open;
}

void event_hub::deliver(std::string_view message) {
  auto frame = event_frame(message);
  if (!frame) {
    spdlog::debug("live feed: dropped a message that is not an event ({} bytes)", message.size());
    return;
  }
  // One copy of the frame, shared by every stream's queue.
  auto shared = std::make_shared<const std::string>(std::move(*frame));
  std::lock_guard lock(mutex_);
  for (auto& [id, s] : subscriptions_) s->push(shared, options_.queue_limit);
}

void event_hub::resync_all() {
  std::lock_guard lock(mutex_);
  for (auto& [id, s] : subscriptions_) s->resync();
}

void event_hub::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

void event_hub::stop() {
  stop_.request();
  if (thread_.joinable()) thread_.join();
}

// Subscribes, listens until the connection fails or stop(), and starts over after a growing
// pause: Redis being down costs one connection attempt per pause, never a busy loop.
void event_hub::run() {
  auto backoff = first_backoff;
  std::string last_problem;  // logged once, not on every attempt
  while (!stop_.requested()) {
    try {
      queue::redis_connection connection(options_.endpoint, options_.timeout);
      connection.enable_keepalive();
      auto confirmed = connection.command({"SUBSCRIBE", options_.channel});
      if (queue::is_error(confirmed.get())) throw unavailable_error("redis refused SUBSCRIBE");
      subscribed_ = true;
      backoff = first_backoff;
      last_problem.clear();
      spdlog::info("live feed: subscribed to the events channel");
      // Whatever was published while we were not subscribed never reached us.
      resync_all();
      listen(connection);
      subscribed_ = false;
    } catch (const std::exception& e) {
      if (subscribed_.exchange(false)) spdlog::warn("live feed: subscription lost: {}", e.what());
      else if (last_problem != e.what()) spdlog::warn("live feed: cannot subscribe now: {}", e.what());
      last_problem = e.what();
    }
    if (stop_.wait_for(backoff)) break;
    backoff = std::min(backoff * 2, max_backoff);
  }
}

void event_hub::listen(queue::redis_connection& connection) {
  while (!stop_.requested()) {
    auto reply = connection.poll_reply(poll_interval);
    if (!reply) continue;
    // ["message", channel, payload]; subscribe confirmations and the like are ignored.
    auto* r = reply.get();
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 && queue::text_of(r->element[0]) == "message")
      deliver(queue::text_of(r->element[2]));
  }
}

}  // namespace md::server
