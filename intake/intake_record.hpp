// An intake: one raw arrival (webhook body, email, form post) before it becomes a case. This is
// the unit that travels through the Redis stream; its payload is always sealed.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/keyring.hpp"

namespace md::intake {

enum class intake_source { webhook, email, form };
std::string_view to_string(intake_source s);
std::optional<intake_source> parse_intake_source(std::string_view text);

struct intake_record {
  std::string id;  // crypto::new_intake_id()
  intake_source source = intake_source::webhook;
  std::int64_t received_unix_ms = 0;
  std::string sealed_payload;  // keyring::seal(raw, payload_binding(id))
};

// Associated data that binds a sealed payload to its intake id.
std::string payload_binding(std::string_view intake_id);

intake_record make_intake_record(const crypto::keyring& keys, intake_source source, std::string_view raw_payload,
                                 std::int64_t received_unix_ms);

}  // namespace md::intake
