// Key rotation in PostgreSQL (see key_rotation.hpp). The SQL below is assembled only from the
// constant column table in this file, never from input.
#include "store/key_rotation.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <limits>
#include <stdexcept>
#include <thread>

#include "store/case_store.hpp"
#include "store/migrations.hpp"
#include "store/coverage_store.hpp"
#include "store/note_store.hpp"
#include "store/outbound_store.hpp"
#include "store/user_store.hpp"

namespace md::store {

// Defined in case_store.cpp (not in its header): the inbound message binding, used here so that
// the sweep opens exactly what the worker sealed.
std::string case_message_binding(std::string_view intake_id);

namespace {

constexpr std::int64_t rotation_lock_key = 0x6d646b6579726f74;  // "mdkeyrot"

// Where a keyring-sealed column lives and how a row's binding is made. The selected columns are
// always: 0 the primary key as text, 1 the sealed value, then binding_columns from 2 on.
struct sealed_column {
  std::string_view name;             // the binding's prefix, printed by `keys rotate`
  std::string_view table, key, column;
  bool numeric_key;                  // keyset paging starts below every bigint, or at ''
  std::string_view binding_columns;  // more columns the binding needs, or "NULL"
  std::string_view only;             // a further condition on the rows swept, or "true"
  std::string (*binding)(const pg_result& r, int row);
  bool optional = false;             // a table a later migration adds: skipped until it exists
};

// Each binding here must equal the one its writer seals with: the comment names the writer.
const sealed_column sealed_columns[] = {
    // store/user_store.cpp upsert_user: bound to the hex of the email's blind index.
    {"users.email", "users", "id", "email_sealed", true, "email_index", "true",
     [](const pg_result& r, int row) { return user_email_binding(r.get_bytes(row, 2)); }},
    // store/case_store.cpp store_intakes.
    {"cases.request", "cases", "id", "request_sealed", true, "ref", "true",
     [](const pg_result& r, int row) { return case_request_binding(r.get(row, 2)); }},
    // Inbound rows (store/case_store.cpp) are bound to their intake id, outbound rows
    // (store/outbound_store.cpp) to their Message-ID. Outbound rows stored before migration 006
    // kept neither: they are counted apart (unopenable_outbound), not swept.
    {"case_messages.sealed", "case_messages", "id", "sealed", true, "intake_id, message_id",
     "(intake_id IS NOT NULL OR message_id IS NOT NULL)",
     [](const pg_result& r, int row) {
       return !r.is_null(row, 2) ? case_message_binding(r.get(row, 2)) : outbound_message_binding(r.get(row, 3));
     }},
    // store/registry_store.cpp create_person_key (wrap_binding): the person's data key, re-wrapped.
    {"person_keys.wrapped", "person_keys", "id", "wrapped", true, "NULL", "true",
     [](const pg_result& r, int row) { return fmt::format("person_keys.wrapped:{}", r.get(row, 0)); }},
    // store/registry_store.cpp record_reveal; migration 005 lets exactly this update through.
    {"reveal_audit.reason", "reveal_audit", "id", "reason_sealed", false, "NULL", "true",
     [](const pg_result& r, int row) { return fmt::format("reveal_audit.reason:{}", r.get(row, 0)); }},
    // store/offer_store.cpp (decline_binding), once the offers migration is in.
    {"offers.decline_reason", "offers", "id", "decline_reason_sealed", true, "NULL", "true",
     [](const pg_result& r, int row) { return fmt::format("offers.decline_reason:{}", r.get(row, 0)); }, true},
    // store/note_store.cpp add_case_note, once migration 008 is in.
    {"case_notes.text", "case_notes", "id", "text_sealed", true, "NULL", "true",
     [](const pg_result& r, int row) { return case_note_binding(r.get_int(row, 0)); }, true},
    // store/coverage_store.cpp add_coverage, once migration 009 is in.
    {"coverage.details", "coverage", "id", "details_sealed", true, "NULL", "true",
     [](const pg_result& r, int row) { return coverage_details_binding(r.get_int(row, 0)); }, true},
};

// Stale: sealed, and the envelope header names another key id (or is not a keyring envelope at
// all, which then fails to open: a hard error). sealed_key_id() is in migration 005.
std::string stale_condition(const sealed_column& s) {
  return fmt::format("{col} IS NOT NULL AND sealed_key_id({col}) IS DISTINCT FROM $1 AND {only}",
                     fmt::arg("col", s.column), fmt::arg("only", s.only));
}

bool column_exists(pg_connection& c, const sealed_column& s) {
  return c
             .exec("SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() "
                   "AND table_name = $1 AND column_name = $2",
                   {text(s.table), text(s.column)})
             .get_int(0, 0) > 0;
}

struct batch_result {
  int rows = 0;             // stale rows read (and locked)
  std::string last_key;     // where the next batch starts
  std::int64_t resealed = 0;
};

// One short transaction: lock up to batch_rows stale rows after `after` (skipping rows a writer
// holds: the next pass gets them), open each, seal it again under target and swap it in only if
// it is still the value read.
batch_result reseal_batch(pg_connection& c, const crypto::keyring& keys, const sealed_column& s, std::uint32_t target,
                          const std::string& after, const reseal_options& options) {
  auto select_sql = fmt::format(
      "SELECT {key}::text, {col}, {more} FROM {table} WHERE {stale} AND {key} > $2 ORDER BY {key} LIMIT $3 "
      "FOR UPDATE SKIP LOCKED",
      fmt::arg("key", s.key), fmt::arg("col", s.column), fmt::arg("more", s.binding_columns),
      fmt::arg("table", s.table), fmt::arg("stale", stale_condition(s)));
  auto update_sql = fmt::format("UPDATE {table} SET {col} = $1 WHERE {key} = $2 AND {col} = $3",
                                fmt::arg("table", s.table), fmt::arg("col", s.column), fmt::arg("key", s.key));
  return c.transaction([&](pg_connection& tx) {
    tx.exec("SELECT set_config('statement_timeout', $1, true), set_config('lock_timeout', $2, true)",
            {number(options.statement_timeout.count()), number(options.lock_timeout.count())});
    auto rows = tx.exec(select_sql, {number(target), text(after), number(options.batch_rows)});
    batch_result out;
    out.rows = rows.rows();
    for (int i = 0; i < rows.rows(); ++i) {
      std::string key{rows.get(i, 0)};
      auto old_value = rows.get_bytes(i, 1);
      auto binding = s.binding(rows, i);
      auto plaintext = keys.open(old_value, binding);
      if (!plaintext)
        throw std::runtime_error(fmt::format(
            "{}.{}: the value in row {} does not open with this master key (damaged, or not sealed for this row); "
            "it was left as it is and the rotation stopped",
            s.table, s.column, key));
      auto fresh = keys.seal(*plaintext, binding);
      if (tx.exec(update_sql, {bytes(fresh), text(key), bytes(old_value)}).affected() == 1) ++out.resealed;
      out.last_key = std::move(key);
    }
    return out;
  });
}

struct stale_count {
  std::int64_t rows = 0;
  std::int64_t oldest_key_id = 0;  // 0 when not a keyring envelope
};

stale_count count_stale(pg_connection& c, const sealed_column& s, std::uint32_t target) {
  auto r = c.exec(fmt::format("SELECT count(*), coalesce(min(sealed_key_id({col})), 0) FROM {table} WHERE {stale}",
                              fmt::arg("col", s.column), fmt::arg("table", s.table),
                              fmt::arg("stale", stale_condition(s))),
                  {number(target)});
  return {r.get_int(0, 0), r.get_int(0, 1)};
}

std::int64_t reseal_column(pg_connection& c, const crypto::keyring& keys, const sealed_column& s, std::uint32_t target,
                           const reseal_options& options) {
  const std::string first_key =
      s.numeric_key ? std::to_string(std::numeric_limits<std::int64_t>::min()) : std::string{};
  std::int64_t resealed = 0;
  for (int pass = 1;; ++pass) {
    std::string after = first_key;
    for (;;) {
      auto batch = reseal_batch(c, keys, s, target, after, options);
      resealed += batch.resealed;
      if (batch.rows < options.batch_rows) break;
      after = batch.last_key;
    }
    // A value written under an old id behind the pass, or swapped by a writer between read and
    // update, or held locked: the count sees it and the next pass takes it.
    auto left = count_stale(c, s, target);
    if (left.rows == 0) return resealed;
    if (pass >= options.max_passes)
      throw std::runtime_error(fmt::format(
          "{}.{}: {} value(s) under key id {} still appear after {} passes: a process is still sealing under an older "
          "key id (is every serve and worker running this version, with keys.refresh_s set?)",
          s.table, s.column, left.rows, left.oldest_key_id, pass));
    spdlog::debug("{}: {} value(s) still under an older key id, another pass", s.name, left.rows);
    std::this_thread::sleep_for(options.pause_between_passes);
  }
}

}  // namespace

std::int64_t reseal_summary::total() const {
  std::int64_t sum = 0;
  for (auto& c : columns) sum += c.resealed;
  return sum;
}

std::uint32_t newest_key_id(pg_connection& c) {
  return static_cast<std::uint32_t>(c.exec("SELECT coalesce(max(key_id), 0) FROM key_checks").get_int(0, 0));
}

bool key_check_opens(pg_connection& c, const crypto::keyring& keys, std::uint32_t key_id) {
  auto r = c.exec("SELECT sealed FROM key_checks WHERE key_id = $1", {number(key_id)});
  return r.rows() == 1 && keys.open(r.get_bytes(0, 0), key_check_binding(key_id)) == key_check_value;
}

std::optional<std::uint32_t> adopt_newest_key_id(pg_connection& c, crypto::keyring& keys) {
  auto newest = newest_key_id(c);
  if (newest <= keys.current_key_id()) return std::nullopt;
  // Never seal under an id this master key cannot open again: that would lose the data.
  if (!key_check_opens(c, keys, newest))
    throw std::runtime_error(fmt::format(
        "key id {} is registered but does not open with this master key: still sealing under key id {}", newest,
        keys.current_key_id()));
  if (!keys.use_key_id(newest)) return std::nullopt;  // another thread got there first
  return newest;
}

std::uint32_t register_key_id(pg_connection& c, crypto::keyring& keys, std::optional<std::uint32_t> key_id) {
  if (c.exec("SELECT count(*) FROM schema_migrations WHERE version = 5").get_int(0, 0) == 0)
    throw std::runtime_error("the database schema is not current: run `mediadesk migrate` first");
  // Two rotations at once would each sweep towards their own id, undoing each other.
  if (!c.exec("SELECT pg_try_advisory_lock($1)", {number(rotation_lock_key)}).get_bool(0, 0))
    throw std::runtime_error("another `mediadesk keys rotate` is running against this database");
  verify_master_key(c, keys);  // every registered id opens; keys now seals under the newest
  auto newest = newest_key_id(c);
  auto id = key_id.value_or(newest + 1);
  if (id <= newest) throw std::runtime_error(fmt::format("key id {} is not newer than key id {}", id, newest));
  // key_checks.key_id is an integer column; config allows up to 1,000,000 anyway.
  if (id > static_cast<std::uint32_t>(std::numeric_limits<std::int32_t>::max()))
    throw std::runtime_error(fmt::format("key id {} is too large", id));
  keys.use_key_id(id);
  auto inserted = c.exec("INSERT INTO key_checks (key_id, sealed) VALUES ($1, $2) ON CONFLICT (key_id) DO NOTHING "
                         "RETURNING key_id",
                         {number(id), bytes(keys.seal(key_check_value, key_check_binding(id)))});
  if (inserted.rows() == 0)
    throw std::runtime_error(fmt::format("key id {} was registered by someone else meanwhile: run this again", id));
  return id;
}

reseal_summary reseal_stale_values(pg_connection& c, const crypto::keyring& keys, std::uint32_t target,
                                   const reseal_options& options) {
  if (keys.current_key_id() != target)
    throw std::logic_error(fmt::format("re-sealing under key id {} with a keyring sealing under {}", target,
                                       keys.current_key_id()));
  if (options.batch_rows < 1 || options.max_passes < 1) throw std::invalid_argument("reseal_options");
  reseal_summary out;
  for (auto& s : sealed_columns) {
    if (s.optional && !column_exists(c, s)) continue;
    out.columns.push_back({std::string{s.name}, reseal_column(c, keys, s, target, options)});
  }
  out.unopenable_outbound = c.exec(
                                 "SELECT count(*) FROM case_messages WHERE sealed IS NOT NULL AND intake_id IS NULL "
                                 "AND message_id IS NULL AND sealed_key_id(sealed) IS DISTINCT FROM $1",
                                 {number(target)})
                                .get_int(0, 0);
  return out;
}

}  // namespace md::store
