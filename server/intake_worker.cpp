// Intake worker (see intake_worker.hpp).
#include "server/intake_worker.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cstdlib>
#include <thread>

#include "core/errors.hpp"
#include "intake/webhook.hpp"
#include "queue/intake_consumer.hpp"
#include "routing/triage.hpp"
#include "store/case_store.hpp"

namespace md::server {
namespace {

// Sleeps in small steps so that a stop request is noticed quickly.
void pause(const std::atomic<bool>& stop, std::chrono::milliseconds total) {
  auto until = std::chrono::steady_clock::now() + total;
  while (!stop && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

// Fault injection for the crash tests: MEDIADESK_FAULT_INJECT=crash_after_commit makes the
// worker exit right after its first commit, before acknowledging in Redis.
bool fault(std::string_view point) {
  static const char* configured = std::getenv("MEDIADESK_FAULT_INJECT");
  return configured && point == configured;
}

struct prepared_batch {
  std::vector<store::new_case> cases;
  std::vector<std::string> entry_ids;  // the stream entries behind cases, in the same order
  struct failure {
    queue::delivered_intake entry;
    std::string reason;
  };
  std::vector<failure> failures;
};

// Opens, parses and triages each entry: pure work, no I/O. Failures here are permanent.
prepared_batch prepare(const crypto::keyring& keys, std::vector<queue::delivered_intake>& batch) {
  prepared_batch out;
  auto now_time = now();
  for (auto& entry : batch) {
    if (!entry.record) {
      out.failures.push_back({std::move(entry), "malformed stream entry"});
      continue;
    }
    auto& record = *entry.record;
    auto raw = keys.open(record.sealed_payload, intake::payload_binding(record.id));
    if (!raw) {
      out.failures.push_back({std::move(entry), "payload cannot be opened (wrong key or altered)"});
      continue;
    }
    if (record.source != intake::intake_source::webhook) {
      out.failures.push_back({std::move(entry), "no parser for this intake source yet"});
      continue;
    }
    auto validated = intake::validate_webhook_body(*raw);
    if (auto* e = std::get_if<field_error>(&validated)) {
      out.failures.push_back({std::move(entry), "payload is not a valid request: " + e->field});
      continue;
    }
    auto& v = std::get<intake::validated_request>(validated);
    store::new_case c;
    c.intake_id = record.id;
    c.source = record.source;
    c.received_unix_ms = record.received_unix_ms;
    c.deliveries = entry.deliveries;
    c.sealed_document_plaintext = std::move(*raw);
    c.journalist_email = v.request.journalist.email;
    c.triage = routing::triage_request(v.request, now_time);
    out.cases.push_back(std::move(c));
    out.entry_ids.push_back(entry.entry_id);
  }
  return out;
}

}  // namespace

std::string make_consumer_name(int index) {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  return fmt::format("{}-{}-{}", host, getpid(), index);
}

intake_worker::intake_worker(const settings& config, const crypto::keyring& keys, store::pg_pool& database,
                             metrics_registry& metrics, std::string consumer_name)
    : config_(config), keys_(keys), database_(database), metrics_(metrics), consumer_name_(std::move(consumer_name)) {}

void intake_worker::run(const std::atomic<bool>& stop) {
  queue::intake_consumer consumer(config_.redis, config_.worker, consumer_name_);
  queue::redis_keys keys{config_.redis.key_prefix};
  bool own_pending_done = false;
  auto last_reclaim = std::chrono::steady_clock::now() - std::chrono::hours(1);
  auto reclaim_every = std::chrono::milliseconds(std::max<std::int64_t>(config_.worker.reclaim_idle_ms / 2, 100));
  std::chrono::milliseconds backoff{100};

  // Stores a prepared batch, retrying while PostgreSQL is unavailable. Returns false if asked
  // to stop first (the entries stay pending and are redelivered).
  auto commit = [&](prepared_batch& p) -> bool {
    if (p.cases.empty()) return true;
    std::chrono::milliseconds wait{100};
    for (;;) {
      try {
        auto refs = database_.with([&](store::pg_connection& c) {
          return c.transaction([&](store::pg_connection& tx) { return store::store_new_cases(tx, keys_, p.cases); });
        });
        auto done = now();
        for (std::size_t i = 0; i < refs.size(); ++i) {
          if (!refs[i]) continue;
          ++metrics_.cases_created;
          metrics_.intake_to_case_seconds.observe(
              std::chrono::duration<double>(done - from_unix_ms(p.cases[i].received_unix_ms)).count());
          spdlog::info("intake {} became case {}", p.cases[i].intake_id, *refs[i]);
        }
        return true;
      } catch (const unavailable_error& e) {
        spdlog::warn("cannot store {} case(s) yet, retrying in {} ms: {}", p.cases.size(), wait.count(), e.what());
        pause(stop, wait);
        if (stop) return false;
        wait = std::min(wait * 2, std::chrono::milliseconds(5000));
      }
    }
  };

  auto dead_letter = [&](const queue::delivered_intake& entry, const std::string& reason) {
    if (entry.record) {
      store::failed_intake f{entry.record->id, std::string{intake::to_string(entry.record->source)},
                             entry.record->received_unix_ms, entry.deliveries, reason};
      database_.with([&](store::pg_connection& c) { store::store_failed_intake(c, f); });
    }
    consumer.dead_letter(entry, reason);
    ++metrics_.intakes_dead_lettered;
    spdlog::warn("intake {} moved to the dead-letter stream: {}", entry.record ? entry.record->id : entry.entry_id,
                 reason);
  };

  auto process = [&](std::vector<queue::delivered_intake> batch) {
    if (batch.empty()) return;
    auto p = prepare(keys_, batch);
    if (!commit(p)) return;
    if (fault("crash_after_commit")) {
      spdlog::critical("fault injection: exiting after commit, before acknowledging");
      std::_Exit(86);
    }
    consumer.acknowledge(p.entry_ids);
    for (auto& f : p.failures) dead_letter(f.entry, f.reason);
    if (!p.cases.empty()) {
      // Tell dashboards (SSE, any serve process) that cases changed; losing this is harmless.
      try {
        consumer.publish(keys.events_channel(),
                         boost::json::serialize(boost::json::object{{"type", "cases_changed"},
                                                                    {"count", p.cases.size()}}));
      } catch (const unavailable_error&) {
      }
    }
  };

  spdlog::info("worker {} started", consumer_name_);
  while (!stop) {
    try {
      if (!own_pending_done) {
        auto mine = consumer.read_own_pending();
        if (mine.empty()) own_pending_done = true;
        process(std::move(mine));
        continue;
      }
      if (std::chrono::steady_clock::now() - last_reclaim >= reclaim_every) {
        last_reclaim = std::chrono::steady_clock::now();
        auto reclaimed = consumer.reclaim();
        for (auto& e : reclaimed.over_limit)
          dead_letter(e, fmt::format("failed {} deliveries", e.deliveries - 1));
        if (!reclaimed.to_process.empty()) {
          spdlog::info("reclaimed {} intake(s) left pending by another worker", reclaimed.to_process.size());
          process(std::move(reclaimed.to_process));
        }
      }
      process(consumer.read_new());
      backoff = std::chrono::milliseconds(100);
    } catch (const unavailable_error& e) {
      spdlog::warn("worker waiting for Redis/PostgreSQL ({} ms): {}", backoff.count(), e.what());
      own_pending_done = false;  // after reconnecting, finish what was delivered to us first
      pause(stop, backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    }
  }
  spdlog::info("worker {} stopped", consumer_name_);
}

}  // namespace md::server
