// Prometheus metrics kept in process: request counters by route and status, and latency
// histograms. Lock-free on the hot path (atomics); rendering takes a short lock.
#pragma once
#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

namespace md::server {

class histogram {
 public:
  static constexpr std::array<double, 14> bounds{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                 0.1,    0.25,  0.5,    1,     2.5,   5,     10};
  void observe(double seconds);
  std::string render(std::string_view name, std::string_view help) const;

 private:
  std::array<std::atomic<std::uint64_t>, bounds.size() + 1> buckets_{};
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_micros_{0};
};

class metrics_registry {
 public:
  void count_request(std::string_view route, std::string_view method, unsigned status);
  histogram intake_ack_seconds;      // webhook/form/email: arrival until Redis acknowledged
  histogram intake_to_case_seconds;  // arrival until the case is committed (worker)
  std::atomic<std::uint64_t> cases_created{0}, intakes_dead_lettered{0}, intakes_unavailable{0};
  // Email intake (server/smtp_server): messages answered 250, connections refused at the cap.
  std::atomic<std::uint64_t> smtp_messages_queued{0}, smtp_connections_refused{0}, smtp_rate_limited{0};
  std::atomic<std::uint64_t> mail_delivered{0}, mail_retried{0}, mail_dead_lettered{0};  // the mail sender
  // The live feed (server/event_stream): streams open now, events written to them, resyncs sent.
  std::atomic<std::int64_t> event_streams_open{0};
  std::atomic<std::uint64_t> events_delivered{0}, event_resyncs{0};
  std::string render() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::tuple<std::string, std::string, unsigned>, std::uint64_t> requests_;
};

}  // namespace md::server
