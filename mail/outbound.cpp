// Outbound message building (see outbound.hpp). Everything here is string work on values that
// may come from strangers (names, subjects), so every header value is cleaned before use.
#include "mail/outbound.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>

#include "core/london_time.hpp"
#include "crypto/primitives.hpp"

namespace md::mail {
namespace {

constexpr std::size_t fold_at = 78;  // RFC 5322 §2.1.1: lines SHOULD be at most 78 characters

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals_prefix(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (ascii_lower(text[i]) != ascii_lower(prefix[i])) return false;
  return true;
}

std::size_t ifind(std::string_view text, std::string_view needle) {
  if (needle.empty() || needle.size() > text.size()) return std::string_view::npos;
  for (std::size_t i = 0; i + needle.size() <= text.size(); ++i)
    if (iequals_prefix(text.substr(i), needle)) return i;
  return std::string_view::npos;
}

// Length of the valid UTF-8 sequence at text[i], or 0 if it is not one (overlongs, surrogates
// and code points past U+10FFFF are invalid too).
std::size_t utf8_sequence(std::string_view text, std::size_t i) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char c = b(i);
  if (c < 0x80) return 1;
  std::size_t n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
  if (n == 0 || c > 0xF4 || i + n > text.size()) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((b(i + k) & 0xC0) != 0x80) return 0;
  if (n == 3 && c == 0xE0 && b(i + 1) < 0xA0) return 0;   // overlong
  if (n == 3 && c == 0xED && b(i + 1) >= 0xA0) return 0;  // surrogate
  if (n == 4 && c == 0xF0 && b(i + 1) < 0x90) return 0;   // overlong
  if (n == 4 && c == 0xF4 && b(i + 1) >= 0x90) return 0;  // past U+10FFFF
  return n;
}

// Invalid bytes become U+FFFD, so that what we declare as UTF-8 is UTF-8.
std::string valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    std::size_t n = utf8_sequence(text, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  return out;
}

// A header value: valid UTF-8, no control characters (CR and LF included: no header injection),
// whitespace collapsed to single spaces, trimmed.
std::string clean_value(std::string_view text) {
  std::string utf8 = valid_utf8(text);
  std::string out;
  bool space = false;
  for (char ch : utf8) {
    auto c = static_cast<unsigned char>(ch);
    bool blank = c == ' ' || c == '\t' || c == '\r' || c == '\n';
    if (blank) {
      space = !out.empty();
      continue;
    }
    if (c < 0x20 || c == 0x7F) continue;
    if (space) out += ' ';
    space = false;
    out += ch;
  }
  return out;
}

// An address or a message id: nothing that could end the value, start another address or a
// new header, or be read as a bracket.
std::string clean_token(std::string_view text) {
  std::string out;
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7F || ch == '<' || ch == '>' || ch == ',' || ch == ';' || ch == '"' || ch == '(' ||
        ch == ')' || ch == '\\' || ch == '[' || ch == ']')
      continue;
    out += ch;
  }
  return out;
}

bool is_ascii(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

std::string base64(std::string_view bytes) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    std::uint32_t v = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 2]);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? alphabet[(v >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? alphabet[v & 63] : '=';
  }
  return out;
}

// RFC 2047 B-encoded words of 64 characters at most (39 bytes of text each: short enough that
// "Subject: " and one word fit in 76), never splitting a UTF-8 sequence, separated by spaces
// (which decoders drop between encoded words).
std::string encoded_words(std::string_view utf8) {
  constexpr std::size_t max_bytes = 39;
  std::string out;
  std::size_t i = 0;
  while (i < utf8.size()) {
    std::size_t end = i;
    while (end < utf8.size()) {
      std::size_t n = std::max<std::size_t>(utf8_sequence(utf8, end), 1);
      if (end + n - i > max_bytes) break;
      end += n;
    }
    if (!out.empty()) out += ' ';
    out += "=?utf-8?B?" + base64(utf8.substr(i, end - i)) + "?=";
    i = end;
  }
  return out;
}

bool is_atext(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view{"!#$%&'*+-/=?^_`{|}~"}.find(c) != std::string_view::npos;
}

// A display name as an RFC 5322 phrase: atoms as they are, else a quoted string, else (not
// ASCII) encoded words.
std::string phrase(std::string_view cleaned) {
  if (!is_ascii(cleaned) || cleaned.find("=?") != std::string_view::npos) return encoded_words(cleaned);
  if (std::all_of(cleaned.begin(), cleaned.end(), [](char c) { return c == ' ' || is_atext(c); }))
    return std::string{cleaned};
  std::string out = "\"";
  for (char c : cleaned) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// An address: its first token only, so that whatever follows a line break, space, comma or
// bracket (another header, another recipient) is dropped rather than glued on.
std::string clean_address(std::string_view address) {
  std::size_t i = 0;
  while (i < address.size() && (address[i] == ' ' || address[i] == '\t' || address[i] == '<')) ++i;
  std::string out;
  for (; i < address.size(); ++i) {
    auto c = static_cast<unsigned char>(address[i]);
    if (c <= 0x20 || c == 0x7F || std::string_view{"<>,;:\"()\\[]"}.find(address[i]) != std::string_view::npos) break;
    out += address[i];
  }
  return out;
}

std::string mailbox(std::string_view name, std::string_view address) {
  auto n = clean_value(name);
  auto a = clean_address(address);
  if (n.empty()) return a;
  return phrase(n) + " <" + a + ">";
}

// "Name: value" folded at spaces so that lines stay within 78 characters where the words
// allow, with CRLF after each line. Unfolding (removing CRLF before the space) restores it.
std::string header(std::string_view name, std::string_view value) {
  std::string out{name};
  out += ':';
  std::size_t line_start = 0;
  bool first_word = true;
  std::size_t i = 0;
  while (i <= value.size()) {
    std::size_t end = value.find(' ', i);
    if (end == std::string_view::npos) end = value.size();
    auto word = value.substr(i, end - i);
    if (!word.empty()) {
      if (!first_word && out.size() - line_start + 1 + word.size() > fold_at) {
        out += "\r\n";
        line_start = out.size();
      }
      out += ' ';
      out += word;
      first_word = false;
    }
    i = end + 1;
  }
  return out + "\r\n";
}

std::string rfc5322_date(time_point t) {
  using namespace std::chrono;
  auto offset = london_offset(t);
  auto local = floor<seconds>(t) + offset;
  auto day = floor<days>(local);
  year_month_day ymd{day};
  hh_mm_ss<seconds> time{local - day};
  static constexpr std::array<const char*, 7> weekdays{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> months{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  auto minutes_east = offset.count();
  return fmt::format("{}, {} {} {} {:02}:{:02}:{:02} {}{:02}{:02}", weekdays[weekday{day}.c_encoding()],
                     static_cast<unsigned>(ymd.day()), months[static_cast<unsigned>(ymd.month()) - 1],
                     static_cast<int>(ymd.year()), time.hours().count(), time.minutes().count(), time.seconds().count(),
                     minutes_east < 0 ? '-' : '+', std::abs(minutes_east) / 60, std::abs(minutes_east) % 60);
}

std::string bracketed(std::string_view id) { return "<" + clean_token(id) + ">"; }

// Removes leading reply prefixes: "Re:", "RE :", "Aw:", "Sv:", "Antw:", "Re[2]:", "Re(2):".
std::string strip_reply_prefixes(std::string s) {
  static constexpr std::array<std::string_view, 6> prefixes{"re", "aw", "sv", "antw", "res", "r"};
  for (bool again = true; again;) {
    again = false;
    for (auto p : prefixes) {
      if (!iequals_prefix(s, p)) continue;
      std::size_t i = p.size();
      if (i < s.size() && (s[i] == '[' || s[i] == '(')) {
        char close = s[i] == '[' ? ']' : ')';
        std::size_t j = i + 1;
        while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
        if (j == i + 1 || j >= s.size() || s[j] != close) continue;
        i = j + 1;
      }
      while (i < s.size() && s[i] == ' ') ++i;
      if (i >= s.size() || s[i] != ':') continue;
      ++i;
      while (i < s.size() && s[i] == ' ') ++i;
      s.erase(0, i);
      again = true;
      break;
    }
  }
  return s;
}

// A name fit to appear in a greeting sent to whoever claimed it: short, and nothing a spammer
// could use an automatic reply to deliver (links, addresses, numbers).
std::string greeting_name(std::string_view name) {
  auto n = clean_value(name);
  if (n.empty()) return {};
  std::size_t code_points = 0;
  for (char c : n)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++code_points;
  if (code_points > 60) return {};
  for (char c : n)
    if ((c >= '0' && c <= '9') || std::string_view{"@/:<>[]{}\\|_=+*#$%&"}.find(c) != std::string_view::npos) return {};
  if (ifind(n, "www.") != std::string_view::npos) return {};
  return n;
}

}  // namespace

std::string domain_of(std::string_view address) {
  auto a = clean_address(address);
  auto at = a.rfind('@');
  if (at == std::string::npos) return {};
  std::string d = a.substr(at + 1);
  std::transform(d.begin(), d.end(), d.begin(), ascii_lower);
  return d;
}

std::string make_message_id(std::string_view domain) {
  crypto::initialise();
  std::string d;
  for (char c : domain)
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-')
      d += ascii_lower(c);
  if (d.empty() || d.front() == '.' || d.back() == '.') d = "mediadesk.invalid";
  auto ms = to_unix_ms(now());
  return fmt::format("md.{}.{}@{}", ms, crypto::to_hex(crypto::random_bytes(12)), d);
}

std::string encode_header_text(std::string_view text) {
  bool long_word = false;
  std::size_t run = 0;
  for (char c : text) {
    run = c == ' ' ? 0 : run + 1;
    if (run > 70) long_word = true;
  }
  if (is_ascii(text) && !long_word && text.find("=?") == std::string_view::npos) return std::string{text};
  return encoded_words(text);
}

std::string quoted_printable(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string utf8 = valid_utf8(text);
  std::string out;
  std::size_t i = 0;
  while (i <= utf8.size()) {
    std::size_t end = utf8.find_first_of("\r\n", i);
    if (end == std::string::npos) end = utf8.size();
    std::string_view line{utf8.data() + i, end - i};
    std::size_t length = 0;
    for (std::size_t k = 0; k < line.size(); ++k) {
      auto c = static_cast<unsigned char>(line[k]);
      bool last = k + 1 == line.size();
      bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last);
      // A leading dot or "From " is encoded: some relays and mailbox formats mangle them.
      if (k == 0 && (c == '.' || (c == 'F' && line.substr(0, 5) == "From "))) literal = false;
      std::string token = literal ? std::string(1, static_cast<char>(c)) : std::string{'=', hex[c >> 4], hex[c & 15]};
      if (length + token.size() > 75) {  // soft break: with its "=" the line stays within 76
        out += "=\r\n";
        length = 0;
      }
      out += token;
      length += token.size();
    }
    out += "\r\n";
    if (end >= utf8.size()) break;
    i = end + (utf8[end] == '\r' && end + 1 < utf8.size() && utf8[end + 1] == '\n' ? 2 : 1);
    if (i >= utf8.size()) break;  // the text's own final line end: already written
  }
  return out;
}

std::string build_message(const outbound_fields& f, time_point date) {
  std::string message_id = clean_token(f.message_id);
  if (message_id.empty()) message_id = make_message_id(domain_of(f.from_address));
  std::string out;
  out += header("Date", rfc5322_date(date));
  out += header("From", mailbox(f.from_name, f.from_address));
  out += header("To", mailbox(f.to_name, f.to_address));
  out += header("Subject", encode_header_text(clean_value(f.subject)));
  out += header("Message-ID", bracketed(message_id));
  std::string in_reply_to = clean_token(f.in_reply_to);
  if (!in_reply_to.empty()) out += header("In-Reply-To", bracketed(in_reply_to));
  // References: the parent's references and the parent. Long chains keep the first (the
  // thread's root) and the most recent, as common clients do, so the header stays bounded.
  std::vector<std::string> references;
  for (auto& r : f.references)
    if (auto id = clean_token(r);
        !id.empty() && id.size() <= 250 && std::find(references.begin(), references.end(), id) == references.end())
      references.push_back(id);
  if (!in_reply_to.empty() && std::find(references.begin(), references.end(), in_reply_to) == references.end())
    references.push_back(in_reply_to);
  if (references.size() > 20) references.erase(references.begin() + 1, references.end() - 19);
  if (!references.empty()) {
    std::string value;
    for (auto& r : references) value += (value.empty() ? "" : " ") + bracketed(r);
    out += header("References", value);
  }
  if (f.auto_reply) {
    // RFC 3834: marks the message as an automatic reply so that other responders stay quiet;
    // the Microsoft header asks Exchange and Outlook not to answer it with out-of-office mail.
    out += header("Auto-Submitted", "auto-replied");
    out += header("X-Auto-Response-Suppress", "All");
  }
  if (auto ref = clean_token(f.case_ref); !ref.empty()) out += header("X-MediaDesk-Case", ref);
  out += header("MIME-Version", "1.0");
  out += header("Content-Type", "text/plain; charset=utf-8");
  out += header("Content-Transfer-Encoding", "quoted-printable");
  out += "\r\n";
  out += quoted_printable(f.body_text);
  return out;
}

std::string case_tag(std::string_view ref) { return "[" + clean_token(ref) + "]"; }

std::string reply_subject(std::string_view original_subject, std::string_view ref) {
  std::string tag = case_tag(ref);
  std::string s = clean_value(original_subject);
  for (std::size_t at; (at = ifind(s, tag)) != std::string::npos;) s.erase(at, tag.size());
  s = strip_reply_prefixes(clean_value(s));
  s = clean_value(s);
  if (s.empty()) s = "Your media request";
  return "Re: " + s + " " + tag;
}

std::string acknowledgement_text(std::string_view ref, std::string_view journalist_name) {
  auto name = greeting_name(journalist_name);
  auto tag = case_tag(ref);
  auto r = clean_token(ref);
  std::string greeting = name.empty() ? "Hello," : "Dear " + name + ",";
  return fmt::format(
      "{greeting}\n"
      "\n"
      "Thank you for getting in touch. The media desk has received your request and\n"
      "logged it under the reference {ref}.\n"
      "\n"
      "If you reply or send us more details, please keep {tag} in the subject\n"
      "line, so that your message goes straight to the same request.\n"
      "\n"
      "What happens next: someone on the desk team will read your request and look for\n"
      "partner organisations and trained spokespeople who may be able to help. We will\n"
      "get back to you as soon as we know more, with your deadline in mind. We cannot\n"
      "promise that a spokesperson will be available, but we will let you know either way.\n"
      "\n"
      "If anything changes (your deadline, the angle, or you no longer need help), just\n"
      "reply to this email.\n"
      "\n"
      "With best wishes,\n"
      "The media desk\n"
      "\n"
      "This is an automatic acknowledgement; a person will follow up.\n",
      fmt::arg("greeting", greeting), fmt::arg("ref", r), fmt::arg("tag", tag));
}

std::string consent_reminder_text(const std::vector<consent_reminder_line>& lines, std::string_view dashboard_url) {
  std::string out = fmt::format(
      "{} consent{} will expire soon. After expiry the desk cannot put these spokespeople\n"
      "forward: ask their partner organisations whether they wish to renew, and record the new\n"
      "consent with its evidence.\n\n",
      lines.size(), lines.size() == 1 ? "" : "s");
  for (auto& l : lines) {
    std::string alias;  // one line per consent: no control character may break it
    for (char ch : l.alias)
      if (static_cast<unsigned char>(ch) >= 0x20 && ch != 0x7F) alias += ch;
    out += fmt::format("- {} (spokesperson {}, consent {}): expires {}\n", alias, l.spokesperson_id,
                       l.consent_id, l.expires_at.substr(0, 10));
  }
  out += fmt::format("\nThe dashboard lists them too: {}/api/v1/consents/expiring\n", dashboard_url);
  return out;
}

}  // namespace md::mail
