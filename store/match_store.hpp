// The registry as matching sees it, read from PostgreSQL: partners, spokespeople and the
// non-personal terms of their consents, with what the offers say about each (open offers,
// engagements this month, the partner's record). No sealed column is read.
#pragma once
#include "core/time.hpp"
#include "routing/matching.hpp"
#include "store/pg.hpp"

namespace md::store {

// Everyone matching may consider at `now` (erased people and archived partners included, so
// that exclusions can say why). "This month" is the calendar month of now, in UTC.
routing::match_registry load_match_registry(pg_connection& c, time_point now);

}  // namespace md::store
