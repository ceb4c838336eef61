// Intake worker (see intake_worker.hpp).
#include "server/intake_worker.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cstdlib>
#include <map>
#include <thread>

#include "core/case_ref.hpp"
#include "core/errors.hpp"
#include "mail/auto_reply.hpp"
#include "mail/message.hpp"
#include "mail/outbound.hpp"
#include "server/offer_service.hpp"
#include "queue/outbox.hpp"
#include "intake/webhook.hpp"
#include "queue/intake_consumer.hpp"
#include "routing/triage.hpp"
#include "store/case_store.hpp"
#include "store/offer_store.hpp"
#include "store/retention_store.hpp"
#include "store/user_store.hpp"

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

// The case tag of a reply's subject ("Re: Refugee doctor [MD-2026-000123]"), or empty.
std::string case_ref_in(std::string_view subject) {
  for (auto at = subject.find("[MD-"); at != std::string_view::npos; at = subject.find("[MD-", at + 1)) {
    auto end = subject.find(']', at);
    if (end == std::string_view::npos) break;
    auto ref = subject.substr(at + 1, end - at - 1);
    if (parse_case_ref(ref)) return std::string(ref);
  }
  return {};
}

// Who gets an automatic acknowledgement once the case exists: the sender of an email that may
// be answered (RFC 3834) and whoever filled in the form; newsroom systems (webhook) do not.
struct acknowledgement {
  std::string to_name, to_address, subject, message_id;
  std::vector<std::string> references;
};

struct prepared_batch {
  std::map<std::string, acknowledgement> acknowledgements;  // by intake id
  std::vector<std::pair<std::string, std::string>> opened;  // (intake id, case ref), filled by commit
  std::vector<store::new_case> cases;
  std::vector<queue::delivered_intake> entries;  // the stream entries behind cases, in the same order
  struct failure {
    queue::delivered_intake entry;
    std::string reason;
  };
  std::vector<failure> failures;
};

// Opens, parses and triages each entry: pure work, no I/O. Failures here are permanent.
prepared_batch prepare(const crypto::keyring& keys, const routing::taxonomy& taxonomy, std::string_view own_address,
                       std::vector<queue::delivered_intake>& batch) {
  prepared_batch out;
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
    store::new_case c;
    c.intake_id = record.id;
    c.source = record.source;
    c.received_unix_ms = record.received_unix_ms;
    c.deliveries = entry.deliveries;
    // Relative times ("by 4pm tomorrow") are read against the arrival, not the processing time.
    auto arrival = from_unix_ms(record.received_unix_ms);
    if (record.source == intake::intake_source::email) {
      // Whatever the message holds, it becomes a case: one that cannot be parsed is marked
      // unparsed and triaged from what could be read, with the raw message kept sealed.
      auto message = mail::parse_message(*raw);
      c.journalist_email = message.from_address;
      c.message_id = message.message_id;
      if (!message.in_reply_to.empty()) c.replies_to.push_back(message.in_reply_to);
      c.replies_to.insert(c.replies_to.end(), message.references.begin(), message.references.end());
      c.subject_ref = case_ref_in(message.subject);
      c.unparsed = !message.parsed;
      c.triage = routing::triage(taxonomy, text_of(message).input(), arrival);
      if (!message.from_address.empty() && mail::may_acknowledge(message, own_address)) {
        auto references = c.replies_to;
        if (!message.message_id.empty()) references.push_back(message.message_id);
        out.acknowledgements[record.id] = {message.from_name, message.from_address, message.subject,
                                           message.message_id, std::move(references)};
      }
    } else {
      // Webhook and form share one document format and one validator.
      auto validated = intake::validate_webhook_body(*raw);
      if (auto* e = std::get_if<field_error>(&validated)) {
        out.failures.push_back({std::move(entry), "payload is not a valid request: " + e->field});
        continue;
      }
      auto& v = std::get<intake::validated_request>(validated);
      c.journalist_email = v.request.journalist.email;
      c.triage = routing::triage(taxonomy, text_of(v.request).input(), arrival);
      if (record.source == intake::intake_source::form)
        out.acknowledgements[record.id] = {v.request.journalist.name, v.request.journalist.email, v.request.subject, {}, {}};
    }
    c.sealed_document_plaintext = std::move(*raw);
    out.cases.push_back(std::move(c));
    out.entries.push_back(std::move(entry));
  }
  return out;
}

}  // namespace

std::string make_consumer_name(std::string_view prefix, int index) {
  if (!prefix.empty()) return fmt::format("{}-{}", prefix, index);
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  return fmt::format("{}-{}-{}", host, getpid(), index);
}

intake_worker::intake_worker(const settings& config, const crypto::keyring& keys, store::pg_pool& database,
                             const taxonomy_holder& taxonomy, metrics_registry& metrics, std::string consumer_name)
    : config_(config),
      keys_(keys),
      database_(database),
      taxonomy_(taxonomy),
      metrics_(metrics),
      consumer_name_(std::move(consumer_name)) {}

void intake_worker::run(const std::atomic<bool>& stop) {
  queue::intake_consumer consumer(config_.redis, config_.worker, consumer_name_);
  queue::redis_keys keys{config_.redis.key_prefix};
  bool own_pending_done = false;
  auto last_reclaim = std::chrono::steady_clock::now() - std::chrono::hours(1);
  auto reclaim_every = std::chrono::milliseconds(std::max<std::int64_t>(config_.worker.reclaim_idle_ms / 2, 100));
  std::chrono::milliseconds backoff{100};
  auto last_housekeeping = std::chrono::steady_clock::now() - std::chrono::hours(48);
  auto housekeeping_every = std::chrono::seconds(config_.worker.housekeeping_interval_s);
  auto last_escalation = std::chrono::steady_clock::now() - std::chrono::hours(1);
  auto escalation_every = std::chrono::milliseconds(config_.worker.escalation_interval_ms);
  store::session_timeouts timeouts{std::chrono::minutes(config_.session.idle_timeout_minutes),
                                   std::chrono::hours(config_.session.absolute_timeout_hours)};

  auto store_cases = [&](std::span<const store::new_case> cases, prepared_batch& p) {
    auto stored = database_.with([&](store::pg_connection& c) {
      return c.transaction(
          [&](store::pg_connection& tx) { return store::store_new_cases(tx, keys_, cases, same_request_documents); });
    });
    auto done = now();
    for (std::size_t i = 0; i < stored.size(); ++i) {
      if (!stored[i]) continue;
      if (stored[i]->joined()) {
        spdlog::info("intake {} joined case {} ({})", cases[i].intake_id, stored[i]->ref,
                     stored[i]->outcome == store::stored_intake::how::reply ? "a reply in its thread" : "the same request again");
        continue;
      }
      ++metrics_.cases_created;
      metrics_.intake_to_case_seconds.observe(
          std::chrono::duration<double>(done - from_unix_ms(cases[i].received_unix_ms)).count());
      spdlog::info("intake {} became case {}", cases[i].intake_id, stored[i]->ref);
      p.opened.emplace_back(cases[i].intake_id, stored[i]->ref);
    }
  };

  // Stores a prepared batch, retrying while PostgreSQL is unavailable. If the batch fails for
  // another reason, stores case by case so that one bad case does not hold up the others; the
  // cases that still fail move to p.failures. Returns false if asked to stop first (the entries
  // stay pending and are redelivered).
  auto commit = [&](prepared_batch& p) -> bool {
    if (p.cases.empty()) return true;
    std::chrono::milliseconds wait{100};
    for (;;) {
      try {
        try {
          store_cases(p.cases, p);
        } catch (const unavailable_error&) {
          throw;
        } catch (const std::exception& e) {
          spdlog::error("storing a batch of {} failed ({}); storing one by one", p.cases.size(), e.what());
          prepared_batch kept;
          for (std::size_t i = 0; i < p.cases.size(); ++i) {
            try {
              store_cases(std::span<const store::new_case>(&p.cases[i], 1), p);
              kept.cases.push_back(std::move(p.cases[i]));
              kept.entries.push_back(std::move(p.entries[i]));
            } catch (const unavailable_error&) {
              throw;
            } catch (const std::exception& single) {
              spdlog::error("intake {} cannot be stored: {}", p.cases[i].intake_id, single.what());
              p.failures.push_back({std::move(p.entries[i]), "could not be stored in PostgreSQL"});
            }
          }
          p.cases = std::move(kept.cases);
          p.entries = std::move(kept.entries);
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

  auto publish_change = [&](std::size_t count) {
    // Tell dashboards (SSE, any serve process) that cases changed; losing this is harmless.
    try {
      consumer.publish(keys.events_channel(),
                       boost::json::serialize(boost::json::object{{"type", "cases_changed"}, {"count", count}}));
    } catch (const unavailable_error&) {
    }
  };

  auto escalate = [&] {
    auto raised = database_.with([&](store::pg_connection& c) {
      return c.transaction([&](store::pg_connection& tx) { return store::escalate_due_cases(tx, now()); });
    });
    for (auto& e : raised) spdlog::info("case {} escalated: {}", e.ref, e.level);
    if (!raised.empty()) publish_change(raised.size());
  };

  std::optional<queue::redis_connection> outbox;  // for acknowledgements and reminders, opened on first use

  // Staff are told of consents coming to an end: the reminders are taken and the email queued
  // in one transaction, so a reminder Redis refused is taken again next round.
  auto remind_of_expiring_consents = [&] {
    if (config_.consent.reminder_days <= 0) return;
    auto reminded = database_.with([&](store::pg_connection& c) {
      return c.transaction([&](store::pg_connection& tx) {
        auto due = store::take_consent_reminders(tx, now(), config_.consent.reminder_days);
        if (due.empty() || config_.consent.staff_address.empty()) return due;
        std::vector<mail::consent_reminder_line> lines;
        for (auto& d : due) lines.push_back({d.alias, d.consent_id, d.spokesperson_id, d.expires_at});
        mail::outbound_fields f;
        f.from_name = config_.mail.from_name;
        f.from_address = config_.mail.from_address;
        f.to_address = config_.consent.staff_address;
        f.subject = due.size() == 1 ? std::string{"Consent expiring soon: 1 spokesperson"}
                                    : fmt::format("Consent expiring soon: {} spokespeople", due.size());
        f.body_text = mail::consent_reminder_text(lines, config_.public_base_url());
        f.message_id = mail::make_message_id(mail::domain_of(config_.mail.from_address));
        f.auto_reply = true;
        if (!outbox)
          outbox.emplace(queue::parse_redis_url(config_.redis.url), std::chrono::milliseconds(config_.redis.timeout_ms));
        try {
          queue::enqueue_mail(*outbox, keys, keys_,
                              {queue::new_outbox_id(), config_.mail.from_address, {config_.consent.staff_address},
                               mail::build_message(f, now()), "consent_reminder", ""});
        } catch (...) {
          outbox.reset();
          throw;
        }
        return due;
      });
    });
    if (!reminded.empty()) spdlog::info("staff reminded of {} consent(s) expiring soon", reminded.size());
  };

  // Offers past their time expire (and, with the case's waterfall on, the next candidate is
  // offered); partners hear of every withdrawn offer. Mail is queued inside the transaction.
  auto offer_rounds = [&] {
    if (!outbox)
      outbox.emplace(queue::parse_redis_url(config_.redis.url), std::chrono::milliseconds(config_.redis.timeout_ms));
    offer_deps deps{config_, keys_, taxonomy_.current(), keys};
    try {
      auto counts = database_.with([&](store::pg_connection& c) {
        publish_after_commit publishes(*outbox, keys);
        auto done = c.transaction([&](store::pg_connection& tx) {
          auto at = now();
          auto expired = store::expire_due_offers(tx, at);
          for (auto& e : expired) after_close(tx, *outbox, deps, e, at);
          auto withdrawn = store::take_withdrawal_notices(tx);
          for (auto& w : withdrawn) tell_partner_withdrawn(tx, *outbox, deps, w);
          return std::pair{expired.size(), withdrawn.size()};
        });
        publishes.commit();
        return done;
      });
      if (counts.first > 0) spdlog::info("{} offer(s) expired", counts.first);
      if (counts.second > 0) spdlog::info("{} partner(s) told of a withdrawn offer", counts.second);
    } catch (const unavailable_error&) {
      outbox.reset();
      throw;
    }
  };

  auto housekeeping = [&] {
    auto purged = database_.with([&](store::pg_connection& c) { return store::purge_expired_sessions(c, timeouts); });
    if (purged > 0) spdlog::info("purged {} expired session(s)", purged);
    auto& r = config_.retention;
    auto sweep = database_.with([&](store::pg_connection& c) {
      return store::apply_retention(c, {r.closed_case_days, r.journalist_contact_days, r.consent_evidence_days}, now());
    });
    if (sweep.total() > 0)
      spdlog::info("retention: personal data purged from {} closed case(s), {} case(s) past the journalist contact "
                   "period, {} consent evidence note(s)",
                   sweep.closed_cases, sweep.journalist_contacts, sweep.consent_evidence);
    remind_of_expiring_consents();
  };

  // The automatic acknowledgement: rate-limited per address (by its blind index), queued in the
  // outbox, its Message-ID kept so that the journalist's reply threads into the case. Best
  // effort: a failure is logged and the request goes on without one.
  auto acknowledge_request = [&](const std::string& ref, const acknowledgement& a) {
    try {
      if (!outbox)
        outbox.emplace(queue::parse_redis_url(config_.redis.url), std::chrono::milliseconds(config_.redis.timeout_ms));
      auto index = store::journalist_email_index(keys_, a.to_address);
      if (!queue::take_acknowledgement_slot(*outbox, keys, index, config_.mail.acknowledgements_per_address_per_hour)) {
        spdlog::info("case {}: no acknowledgement (too many to this address in the last hour)", ref);
        return;
      }
      mail::outbound_fields f;
      f.from_name = config_.mail.from_name;
      f.from_address = config_.mail.from_address;
      f.to_name = a.to_name;
      f.to_address = a.to_address;
      f.subject = mail::reply_subject(a.subject.empty() ? "Your request to the media desk" : a.subject, ref);
      f.body_text = mail::acknowledgement_text(ref, a.to_name);
      f.message_id = mail::make_message_id(mail::domain_of(config_.mail.from_address));
      f.in_reply_to = a.message_id;
      f.references = a.references;
      f.auto_reply = true;
      f.case_ref = ref;
      queue::outbound_mail m{queue::new_outbox_id(), config_.mail.from_address, {a.to_address},
                             mail::build_message(f, now()), "acknowledgement", ref};
      queue::enqueue_mail(*outbox, keys, keys_, m);
      database_.with([&](store::pg_connection& c) {
        c.transaction([&](store::pg_connection& tx) { store::record_acknowledgement(tx, keys_, ref, f.message_id); });
      });
      spdlog::info("case {}: acknowledgement queued", ref);
    } catch (const std::exception& e) {
      outbox.reset();
      spdlog::warn("case {}: acknowledgement not sent: {}", ref, e.what());
    }
  };

  auto process = [&](std::vector<queue::delivered_intake> batch) {
    if (batch.empty()) return;
    auto p = prepare(keys_, *taxonomy_.current(), config_.mail.from_address, batch);
    if (!commit(p)) return;
    if (fault("crash_after_commit")) {
      spdlog::critical("fault injection: exiting after commit, before acknowledging");
      std::_Exit(86);
    }
    // Before XACK: a crash in between redelivers entries that are already stored, which open no
    // case and so send nothing twice.
    for (auto& [intake_id, ref] : p.opened)
      if (auto it = p.acknowledgements.find(intake_id); it != p.acknowledgements.end()) acknowledge_request(ref, it->second);
    std::vector<std::string> entry_ids;
    for (auto& e : p.entries) entry_ids.push_back(e.entry_id);
    consumer.acknowledge(entry_ids);
    for (auto& f : p.failures) dead_letter(f.entry, f.reason);
    if (!p.cases.empty()) publish_change(p.cases.size());
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
      if (std::chrono::steady_clock::now() - last_escalation >= escalation_every) {
        last_escalation = std::chrono::steady_clock::now();
        escalate();
        offer_rounds();
      }
      if (std::chrono::steady_clock::now() - last_housekeeping >= housekeeping_every) {
        last_housekeeping = std::chrono::steady_clock::now();
        housekeeping();
      }
      backoff = std::chrono::milliseconds(100);
    } catch (const unavailable_error& e) {
      spdlog::warn("worker waiting for Redis/PostgreSQL ({} ms): {}", backoff.count(), e.what());
      own_pending_done = false;  // after reconnecting, finish what was delivered to us first
      pause(stop, backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    } catch (const std::exception& e) {
      // A bug or an unexpected reply: never end the thread (and the process with it). The
      // entries stay pending; reclaim and max_deliveries dead-letter them if this repeats.
      spdlog::error("worker error ({} ms pause): {}", backoff.count(), e.what());
      own_pending_done = false;
      pause(stop, backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    }
  }
  spdlog::info("worker {} stopped", consumer_name_);
}

}  // namespace md::server
