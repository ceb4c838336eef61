// Versioned SQL migrations carried in the binary (store/migrations/NNN_name.sql), applied in
// order, each in its own transaction, under an advisory lock so that concurrent starts are safe.
#pragma once
#include <string>
#include <vector>

#include "crypto/keyring.hpp"
#include "store/pg.hpp"

namespace md::store {

// Returns the names of the migrations it applied (empty when up to date).
std::vector<std::string> migrate(pg_connection& c);
// The highest version in the binary, and whether the database has it.
int latest_migration_version();
bool schema_is_current(pg_connection& c);

// Checks the master key against the database: the first start records a sealed known value
// for the current key id; later starts must open it. Throws std::runtime_error on a mismatch.
void verify_master_key(pg_connection& c, const crypto::keyring& keys);

}  // namespace md::store
