// Intake records (see intake_record.hpp).
#include "intake/intake_record.hpp"

#include "crypto/primitives.hpp"

namespace md::intake {

std::string_view to_string(intake_source s) {
  switch (s) {
    case intake_source::webhook: return "webhook";
    case intake_source::email: return "email";
    case intake_source::form: return "form";
  }
  return "webhook";
}

std::optional<intake_source> parse_intake_source(std::string_view text) {
  for (auto s : {intake_source::webhook, intake_source::email, intake_source::form})
    if (to_string(s) == text) return s;
  return std::nullopt;
}

std::string payload_binding(std::string_view intake_id) {
  std::string out = "intake.payload:";
  out.append(intake_id);
  return out;
}

intake_record make_intake_record(const crypto::keyring& keys, intake_source source, std::string_view raw_payload,
                                 std::int64_t received_unix_ms) {
  intake_record r;
  r.id = crypto::new_intake_id();
  r.source = source;
  r.received_unix_ms = received_unix_ms;
  r.sealed_payload = keys.seal(raw_payload, payload_binding(r.id));
  return r;
}

}  // namespace md::intake
