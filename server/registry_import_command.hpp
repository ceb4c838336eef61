// `mediadesk import partners|spokespeople FILE.csv`: the registry's CSV contract
// (routing/registry_import.hpp) into PostgreSQL, all or nothing. Re-import updates by key.
#pragma once
#include <filesystem>
#include <iosfwd>

#include "crypto/keyring.hpp"
#include "routing/taxonomy.hpp"
#include "store/pg.hpp"

namespace md::server {

enum class import_kind { partners, spokespeople };

struct import_summary {
  int created = 0, updated = 0, consents_recorded = 0, consents_withdrawn = 0;
};

// Parses the file; on any bad row writes "FILE:LINE:COLUMN: column_name: message" lines to err
// and returns nullopt with nothing imported. Otherwise imports every row in one transaction.
// Personal values never appear in what it writes.
// The same, for text already in memory; source names it in the problems.
std::optional<import_summary> import_registry_text(store::pg_connection& c, const crypto::keyring& keys,
                                                   const routing::taxonomy& taxonomy, import_kind kind,
                                                   std::string_view text, std::string_view source,
                                                   std::string_view actor, std::ostream& err);

std::optional<import_summary> import_registry_file(store::pg_connection& c, const crypto::keyring& keys,
                                                   const routing::taxonomy& taxonomy, import_kind kind,
                                                   const std::filesystem::path& file, std::string_view actor,
                                                   std::ostream& err);

}  // namespace md::server
