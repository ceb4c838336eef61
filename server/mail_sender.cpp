// Mail sender (see mail_sender.hpp). One thread per worker process: outbound mail is low volume
// and each attempt is bounded by mail.timeout_ms, so one at a time keeps ordering and load simple.
#include "server/mail_sender.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <thread>

#include "core/errors.hpp"

namespace md::server {
namespace {

constexpr std::chrono::milliseconds max_retry_delay = std::chrono::hours(1);

void pause(const std::atomic<bool>& stop, std::chrono::milliseconds total) {
  auto until = std::chrono::steady_clock::now() + total;
  while (!stop && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

double random_unit() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

std::string ref_text(const queue::outbox_entry& e) { return e.case_ref.empty() ? "no case" : e.case_ref; }

}  // namespace

std::chrono::milliseconds retry_delay(std::int64_t retry_base_ms, std::int64_t attempt, double jitter) {
  auto cap = static_cast<double>(max_retry_delay.count());
  double full = static_cast<double>(std::max<std::int64_t>(retry_base_ms, 1));
  for (std::int64_t i = 0; i < attempt && full < cap; ++i) full *= 2;  // no overflow for any attempt
  full = std::min(full, cap);
  // "Equal jitter": half fixed, half random, so that senders retrying together spread out.
  double delay = full / 2 + std::clamp(jitter, 0.0, 1.0) * full / 2;
  return std::chrono::milliseconds(static_cast<std::int64_t>(delay));
}

mail_sender::mail_sender(const settings& config, const crypto::keyring& keys, metrics_registry& metrics,
                         std::string consumer_name)
    : config_(config), keys_(keys), metrics_(metrics), consumer_name_(std::move(consumer_name)) {}

mail::delivery_result mail_sender::deliver(const queue::outbound_mail& m, const std::atomic<bool>& stop) {
  if (config_.mail.transport == "smtp") {
    mail::smtp_options o;
    o.url = config_.mail.smtp_url;
    o.username = config_.mail.smtp_username;
    o.password = config_.mail.smtp_password;
    o.starttls = config_.mail.starttls;
    o.timeout = std::chrono::milliseconds(config_.mail.timeout_ms);
    o.connect_timeout = std::min(o.timeout, std::chrono::milliseconds(10'000));
    o.cancel = &stop;
    return mail::deliver_by_smtp(o, m.envelope_from, m.recipients, m.message);
  }
  return mail::deliver_to_maildir(config_.mail.maildir, m.id, m.message);
}

void mail_sender::run(const std::atomic<bool>& stop) {
  if (config_.mail.transport == "maildir" && config_.mail.maildir.empty()) {
    spdlog::warn("mail sender not started: mail.maildir is not set (outbound mail stays queued in the outbox)");
    return;
  }
  if (config_.mail.transport == "maildir") {
    // Made now rather than at the first message, so the folder can be watched from the start.
    std::error_code ec;
    for (auto sub : {"tmp", "new", "cur"})
      std::filesystem::create_directories(std::filesystem::path(config_.mail.maildir) / sub, ec);
    if (ec) spdlog::warn("mail sender: cannot create the maildir folders yet: {}", ec.message());
  }
  queue::outbox_consumer_options options;
  options.batch_size = 10;
  // Another sender's entry is only taken over once it cannot still be in its delivery attempt.
  options.reclaim_idle_ms = std::max<std::int64_t>(config_.worker.reclaim_idle_ms, config_.mail.timeout_ms + 5'000);
  options.max_deliveries = config_.worker.max_deliveries;
  queue::outbox_consumer consumer(config_.redis, options, consumer_name_);
  auto block_ms = std::chrono::milliseconds(config_.worker.block_ms);
  auto max_attempts = config_.mail.max_attempts;
  bool own_pending_done = false;
  auto last_reclaim = std::chrono::steady_clock::now() - std::chrono::hours(1);
  auto reclaim_every = std::chrono::milliseconds(std::max<std::int64_t>(options.reclaim_idle_ms / 2, 100));
  std::chrono::milliseconds backoff{100};

  auto dead_letter = [&](const queue::outbox_entry& e, const std::string& reason) {
    consumer.dead_letter(e, reason);
    ++metrics_.mail_dead_lettered;
    // A malformed entry's fields were never checked: only its stream id is logged.
    if (e.malformed) spdlog::warn("outbox entry {} moved to the dead-letter stream: {}", e.entry_id, reason);
    else spdlog::warn("outbox {} ({}, {}) moved to the dead-letter stream: {}", e.id, e.purpose, ref_text(e), reason);
  };

  auto process = [&](queue::outbox_entry& e) {
    if (e.malformed) return dead_letter(e, "malformed outbox entry");
    if (consumer.already_sent(e)) {  // delivered, then the sender stopped before acknowledging
      consumer.mark_delivered(e);
      spdlog::info("outbox {} was delivered before; acknowledged without sending again", e.id);
      return;
    }
    auto m = queue::open_outbox_entry(keys_, e);
    if (!m) return dead_letter(e, "message cannot be opened (wrong key or altered)");
    mail::delivery_result result{mail::delivery_result::kind::temporary, ""};
    try {
      result = deliver(*m, stop);
    } catch (const std::exception& ex) {  // filesystem or allocation trouble: worth another try
      result = {mail::delivery_result::kind::temporary, "transport error"};
      spdlog::error("outbox {}: transport error: {}", e.id, ex.what());
    }
    auto attempts = e.attempt + 1;
    switch (result.result) {
      case mail::delivery_result::kind::delivered:
        consumer.mark_delivered(e);
        ++metrics_.mail_delivered;
        spdlog::info("outbox {} ({}, {}) delivered by {} on attempt {}: {}", e.id, e.purpose, ref_text(e),
                     config_.mail.transport, attempts, result.detail);
        return;
      case mail::delivery_result::kind::permanent: {
        auto dead = e;
        dead.attempt = attempts;
        return dead_letter(dead, "permanent failure: " + result.detail);
      }
      case mail::delivery_result::kind::temporary:
        if (stop) return;  // abandoned for shutdown: stays pending, delivered again on start
        if (attempts >= max_attempts) {
          auto dead = e;
          dead.attempt = attempts;
          return dead_letter(dead, fmt::format("failed {} attempts; last: {}", attempts, result.detail));
        }
        auto delay = retry_delay(config_.mail.retry_base_ms, e.attempt, random_unit());
        consumer.schedule_retry(e, now() + delay);
        ++metrics_.mail_retried;
        spdlog::warn("outbox {} ({}, {}) attempt {} of {} failed ({}); retry in {} ms", e.id, e.purpose, ref_text(e),
                     attempts, max_attempts, result.detail, delay.count());
        return;
    }
  };

  auto process_all = [&](std::vector<queue::outbox_entry> batch) {
    for (auto& e : batch) {
      if (stop) return;  // the rest stay pending for the next start
      process(e);
    }
  };

  spdlog::info("mail sender {} started ({})", consumer_name_, config_.mail.transport);
  while (!stop) {
    try {
      if (!own_pending_done) {
        auto mine = consumer.read_own_pending();
        if (mine.empty()) own_pending_done = true;
        process_all(std::move(mine));
        continue;
      }
      if (std::chrono::steady_clock::now() - last_reclaim >= reclaim_every) {
        last_reclaim = std::chrono::steady_clock::now();
        auto reclaimed = consumer.reclaim();
        for (auto& e : reclaimed.over_limit) dead_letter(e, fmt::format("failed {} deliveries", e.deliveries - 1));
        if (!reclaimed.to_process.empty()) {
          spdlog::info("reclaimed {} outbox message(s) left pending by another sender", reclaimed.to_process.size());
          process_all(std::move(reclaimed.to_process));
        }
      }
      auto due = consumer.move_due_retries(now());
      // Wake for the next retry rather than a full block later.
      auto block = block_ms;
      if (due.next_due)
        block = std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(*due.next_due - now()),
                           std::chrono::milliseconds(10), block_ms);
      process_all(consumer.read_new(block));
      backoff = std::chrono::milliseconds(100);
    } catch (const unavailable_error& e) {
      spdlog::warn("mail sender waiting for Redis ({} ms): {}", backoff.count(), e.what());
      own_pending_done = false;  // after reconnecting, finish what was delivered to us first
      pause(stop, backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    } catch (const std::exception& e) {
      // Never end the thread: the entries stay pending; reclaim and max_deliveries deal with repeats.
      spdlog::error("mail sender error ({} ms pause): {}", backoff.count(), e.what());
      own_pending_done = false;
      pause(stop, backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    }
  }
  spdlog::info("mail sender {} stopped", consumer_name_);
}

}  // namespace md::server
