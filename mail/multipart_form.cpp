// Form body parsing (see multipart_form.hpp). Every step checks its limit before copying, and any
// input that does not follow the grammar yields an error value instead of an exception.
#include "mail/multipart_form.hpp"

#include <utility>

namespace md::mail {
namespace {

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = ascii_lower(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX decoding; "+" becomes a space only in urlencoded bodies (not in RFC 2231 values).
std::string percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+' && plus_is_space) {
      out += ' ';
    } else if (c == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

// A header value with parameters: `form-data; name="a"; filename*=UTF-8''%E2%82%AC.pdf`.
struct header_value {
  std::string value;                                        // lowercased
  std::vector<std::pair<std::string, std::string>> params;  // names lowercased, values unquoted
  const std::string* param(std::string_view name) const {
    for (auto& [k, v] : params)
      if (k == name) return &v;
    return nullptr;
  }
};

header_value parse_header_value(std::string_view text) {
  header_value out;
  auto semi = text.find(';');
  out.value = lowercase(trim(text.substr(0, semi)));
  std::size_t i = semi == std::string_view::npos ? text.size() : semi + 1;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == ';')) ++i;
    auto name_start = i;
    while (i < text.size() && text[i] != '=' && text[i] != ';') ++i;
    auto name = lowercase(trim(text.substr(name_start, i - name_start)));
    std::string value;
    if (i < text.size() && text[i] == '=') {
      ++i;
      while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
      if (i < text.size() && text[i] == '"') {
        ++i;
        // Browsers do not escape backslashes in file names (C:\path), so only \" and \\ are escapes.
        while (i < text.size() && text[i] != '"') {
          if (text[i] == '\\' && i + 1 < text.size() && (text[i + 1] == '"' || text[i + 1] == '\\')) ++i;
          value += text[i++];
        }
        if (i < text.size()) ++i;  // the closing quote
        while (i < text.size() && text[i] != ';') ++i;
      } else {
        auto value_start = i;
        while (i < text.size() && text[i] != ';') ++i;
        value = std::string{trim(text.substr(value_start, i - value_start))};
      }
    }
    if (!name.empty()) out.params.emplace_back(std::move(name), std::move(value));
  }
  return out;
}

// RFC 2231 extended value: charset'language'percent-encoded. UTF-8 and US-ASCII are taken as
// they are; other charsets are not converted (nullopt: the caller falls back to filename=).
std::optional<std::string> decode_rfc2231(std::string_view text) {
  auto first = text.find('\'');
  if (first == std::string_view::npos) return std::nullopt;
  auto second = text.find('\'', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  auto charset = text.substr(0, first);
  if (!iequals(charset, "utf-8") && !iequals(charset, "us-ascii") && !charset.empty()) return std::nullopt;
  return percent_decode(text.substr(second + 1), false);
}

}  // namespace

const form_part* form_data::find(std::string_view name) const {
  for (auto& p : parts)
    if (p.name == name) return &p;
  return nullptr;
}

std::string_view form_data::value(std::string_view name) const {
  auto* p = find(name);
  return p ? std::string_view{p->data} : std::string_view{};
}

std::string_view describe(form_error e) {
  switch (e) {
    case form_error::missing_boundary: return "Content-Type must be multipart/form-data with a boundary";
    case form_error::malformed: return "the multipart body is malformed or truncated";
    case form_error::too_many_parts: return "the form has too many parts";
    case form_error::part_too_large: return "a form part is too large";
  }
  return "the form body is malformed";
}

std::optional<std::string> multipart_boundary(std::string_view content_type) {
  auto parsed = parse_header_value(content_type);
  if (parsed.value != "multipart/form-data") return std::nullopt;
  auto* boundary = parsed.param("boundary");
  if (!boundary || boundary->empty() || boundary->size() > 70) return std::nullopt;
  for (unsigned char c : *boundary)
    if (c < 0x20 || c > 0x7e) return std::nullopt;
  return *boundary;
}

std::variant<form_data, form_error> parse_multipart_form(std::string_view content_type, std::string_view body,
                                                         const form_limits& limits) {
  auto boundary = multipart_boundary(content_type);
  if (!boundary) return form_error::missing_boundary;
  const std::string first_delimiter = "--" + *boundary;
  const std::string delimiter = "\r\n--" + *boundary;  // every later delimiter starts a line

  std::size_t pos = 0;
  if (body.starts_with(first_delimiter)) {
    pos = first_delimiter.size();
  } else {  // a preamble before the first delimiter is allowed and ignored
    auto at = body.find(delimiter);
    if (at == std::string_view::npos) return form_error::malformed;
    pos = at + delimiter.size();
  }

  form_data out;
  std::size_t seen_parts = 0;
  while (true) {
    if (body.substr(pos, 2) == "--") return out;  // the close delimiter; an epilogue is ignored
    while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) ++pos;  // transport padding
    if (body.substr(pos, 2) != "\r\n") return form_error::malformed;
    pos += 2;
    if (++seen_parts > limits.max_parts) return form_error::too_many_parts;

    std::string_view headers;
    std::size_t content_start = 0;
    if (body.substr(pos, 2) == "\r\n") {  // a part without headers
      content_start = pos + 2;
    } else {
      auto header_end = body.find("\r\n\r\n", pos);
      if (header_end == std::string_view::npos || header_end - pos > limits.max_header_bytes)
        return form_error::malformed;
      headers = body.substr(pos, header_end - pos + 2);  // keeps the last line's CRLF
      content_start = header_end + 4;
    }
    auto content_end = body.find(delimiter, content_start);
    if (content_end == std::string_view::npos) return form_error::malformed;
    if (content_end - content_start > limits.max_part_bytes) return form_error::part_too_large;

    form_part part;
    bool has_name = false;
    // Unfold the header block line by line (a line starting with space or tab continues the last).
    std::vector<std::string> lines;
    while (!headers.empty()) {
      auto eol = headers.find("\r\n");
      auto line = headers.substr(0, eol);
      headers = eol == std::string_view::npos ? std::string_view{} : headers.substr(eol + 2);
      if (!line.empty() && (line.front() == ' ' || line.front() == '\t') && !lines.empty())
        lines.back().append(line);
      else
        lines.emplace_back(line);
    }
    for (auto& line : lines) {
      auto colon = line.find(':');
      if (colon == std::string::npos) return form_error::malformed;
      auto name = trim(std::string_view{line}.substr(0, colon));
      auto value = std::string_view{line}.substr(colon + 1);
      if (iequals(name, "Content-Disposition")) {
        auto disposition = parse_header_value(value);
        if (auto* n = disposition.param("name")) {
          part.name = *n;
          has_name = true;
        }
        if (auto* f = disposition.param("filename*"); f && decode_rfc2231(*f)) {
          part.filename = *decode_rfc2231(*f);
        } else if (auto* f2 = disposition.param("filename")) {
          part.filename = *f2;
        }
      } else if (iequals(name, "Content-Type")) {
        part.content_type = parse_header_value(value).value;
      }
    }
    if (has_name) {
      part.data.assign(body.substr(content_start, content_end - content_start));
      out.parts.push_back(std::move(part));
    }
    pos = content_end + delimiter.size();
  }
}

std::variant<form_data, form_error> parse_urlencoded_form(std::string_view body, const form_limits& limits) {
  form_data out;
  while (!body.empty()) {
    auto amp = body.find('&');
    auto pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view{} : body.substr(amp + 1);
    if (pair.empty()) continue;
    if (out.parts.size() >= limits.max_parts) return form_error::too_many_parts;
    if (pair.size() > limits.max_part_bytes) return form_error::part_too_large;
    auto eq = pair.find('=');
    form_part part;
    part.name = percent_decode(pair.substr(0, eq), true);
    if (eq != std::string_view::npos) part.data = percent_decode(pair.substr(eq + 1), true);
    out.parts.push_back(std::move(part));
  }
  return out;
}

}  // namespace md::mail
