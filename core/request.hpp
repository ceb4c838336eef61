// A journalist's request as the desk understands it after intake, whatever door it came in by.
// Holds personal data (name, email, phone, text): only store/ may persist it, and only sealed.
#pragma once
#include <optional>
#include <string>

#include "core/time.hpp"

namespace md {

struct journalist_contact {
  std::string name;
  std::string email;
  std::string phone;  // empty when not given
};

struct journalist_request {
  journalist_contact journalist;
  std::string outlet;   // as the journalist wrote it; empty when not given
  std::string subject;  // may be empty
  std::string body;     // the new text of the request
  std::optional<time_point> deadline;  // stated explicitly (webhook field); triage may find one in text
};

}  // namespace md
