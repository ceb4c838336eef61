// `mediadesk import` (see registry_import_command.hpp).
#include "server/registry_import_command.hpp"

#include <fmt/format.h>

#include <chrono>
#include <fstream>
#include <ostream>
#include <sstream>

#include "routing/registry_import.hpp"
#include "store/registry_store.hpp"

namespace md::server {
namespace {

constexpr std::uintmax_t max_file_bytes = 10u << 20;

std::string iso_date(std::chrono::sys_days day) {
  std::chrono::year_month_day ymd{day};
  return fmt::format("{:04}-{:02}-{:02}T00:00:00Z", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                     static_cast<unsigned>(ymd.day()));
}

std::optional<std::string> iso_date(const std::optional<std::chrono::sys_days>& day) {
  if (!day) return std::nullopt;
  return iso_date(*day);
}

void report(std::ostream& err, std::string_view source, const std::vector<routing::import_error>& errors) {
  for (auto& e : errors) {
    err << source << ":" << e.line;
    if (e.column) err << ":" << e.column << ": " << e.column_name;
    err << ": " << e.message << "\n";
  }
  err << "nothing was imported (" << errors.size() << (errors.size() == 1 ? " problem" : " problems") << ")\n";
}

// The consent a row describes, recorded once: a re-import of the same grant changes nothing, a
// withdrawal date added later withdraws it, a new grant date records a new consent.
void import_consent(store::pg_connection& tx, const crypto::keyring& keys, std::int64_t person,
                    const routing::spokesperson_import_row& row, std::string_view actor, import_summary& summary) {
  if (!row.consent_granted) return;
  auto granted = iso_date(*row.consent_granted);
  for (auto& existing : store::list_consents(tx, person)) {
    if (!existing.granted_at.starts_with(granted.substr(0, 10))) continue;
    if (row.consent_withdrawn && !existing.withdrawn_at && store::withdraw_consent(tx, person, existing.id, actor))
      ++summary.consents_withdrawn;
    return;
  }
  store::consent_input in;
  in.media = row.media;
  in.identification = row.identification;
  in.granted_at = granted;
  in.expires_at = iso_date(row.consent_expires);
  in.withdrawn_at = iso_date(row.consent_withdrawn);
  store::record_consent(tx, keys, person, in, actor);
  ++summary.consents_recorded;
}

}  // namespace

std::optional<import_summary> import_registry_file(store::pg_connection& c, const crypto::keyring& keys,
                                                   const routing::taxonomy& taxonomy, import_kind kind,
                                                   const std::filesystem::path& file, std::string_view actor,
                                                   std::ostream& err) {
  std::error_code ec;
  auto size = std::filesystem::file_size(file, ec);
  if (ec) {
    err << file.string() << ": cannot read: " << ec.message() << "\n";
    return std::nullopt;
  }
  if (size > max_file_bytes) {
    err << file.string() << ": larger than 10 MiB; split it\n";
    return std::nullopt;
  }
  std::ifstream in(file, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return import_registry_text(c, keys, taxonomy, kind, ss.str(), file.string(), actor, err);
}

std::optional<import_summary> import_registry_text(store::pg_connection& c, const crypto::keyring& keys,
                                                   const routing::taxonomy& taxonomy, import_kind kind,
                                                   std::string_view text, std::string_view source,
                                                   std::string_view actor, std::ostream& err) {
  import_summary summary;
  if (kind == import_kind::partners) {
    auto parsed = routing::parse_partners_csv(text, taxonomy);
    if (!parsed.ok()) return report(err, source, parsed.errors), std::nullopt;
    c.transaction([&](store::pg_connection& tx) {
      for (auto& row : parsed.rows) {
        store::partner_input p;
        p.key = row.key, p.name = row.name, p.regions = row.regions, p.topics = row.topics;
        p.contact_name = row.contact_name;
        p.contact_email = row.contact_email;
        // Languages, away and capacity are not in the file: an update keeps what staff set.
        if (auto existing_id = store::find_partner_id_by_key(tx, row.key)) {
          auto existing = store::find_partner(tx, *existing_id);
          p.languages = existing->languages;
          p.away_until = existing->away_until.value_or("");
          p.capacity = existing->capacity.value_or(-1);
        }
        auto [id, created] = store::save_partner(tx, keys, p, actor);
        ++(created ? summary.created : summary.updated);
      }
    });
    return summary;
  }

  routing::key_set partner_keys;
  auto r = c.exec("SELECT key FROM partners");
  for (int i = 0; i < r.rows(); ++i) partner_keys.emplace(r.get(i, 0));
  auto parsed = routing::parse_spokespeople_csv(text, taxonomy, &partner_keys);
  if (!parsed.ok()) return report(err, source, parsed.errors), std::nullopt;
  c.transaction([&](store::pg_connection& tx) {
    for (auto& row : parsed.rows) {
      store::spokesperson_input s;
      s.key = row.key;
      if (!row.partner_key.empty()) s.partner_id = store::find_partner_id_by_key(tx, row.partner_key);
      s.alias = row.alias;
      s.full_name = row.full_name, s.email = row.email, s.phone = row.phone;
      s.regions = row.regions, s.topics = row.topics, s.languages = row.languages;
      s.max_per_month = row.max_per_month ? std::int64_t{*row.max_per_month} : -1;
      auto [id, created] = store::save_spokesperson(tx, keys, s, actor);
      ++(created ? summary.created : summary.updated);
      import_consent(tx, keys, id, row, actor, summary);
    }
  });
  return summary;
}

}  // namespace md::server
