// libFuzzer target for the registry CSV import: parse_partners_csv and parse_spokespeople_csv on
// arbitrary bytes, with the default limits and with small ones (so that the limit paths are
// reached by small inputs). Crashes, leaks and UB are the findings; beyond that it checks only
// the contract every caller relies on: all rows or all errors, never both, and the error cap.
// Needs md_routing and md_config (the built-in taxonomy).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config/taxonomy_files.hpp"
#include "routing/registry_import.hpp"

namespace {

const md::routing::taxonomy& built_in_taxonomy() {
  // Parsed once: it is the same for every input, and parsing it dominates a small input's cost.
  static auto taxonomy = md::routing::taxonomy::parse(md::as_embedded(md::read_taxonomy_files({})));
  return *taxonomy;
}

template <typename Result>
void check_contract(const Result& result, std::size_t max_errors) {
  if (!result.rows.empty() && !result.errors.empty()) std::abort();
  if (result.errors.size() > max_errors + 1) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace md::routing;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto& taxonomy = built_in_taxonomy();

  import_limits defaults;
  auto partners = parse_partners_csv(text, taxonomy, defaults);
  check_contract(partners, defaults.max_errors);
  // The keys of whatever partners parsed, so that the cross-check path runs too.
  auto keys = keys_of(partners.rows);
  auto spokespeople = parse_spokespeople_csv(text, taxonomy, &keys, defaults);
  check_contract(spokespeople, defaults.max_errors);

  import_limits small;
  small.csv = {.max_file_bytes = 2048, .max_field_bytes = 64, .max_columns = 20, .max_records = 16};
  small.max_errors = 8;
  check_contract(parse_partners_csv(text, taxonomy, small), small.max_errors);
  check_contract(parse_spokespeople_csv(text, taxonomy, nullptr, small), small.max_errors);
  return 0;
}
