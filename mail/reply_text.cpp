// Separates new text, quoted history and signature of a plain-text message body, line by line.
// Must stay pure and linear (bounded look-ahead per line, no std::regex): bodies can be 1 MiB.
#include "mail/reply_text.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <initializer_list>
#include <vector>

namespace md::mail {
namespace {

using lines_t = std::vector<std::string_view>;

// A forward inside a forward inside ... is followed this many levels deep, then kept as history.
constexpr int max_forward_depth = 8;
constexpr std::size_t forward_note_max_words = 15;
constexpr std::size_t signature_max_lines = 8;
constexpr std::size_t signature_line_max_bytes = 100;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}
bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}
bool iends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && iequals(s.substr(s.size() - suffix.size()), suffix);
}
bool icontains(std::string_view s, std::string_view needle) {
  for (std::size_t i = 0; i + needle.size() <= s.size(); ++i)
    if (iequals(s.substr(i, needle.size()), needle)) return true;
  return false;
}

lines_t split_lines(std::string_view text) {
  lines_t lines;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    pos = end + 1;
  }
  return lines;
}

bool is_blank(std::string_view line) { return trim(line).empty(); }
bool is_quoted(std::string_view line) {
  line = trim(line);
  return !line.empty() && line.front() == '>';
}

// ---- quote boundaries --------------------------------------------------------------------------

enum class boundary_kind { none, reply, forward };

struct attribution_form {
  std::string_view start;       // how the line begins ("On ")
  std::string_view must_have;   // a word somewhere in it, or empty
  std::string_view end;         // how the attribution ends ("wrote:")
};

// "On <date>, <name> wrote:" and its common translations (French puts a space before the colon).
constexpr std::array<attribution_form, 9> attribution_forms = {{
    {"On ", "", "wrote:"},
    {"Le ", "", "a \xC3\xA9" "crit :"},
    {"Le ", "", "a \xC3\xA9" "crit:"},
    {"Am ", "schrieb", ":"},
    {"El ", "", "escribi\xC3\xB3:"},
    {"Op ", "schreef", ":"},
    {"Il ", "", "ha scritto:"},
    {"Em ", "", "escreveu:"},
    {"Den ", "skrev", ":"},
}};

// Attributions are one short sentence; a longer "On ..." line is prose.
constexpr std::size_t attribution_max_bytes = 300;

bool matches_attribution(std::string_view line) {
  if (line.size() > attribution_max_bytes) return false;
  for (const auto& form : attribution_forms)
    if (istarts_with(line, form.start) && iends_with(line, form.end) && line.size() > form.start.size() + form.end.size() &&
        (form.must_have.empty() || icontains(line, form.must_have)))
      return true;
  return false;
}

bool starts_like_attribution(std::string_view line) {
  return std::any_of(attribution_forms.begin(), attribution_forms.end(),
                     [&](const auto& form) { return istarts_with(line, form.start); });
}

std::size_t next_nonblank(const lines_t& lines, std::size_t from, std::size_t end) {
  while (from < end && is_blank(lines[from])) ++from;
  return from;
}

// The field name of a header-like line ("From: x", "*Sent:* y" as Outlook bolds it), lowercased,
// or empty when the line is not one.
std::string header_name(std::string_view line) {
  line = trim(line);
  while (!line.empty() && line.front() == '*') line.remove_prefix(1);
  std::size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 24) return {};
  std::string_view name = trim(line.substr(0, colon));
  while (!name.empty() && name.back() == '*') name.remove_suffix(1);
  std::string result;
  for (char c : name) {
    bool word_char = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == ' ' ||
                     static_cast<unsigned char>(c) >= 0x80;
    if (!word_char) return {};
    result += lower(c);
  }
  return result;
}

bool is_one_of(std::string_view s, std::initializer_list<std::string_view> options) {
  return std::find(options.begin(), options.end(), s) != options.end();
}

bool is_from_field(std::string_view name) { return is_one_of(name, {"from", "de", "von", "van", "da"}); }
bool is_date_field(std::string_view name) {
  return is_one_of(name, {"sent", "date", "envoy\xC3\xA9", "gesendet", "datum", "enviado", "fecha", "data", "inviato"});
}
bool is_subject_or_to_field(std::string_view name) {
  return is_one_of(name, {"subject", "to", "objet", "\xC3\xA0", "betreff", "an", "asunto", "para", "oggetto", "a"});
}
bool is_forward_header(std::string_view name) {
  return is_from_field(name) || is_date_field(name) || is_subject_or_to_field(name) ||
         is_one_of(name, {"cc", "bcc", "reply-to", "sender"});
}

// "-----Original Message-----", "---------- Forwarded message ---------", "-------- Forwarded Message --------".
boundary_kind dashed_marker(std::string_view line) {
  std::size_t lead = 0;
  while (lead < line.size() && line[lead] == '-') ++lead;
  std::size_t tail = 0;
  while (tail < line.size() - lead && line[line.size() - 1 - tail] == '-') ++tail;
  if (lead < 2 || tail < 2) return boundary_kind::none;
  std::string_view phrase = trim(line.substr(lead, line.size() - lead - tail));
  if (iends_with(phrase, ":")) phrase.remove_suffix(1);
  for (std::string_view reply : {"original message", "urspr\xC3\xBCngliche nachricht", "message d'origine",
                                 "mensaje original", "messaggio originale", "oorspronkelijk bericht"})
    if (iequals(phrase, reply)) return boundary_kind::reply;
  for (std::string_view forward : {"forwarded message", "weitergeleitete nachricht", "message transf\xC3\xA9r\xC3\xA9",
                                   "mensaje reenviado", "messaggio inoltrato", "doorgestuurd bericht"})
    if (iequals(phrase, forward)) return boundary_kind::forward;
  return boundary_kind::none;
}

// How far a header block may stretch below its From: line (Outlook: From, Sent, To, Cc, Subject).
constexpr std::size_t header_block_lines = 6;

boundary_kind boundary_at(const lines_t& lines, std::size_t i, std::size_t end) {
  std::string_view line = trim(lines[i]);
  if (line.empty() || line.front() == '>') return boundary_kind::none;
  if (matches_attribution(line)) return boundary_kind::reply;
  if (starts_like_attribution(line) && i + 1 < end && line.back() != ':') {
    std::string_view next = trim(lines[i + 1]);
    if (!next.empty() && line.size() + next.size() < attribution_max_bytes) {
      std::string joined(line);
      joined += ' ';
      joined += next;
      if (matches_attribution(joined)) return boundary_kind::reply;
    }
  }
  if (iends_with(line, "wrote:") && line.size() < attribution_max_bytes) {
    std::size_t next = next_nonblank(lines, i + 1, end);
    if (next < end && is_quoted(lines[next])) return boundary_kind::reply;
  }
  if (line.front() == '-')
    if (auto kind = dashed_marker(line); kind != boundary_kind::none) return kind;
  if (iequals(line, "Begin forwarded message:") || iequals(line, "D\xC3\xA9" "but du message r\xC3\xA9" "exp\xC3\xA9" "di\xC3\xA9 :"))
    return boundary_kind::forward;
  if (line.size() >= 20 && line.find_first_not_of('_') == std::string_view::npos) {
    std::size_t next = next_nonblank(lines, i + 1, std::min(end, i + 3));
    if (next < end && is_from_field(header_name(lines[next]))) return boundary_kind::reply;
  }
  std::string name = header_name(line);
  if (is_from_field(name)) {
    // Flattened into one line by an HTML conversion: "From: x Sent: y To: z Subject: w".
    if (icontains(line.substr(1), "Sent:") && icontains(line.substr(1), "Subject:")) return boundary_kind::reply;
    bool date = false, subject_or_to = false;
    for (std::size_t k = i + 1; k < end && k <= i + header_block_lines; ++k) {
      std::string field = header_name(lines[k]);
      date = date || is_date_field(field);
      subject_or_to = subject_or_to || is_subject_or_to_field(field);
    }
    if (date && subject_or_to) return boundary_kind::reply;
  }
  return boundary_kind::none;
}

// ---- signatures --------------------------------------------------------------------------------

bool is_mobile_footer(std::string_view line) {
  line = trim(line);
  for (std::string_view prefix : {"Sent from my ", "Sent from Outlook", "Sent from Yahoo Mail", "Sent from Mail for Windows",
                                  "Sent from Gmail", "Sent from Proton Mail", "Get Outlook for ", "Envoy\xC3\xA9 de mon ",
                                  "Enviado desde mi ", "Inviato da ", "Verzonden vanaf mijn "})
    if (istarts_with(line, prefix)) return true;
  return istarts_with(line, "Von meinem ") && icontains(line, "gesendet");
}

constexpr std::array<std::string_view, 45> sign_offs = {
    "best",           "best wishes",      "best regards",       "many thanks",       "thanks",
    "thank you",      "thanks so much",   "thanks in advance",  "thank you so much", "thank you very much",
    "many thanks in advance", "kind regards", "kindest regards", "warm regards",     "warmest regards",
    "regards",        "cheers",           "all the best",       "sincerely",         "yours sincerely",
    "yours faithfully", "yours",          "with thanks",        "with best wishes",  "speak soon",
    "talk soon",      "take care",        "warmly",             "thx",               "ta",
    "bw",             "kr",               "cordialement",       "bien cordialement", "bien \xC3\xA0 vous",
    "viele gr\xC3\xBC\xC3\x9F" "e",       "mit freundlichen gr\xC3\xBC\xC3\x9F" "en", "liebe gr\xC3\xBC\xC3\x9F" "e",
    "gr\xC3\xBC\xC3\x9F" "e",             "saludos",          "un saludo",          "atentamente",       "cordiali saluti",
    "met vriendelijke groet",             "groeten"};

bool is_sign_off_phrase(std::string_view s) {
  return std::any_of(sign_offs.begin(), sign_offs.end(), [&](std::string_view p) { return iequals(s, p); });
}

// A name after a sign-off on the same line ("Thanks, Jane"): one to three capitalised words.
bool looks_like_name(std::string_view s) {
  s = trim(s);
  if (s.empty() || s.size() > 40) return false;
  std::size_t words = 0;
  bool word_start = true;
  for (char c : s) {
    if (c == ' ') {
      word_start = true;
      continue;
    }
    if (c == '.' || c == '?' || c == '!' || c == ',' || c == ':' || c == ';') return false;
    if (word_start) {
      ++words;
      bool capital = (c >= 'A' && c <= 'Z') || static_cast<unsigned char>(c) >= 0x80;
      if (!capital) return false;
    }
    word_start = false;
  }
  return words <= 3;
}

bool is_sign_off(std::string_view line) {
  line = trim(line);
  if (line.size() > 60) return false;
  std::size_t comma = line.find(',');
  if (comma != std::string_view::npos && comma + 1 < line.size() && is_sign_off_phrase(trim(line.substr(0, comma))))
    return looks_like_name(line.substr(comma + 1));
  while (!line.empty() && (line.back() == ',' || line.back() == '!' || line.back() == '.' || line.back() == '-' ||
                           is_space(line.back())))
    line.remove_suffix(1);
  return is_sign_off_phrase(line);
}

// A line that may stand in a signature block: short, not a question, not quoted.
bool signature_like(std::string_view line) {
  line = trim(line);
  return line.size() <= signature_line_max_bytes && (line.empty() || (line.back() != '?' && line.front() != '>'));
}

std::size_t signature_start(const lines_t& lines, std::size_t begin, std::size_t end) {
  std::size_t start = end;
  for (std::size_t i = begin; i < end; ++i)
    if (lines[i] == "-- " || lines[i] == "--") {
      start = i;
      break;
    }
  std::size_t first_text = next_nonblank(lines, begin, end);
  // Walk up from the end while the lines could still be a signature block: the earliest sign-off
  // or footer found on the way starts the signature.
  std::size_t nonblank_after = 0;
  for (std::size_t i = end; i > begin;) {
    --i;
    if (is_blank(lines[i])) continue;
    if (!signature_like(lines[i]) || nonblank_after > signature_max_lines) break;
    if (is_mobile_footer(lines[i]) || (i != first_text && is_sign_off(lines[i]))) start = std::min(start, i);
    ++nonblank_after;
  }
  return start;
}

// ---- assembly ----------------------------------------------------------------------------------

class text_builder {
 public:
  void add(std::string_view line) {
    if (!text_.empty() || !is_blank(line)) {
      text_.append(line);
      text_ += '\n';
    }
  }
  std::string finish() {
    while (!text_.empty() && (text_.back() == '\n' || is_space(text_.back()))) text_.pop_back();
    return std::move(text_);
  }

 private:
  std::string text_;
};

std::string join_blocks(std::string a, std::string_view b) {
  if (b.empty()) return a;
  if (!a.empty()) a += "\n\n";
  a.append(b);
  return a;
}

// Text with no quote boundary in it: quoted lines (interleaved answers) apart, signature split off.
text_parts split_body(const lines_t& lines, std::size_t begin, std::size_t end) {
  std::size_t signature = signature_start(lines, begin, end);
  text_builder new_text, quoted, sig;
  for (std::size_t i = begin; i < signature; ++i) (is_quoted(lines[i]) ? quoted : new_text).add(lines[i]);
  for (std::size_t i = signature; i < end; ++i) sig.add(lines[i]);
  return {new_text.finish(), quoted.finish(), sig.finish()};
}

std::size_t count_words(const lines_t& lines, std::size_t begin, std::size_t end, std::size_t enough) {
  std::size_t words = 0;
  for (std::size_t i = begin; i < end && words < enough; ++i) {
    if (is_quoted(lines[i])) continue;
    bool in_word = false;
    for (char c : lines[i]) {
      bool space = is_space(c);
      if (!space && !in_word) ++words;
      in_word = !space;
    }
  }
  return words;
}

// The first line of the forwarded body: past blank lines, the forwarded header lines (and their
// folded continuations), and blank lines again.
std::size_t forwarded_body_start(const lines_t& lines, std::size_t marker, std::size_t end) {
  std::size_t i = next_nonblank(lines, marker + 1, end);
  bool in_header = false;
  while (i < end) {
    if (is_forward_header(header_name(lines[i]))) {
      in_header = true;
    } else if (!(in_header && !lines[i].empty() && is_space(lines[i].front()) && !is_blank(lines[i]))) {
      break;
    }
    ++i;
  }
  return next_nonblank(lines, i, end);
}

text_parts split_region(const lines_t& lines, std::size_t begin, std::size_t end, int depth) {
  std::size_t boundary = end;
  boundary_kind kind = boundary_kind::none;
  for (std::size_t i = begin; i < end && kind == boundary_kind::none; ++i)
    if (kind = boundary_at(lines, i, end); kind != boundary_kind::none) boundary = i;
  // Quoted lines with nothing but blank lines after them are history even without an attribution.
  std::size_t tail = end;
  for (std::size_t i = end; i > begin;) {
    --i;
    if (is_blank(lines[i])) continue;
    if (!is_quoted(lines[i])) break;
    tail = i;
  }
  if (tail < boundary) {
    boundary = tail;
    kind = boundary_kind::reply;
  }

  if (kind == boundary_kind::forward && depth < max_forward_depth &&
      count_words(lines, begin, boundary, forward_note_max_words) < forward_note_max_words) {
    text_parts note = split_body(lines, begin, boundary);
    text_parts inner = split_region(lines, forwarded_body_start(lines, boundary, end), end, depth + 1);
    return {join_blocks(std::move(note.new_text), inner.new_text), join_blocks(std::move(note.quoted), inner.quoted),
            join_blocks(std::move(inner.signature), note.signature)};
  }
  text_parts parts = split_body(lines, begin, boundary);
  text_builder history;
  for (std::size_t i = boundary; i < end; ++i) history.add(lines[i]);
  parts.quoted = join_blocks(std::move(parts.quoted), history.finish());
  return parts;
}

}  // namespace

text_parts split_reply_text(std::string_view text) {
  lines_t lines = split_lines(text);
  return split_region(lines, 0, lines.size(), 0);
}

}  // namespace md::mail
