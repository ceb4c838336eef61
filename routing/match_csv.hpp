// The registry's CSV files (routing/registry_import.hpp) as matching reads them, for `mediadesk
// match --partners F --spokespeople F` without a database. Pure; drops every personal column.
#pragma once
#include <vector>

#include "routing/matching.hpp"
#include "routing/registry_import.hpp"

namespace md::routing {

// Partners keep their order (partner indexes are file order); each spokesperson row with
// consent_granted becomes one consent: its media and identification, granted/expires/withdrawn
// at 00:00 UTC of their dates, no topics of its own (so the person's topics), no excluded
// outlets. partner_key is resolved to the partner's index (a key not among the partners leaves
// the person without a partner, as the desk's own). full_name, email, phone, contact_name and
// contact_email are not copied: nothing personal reaches matching.
match_registry registry_from_csv(const std::vector<partner_import_row>& partners,
                                 const std::vector<spokesperson_import_row>& spokespeople);

}  // namespace md::routing
