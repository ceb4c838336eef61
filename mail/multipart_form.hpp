// HTML form bodies as plain values: multipart/form-data (RFC 7578) and
// application/x-www-form-urlencoded. Pure and bounded; never throws on input, never keeps state.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace md::mail {

struct form_part {
  std::string name;          // the form field's name
  std::string filename;      // empty unless the part is a file (RFC 2231 filename* decoded to UTF-8)
  std::string content_type;  // "type/subtype" lowercased, empty when the part has none
  std::string data;          // the bytes as sent (multipart) or decoded (urlencoded)
  bool is_file() const { return !filename.empty(); }
};

struct form_data {
  std::vector<form_part> parts;                         // in the order sent
  const form_part* find(std::string_view name) const;   // the first part with that name
  std::string_view value(std::string_view name) const;  // its data, or empty
};

struct form_limits {
  std::size_t max_parts = 200;
  std::size_t max_part_bytes = 25 << 20;    // one field or file
  std::size_t max_header_bytes = 8 * 1024;  // one part's header block
};

enum class form_error { missing_boundary, malformed, too_many_parts, part_too_large };
std::string_view describe(form_error e);  // fixed text, never the input

// The boundary parameter of a multipart Content-Type value (unquoted), or nullopt when it is
// absent, empty, longer than 70 characters, or the type is not multipart/form-data.
std::optional<std::string> multipart_boundary(std::string_view content_type);

std::variant<form_data, form_error> parse_multipart_form(std::string_view content_type, std::string_view body,
                                                         const form_limits& limits = {});

// "+" is a space and %XX a byte; a stray "%" stays as it is. Pairs without "=" have an empty value.
std::variant<form_data, form_error> parse_urlencoded_form(std::string_view body, const form_limits& limits = {});

}  // namespace md::mail
