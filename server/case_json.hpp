// Cases as the staff API shows them: the summary in lists, the detail with triage explanation
// and timeline. Non-personal fields only; personal data comes only from the reveal endpoint.
#pragma once
#include <boost/json/object.hpp>

#include "store/case_store.hpp"

namespace md::server {

// A staff member named on a case: {"id", "label"} (the label is their own email address).
boost::json::object labelled_user_json(const store::labelled_user& u);
boost::json::object case_summary_json(const store::case_summary& s);
boost::json::object case_detail_json(const store::case_detail& d);

}  // namespace md::server
