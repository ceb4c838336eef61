// Migration runner (see migrations.hpp).
#include "store/migrations.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

#include "core/embedded_file.hpp"

std::span<const md::embedded_file> embedded_migrations();

namespace md::store {
namespace {

constexpr std::int64_t migration_lock_key = 0x6d6564696164736b;  // "mediadsk"

int version_of(std::string_view name) {
  int v = 0;
  auto [p, ec] = std::from_chars(name.data(), name.data() + name.size(), v);
  if (ec != std::errc{} || p == name.data() || *p != '_') throw std::logic_error(fmt::format("bad migration name {}", name));
  return v;
}

}  // namespace

int latest_migration_version() {
  int latest = 0;
  for (auto& f : embedded_migrations()) latest = std::max(latest, version_of(f.name));
  return latest;
}

bool schema_is_current(pg_connection& c) {
  auto exists = c.exec("SELECT to_regclass('schema_migrations') IS NOT NULL");
  if (!exists.get_bool(0, 0)) return false;
  auto r = c.exec("SELECT coalesce(max(version), 0) FROM schema_migrations");
  return r.get_int(0, 0) >= latest_migration_version();
}

std::string key_check_binding(std::uint32_t key_id) { return fmt::format("key_checks.sealed:{}", key_id); }

void verify_master_key(pg_connection& c, crypto::keyring& keys) {
  // After `mediadesk keys rotate`, the configured id (keys.current_key_id) is older than the
  // database's newest: seal under the newest, or every restart would undo the rotation.
  auto newest = c.exec("SELECT coalesce(max(key_id), 0) FROM key_checks").get_int(0, 0);
  if (newest > 0 && newest > static_cast<std::int64_t>(keys.current_key_id()))
    keys.use_key_id(static_cast<std::uint32_t>(newest));
  auto key_id = keys.current_key_id();
  c.exec("INSERT INTO key_checks (key_id, sealed) VALUES ($1, $2) ON CONFLICT (key_id) DO NOTHING",
         {number(key_id), bytes(keys.seal(key_check_value, key_check_binding(key_id)))});
  // Read back after the insert: a concurrent first start with another master key loses here.
  auto rows = c.exec("SELECT key_id, sealed FROM key_checks ORDER BY key_id");
  for (int i = 0; i < rows.rows(); ++i) {
    auto id = static_cast<std::uint32_t>(rows.get_int(i, 0));
    if (keys.open(rows.get_bytes(i, 1), key_check_binding(id)) != key_check_value)
      throw std::runtime_error(fmt::format(
          "the master key does not match this database (key id {} does not open): check keys.master_key", id));
  }
}

std::vector<std::string> migrate(pg_connection& c) {
  std::vector<std::string> applied;
  c.exec("SELECT pg_advisory_lock($1)", {number(migration_lock_key)});
  try {
    c.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
        "applied_at timestamptz NOT NULL DEFAULT now())");
    std::vector<embedded_file> files(embedded_migrations().begin(), embedded_migrations().end());
    std::sort(files.begin(), files.end(), [](auto& a, auto& b) { return version_of(a.name) < version_of(b.name); });
    for (auto& f : files) {
      auto version = version_of(f.name);
      auto done = c.exec("SELECT 1 FROM schema_migrations WHERE version = $1", {number(version)});
      if (done.rows() > 0) continue;
      c.transaction([&](pg_connection& tx) {
        tx.exec_script(f.content);
        tx.exec("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", {number(version), text(f.name)});
      });
      spdlog::info("applied migration {}", f.name);
      applied.emplace_back(f.name);
    }
  } catch (...) {
    c.exec("SELECT pg_advisory_unlock($1)", {number(migration_lock_key)});
    throw;
  }
  c.exec("SELECT pg_advisory_unlock($1)", {number(migration_lock_key)});
  return applied;
}

}  // namespace md::store
