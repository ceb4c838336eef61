// Key rotation in PostgreSQL: registering a new key id in key_checks, adopting the newest one in a
// running process, and re-sealing every keyring (v1) value still under an older id, in short batches
// with compare-and-swap updates. It never changes the master key and never touches v2 data (each
// person's data under their own key: only the wrapped person keys are re-sealed).
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crypto/keyring.hpp"
#include "store/pg.hpp"

namespace md::store {

// The highest key id registered in key_checks; 0 when none is.
std::uint32_t newest_key_id(pg_connection& c);

// Whether key_id's row in key_checks opens with this master key (false when there is none).
bool key_check_opens(pg_connection& c, const crypto::keyring& keys, std::uint32_t key_id);

// For running processes: when key_checks has a newer id than keys seals under and its row opens,
// makes keys seal under it and returns it; nullopt otherwise. Throws std::runtime_error when the
// newer id's row does not open (a key id registered with another master key).
std::optional<std::uint32_t> adopt_newest_key_id(pg_connection& c, crypto::keyring& keys);

// Registers a new key id: checks that migration 005 is applied, takes the rotation's advisory lock
// (held by c's session until it closes: a second rotation refuses to start meanwhile), checks that
// the master key opens every registered id (verify_master_key), then inserts key_id's key_checks
// row sealed under it and makes keys seal under it. key_id defaults to the newest registered + 1;
// a given one must be newer. Returns the id registered. Throws std::runtime_error (and registers
// nothing) otherwise.
std::uint32_t register_key_id(pg_connection& c, crypto::keyring& keys, std::optional<std::uint32_t> key_id = {});

struct reseal_options {
  int batch_rows = 500;                                   // rows per transaction
  std::chrono::milliseconds statement_timeout{10'000};    // per statement in a batch
  std::chrono::milliseconds lock_timeout{2'000};          // rows are locked SKIP LOCKED: this is a backstop
  int max_passes = 20;                                    // over one column, while writers keep adding stale values
  std::chrono::milliseconds pause_between_passes{250};
};

struct reseal_summary {
  struct column_count {
    std::string name;  // the binding's prefix: "cases.request", "case_messages.sealed"...
    std::int64_t resealed = 0;
  };
  std::vector<column_count> columns;  // every column swept, in a fixed order
  // Outbound case_messages rows stored before their Message-ID was kept (migration 006): their
  // binding is unknown, so they cannot be opened, by the sweep or by anyone. Left as they are.
  std::int64_t unopenable_outbound = 0;
  std::int64_t total() const;
};

// Re-seals, under target (which keys must be sealing under), every keyring-sealed value in
// PostgreSQL whose envelope names another key id: users.email, cases.request, case_messages.sealed,
// person_keys.wrapped, reveal_audit.reason, and offers.decline_reason and case_notes.text once
// their tables exist.
// Stale rows are found in SQL from the envelope header, keyset-paged by primary key; each batch is
// one short transaction whose updates only land if the value is still the one read, so a
// concurrent writer is never overwritten. Repeats a column until no stale value remains.
// A value that does not open is a hard error (std::runtime_error naming table, column and row);
// batches already committed stay committed (they are valid either way).
reseal_summary reseal_stale_values(pg_connection& c, const crypto::keyring& keys, std::uint32_t target,
                                   const reseal_options& options = {});

}  // namespace md::store
