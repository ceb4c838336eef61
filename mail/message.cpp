// Parses one RFC 5322 message with GMime 3 into md::mail::parsed_message, HTML bodies into readable text.
// Must not throw on input, leak a GObject, let GMime types escape this file, or emit invalid UTF-8.
#include "mail/message.hpp"

#include <gmime/gmime.h>
#include <iconv.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <unordered_map>
#include <utility>

namespace md::mail {
namespace {

// ---- GLib ownership ----------------------------------------------------------------------------

struct g_object_unref_deleter {
  void operator()(void* p) const { g_object_unref(p); }
};
template <class T>
using g_object_ptr = std::unique_ptr<T, g_object_unref_deleter>;

struct references_deleter {
  void operator()(GMimeReferences* p) const { g_mime_references_free(p); }
};

// g_mime_init is not thread-safe and must run exactly once per process; it is never shut down
// because other threads may be parsing at exit.
void ensure_gmime() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

// ---- UTF-8 -------------------------------------------------------------------------------------

constexpr std::string_view replacement = "\xEF\xBF\xBD";

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no overlongs, surrogates or values
// past U+10FFFF), or 0 when it is not one.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  auto byte = [&](std::size_t k) { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0u; };
  auto cont = [&](std::size_t k, unsigned lo = 0x80, unsigned hi = 0xBF) {
    unsigned b = byte(k);
    return b >= lo && b <= hi;
  };
  unsigned lead = byte(0);
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return cont(1) ? 2 : 0;
  if (lead == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
  if (lead == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
  if (lead >= 0xE1 && lead <= 0xEF) return cont(1) && cont(2) ? 3 : 0;
  if (lead == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (lead == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
  if (lead >= 0xF1 && lead <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

bool is_valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    std::size_t n = utf8_sequence_length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// Replaces invalid sequences with U+FFFD, turns CRLF and lone CR into LF and drops NUL and the
// other C0 controls except tab and newline: the text ends up in PostgreSQL, terminals and HTML.
std::string clean_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\r') {
      out += '\n';
      i += (i + 1 < s.size() && s[i + 1] == '\n') ? 2 : 1;
    } else if (c < 0x20 && c != '\t' && c != '\n') {
      ++i;
    } else if (std::size_t n = utf8_sequence_length(s, i); n == 0) {
      out += replacement;
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

// windows-1252 as the WHATWG encoding standard defines it (also what mail labelled ISO-8859-1
// really is); the five unassigned bytes map to the C1 code points of the same value.
char32_t windows_1252_code_point(unsigned char c) {
  static constexpr std::array<char16_t, 32> high = {
      0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
      0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
      0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};
  return c >= 0x80 && c < 0xA0 ? high[c - 0x80] : c;
}

std::string decode_windows_1252(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 4);
  for (char c : s) append_utf8(out, windows_1252_code_point(static_cast<unsigned char>(c)));
  return out;
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x >= 'A' && x <= 'Z' ? x - 'A' + 'a' : x) == (y >= 'A' && y <= 'Z' ? y - 'A' + 'a' : y);
         });
}

std::string_view trim(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// A charset label that is safe to hand to iconv_open: short and made of label characters only
// ("//" would let the sender pick iconv's error-handling suffixes).
bool plausible_charset_label(std::string_view label) {
  if (label.empty() || label.size() > 40) return false;
  return std::all_of(label.begin(), label.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == ':' ||
           c == '(' || c == ')' || c == '+';
  });
}

// Converts with iconv, writing U+FFFD for each byte it cannot convert; nullopt when iconv does not
// know the charset.
std::optional<std::string> iconv_to_utf8(std::string_view bytes, const std::string& label) {
  iconv_t cd = iconv_open("UTF-8", label.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) return std::nullopt;
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 2);
  std::array<char, 4096> buffer;
  char* in = const_cast<char*>(bytes.data());  // iconv's signature is not const-correct
  std::size_t in_left = bytes.size();
  bool flushing = false;
  for (;;) {
    char* dst = buffer.data();
    std::size_t dst_left = buffer.size();
    std::size_t rc = flushing ? iconv(cd, nullptr, nullptr, &dst, &dst_left) : iconv(cd, &in, &in_left, &dst, &dst_left);
    int error = rc == static_cast<std::size_t>(-1) ? errno : 0;
    out.append(buffer.data(), buffer.size() - dst_left);
    if (error == E2BIG) continue;
    if (flushing) break;
    if (error == EILSEQ && in_left > 0) {
      out += replacement;
      ++in;
      --in_left;
    } else if (error == EINVAL || (error != 0 && error != EILSEQ)) {
      out += replacement;  // a truncated sequence at the end
      in_left = 0;
    }
    if (in_left == 0) flushing = true;
  }
  iconv_close(cd);
  return out;
}

// Decoded body bytes in the part's declared charset to clean UTF-8. Unlabelled or mislabelled
// 8-bit text is far more often windows-1252 than anything else, so that is the fallback.
std::string to_utf8(std::string_view bytes, std::string_view charset, bool& unknown_charset) {
  std::string label = ascii_lower(trim(charset));
  if (label.empty() || label == "us-ascii" || label == "ascii" || label == "utf-8" || label == "utf8" ||
      label == "unknown-8bit" || label == "x-unknown") {
    if (is_valid_utf8(bytes) || label == "utf-8" || label == "utf8") return clean_utf8(bytes);
    return clean_utf8(decode_windows_1252(bytes));
  }
  if (label == "iso-8859-1" || label == "iso8859-1" || label == "iso_8859-1" || label == "latin1" ||
      label == "l1" || label == "windows-1252" || label == "cp1252" || label == "x-cp1252")
    return clean_utf8(decode_windows_1252(bytes));
  if (label == "ks_c_5601-1987") label = "cp949";  // Outlook's name for what iconv calls CP949
  if (plausible_charset_label(label))
    if (auto converted = iconv_to_utf8(bytes, label)) return clean_utf8(*converted);
  unknown_charset = true;
  return clean_utf8(decode_windows_1252(bytes));
}

// Runs of whitespace (including folded lines) to one space, trimmed.
std::string collapse_whitespace(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool pending = false;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      pending = !out.empty();
    } else {
      if (pending) out += ' ';
      pending = false;
      out += c;
    }
  }
  return out;
}

std::string clean_header(const char* value) { return value ? collapse_whitespace(clean_utf8(value)) : std::string{}; }

std::string strip_angle_brackets(std::string s) {
  if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = std::string(trim(std::string_view(s).substr(1, s.size() - 2)));
  return s;
}

// The domain of an address is case-insensitive, the local part is not (RFC 5321 §2.4).
std::string lowercase_domain(std::string address) {
  auto at = address.rfind('@');
  if (at != std::string::npos)
    for (std::size_t i = at + 1; i < address.size(); ++i)
      if (address[i] >= 'A' && address[i] <= 'Z') address[i] = static_cast<char>(address[i] - 'A' + 'a');
  return address;
}

void utf8_truncate(std::string& s, std::size_t max_bytes) {
  if (s.size() <= max_bytes) return;
  std::size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  s.resize(cut);
}

// ---- HTML to readable text ---------------------------------------------------------------------

char32_t named_entity(std::string_view name) {
  static const std::unordered_map<std::string_view, char32_t> table = {
      {"amp", '&'},       {"lt", '<'},        {"gt", '>'},         {"quot", '"'},      {"apos", '\''},
      {"nbsp", 0xA0},     {"iexcl", 0xA1},    {"cent", 0xA2},      {"pound", 0xA3},    {"curren", 0xA4},
      {"yen", 0xA5},      {"brvbar", 0xA6},   {"sect", 0xA7},      {"uml", 0xA8},      {"copy", 0xA9},
      {"ordf", 0xAA},     {"laquo", 0xAB},    {"not", 0xAC},       {"shy", 0xAD},      {"reg", 0xAE},
      {"macr", 0xAF},     {"deg", 0xB0},      {"plusmn", 0xB1},    {"sup2", 0xB2},     {"sup3", 0xB3},
      {"acute", 0xB4},    {"micro", 0xB5},    {"para", 0xB6},      {"middot", 0xB7},   {"cedil", 0xB8},
      {"sup1", 0xB9},     {"ordm", 0xBA},     {"raquo", 0xBB},     {"frac14", 0xBC},   {"frac12", 0xBD},
      {"frac34", 0xBE},   {"iquest", 0xBF},   {"Agrave", 0xC0},    {"Aacute", 0xC1},   {"Acirc", 0xC2},
      {"Atilde", 0xC3},   {"Auml", 0xC4},     {"Aring", 0xC5},     {"AElig", 0xC6},    {"Ccedil", 0xC7},
      {"Egrave", 0xC8},   {"Eacute", 0xC9},   {"Ecirc", 0xCA},     {"Euml", 0xCB},     {"Igrave", 0xCC},
      {"Iacute", 0xCD},   {"Icirc", 0xCE},    {"Iuml", 0xCF},      {"ETH", 0xD0},      {"Ntilde", 0xD1},
      {"Ograve", 0xD2},   {"Oacute", 0xD3},   {"Ocirc", 0xD4},     {"Otilde", 0xD5},   {"Ouml", 0xD6},
      {"times", 0xD7},    {"Oslash", 0xD8},   {"Ugrave", 0xD9},    {"Uacute", 0xDA},   {"Ucirc", 0xDB},
      {"Uuml", 0xDC},     {"Yacute", 0xDD},   {"THORN", 0xDE},     {"szlig", 0xDF},    {"agrave", 0xE0},
      {"aacute", 0xE1},   {"acirc", 0xE2},    {"atilde", 0xE3},    {"auml", 0xE4},     {"aring", 0xE5},
      {"aelig", 0xE6},    {"ccedil", 0xE7},   {"egrave", 0xE8},    {"eacute", 0xE9},   {"ecirc", 0xEA},
      {"euml", 0xEB},     {"igrave", 0xEC},   {"iacute", 0xED},    {"icirc", 0xEE},    {"iuml", 0xEF},
      {"eth", 0xF0},      {"ntilde", 0xF1},   {"ograve", 0xF2},    {"oacute", 0xF3},   {"ocirc", 0xF4},
      {"otilde", 0xF5},   {"ouml", 0xF6},     {"divide", 0xF7},    {"oslash", 0xF8},   {"ugrave", 0xF9},
      {"uacute", 0xFA},   {"ucirc", 0xFB},    {"uuml", 0xFC},      {"yacute", 0xFD},   {"thorn", 0xFE},
      {"yuml", 0xFF},     {"OElig", 0x152},   {"oelig", 0x153},    {"Scaron", 0x160},  {"scaron", 0x161},
      {"Yuml", 0x178},    {"fnof", 0x192},    {"circ", 0x2C6},     {"tilde", 0x2DC},   {"ensp", 0x2002},
      {"emsp", 0x2003},   {"thinsp", 0x2009}, {"zwnj", 0x200C},    {"zwj", 0x200D},    {"ndash", 0x2013},
      {"mdash", 0x2014},  {"lsquo", 0x2018},  {"rsquo", 0x2019},   {"sbquo", 0x201A},  {"ldquo", 0x201C},
      {"rdquo", 0x201D},  {"bdquo", 0x201E},  {"dagger", 0x2020},  {"Dagger", 0x2021}, {"bull", 0x2022},
      {"hellip", 0x2026}, {"permil", 0x2030}, {"lsaquo", 0x2039},  {"rsaquo", 0x203A}, {"euro", 0x20AC},
      {"trade", 0x2122},  {"larr", 0x2190},   {"rarr", 0x2192},    {"minus", 0x2212}};
  auto it = table.find(name);
  return it == table.end() ? 0 : it->second;
}

// Decodes the character reference at html[i] == '&'. Returns the characters consumed (0 when it is
// not a reference, so the '&' is literal text) and sets cp; cp 0 means "produces nothing".
std::size_t decode_entity(std::string_view html, std::size_t i, char32_t& cp) {
  std::size_t j = i + 1;
  if (j < html.size() && html[j] == '#') {
    ++j;
    bool hex = j < html.size() && (html[j] == 'x' || html[j] == 'X');
    if (hex) ++j;
    std::size_t start = j;
    std::uint32_t value = 0;
    while (j < html.size() && j - start < 8) {
      char c = html[j];
      int digit = c >= '0' && c <= '9' ? c - '0'
                  : hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
                  : hex && c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                : -1;
      if (digit < 0) break;
      value = value * (hex ? 16 : 10) + static_cast<std::uint32_t>(digit);
      ++j;
    }
    if (j == start) return 0;
    if (j < html.size() && html[j] == ';') ++j;
    // HTML maps these C1 references to windows-1252, the way the documents meant them.
    if (value >= 0x80 && value < 0xA0) value = windows_1252_code_point(static_cast<unsigned char>(value));
    if (value == 0 || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) value = 0xFFFD;
    cp = value;
    return j - i;
  }
  std::size_t start = j;
  while (j < html.size() && j - start < 10 &&
         ((html[j] >= 'a' && html[j] <= 'z') || (html[j] >= 'A' && html[j] <= 'Z') || (html[j] >= '0' && html[j] <= '9')))
    ++j;
  if (j == start || j >= html.size() || html[j] != ';') return 0;
  cp = named_entity(html.substr(start, j - start));
  return cp == 0 ? 0 : j + 1 - i;
}

// Builds the text: collapses HTML whitespace, prefixes lines inside <blockquote> with "> " so that
// the reply splitter sees quoted history as quoted, and keeps <pre> as it is.
class text_writer {
 public:
  void word(std::string_view w) {
    if (pending_space_ && !at_line_start() && out_.back() != ' ') out_ += ' ';
    pending_space_ = false;
    for (char c : w) {
      if (c == '\n') {
        line_break();
        continue;
      }
      if (at_line_start()) write_quote_prefix();
      out_ += c;
    }
  }
  void space() { pending_space_ = true; }
  void line_break() {
    bool blank = at_line_start();
    if (blank) write_quote_prefix();
    while (!out_.empty() && out_.back() == ' ') out_.pop_back();
    out_ += '\n';
    last_line_blank_ = blank;
    pending_space_ = false;
  }
  void block_break() {
    if (!at_line_start()) line_break();
    pending_space_ = false;
  }
  void paragraph_break() {
    block_break();
    if (!out_.empty() && !last_line_blank_) line_break();
  }
  void enter_quote() { quote_depth_ = std::min(quote_depth_ + 1, max_quote_depth); }
  void leave_quote() { quote_depth_ = std::max(quote_depth_ - 1, 0); }
  std::size_t size() const { return out_.size(); }
  std::string_view since(std::size_t pos) const { return std::string_view(out_).substr(std::min(pos, out_.size())); }

  // Trailing spaces trimmed, at most one empty line in a row, no leading or trailing empty lines.
  std::string finish() {
    std::string result;
    result.reserve(out_.size());
    int newlines = 0;
    for (char c : out_) {
      if (c == '\n') {
        while (!result.empty() && result.back() == ' ') result.pop_back();
        ++newlines;
        continue;
      }
      if (!result.empty()) result.append(static_cast<std::size_t>(std::min(newlines, 2)), '\n');
      newlines = 0;
      result += c;
    }
    while (!result.empty() && result.back() == ' ') result.pop_back();
    return result;
  }

 private:
  // A deeper nesting than this is an attack or an accident; capping it keeps the prefix work linear.
  static constexpr int max_quote_depth = 8;
  bool at_line_start() const { return out_.empty() || out_.back() == '\n'; }
  void write_quote_prefix() {
    for (int i = 0; i < quote_depth_; ++i) out_ += "> ";
  }
  std::string out_;
  int quote_depth_ = 0;
  bool pending_space_ = false;
  bool last_line_blank_ = false;
};

bool is_html_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }
bool is_ascii_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

std::size_t find_ci(std::string_view haystack, std::string_view needle, std::size_t from) {
  for (std::size_t i = from; i + needle.size() <= haystack.size(); ++i)
    if (iequals(haystack.substr(i, needle.size()), needle)) return i;
  return std::string_view::npos;
}

struct html_tag {
  std::string name;  // lowercase
  bool closing = false;
  std::string href;
  std::size_t end = 0;  // index just past '>'
};

// Parses the tag starting at html[i] == '<'; nullopt when this '<' does not start a tag.
std::optional<html_tag> parse_tag(std::string_view html, std::size_t i) {
  html_tag tag;
  std::size_t j = i + 1;
  if (j < html.size() && html[j] == '/') {
    tag.closing = true;
    ++j;
  }
  if (j >= html.size() || !is_ascii_alpha(html[j])) return std::nullopt;
  std::size_t name_start = j;
  while (j < html.size() && (is_ascii_alpha(html[j]) || (html[j] >= '0' && html[j] <= '9'))) ++j;
  tag.name = ascii_lower(html.substr(name_start, j - name_start));
  while (j < html.size() && html[j] != '>') {
    if (is_html_space(html[j]) || html[j] == '/') {
      ++j;
      continue;
    }
    std::size_t attr_start = j;
    while (j < html.size() && !is_html_space(html[j]) && html[j] != '=' && html[j] != '>' && html[j] != '/') ++j;
    std::string_view attr = html.substr(attr_start, j - attr_start);
    while (j < html.size() && is_html_space(html[j])) ++j;
    if (j >= html.size() || html[j] != '=') continue;
    ++j;
    while (j < html.size() && is_html_space(html[j])) ++j;
    std::string_view value;
    if (j < html.size() && (html[j] == '"' || html[j] == '\'')) {
      char quote = html[j++];
      std::size_t close = html.find(quote, j);
      if (close == std::string_view::npos) close = html.size();
      value = html.substr(j, close - j);
      j = std::min(close + 1, html.size());
    } else {
      std::size_t value_start = j;
      while (j < html.size() && !is_html_space(html[j]) && html[j] != '>') ++j;
      value = html.substr(value_start, j - value_start);
    }
    if (iequals(attr, "href")) tag.href = std::string(trim(value));
  }
  tag.end = std::min(j + 1, html.size());
  return tag;
}

bool is_one_of(std::string_view name, std::initializer_list<std::string_view> names) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// The href as it should appear after a link's text: entity-decoded, and only for schemes a reader
// can use (not "#anchors" or "javascript:").
std::string readable_href(std::string_view raw) {
  std::string href;
  for (std::size_t i = 0; i < raw.size();) {
    char32_t cp = 0;
    std::size_t used = raw[i] == '&' ? decode_entity(raw, i, cp) : 0;
    if (used == 0) {
      href += raw[i++];
    } else {
      append_utf8(href, cp);
      i += used;
    }
  }
  std::string lower = ascii_lower(href);
  if (lower.rfind("http://", 0) == 0 || lower.rfind("https://", 0) == 0 || lower.rfind("mailto:", 0) == 0 ||
      lower.rfind("tel:", 0) == 0)
    return collapse_whitespace(href);
  return {};
}

std::string html_to_text(std::string_view html) {
  text_writer w;
  std::string link_href;
  std::size_t link_start = 0;
  // Tags whose content is never shown; once a closing tag is known to be missing it stays missing,
  // which keeps the search linear however many opening tags there are.
  std::unordered_map<std::string, bool> no_closer;
  std::string word;
  auto flush_word = [&] {
    if (!word.empty()) w.word(word);
    word.clear();
  };
  int pre_depth = 0;
  std::size_t i = 0;
  while (i < html.size()) {
    char c = html[i];
    if (c == '<') {
      if (html.compare(i, 4, "<!--") == 0) {
        flush_word();
        std::size_t end = html.find("-->", i + 4);
        i = end == std::string_view::npos ? html.size() : end + 3;
        continue;
      }
      if (i + 1 < html.size() && (html[i + 1] == '!' || html[i + 1] == '?')) {
        flush_word();
        std::size_t end = html.find('>', i);
        i = end == std::string_view::npos ? html.size() : end + 1;
        continue;
      }
      auto tag = parse_tag(html, i);
      if (!tag) {
        word += c;
        ++i;
        continue;
      }
      flush_word();
      i = tag->end;
      const std::string& name = tag->name;
      if (!tag->closing && is_one_of(name, {"script", "style", "template", "head", "title"})) {
        bool& missing = no_closer[name];
        std::size_t close = missing ? std::string_view::npos : find_ci(html, "</" + name, i);
        if (close == std::string_view::npos) {
          missing = true;
          // An unclosed script or style hides the rest, as in a browser; an unclosed head or
          // title is a sloppy document whose body still follows.
          if (name == "script" || name == "style" || name == "template") i = html.size();
          continue;
        }
        std::size_t end = html.find('>', close);
        i = end == std::string_view::npos ? html.size() : end + 1;
        continue;
      }
      if (name == "br") {
        w.line_break();
      } else if (is_one_of(name, {"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "dl"})) {
        w.paragraph_break();
      } else if (name == "blockquote") {
        // The quote prefix belongs to the lines inside only, so it changes after the break on
        // entry and before the break on exit.
        if (tag->closing) w.leave_quote();
        w.paragraph_break();
        if (!tag->closing) w.enter_quote();
      } else if (name == "pre") {
        w.block_break();
        pre_depth = std::max(0, pre_depth + (tag->closing ? -1 : 1));
      } else if (name == "li") {
        w.block_break();
        if (!tag->closing) w.word("- ");
      } else if (is_one_of(name, {"div", "tr", "hr", "section", "article", "header", "footer", "nav", "aside",
                                  "address", "dt", "dd", "form", "fieldset", "figure", "figcaption", "main",
                                  "center", "caption"})) {
        w.block_break();
      } else if (name == "td" || name == "th") {
        w.space();
      } else if (name == "a") {
        if (!tag->closing) {
          link_href = readable_href(tag->href);
          link_start = w.size();
        } else if (!link_href.empty()) {
          std::string text = collapse_whitespace(w.since(link_start));
          std::string_view target = link_href;
          if (target.size() > 7 && iequals(target.substr(0, 7), "mailto:")) target.remove_prefix(7);
          if (!text.empty() && text != link_href && text != target) {
            w.space();
            w.word("(" + link_href + ")");
          }
          link_href.clear();
        }
      }
      continue;
    }
    if (c == '&') {
      char32_t cp = 0;
      if (std::size_t used = decode_entity(html, i, cp); used > 0) {
        i += used;
        if (cp == 0xA0 && pre_depth == 0) {
          flush_word();
          w.space();
        } else if (cp == 0xAD || cp == 0x200C || cp == 0x200D) {
          // soft hyphen and zero-width joiners only matter to layout
        } else if (cp >= 0x20 && cp != 0x7F) {
          append_utf8(word, cp);
        } else if (cp == '\t' || cp == '\n') {
          flush_word();
          pre_depth > 0 ? w.word(std::string(1, static_cast<char>(cp))) : w.space();
        }
        continue;
      }
    }
    if (is_html_space(c)) {
      flush_word();
      if (pre_depth > 0 && c != '\r') {
        w.word(std::string(1, c));
      } else if (pre_depth == 0) {
        w.space();
      }
      ++i;
      continue;
    }
    word += c;
    ++i;
  }
  flush_word();
  return w.finish();
}

// ---- MIME tree ---------------------------------------------------------------------------------

std::string header_value(GMimeObject* object, const char* name) {
  return clean_header(g_mime_object_get_header(object, name));
}

struct mailbox {
  std::string name, address;
};

// Mailboxes of a list, with group members flattened (groups cannot nest: RFC 5322 §3.4).
std::vector<mailbox> mailboxes(InternetAddressList* list) {
  std::vector<mailbox> result;
  auto add = [&](InternetAddress* address) {
    if (!INTERNET_ADDRESS_IS_MAILBOX(address)) return;
    const char* addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(address));
    result.push_back({clean_header(internet_address_get_name(address)), lowercase_domain(clean_header(addr))});
  };
  int count = list ? internet_address_list_length(list) : 0;
  for (int i = 0; i < count; ++i) {
    InternetAddress* address = internet_address_list_get_address(list, i);
    if (INTERNET_ADDRESS_IS_GROUP(address)) {
      InternetAddressList* members = internet_address_group_get_members(INTERNET_ADDRESS_GROUP(address));
      int member_count = members ? internet_address_list_length(members) : 0;
      for (int k = 0; k < member_count; ++k) add(internet_address_list_get_address(members, k));
    } else {
      add(address);
    }
  }
  return result;
}

std::vector<std::string> addresses(InternetAddressList* list) {
  std::vector<std::string> result;
  for (auto& m : mailboxes(list))
    if (!m.address.empty()) result.push_back(std::move(m.address));
  return result;
}

std::vector<std::string> message_ids(const char* header) {
  std::vector<std::string> ids;
  if (!header) return ids;
  std::unique_ptr<GMimeReferences, references_deleter> refs(g_mime_references_parse(nullptr, header));
  int count = refs ? g_mime_references_length(refs.get()) : 0;
  for (int i = 0; i < count; ++i) {
    std::string id = strip_angle_brackets(clean_header(g_mime_references_get_message_id(refs.get(), i)));
    if (!id.empty()) ids.push_back(std::move(id));
  }
  return ids;
}

std::string media_type(GMimeObject* object) {
  GMimeContentType* type = g_mime_object_get_content_type(object);
  if (!type) return "application/octet-stream";
  const char* major = g_mime_content_type_get_media_type(type);
  const char* minor = g_mime_content_type_get_media_subtype(type);
  return ascii_lower(clean_header(major ? major : "application")) + "/" + ascii_lower(clean_header(minor ? minor : "octet-stream"));
}

std::string decoded_content(GMimePart* part) {
  GMimeDataWrapper* content = g_mime_part_get_content(part);
  if (!content) return {};
  g_object_ptr<GMimeStream> sink(g_mime_stream_mem_new());
  g_mime_data_wrapper_write_to_stream(content, sink.get());
  GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(sink.get()));
  if (!bytes || bytes->len == 0) return {};
  return std::string(reinterpret_cast<const char*>(bytes->data), bytes->len);
}

// Last path component only: a filename is a label, and "../" in it must never reach a file system.
std::string safe_filename(const char* raw) {
  std::string name = clean_header(raw);
  auto slash = name.find_last_of("/\\");
  if (slash != std::string::npos) name.erase(0, slash + 1);
  return name;
}

void append_block(std::string& text, std::string_view block) {
  block = trim(block);
  if (block.empty()) return;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (!text.empty()) text += "\n\n";
  text.append(block);
}

constexpr std::string_view forwarded_separator = "---------- Forwarded message ---------";

class mime_walker {
 public:
  mime_walker(const parse_limits& limits, parsed_message& out) : limits_(limits), out_(out) {}

  // The message's own text, then each nested message after its separator.
  std::string body_text(GMimeMessage* message) {
    std::string text;
    if (GMimeObject* body = g_mime_message_get_mime_part(message)) walk(body, 1, text);
    for (const auto& block : nested_) append_block(text, block);
    return text;
  }

 private:
  void warn(std::string_view warning) {
    if (std::find(out_.warnings.begin(), out_.warnings.end(), warning) == out_.warnings.end())
      out_.warnings.emplace_back(warning);
  }

  void walk(GMimeObject* object, int depth, std::string& text) {
    if (depth > limits_.max_depth) {
      warn("parts nested deeper than max_depth skipped");
      return;
    }
    if (GMIME_IS_MESSAGE_PART(object)) {
      if (GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(object))) nested(inner, depth);
    } else if (GMIME_IS_MULTIPART_ENCRYPTED(object)) {
      warn("encrypted part not readable");
    } else if (GMIME_IS_MULTIPART(object)) {
      multipart(GMIME_MULTIPART(object), depth, text);
    } else if (GMIME_IS_PART(object)) {
      leaf(GMIME_PART(object), text);
    }
  }

  void multipart(GMimeMultipart* multipart, int depth, std::string& text) {
    int count = g_mime_multipart_get_count(multipart);
    if (count <= 0) return recover_prologue(multipart, depth, text);
    // The second part of multipart/signed is the signature itself, not something the sender attached.
    if (GMIME_IS_MULTIPART_SIGNED(multipart)) count = 1;
    if (media_type(GMIME_OBJECT(multipart)) == "multipart/alternative") {
      walk(best_alternative(multipart, count), depth + 1, text);
      return;
    }
    for (int i = 0; i < count; ++i)
      if (GMimeObject* child = g_mime_multipart_get_part(multipart, i)) walk(child, depth + 1, text);
  }

  // A multipart whose declared boundary never appears has no parts: GMime keeps its whole body as
  // the prologue. It is read again with the boundary its first delimiter line names, and when that
  // finds no parts either, the prologue is the text (the sender's words are in it).
  void recover_prologue(GMimeMultipart* multipart, int depth, std::string& text) {
    const char* prologue = g_mime_multipart_get_prologue(multipart);
    if (!prologue || !*prologue) return;
    std::string_view body(prologue);
    if (std::string boundary = first_delimiter(body); !boundary.empty()) {
      std::string type = media_type(GMIME_OBJECT(multipart));
      if (!std::all_of(type.begin(), type.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '/' || c == '-' || c == '.' || c == '+';
          }))
        type = "multipart/mixed";
      std::string entity = "Content-Type: " + type + "; boundary=\"" + boundary + "\"\r\n\r\n";
      entity.append(body);
      g_object_ptr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(entity.data(), entity.size()));
      g_object_ptr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
      g_object_ptr<GMimeObject> part(g_mime_parser_construct_part(parser.get(), nullptr));
      if (part && GMIME_IS_MULTIPART(part.get()) && g_mime_multipart_get_count(GMIME_MULTIPART(part.get())) > 0) {
        warn("multipart boundary not found; parts read with the boundary they use");
        walk(part.get(), depth, text);  // stands in for this multipart, at its depth
        return;
      }
    }
    warn("multipart without parts read as text");
    bool unknown_charset = false;
    append_block(text, to_utf8(body, "", unknown_charset));
  }

  // The boundary of the first delimiter line ("--boundary") in a multipart body, or empty when
  // there is none that could be a boundary (RFC 2046 5.1.1: at most 70 characters).
  static std::string first_delimiter(std::string_view body) {
    for (std::size_t pos = 0; pos < body.size();) {
      std::size_t end = body.find('\n', pos);
      if (end == std::string_view::npos) end = body.size();
      std::string_view line = body.substr(pos, end - pos);
      pos = end + 1;
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
      if (line.size() < 3 || line.substr(0, 2) != "--") continue;
      line.remove_prefix(2);
      bool usable = line.size() <= 70 && std::all_of(line.begin(), line.end(), [](char c) {
        return c >= ' ' && c < 127 && c != '"' && c != '\\';
      });
      return usable ? std::string(line) : std::string{};
    }
    return {};
  }

  // text/plain, else a nested multipart (which may hold the plain part), else text/html, else the
  // last alternative (the sender's richest).
  static GMimeObject* best_alternative(GMimeMultipart* multipart, int count) {
    GMimeObject* best = nullptr;
    int best_rank = -1;
    for (int i = 0; i < count; ++i) {
      GMimeObject* child = g_mime_multipart_get_part(multipart, i);
      if (!child) continue;
      std::string type = media_type(child);
      int rank = type == "text/plain" ? 3 : GMIME_IS_MULTIPART(child) ? 2 : type == "text/html" ? 1 : 0;
      if (rank > best_rank || (rank == 0 && best_rank == 0)) {
        best = child;
        best_rank = rank;
      }
    }
    return best;
  }

  void leaf(GMimePart* part, std::string& text) {
    std::string type = media_type(GMIME_OBJECT(part));
    const char* disposition = g_mime_object_get_disposition(GMIME_OBJECT(part));
    bool attached = disposition && iequals(trim(disposition), "attachment");
    if (!attached && (type == "text/plain" || type == "text/html")) {
      const char* charset = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset");
      bool unknown_charset = false;
      std::string body = to_utf8(decoded_content(part), charset ? charset : "", unknown_charset);
      if (unknown_charset) warn("unknown charset read as windows-1252");
      append_block(text, type == "text/html" ? html_to_text(body) : body);
      return;
    }
    if (out_.attachments.size() >= limits_.max_attachments) {
      warn("attachment dropped: more than max_attachments");
      return;
    }
    std::string data = decoded_content(part);
    if (data.size() > limits_.max_attachment_bytes) {
      warn("attachment dropped: larger than max_attachment_bytes");
      return;
    }
    out_.attachments.push_back({safe_filename(g_mime_part_get_filename(part)), std::move(type), std::move(data)});
  }

  // A nested message's text goes after the outer text, in order of appearance; its slot is taken
  // before its own nested messages are walked so that they follow it.
  void nested(GMimeMessage* message, int depth) {
    std::size_t slot = nested_.size();
    nested_.emplace_back();
    std::string block(forwarded_separator);
    block += '\n';
    for (const char* name : {"From", "Date", "Subject", "To"})
      if (std::string value = header_value(GMIME_OBJECT(message), name); !value.empty())
        block.append(name).append(": ").append(value).append("\n");
    std::string body;
    if (GMimeObject* inner = g_mime_message_get_mime_part(message)) walk(inner, depth + 1, body);
    block += '\n';
    block += body;
    nested_[slot] = std::move(block);
  }

  const parse_limits& limits_;
  parsed_message& out_;
  std::vector<std::string> nested_;
};

void read_headers(GMimeMessage* message, parsed_message& out) {
  GMimeObject* object = GMIME_OBJECT(message);
  out.subject = clean_header(g_mime_message_get_subject(message));
  auto from = mailboxes(g_mime_message_get_from(message));
  if (!from.empty()) {
    out.from_name = std::move(from.front().name);
    out.from_address = std::move(from.front().address);
  }
  auto reply_to = addresses(g_mime_message_get_reply_to(message));
  if (!reply_to.empty()) out.reply_to_address = std::move(reply_to.front());
  out.to_addresses = addresses(g_mime_message_get_to(message));
  out.cc_addresses = addresses(g_mime_message_get_cc(message));
  out.message_id = strip_angle_brackets(clean_header(g_mime_message_get_message_id(message)));
  auto in_reply_to = message_ids(g_mime_object_get_header(object, "In-Reply-To"));
  if (!in_reply_to.empty()) out.in_reply_to = std::move(in_reply_to.front());
  out.references = message_ids(g_mime_object_get_header(object, "References"));
  if (GDateTime* date = g_mime_message_get_date(message))
    out.date = from_unix_ms(static_cast<std::int64_t>(g_date_time_to_unix(date)) * 1000);
  out.auto_submitted = header_value(object, "Auto-Submitted");
  out.precedence = header_value(object, "Precedence");
  GMimeHeaderList* headers = g_mime_object_get_header_list(object);
  out.has_list_headers =
      headers && (g_mime_header_list_contains(headers, "List-Id") || g_mime_header_list_contains(headers, "List-Unsubscribe"));
  out.return_path = strip_angle_brackets(header_value(object, "Return-Path"));
}

void finish_text(parsed_message& out, std::string text, const parse_limits& limits) {
  if (text.size() > limits.max_text_bytes) {
    utf8_truncate(text, limits.max_text_bytes);
    out.warnings.emplace_back("text truncated at max_text_bytes");
  }
  out.text = std::move(text);
}

// The fields a delivery adds on top (the SMTP door and mailgate write Return-Path and Received):
// they say nothing about whether what follows is a message.
bool is_trace_field(std::string_view name) {
  name = trim(name);
  return iequals(name, "Return-Path") || iequals(name, "Received") || iequals(name, "Delivered-To") ||
         iequals(name, "X-Original-To");
}

bool only_trace_fields(GMimeHeaderList* headers) {
  int count = g_mime_header_list_get_count(headers);
  for (int i = 0; i < count; ++i) {
    GMimeHeader* header = g_mime_header_list_get_header_at(headers, i);
    const char* name = header ? g_mime_header_get_name(header) : nullptr;
    if (name && !is_trace_field(name)) return false;
  }
  return true;
}

// raw past the trace fields at its top (and their folded continuation lines).
std::string_view without_trace_fields(std::string_view raw) {
  std::size_t pos = 0;
  while (pos < raw.size()) {
    std::size_t end = raw.find('\n', pos);
    std::size_t next = end == std::string_view::npos ? raw.size() : end + 1;
    std::string_view line = raw.substr(pos, next - pos);
    bool continuation = pos > 0 && (line.front() == ' ' || line.front() == '\t');
    std::size_t colon = line.find(':');
    if (!continuation && (colon == std::string_view::npos || !is_trace_field(line.substr(0, colon)))) break;
    pos = next;
  }
  return raw.substr(pos);
}

// CR CR LF line ends (CRLF text converted to CRLF once more) hide the end of the header block from
// GMime, which then reads every body line as a broken header and drops it. When the header block
// has them, every run of CRs before an LF is read as one CR.
std::optional<std::string> without_doubled_cr(std::string_view raw) {
  std::size_t header_end = std::min(raw.find("\n\n"), raw.find("\n\r\n"));
  if (raw.substr(0, header_end).find("\r\r\n") == std::string_view::npos) return std::nullopt;
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size();) {
    std::size_t run = 0;
    while (i + run < raw.size() && raw[i + run] == '\r') ++run;
    if (run > 1 && i + run < raw.size() && raw[i + run] == '\n') {
      out += "\r\n";
      i += run + 1;
    } else if (run > 0) {
      out.append(run, '\r');
      i += run;
    } else {
      out += raw[i++];
    }
  }
  return out;
}

void parse_into(std::string_view raw, const parse_limits& limits, parsed_message& out) {
  ensure_gmime();
  auto normalised = without_doubled_cr(raw);
  if (normalised) raw = *normalised;
  g_object_ptr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(raw.data(), raw.size()));
  g_object_ptr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
  g_mime_parser_set_format(parser.get(), GMIME_FORMAT_MESSAGE);
  g_object_ptr<GMimeMessage> message(g_mime_parser_construct_message(parser.get(), nullptr));
  // With no header at all, or only the trace fields a delivery put on top, there is nothing to say
  // it is a message rather than text (and GMime drops text lines it takes for broken headers).
  GMimeHeaderList* headers = message ? g_mime_object_get_header_list(GMIME_OBJECT(message.get())) : nullptr;
  if (!headers || g_mime_header_list_get_count(headers) == 0 || only_trace_fields(headers)) {
    out.parsed = false;
    out.warnings.emplace_back("input is not a MIME message");
    bool unknown_charset = false;
    finish_text(out, to_utf8(without_trace_fields(raw), "", unknown_charset), limits);
    return;
  }
  read_headers(message.get(), out);
  mime_walker walker(limits, out);
  finish_text(out, walker.body_text(message.get()), limits);
}

bool is_field_name_char(char c) { return c > 32 && c < 127 && c != ':'; }

}  // namespace

parsed_message parse_message(std::string_view raw, const parse_limits& limits) {
  parsed_message out;
  try {
    parse_into(raw, limits, out);
  } catch (const std::bad_alloc&) {
    // Memory is the one thing input can exhaust; the caller still has the raw message.
    out = parsed_message{};
    out.parsed = false;
    out.warnings.emplace_back("out of memory while parsing");
  }
  return out;
}

std::string with_crlf_line_ends(std::string_view raw) {
  std::string out;
  out.reserve(raw.size() + raw.size() / 32);
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r')) out += '\r';
    out += raw[i];
  }
  return out;
}

bool looks_like_message(std::string_view raw) {
  static constexpr std::array<std::string_view, 7> key_fields = {"from",       "subject",  "date",       "message-id",
                                                                 "received",   "return-path", "to"};
  std::size_t pos = 0;
  if (raw.substr(0, 5) == "From ") {  // mbox separator line
    pos = raw.find('\n');
    if (pos == std::string_view::npos) return false;
    ++pos;
  }
  bool first = true;
  bool key_seen = false;
  while (pos < raw.size()) {
    std::size_t end = raw.find('\n', pos);
    if (end == std::string_view::npos) end = raw.size();
    std::string_view line = raw.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = end + 1;
    if (line.empty()) return !first && key_seen;
    if (line.front() == ' ' || line.front() == '\t') {
      if (first) return false;  // a continuation needs a field to continue
      continue;
    }
    std::size_t name_end = 0;
    while (name_end < line.size() && is_field_name_char(line[name_end])) ++name_end;
    std::size_t colon = name_end;
    while (colon < line.size() && (line[colon] == ' ' || line[colon] == '\t')) ++colon;  // obs-optional
    if (name_end == 0 || colon >= line.size() || line[colon] != ':') return false;
    std::string_view name = line.substr(0, name_end);
    for (auto key : key_fields)
      if (iequals(name, key)) key_seen = true;
    first = false;
  }
  return !first && key_seen;
}

}  // namespace md::mail
