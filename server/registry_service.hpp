// Registry request bodies to store inputs, checked by the same per-column rules as the CSV import
// (routing/registry_import.hpp), so that a partner or spokesperson is equally valid however it
// came in. Pure: no database. A PATCH applies only the fields given over the current record.
#pragma once
#include <variant>

#include <boost/json/object.hpp>

#include "core/errors.hpp"
#include "routing/taxonomy.hpp"
#include "store/registry_store.hpp"

namespace md::server {

// Body fields: key, name, contact_name, contact_email, regions, topics, languages, away_until
// (ISO 8601 or null), capacity (0..1000 or null). current: the partner being changed (PATCH).
std::variant<store::partner_input, field_error> partner_input_from(const boost::json::object& body,
                                                                   const routing::taxonomy& taxonomy,
                                                                   const store::partner_record* current);

// Body fields: key, partner_id (or null: the desk's own), alias, full_name, email, phone,
// story_notes, regions, topics, languages, max_per_month (0..100 or null).
std::variant<store::spokesperson_input, field_error> spokesperson_input_from(const boost::json::object& body,
                                                                             const routing::taxonomy& taxonomy,
                                                                             const store::spokesperson_record* current);

// Body fields: media (required, non-empty), identification (required), topics, excluded_outlets
// (canonical outlet names), granted_at (ISO 8601, default now), expires_at, evidence.
std::variant<store::consent_input, field_error> consent_input_from(const boost::json::object& body,
                                                                   const routing::taxonomy& taxonomy);

}  // namespace md::server
