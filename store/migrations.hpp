// Versioned SQL migrations carried in the binary (store/migrations/NNN_name.sql), applied in
// order, each in its own transaction, under an advisory lock so that concurrent starts are safe.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/keyring.hpp"
#include "store/pg.hpp"

namespace md::store {

// Returns the names of the migrations it applied (empty when up to date).
std::vector<std::string> migrate(pg_connection& c);
// The highest version in the binary, and whether the database has it.
int latest_migration_version();
bool schema_is_current(pg_connection& c);

// Checks the master key against the database: every key id in key_checks must open. Then keys
// seals under the newest of its own id (keys.current_key_id) and the newest registered one, so a
// process started after a rotation never goes back to an older id; that id's row is recorded if
// it is new. Throws std::runtime_error on a mismatch.
void verify_master_key(pg_connection& c, crypto::keyring& keys);

// key_checks: one known value per key id, sealed under that id and bound to its row.
inline constexpr std::string_view key_check_value = "mediadesk key check";
std::string key_check_binding(std::uint32_t key_id);  // "key_checks.sealed:<id>"

}  // namespace md::store
