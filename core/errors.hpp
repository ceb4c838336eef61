// Error vocabulary shared by every module: input errors name their field; infrastructure errors
// say whether a retry may succeed. No I/O here, and no message may carry personal data.
#pragma once
#include <stdexcept>
#include <string>

namespace md {

// Bad input from outside: what was wrong and which field. Maps to 400 / 550 / exit 65.
struct field_error {
  std::string field;
  std::string message;
};

// A dependency (Redis, PostgreSQL) is unreachable or timed out: the caller may retry later.
// Maps to 503 / 451 / exit 75.
class unavailable_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A request that can never succeed as sent (e.g. a payload that cannot be opened).
class permanent_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace md
