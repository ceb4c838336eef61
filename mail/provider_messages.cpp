// Provider posts rebuilt as RFC 5322 messages (see provider_messages.hpp). Everything a provider
// sends is untrusted: header text is made single-line (no header injection), non-ASCII headers
// become RFC 2047 encoded-words, bodies are quoted-printable and attachments base64, all with CRLF.
#include "mail/provider_messages.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cctype>
#include <charconv>

#include "crypto/primitives.hpp"

namespace md::mail {
namespace json = boost::json;
namespace {

constexpr std::string_view crlf = "\r\n";

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool is_ascii(std::string_view s) {
  for (unsigned char c : s)
    if (c >= 0x80) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Header text on one line: controls (CR and LF above all) become spaces, runs of white space one.
std::string one_line(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    bool space = c < 0x20 || c == 0x7f;
    if (space || c == ' ') {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += static_cast<char>(c);
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// Length of the UTF-8 sequence starting at s[i]; a malformed byte counts as one.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  auto lead = static_cast<unsigned char>(s[i]);
  std::size_t n = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xe ? 3 : (lead >> 3) == 0x1e ? 4 : 1;
  if (i + n > s.size()) return 1;
  for (std::size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 1;
  return n;
}

// At most max_bytes of s, cut at a character boundary.
std::string_view utf8_prefix(std::string_view s, std::size_t max_bytes) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto n = utf8_length(s, i);
    if (i + n > max_bytes) break;
    i += n;
  }
  return s.substr(0, i);
}

std::string base64(std::string_view data) {
  static constexpr char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    auto n = (static_cast<unsigned char>(data[i]) << 16) | (static_cast<unsigned char>(data[i + 1]) << 8) |
             static_cast<unsigned char>(data[i + 2]);
    out += table[(n >> 18) & 63];
    out += table[(n >> 12) & 63];
    out += table[(n >> 6) & 63];
    out += table[n & 63];
  }
  if (auto rest = data.size() - i; rest > 0) {
    auto n = static_cast<unsigned char>(data[i]) << 16;
    if (rest == 2) n |= static_cast<unsigned char>(data[i + 1]) << 8;
    out += table[(n >> 18) & 63];
    out += table[(n >> 12) & 63];
    out += rest == 2 ? table[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// Base64 body lines of 76 characters (RFC 2045).
std::string base64_body(std::string_view data) {
  auto encoded = base64(data);
  std::string out;
  out.reserve(encoded.size() + encoded.size() / 76 * 2 + 2);
  for (std::size_t i = 0; i < encoded.size(); i += 76) {
    out.append(encoded, i, 76);
    out += crlf;
  }
  return out;
}

// Quoted-printable (RFC 2045 6.7) of UTF-8 text with any line ends; lines of at most 76 characters.
std::string quoted_printable(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  std::size_t i = 0;
  while (i <= text.size()) {
    auto eol = text.find_first_of("\r\n", i);
    auto line = text.substr(i, eol == std::string_view::npos ? std::string_view::npos : eol - i);
    std::string current;
    for (std::size_t k = 0; k < line.size(); ++k) {
      auto c = static_cast<unsigned char>(line[k]);
      bool last = k + 1 == line.size();
      std::string token;
      if ((c == ' ' || c == '\t') && !last) {
        token = static_cast<char>(c);
      } else if (c > 0x20 && c < 0x7f && c != '=') {
        token = static_cast<char>(c);
      } else {
        token = {'=', hex[c >> 4], hex[c & 15]};
      }
      if (current.size() + token.size() > 75) {  // soft line break: "=" makes 76
        out += current;
        out += "=\r\n";
        current.clear();
      }
      current += token;
    }
    out += current;
    out += crlf;
    if (eol == std::string_view::npos) break;
    i = eol + (text.compare(eol, 2, "\r\n") == 0 ? 2 : 1);
    if (i == text.size()) break;  // a final line end adds no empty line
  }
  return out;
}

// RFC 2047 Q-encoded words, each holding whole UTF-8 characters and at most 75 characters long.
// Q rather than B: GMime joins adjacent encoded-words of one charset before decoding them, and a
// B word's "=" padding in the middle of such a join cuts off the rest of the header.
// `used`: what the first word's line already holds, so that the first word can be shorter.
std::vector<std::string> encoded_words(std::string_view text, std::size_t used = 1) {
  static constexpr char hex[] = "0123456789ABCDEF";
  constexpr std::string_view prefix = "=?UTF-8?Q?", suffix = "?=";
  std::vector<std::string> words;
  std::string current;
  auto limit = used + prefix.size() + suffix.size() + 9 < 78 ? 78 - used : 75;
  for (std::size_t i = 0; i < text.size();) {
    auto n = utf8_length(text, i);
    std::string encoded;
    for (std::size_t k = i; k < i + n; ++k) {
      auto c = static_cast<unsigned char>(text[k]);
      if (c == ' ')
        encoded += '_';
      else if (std::isalnum(c) || c == '!' || c == '*' || c == '+' || c == '-' || c == '/')
        encoded += static_cast<char>(c);
      else
        encoded += {'=', hex[c >> 4], hex[c & 15]};
    }
    if (!current.empty() &&
        prefix.size() + current.size() + encoded.size() + suffix.size() > std::min<std::size_t>(limit, 75)) {
      words.push_back(std::string{prefix} + current + std::string{suffix});
      current.clear();
      limit = 77;  // later words start a folded line (one space)
    }
    current += encoded;
    i += n;
  }
  if (!current.empty()) words.push_back(std::string{prefix} + current + std::string{suffix});
  return words;
}

// Joins words into a header value, folding (CRLF + space) before a word that would take the line
// past 78 characters. `used` is what the line already holds ("Subject: ").
std::string fold_words(const std::vector<std::string>& words, std::size_t used, std::string_view separator = " ") {
  std::string out;
  std::size_t line = used;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i > 0) {
      if (line + separator.size() + words[i].size() > 78) {
        // The separator's trailing space (if any) is replaced by the fold's leading space.
        auto sep = separator;
        while (!sep.empty() && sep.back() == ' ') sep.remove_suffix(1);
        out += sep;
        out += "\r\n ";
        line = 1;
      } else {
        out += separator;
        line += separator.size();
      }
    }
    out += words[i];
    line += words[i].size();
  }
  return out;
}

std::vector<std::string> split_words(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    auto space = s.find(' ');
    if (space != 0) out.emplace_back(s.substr(0, space));
    if (space == std::string_view::npos) break;
    s.remove_prefix(space + 1);
  }
  return out;
}

bool looks_encoded(std::string_view s) {
  return s.find("=?") != std::string_view::npos && s.find("?=") != std::string_view::npos;
}

// An unstructured header value such as Subject.
std::string unstructured(std::string_view text, std::size_t used) {
  auto line = one_line(text);
  if (is_ascii(line)) return fold_words(split_words(line), used);
  return fold_words(encoded_words(line, used), used);
}

// A display name: an atom sequence, a quoted string, or encoded-words when it is not ASCII.
std::string phrase(std::string_view name, std::size_t used = 1) {
  auto text = one_line(name);
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') text = text.substr(1, text.size() - 2);
  if (!is_ascii(text)) {
    std::string out;
    for (auto& w : encoded_words(text, used)) out += (out.empty() ? "" : " ") + w;
    return out;
  }
  if (looks_encoded(text) && text.find('"') == std::string::npos) return text;  // already RFC 2047
  bool plain = true;
  for (unsigned char c : text)
    if (!(std::isalnum(c) || c == ' ' ||
          std::string_view{"!#$%&'*+-/=?^_`{|}~"}.find(static_cast<char>(c)) != std::string_view::npos))
      plain = false;
  if (plain) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

struct mailbox {
  std::string name, address;
};

// An addr-spec we can put in a header: ASCII, one "@", no spaces, brackets or separators.
std::optional<std::string> clean_address(std::string_view text) {
  auto s = trim(text);
  if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = s.substr(1, s.size() - 2);
  s = trim(s);
  if (s.empty() || s.size() > 320) return std::nullopt;
  auto at = s.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == s.size()) return std::nullopt;
  for (unsigned char c : s)
    if (c <= 0x20 || c >= 0x7f ||
        std::string_view{"<>(),;:\\[]\""}.find(static_cast<char>(c)) != std::string_view::npos)
      return std::nullopt;
  return std::string{s};
}

// "Jane <j@x.example>, \"Doe, Sam\" <s@y.example>, k@z.example": splits at commas outside quotes
// and angle brackets. Entries without a usable address are left out.
std::vector<mailbox> parse_address_list(std::string_view text) {
  std::vector<mailbox> out;
  auto add = [&](std::string_view item) {
    item = trim(item);
    if (item.empty()) return;
    mailbox m;
    auto open = item.rfind('<');
    auto close = item.rfind('>');
    std::optional<std::string> address;
    if (open != std::string_view::npos && close != std::string_view::npos && close > open) {
      address = clean_address(item.substr(open + 1, close - open - 1));
      auto name = trim(item.substr(0, open));
      if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
        std::string unquoted;
        for (std::size_t i = 1; i + 1 < name.size(); ++i) {
          if (name[i] == '\\' && i + 2 < name.size()) ++i;
          unquoted += name[i];
        }
        m.name = std::move(unquoted);
      } else {
        m.name = std::string{name};
      }
    } else {
      address = clean_address(item);
    }
    if (!address) return;
    m.address = std::move(*address);
    out.push_back(std::move(m));
  };
  bool quoted = false;
  int angle = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\\' && quoted) {
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (!quoted && c == '<') {
      ++angle;
    } else if (!quoted && c == '>' && angle > 0) {
      --angle;
    } else if (!quoted && angle == 0 && c == ',') {
      add(text.substr(start, i - start));
      start = i + 1;
    }
  }
  add(text.substr(std::min(start, text.size())));
  return out;
}

// Folds between the words of a display name and before the address as well as between mailboxes,
// so that a long encoded name still keeps the lines short.
std::string address_list(const std::vector<mailbox>& list, std::size_t used) {
  std::vector<std::string> tokens;
  for (std::size_t i = 0; i < list.size(); ++i) {
    auto name = one_line(list[i].name);
    std::string last;
    if (name.empty()) {
      last = list[i].address;
    } else {
      auto words = phrase(name, i == 0 ? used : 1);
      // Encoded-words may be folded apart; an atom sequence or a quoted string stays whole.
      if (words.starts_with("=?") && !is_ascii(name)) {
        for (auto& w : split_words(words)) tokens.push_back(w);
      } else {
        tokens.push_back(words);
      }
      last = "<" + list[i].address + ">";
    }
    if (i + 1 < list.size()) last += ",";
    tokens.push_back(std::move(last));
  }
  return fold_words(tokens, used);
}

// "<a@b>" message ids from a Message-ID, In-Reply-To or References value; bare ids are bracketed.
std::vector<std::string> message_ids(std::string_view text) {
  std::vector<std::string> out;
  auto line = one_line(text);
  std::string_view s = line;
  auto valid = [](std::string_view id) {
    if (id.empty() || id.size() > 500) return false;
    for (unsigned char c : id)
      if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>') return false;
    return true;
  };
  if (s.find('<') != std::string_view::npos) {
    for (auto open = s.find('<'); open != std::string_view::npos; open = s.find('<', open + 1)) {
      auto close = s.find('>', open);
      if (close == std::string_view::npos) break;
      auto id = s.substr(open + 1, close - open - 1);
      if (valid(id)) out.push_back("<" + std::string{id} + ">");
      open = close;
    }
  } else {
    for (auto& w : split_words(s)) {
      std::string_view id = w;
      while (!id.empty() && id.back() == ',') id.remove_suffix(1);
      if (valid(id)) out.push_back("<" + std::string{id} + ">");
    }
  }
  return out;
}

// "Tue, 10 Mar 2026 09:00:00 +0000"
std::string rfc5322_date(time_point t) {
  using namespace std::chrono;
  static constexpr const char* weekdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  auto day = floor<days>(t);
  year_month_day ymd{day};
  hh_mm_ss<seconds> time{floor<seconds>(t - day)};
  return fmt::format("{}, {} {} {} {:02}:{:02}:{:02} +0000", weekdays[weekday{day}.c_encoding()],
                     static_cast<unsigned>(ymd.day()), months[static_cast<unsigned>(ymd.month()) - 1],
                     static_cast<int>(ymd.year()), time.hours().count(), time.minutes().count(),
                     time.seconds().count());
}

// A provider's Date value, or the arrival time. Postmark passes the sender's text through, and
// some senders write the zone as "-04:00", which RFC 5322 spells "-0400".
std::string date_value(std::string_view provided, time_point received) {
  auto text = one_line(provided);
  if (text.empty() || !is_ascii(text) || text.size() > 100) return rfc5322_date(received);
  auto n = text.size();
  if (n >= 6 && (text[n - 6] == '+' || text[n - 6] == '-') && text[n - 3] == ':' && is_digit(text[n - 5]) &&
      is_digit(text[n - 4]) && is_digit(text[n - 2]) && is_digit(text[n - 1]))
    text.erase(n - 3, 1);
  return text;
}

struct attachment_in {
  std::string filename, content_type, content_id, data;
};

// "type/subtype" from what the provider says, or application/octet-stream.
std::string media_type(std::string_view text) {
  std::string s;
  for (char c : trim(text.substr(0, text.find(';')))) s += ascii_lower(c);
  auto slash = s.find('/');
  bool ok = slash != std::string::npos && slash > 0 && slash + 1 < s.size() && s.size() <= 127 &&
            s.find('/', slash + 1) == std::string::npos;
  for (unsigned char c : s)
    if (!(std::isalnum(c) || std::string_view{"!#$&^_.+-/"}.find(static_cast<char>(c)) != std::string_view::npos))
      ok = false;
  return ok ? s : "application/octet-stream";
}

// Content-Disposition for an attachment: filename="..." when ASCII, else RFC 2231 filename*.
std::string disposition(std::string_view filename) {
  auto name = one_line(utf8_prefix(filename, 200));
  if (name.empty()) return "attachment";
  if (is_ascii(name)) {
    std::string out = "attachment; filename=\"";
    for (char c : name) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    return out + "\"";
  }
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out = "attachment;\r\n filename*=UTF-8''";
  for (unsigned char c : name) {
    if (std::isalnum(c) || std::string_view{"!#$&+-.^_`|~"}.find(static_cast<char>(c)) != std::string_view::npos) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// The message being rebuilt. Header values here are already encoded and folded.
struct message_parts {
  std::vector<std::pair<std::string, std::string>> headers;
  std::string text, html;
  std::vector<attachment_in> attachments;

  void add(std::string_view name, std::string value) {
    if (!value.empty()) headers.emplace_back(std::string{name}, std::move(value));
  }
  bool has(std::string_view name) const {
    for (auto& [k, v] : headers)
      if (iequals(k, name)) return true;
    return false;
  }
};

std::string text_part(std::string_view subtype, std::string_view content) {
  return fmt::format("Content-Type: text/{}; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{}",
                     subtype, quoted_printable(content));
}

// Boundaries start with "=_", which neither quoted-printable ("=" then two hex digits or a line
// end) nor base64 can produce, so no body line can be mistaken for one.
std::string render(const message_parts& m) {
  std::string out;
  for (auto& [name, value] : m.headers) out += name + ": " + value + "\r\n";
  out += "MIME-Version: 1.0\r\n";
  std::string body_entity;
  if (!m.html.empty() && !m.text.empty()) {
    constexpr std::string_view boundary = "=_md_alternative";
    body_entity =
        fmt::format("Content-Type: multipart/alternative; boundary=\"{0}\"\r\n\r\n--{0}\r\n{1}--{0}\r\n{2}--{0}--\r\n",
                    boundary, text_part("plain", m.text), text_part("html", m.html));
  } else if (!m.html.empty()) {
    body_entity = text_part("html", m.html);
  } else {
    body_entity = text_part("plain", m.text);
  }
  if (m.attachments.empty()) return out + body_entity;
  constexpr std::string_view boundary = "=_md_mixed";
  out += fmt::format("Content-Type: multipart/mixed; boundary=\"{}\"\r\n\r\n", boundary);
  out += fmt::format("--{}\r\n{}", boundary, body_entity);
  for (auto& a : m.attachments) {
    out += fmt::format("--{}\r\nContent-Type: {}\r\nContent-Disposition: {}\r\n", boundary, media_type(a.content_type),
                       disposition(a.filename));
    if (auto ids = message_ids(a.content_id); !ids.empty()) out += "Content-ID: " + ids.front() + "\r\n";
    out += "Content-Transfer-Encoding: base64\r\n\r\n" + base64_body(a.data);
  }
  out += fmt::format("--{}--\r\n", boundary);
  return out;
}

// Headers copied from the provider's list of the original headers, by their canonical names.
// Everything else is dropped: the rebuilt message carries only what the desk reads.
constexpr std::string_view id_headers[] = {"Message-ID", "In-Reply-To", "References"};
constexpr std::string_view token_headers[] = {
    "Auto-Submitted",           "Precedence",  "List-Id",      "List-Unsubscribe",
    "X-Auto-Response-Suppress", "X-Autoreply", "X-Autorespond"};

void copy_listed_header(message_parts& m, std::string_view name, std::string_view value) {
  for (auto canonical : id_headers) {
    if (!iequals(name, canonical) || m.has(canonical)) continue;
    auto ids = message_ids(value);
    if (canonical != "References" && ids.size() > 1) ids.resize(1);
    m.add(canonical, fold_words(ids, canonical.size() + 2));
    return;
  }
  for (auto canonical : token_headers) {
    if (!iequals(name, canonical) || m.has(canonical)) continue;
    auto text = one_line(value);
    if (is_ascii(text) && text.size() <= 900) m.add(canonical, std::move(text));
    return;
  }
  if (iequals(name, "Return-Path") && !m.has("Return-Path")) {
    if (auto a = clean_address(one_line(value))) m.add("Return-Path", "<" + *a + ">");
  }
}

void add_addresses(message_parts& m, std::string_view name, const std::vector<mailbox>& list) {
  if (!list.empty()) m.add(name, address_list(list, name.size() + 2));
}

// ---- Postmark -----------------------------------------------------------------------------------

// Reads string fields of a JSON object; a present field of another type is an error naming it.
struct json_reader {
  const json::object& object;
  std::string prefix;
  std::optional<field_error> error;

  std::string text(std::string_view key) {
    auto it = object.find(key);
    if (it == object.end() || it->value().is_null()) return {};
    if (!it->value().is_string()) {
      fail(key, "must be a string");
      return {};
    }
    return std::string{it->value().get_string()};
  }
  const json::array* array(std::string_view key) {
    auto it = object.find(key);
    if (it == object.end() || it->value().is_null()) return nullptr;
    if (!it->value().is_array()) {
      fail(key, "must be an array");
      return nullptr;
    }
    return &it->value().get_array();
  }
  const json::object* child(std::string_view key) {
    auto it = object.find(key);
    if (it == object.end() || it->value().is_null()) return nullptr;
    if (!it->value().is_object()) {
      fail(key, "must be an object");
      return nullptr;
    }
    return &it->value().get_object();
  }
  void fail(std::string_view key, std::string_view what) {
    if (error) return;
    auto name = prefix + std::string{key};
    error = field_error{name, fmt::format("{} {}", name, what)};
  }
};

// ToFull / CcFull style arrays of {"Email", "Name"}; falls back to the plain string field.
std::vector<mailbox> postmark_addresses(json_reader& r, std::string_view full_key, std::string_view plain_key) {
  std::vector<mailbox> out;
  if (auto* full = r.array(full_key)) {
    for (std::size_t i = 0; i < full->size(); ++i) {
      if (!(*full)[i].is_object()) {
        r.fail(fmt::format("{}[{}]", full_key, i), "must be an object");
        return {};
      }
      json_reader entry{(*full)[i].get_object(), fmt::format("{}{}[{}].", r.prefix, full_key, i), {}};
      auto email = entry.text("Email");
      auto name = entry.text("Name");
      if (entry.error) {
        r.error = entry.error;
        return {};
      }
      if (auto a = clean_address(email)) out.push_back({std::move(name), std::move(*a)});
    }
    if (!out.empty()) return out;
  }
  return parse_address_list(r.text(plain_key));
}

}  // namespace

std::variant<provider_message, field_error> message_from_postmark(std::string_view body, time_point received) {
  json::error_code ec;
  json::parse_options options;
  options.max_depth = 16;
  auto value = json::parse(body, ec, {}, options);
  if (ec) return field_error{"$", "request body is not valid JSON"};
  if (!value.is_object()) return field_error{"$", "request body must be a JSON object"};
  json_reader r{value.get_object(), "", {}};

  provider_message out;
  out.provider_id = r.text("MessageID");
  auto raw_email = r.text("RawEmail");
  if (r.error) return *r.error;
  if (!raw_email.empty()) {  // "Include raw email content" is on: the original bytes, unchanged
    out.raw = std::move(raw_email);
    return out;
  }

  message_parts m;
  std::vector<mailbox> from;
  if (auto* full = r.child("FromFull")) {
    json_reader f{*full, "FromFull.", {}};
    auto email = f.text("Email");
    auto name = f.text("Name");
    if (f.error) return *f.error;
    if (auto a = clean_address(email)) from.push_back({std::move(name), std::move(*a)});
  }
  if (from.empty()) {
    from = parse_address_list(r.text("From"));
    if (!from.empty() && from.front().name.empty()) from.front().name = r.text("FromName");
  }
  if (r.error) return *r.error;
  if (from.empty()) return field_error{"From", "From must hold the sender's email address"};
  from.resize(1);
  add_addresses(m, "From", from);
  add_addresses(m, "To", postmark_addresses(r, "ToFull", "To"));
  add_addresses(m, "Cc", postmark_addresses(r, "CcFull", "Cc"));
  add_addresses(m, "Reply-To", parse_address_list(r.text("ReplyTo")));
  m.add("Subject", unstructured(r.text("Subject"), 9));
  m.add("Date", date_value(r.text("Date"), received));
  if (r.error) return *r.error;

  if (auto* headers = r.array("Headers")) {
    for (std::size_t i = 0; i < headers->size(); ++i) {
      if (!(*headers)[i].is_object())
        return field_error{fmt::format("Headers[{}]", i), "Headers entries must be objects"};
      json_reader h{(*headers)[i].get_object(), fmt::format("Headers[{}].", i), {}};
      auto name = h.text("Name");
      auto header_value = h.text("Value");
      if (h.error) return *h.error;
      copy_listed_header(m, name, header_value);
    }
  }
  if (r.error) return *r.error;
  // Postmark's own MessageID stands in for a missing Message-ID, so that retries of one post
  // and the worker's threading agree on the same id.
  if (!m.has("Message-ID") && !out.provider_id.empty())
    if (auto ids = message_ids(out.provider_id + "@inbound.postmarkapp.com"); !ids.empty())
      m.add("Message-ID", ids.front());

  m.text = r.text("TextBody");
  m.html = r.text("HtmlBody");
  if (auto* attachments = r.array("Attachments")) {
    for (std::size_t i = 0; i < attachments->size(); ++i) {
      auto field = fmt::format("Attachments[{}]", i);
      if (!(*attachments)[i].is_object()) return field_error{field, field + " must be an object"};
      json_reader a{(*attachments)[i].get_object(), field + ".", {}};
      attachment_in in;
      in.filename = a.text("Name");
      in.content_type = a.text("ContentType");
      in.content_id = a.text("ContentID");
      auto content = a.text("Content");
      if (a.error) return *a.error;
      auto decoded = crypto::from_base64(content);
      if (!decoded) return field_error{field + ".Content", field + ".Content is not base64"};
      in.data = std::move(*decoded);
      m.attachments.push_back(std::move(in));
    }
  }
  if (r.error) return *r.error;
  out.raw = render(m);
  return out;
}

std::variant<provider_message, field_error> message_from_mailgun(const form_data& form, time_point received) {
  provider_message out;
  if (auto* mime = form.find("body-mime"); mime && !mime->data.empty()) {
    out.raw = mime->data;
    return out;
  }

  // message-headers: [["Name", "Value"], ...] in the original order. Unreadable: ignored, since
  // the parsed fields below carry what matters.
  std::vector<std::pair<std::string, std::string>> original;
  {
    json::error_code ec;
    auto headers = json::parse(form.value("message-headers"), ec);
    if (!ec && headers.is_array())
      for (auto& h : headers.get_array())
        if (h.is_array() && h.get_array().size() == 2 && h.get_array()[0].is_string() && h.get_array()[1].is_string())
          original.emplace_back(std::string{h.get_array()[0].get_string()}, std::string{h.get_array()[1].get_string()});
  }
  auto header = [&](std::string_view name) -> std::string_view {
    for (auto& [k, v] : original)
      if (iequals(k, name)) return v;
    return {};
  };
  auto first_of = [&](std::initializer_list<std::string_view> values) -> std::string_view {
    for (auto v : values)
      if (!trim(v).empty()) return v;
    return {};
  };

  message_parts m;
  auto from = parse_address_list(first_of({form.value("from"), form.value("From"), header("From")}));
  if (from.empty()) from = parse_address_list(form.value("sender"));
  if (from.empty()) return field_error{"from", "from (or sender) must hold the sender's email address"};
  from.resize(1);
  add_addresses(m, "From", from);
  auto to = parse_address_list(first_of({form.value("To"), header("To")}));
  if (to.empty()) to = parse_address_list(form.value("recipient"));
  add_addresses(m, "To", to);
  add_addresses(m, "Cc", parse_address_list(first_of({form.value("Cc"), header("Cc")})));
  add_addresses(m, "Reply-To", parse_address_list(first_of({form.value("Reply-To"), header("Reply-To")})));
  m.add("Subject", unstructured(first_of({form.value("subject"), form.value("Subject"), header("Subject")}), 9));
  m.add("Date", date_value(first_of({form.value("Date"), header("Date")}), received));
  for (auto name : {"Message-Id", "In-Reply-To", "References"})
    copy_listed_header(m, name, first_of({form.value(name), header(name)}));
  for (auto& [k, v] : original) copy_listed_header(m, k, v);
  if (!m.has("Return-Path"))
    if (auto a = clean_address(form.value("sender"))) m.add("Return-Path", "<" + *a + ">");

  m.text = std::string{form.value("body-plain")};
  m.html = std::string{form.value("body-html")};
  for (auto& part : form.parts) {
    if (!part.is_file() || !part.name.starts_with("attachment")) continue;
    m.attachments.push_back({part.filename, part.content_type, {}, part.data});
  }
  out.raw = render(m);
  return out;
}

bool postmark_authorized(std::string_view authorization, std::string_view expected_password) {
  if (expected_password.empty()) return false;
  authorization = trim(authorization);
  auto space = authorization.find(' ');
  if (space == std::string_view::npos || !iequals(authorization.substr(0, space), "basic")) return false;
  auto credentials = crypto::from_base64(trim(authorization.substr(space + 1)));
  if (!credentials) return false;
  auto colon = credentials->find(':');
  if (colon == std::string::npos) return false;
  // Hashing first makes the comparison independent of the lengths as well as the contents.
  return crypto::equal_constant_time(crypto::token_hash(std::string_view{*credentials}.substr(colon + 1)),
                                     crypto::token_hash(expected_password));
}

std::string_view describe(mailgun_signature_verdict v) {
  switch (v) {
    case mailgun_signature_verdict::ok: return "ok";
    case mailgun_signature_verdict::missing: return "timestamp, token and signature are required";
    case mailgun_signature_verdict::malformed: return "timestamp must be Unix seconds and signature 64 hex digits";
    case mailgun_signature_verdict::stale: return "timestamp is outside the allowed window";
    case mailgun_signature_verdict::mismatch: return "signature does not match";
  }
  return "invalid signature";
}

mailgun_signature_verdict verify_mailgun_signature(std::string_view timestamp, std::string_view token,
                                                   std::string_view signature_hex, std::string_view signing_key,
                                                   time_point now, std::chrono::seconds window) {
  if (timestamp.empty() || token.empty() || signature_hex.empty()) return mailgun_signature_verdict::missing;
  if (signing_key.empty()) return mailgun_signature_verdict::mismatch;
  std::int64_t t = 0;
  auto [p, ec] = std::from_chars(timestamp.data(), timestamp.data() + timestamp.size(), t);
  if (ec != std::errc{} || p != timestamp.data() + timestamp.size() || token.size() > 512)
    return mailgun_signature_verdict::malformed;
  auto given = crypto::from_hex(signature_hex);
  if (!given || given->size() != 32) return mailgun_signature_verdict::malformed;
  auto now_s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  if (t < now_s - window.count() || t > now_s + window.count()) return mailgun_signature_verdict::stale;
  std::string message{timestamp};
  message.append(token);
  return crypto::equal_constant_time(*given, crypto::hmac_sha256(signing_key, message))
             ? mailgun_signature_verdict::ok
             : mailgun_signature_verdict::mismatch;
}

std::string sign_mailgun(std::string_view timestamp, std::string_view token, std::string_view signing_key) {
  std::string message{timestamp};
  message.append(token);
  return crypto::to_hex(crypto::hmac_sha256(signing_key, message));
}

}  // namespace md::mail
