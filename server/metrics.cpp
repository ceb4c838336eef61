// Metrics registry (see metrics.hpp).
#include "server/metrics.hpp"

#include <fmt/format.h>

namespace md::server {

void histogram::observe(double seconds) {
  std::size_t i = 0;
  while (i < bounds.size() && seconds > bounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<std::uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

std::string histogram::render(std::string_view name, std::string_view help) const {
  std::string out = fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, bounds[i], cumulative);
  }
  cumulative += buckets_[bounds.size()].load(std::memory_order_relaxed);
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n", name, cumulative);
  out += fmt::format("{}_sum {}\n{}_count {}\n", name, sum_micros_.load() / 1e6, name, count_.load());
  return out;
}

void metrics_registry::count_request(std::string_view route, std::string_view method, unsigned status) {
  std::lock_guard lock(mutex_);
  ++requests_[{std::string{route}, std::string{method}, status}];
}

std::string metrics_registry::render() const {
  std::string out = "# HELP mediadesk_http_requests_total HTTP requests by route template and status.\n"
                    "# TYPE mediadesk_http_requests_total counter\n";
  {
    std::lock_guard lock(mutex_);
    for (auto& [key, value] : requests_)
      out += fmt::format("mediadesk_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{}\"}} {}\n",
                         std::get<0>(key), std::get<1>(key), std::get<2>(key), value);
  }
  out += intake_ack_seconds.render("mediadesk_intake_ack_seconds",
                                   "Time from arrival of an intake until Redis acknowledged it.");
  out += intake_to_case_seconds.render("mediadesk_intake_to_case_seconds",
                                       "Time from arrival of an intake until its case was committed.");
  out += fmt::format(
      "# TYPE mediadesk_cases_created_total counter\nmediadesk_cases_created_total {}\n"
      "# TYPE mediadesk_intakes_dead_lettered_total counter\nmediadesk_intakes_dead_lettered_total {}\n"
      "# TYPE mediadesk_intakes_unavailable_total counter\nmediadesk_intakes_unavailable_total {}\n",
      cases_created.load(), intakes_dead_lettered.load(), intakes_unavailable.load());
  out += fmt::format(
      "# TYPE mediadesk_smtp_messages_queued_total counter\nmediadesk_smtp_messages_queued_total {}\n"
      "# TYPE mediadesk_smtp_connections_refused_total counter\nmediadesk_smtp_connections_refused_total {}\n"
      "# TYPE mediadesk_smtp_rate_limited_total counter\nmediadesk_smtp_rate_limited_total {}\n",
      smtp_messages_queued.load(), smtp_connections_refused.load(), smtp_rate_limited.load());
  out += fmt::format(
      "# TYPE mediadesk_mail_delivered_total counter\nmediadesk_mail_delivered_total {}\n"
      "# TYPE mediadesk_mail_retried_total counter\nmediadesk_mail_retried_total {}\n"
      "# TYPE mediadesk_mail_dead_lettered_total counter\nmediadesk_mail_dead_lettered_total {}\n",
      mail_delivered.load(), mail_retried.load(), mail_dead_lettered.load());
  out += fmt::format(
      "# HELP mediadesk_event_streams_open Live-feed event streams open in this process.\n"
      "# TYPE mediadesk_event_streams_open gauge\nmediadesk_event_streams_open {}\n"
      "# TYPE mediadesk_events_delivered_total counter\nmediadesk_events_delivered_total {}\n"
      "# TYPE mediadesk_event_resyncs_total counter\nmediadesk_event_resyncs_total {}\n",
      event_streams_open.load(), events_delivered.load(), event_resyncs.load());
  return out;
}

}  // namespace md::server
