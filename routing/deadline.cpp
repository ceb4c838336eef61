// Response-deadline extraction (see deadline.hpp): a byte tokenizer, then a scanner with bounded
// lookahead per token, no regex. It must stay linear and copy only date/time words into its result.
#include "routing/deadline.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <span>
#include <unordered_set>
#include <vector>

#include "core/london_time.hpp"

namespace md::routing {
namespace {

using std::string_view;
using std::chrono::days;
using std::chrono::sys_days;
using std::chrono::weekday;
using std::chrono::year_month_day;

constexpr std::size_t npos = static_cast<std::size_t>(-1);
constexpr int noon = 12 * 60;
constexpr int close_of_business = 17 * 60;  // also the time of a day given without one
constexpr int first_thing = 9 * 60;

// ---- folding and tokens ----------------------------------------------------------------------

struct stand_in {
  char ascii;          // '\0': dropped
  std::size_t length;  // bytes replaced; 0 when in[i] starts no typographic character
};

// The ASCII stand-in for a typographic character at in[i]: no-break spaces, dashes, curly quotes
// (single ones are apostrophes, dropped) and currency signs ('$' stands for any currency).
stand_in typographic(string_view in, std::size_t i) {
  auto at = [&](std::size_t k) { return k < in.size() ? static_cast<unsigned char>(in[k]) : 0; };
  if (at(i) == 0xC2 && at(i + 1) == 0xA0) return {' ', 2};
  if (at(i) == 0xC2 && at(i + 1) == 0xA3) return {'$', 2};                       // pound sign
  if (at(i) == 0xE2 && at(i + 1) == 0x82 && at(i + 2) == 0xAC) return {'$', 3};  // euro sign
  if (at(i) != 0xE2 || at(i + 1) != 0x80) return {'\0', 0};
  switch (at(i + 2)) {
    case 0x93:
    case 0x94:
      return {'-', 3};
    case 0x98:
    case 0x99:
      return {'\0', 3};
    case 0x9C:
    case 0x9D:
      return {'"', 3};
    case 0xAF:
      return {' ', 3};
    default:
      return {'\0', 0};
  }
}

// Lowercase ASCII, apostrophes dropped ("we're" -> "were", "o'clock" -> "oclock"), typographic
// characters mapped to ASCII. Other bytes are kept: they form words that match nothing, whatever
// the encoding.
std::string fold(string_view in) {
  std::string out(in.size(), '\0');
  std::size_t n = 0;
  for (std::size_t i = 0; i < in.size();) {
    auto c = static_cast<unsigned char>(in[i]);
    if (c < 0x80) {
      if (c != '\'' && c != '`') out[n++] = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
      ++i;
      continue;
    }
    auto [ascii, length] = typographic(in, i);
    if (length == 0) {
      out[n++] = in[i++];
      continue;
    }
    if (ascii) out[n++] = ascii;
    i += length;
  }
  out.resize(n);
  return out;
}

enum class kind : std::uint8_t { word, number, symbol };

struct token {
  string_view text;  // in the folded text; a line-break run is the single symbol "\n"
  kind type;
  bool joined;  // touches the previous token (no space between)
  int value;    // numbers: the value of (at most) their first 9 digits; text.size() is the digit count
};

bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
bool is_word_byte(unsigned char c) { return (c >= 'a' && c <= 'z') || c >= 0x80; }
bool is_blank(unsigned char c) { return c != '\n' && (c <= ' ' || c == 0x7F); }

std::vector<token> tokenize(string_view s) {
  std::vector<token> out;
  out.reserve(s.size() / 4 + 16);
  bool joined = false;
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (is_blank(c)) {
      joined = false;
      ++i;
      continue;
    }
    std::size_t start = i;
    token t{{}, kind::symbol, joined, 0};
    if (is_digit(c)) {
      t.type = kind::number;
      std::int64_t value = 0;
      for (; i < s.size() && is_digit(static_cast<unsigned char>(s[i])); ++i)
        if (value < 100'000'000) value = value * 10 + (s[i] - '0');  // stays below 10^9: fits an int
      t.value = static_cast<int>(value);
    } else if (is_word_byte(c)) {
      t.type = kind::word;
      while (i < s.size() && is_word_byte(static_cast<unsigned char>(s[i]))) ++i;
    } else if (c == '\n') {
      while (i < s.size() && (s[i] == '\n' || is_blank(static_cast<unsigned char>(s[i])))) ++i;
    } else {
      ++i;
    }
    t.text = s.substr(start, c == '\n' ? 1 : i - start);
    out.push_back(t);
    joined = c != '\n';
  }
  return out;
}

// ---- vocabulary ------------------------------------------------------------------------------

using word_list = std::span<const string_view>;

bool one_of(string_view w, word_list list) { return std::find(list.begin(), list.end(), w) != list.end(); }

constexpr string_view deadline_cues[] = {"by", "before"};
constexpr string_view deadline_nouns[] = {"deadline", "deadlines"};
constexpr string_view clock_cues[] = {"by", "at", "before", "until", "till", "til"};  // allow a bare hour
constexpr string_view event_words[] = {
    "live",         "air",       "airs",     "aired",     "airing",     "broadcast",    "broadcasts",
    "broadcasting", "programme", "program",  "show",      "recording",  "record",       "recorded",
    "filming",      "film",      "filmed",   "interview", "interviews", "interviewing", "transmission",
    "tx",           "shoot",     "shooting", "publish",   "publishes",  "publishing",   "published",
    "publication",  "print",     "bulletin", "news",      "edition",    "stream",       "streaming"};
constexpr string_view event_nouns_after[] = {"live",     "show",         "programme", "program",   "broadcast",
                                             "bulletin", "news",         "recording", "interview", "slot",
                                             "edition",  "transmission", "tx",        "shoot",     "filming"};
constexpr string_view go_words[] = {"go", "goes", "going", "went"};  // "goes out at 7"
// May stand between a cue and its date/time expression ("by the end of the day", "before 10 on").
constexpr string_view cue_fillers[] = {"the", "this", "next", "on", "at", "around", "about", ",", ":", "-", "("};
// May stand between a day and the time it goes with ("Friday, 5pm", "5pm on Friday", "tomorrow by 4").
constexpr string_view link_fillers[] = {"on", "at", "by", "before", "the", "this", ",", "-", "(", ")", ":", "@"};
// Words shown between a cue and its expression; anything else is elided so no other text leaks out.
constexpr string_view phrase_fillers[] = {"the", "this", "next", "on", "at",   "around", "about", "is",
                                          "are", "its",  "it",   "we", "were", "our",    "for",   "a",
                                          "of",  "to",   "be",   ",",  ":",    "-",      "("};
// What may follow a bare hour ("by 4", "at 10") for it to be a time and not "at 10 Downing Street".
constexpr string_view hour_followers[] = {
    "today", "tomorrow", "tmrw",  "tmw",  "tonight", "on",  "at", "please", "pls", "latest", "if",
    "so",    "and",      "or",    "then", "this",    "for", "to", "but",    "in",  "as",     "thanks",
    "thank", "cheers",   "sharp", "we",   "i",       "you", "uk", "gmt",    "bst", "ish",    "next"};
// A dot-form number followed by these is a price or a measure, not a time ("4.50 pounds").
constexpr string_view measure_words[] = {"percent", "per",   "pounds",  "pound",  "quid",    "p",       "pence",
                                         "euros",   "euro",  "dollars", "dollar", "million", "billion", "bn",
                                         "m",       "k",     "miles",   "mile",   "km",      "kg",      "metres",
                                         "meters",  "years", "year",    "yrs",    "times",   "points",  "degrees"};
// A dot-form number after these is a reference, not a time ("version 2.10", "section 4.30").
constexpr string_view reference_words[] = {"version", "release",   "chapter", "section", "page",  "clause",
                                           "article", "paragraph", "rule",    "figure",  "table", "step",
                                           "level",   "grade",     "score",   "rate",    "odds"};
// A weak weekday abbreviation (sat, sun, wed) alone counts only after one of these.
constexpr string_view weak_day_context[] = {"on", "by", "before", "until", "till", "deadline"};
constexpr string_view ordinal_suffixes[] = {"st", "nd", "rd", "th"};
constexpr string_view hour_units[] = {"hour", "hours", "hr", "hrs"};
constexpr string_view minute_units[] = {"minute", "minutes", "min", "mins"};
constexpr string_view number_words[] = {"one",   "two",   "three", "four", "five",   "six",
                                        "seven", "eight", "nine",  "ten",  "eleven", "twelve"};

struct weekday_name {
  string_view name;
  unsigned weekday;  // 0 = Sunday
  bool weak;         // also a common word
};
constexpr weekday_name weekday_names[] = {
    {"monday", 1, false},    {"mon", 1, false},    {"tuesday", 2, false},  {"tue", 2, false},      {"tues", 2, false},
    {"wednesday", 3, false}, {"wed", 3, true},     {"thursday", 4, false}, {"thu", 4, false},      {"thur", 4, false},
    {"thurs", 4, false},     {"friday", 5, false}, {"fri", 5, false},      {"saturday", 6, false}, {"sat", 6, true},
    {"sunday", 0, false},    {"sun", 0, true}};

struct month_name {
  string_view name;
  unsigned month;
  bool ambiguous;  // also a common word (may, march)
};
constexpr month_name month_names[] = {
    {"january", 1, false},   {"jan", 1, false},   {"february", 2, false},  {"feb", 2, false},      {"march", 3, true},
    {"mar", 3, true},        {"april", 4, false}, {"apr", 4, false},       {"may", 5, true},       {"june", 6, false},
    {"jun", 6, false},       {"july", 7, false},  {"jul", 7, false},       {"august", 8, false},   {"aug", 8, false},
    {"september", 9, false}, {"sep", 9, false},   {"sept", 9, false},      {"october", 10, false}, {"oct", 10, false},
    {"november", 11, false}, {"nov", 11, false},  {"december", 12, false}, {"dec", 12, false}};

constexpr string_view tomorrow_words[] = {"tomorrow", "tmrw", "tmw", "tomorow"};
constexpr string_view noon_words[] = {"noon", "midday", "lunchtime"};
// First words of the element parsers besides weekday, month, number and the two lists above.
constexpr string_view other_starters[] = {"in",  "within", "today", "tonight", "this",  "next", "lunch",
                                          "eod", "cob",    "cop",   "end",     "close", "first"};

enum class day_part : std::uint8_t { none, morning, afternoon, evening };

struct day_part_name {
  string_view name;
  day_part part;
  int minutes;  // the time it stands for when no clock time is given
};
constexpr day_part_name day_part_names[] = {{"morning", day_part::morning, 9 * 60},
                                            {"afternoon", day_part::afternoon, 15 * 60},
                                            {"evening", day_part::evening, 18 * 60},
                                            {"night", day_part::evening, 18 * 60}};

// A guessed hour (no am/pm) follows the part of the day it is said with ("tonight at 8" is 20:00).
int fit_to_part(int minutes, bool guessed, day_part part) {
  if (!guessed) return minutes;
  if (part == day_part::morning && minutes >= noon) return minutes - noon;
  if ((part == day_part::afternoon || part == day_part::evening) && minutes < noon) return minutes + noon;
  return minutes;
}

// The rule for an hour said without am/pm: 1-7 are afternoon, 8-11 morning, 12 noon.
int guessed_hour_minutes(int hour) { return (hour <= 7 ? hour + 12 : hour) * 60; }

int hour24(int hour12, bool pm) { return hour12 % 12 + (pm ? 12 : 0); }

// A four-digit year a request may name; the bound also keeps sys_days arithmetic far from overflow.
bool plausible_year(int year) { return year >= 1970 && year <= 2200; }

// Whether a word can begin a date/time element: one hash lookup lets the scanner skip the
// ordinary words of a message without trying every parser on them.
bool starts_element(string_view w) {
  static const std::unordered_set<string_view> starters = [] {
    std::unordered_set<string_view> all;
    for (auto list :
         {word_list{tomorrow_words}, word_list{noon_words}, word_list{other_starters}, word_list{number_words}})
      all.insert(list.begin(), list.end());
    for (auto& w : weekday_names) all.insert(w.name);
    for (auto& m : month_names) all.insert(m.name);
    for (auto& p : day_part_names) all.insert(p.name);
    return all;
  }();
  return starters.contains(w);
}

// ---- elements and candidates -----------------------------------------------------------------

enum class element_kind : std::uint8_t { day, time, moment };

struct element {
  std::size_t first, last;  // tokens [first, last)
  element_kind type;
  sys_days date{};          // day
  bool rolls_week = false;  // day: a bare weekday naming today, which is today only with a later time
  bool weak = false;        // day: an ambiguous abbreviation, kept only with a time or a cue
  day_part part = day_part::none;
  int minutes = -1;           // time: minute of the day; day: its part-of-day time, -1 when none
  bool hour_guessed = false;  // time: am/pm inferred, so the day's part may move it by 12 hours
  time_point at{};            // moment
};

enum class role : std::uint8_t { deadline, plain, event };

struct cue_match {
  std::size_t first = npos, last = npos;  // tokens of the cue words
  bool found() const { return first != npos; }
};

enum note : unsigned { no_time = 1, rolled_to_tomorrow = 2, rolled_to_next_week = 4 };

struct candidate {
  std::size_t first, last;  // tokens of the date/time expression
  time_point at;
  role kind;
  cue_match cue;
  unsigned notes;
  int default_minutes;  // the time filled in when notes has no_time
};

struct meridiem {
  bool pm;
  std::size_t end;
};

class scanner {
 public:
  scanner(const std::vector<token>& tokens, time_point now)
      : t_(tokens), now_(now), today_(sys_days{to_london(now).date}) {}

  std::optional<deadline_finding> find() const {
    auto elements = scan_elements();
    auto found = candidates(elements);
    const candidate* best[3] = {nullptr, nullptr, nullptr};
    std::size_t events = 0;
    for (auto& c : found) {
      if (c.kind == role::event) ++events;
      if (c.kind != role::deadline && c.at < now_) continue;  // only a cued deadline may already be past
      auto& slot = best[static_cast<int>(c.kind)];
      if (!slot || c.at < slot->at) slot = &c;
    }
    const candidate* chosen = best[0] ? best[0] : best[1] ? best[1] : best[2];
    if (!chosen) return std::nullopt;
    return deadline_finding{chosen->at, phrase(*chosen), why(*chosen, found, events)};
  }

 private:
  // ---- token tests (all bounds-checked; an index past the end matches nothing)

  bool word(std::size_t i, string_view w) const { return i < t_.size() && t_[i].type == kind::word && t_[i].text == w; }
  bool word_in(std::size_t i, word_list list) const {
    return i < t_.size() && t_[i].type == kind::word && one_of(t_[i].text, list);
  }
  bool text_in(std::size_t i, word_list list) const { return i < t_.size() && one_of(t_[i].text, list); }
  bool number(std::size_t i) const { return i < t_.size() && t_[i].type == kind::number; }
  bool symbol(std::size_t i, char c) const { return i < t_.size() && t_[i].type == kind::symbol && t_[i].text[0] == c; }
  bool symbol_in(std::size_t i, string_view chars) const {
    return i < t_.size() && t_[i].type == kind::symbol && chars.find(t_[i].text[0]) != string_view::npos;
  }
  bool joined(std::size_t i) const { return i < t_.size() && t_[i].joined; }
  bool joined_number(std::size_t i) const { return number(i) && joined(i); }
  int value(std::size_t i) const { return t_[i].value; }
  std::size_t width(std::size_t i) const { return t_[i].text.size(); }
  bool barrier(std::size_t i) const { return symbol_in(i, ".!?;\n"); }

  const weekday_name* weekday_at(std::size_t i) const {
    if (i >= t_.size() || t_[i].type != kind::word) return nullptr;
    for (auto& w : weekday_names)
      if (w.name == t_[i].text) return &w;
    return nullptr;
  }
  const month_name* month_at(std::size_t i) const {
    if (i >= t_.size() || t_[i].type != kind::word) return nullptr;
    for (auto& m : month_names)
      if (m.name == t_[i].text) return &m;
    return nullptr;
  }
  const day_part_name* day_part_at(std::size_t i) const {
    if (i >= t_.size() || t_[i].type != kind::word) return nullptr;
    for (auto& p : day_part_names)
      if (p.name == t_[i].text) return &p;
    return nullptr;
  }
  int number_word_at(std::size_t i) const {
    if (i >= t_.size() || t_[i].type != kind::word) return 0;
    for (std::size_t n = 0; n < std::size(number_words); ++n)
      if (number_words[n] == t_[i].text) return static_cast<int>(n) + 1;
    return 0;
  }

  // A number that is not the tail of a code, price, decimal or fraction ("A1", "£49", "1.5", "3/4").
  // A hyphen after a number is a range ("4-5pm"), otherwise a sign or a compound ("covid-19").
  bool standalone_number(std::size_t i) const {
    if (!number(i) || !joined(i) || i == 0) return number(i);
    const token& before = t_[i - 1];
    if (before.type != kind::symbol) return false;
    if (before.text[0] == '-') return number(i - 2);
    return string_view("$+/:.,#%&*_=^\\|<>").find(before.text[0]) == string_view::npos;
  }

  // The number form goes on past e ("1.25.3", "10/11/12/13", "1,200").
  bool continues(std::size_t e) const {
    return joined(e) && (number(e) || (symbol_in(e, "/.:,-") && joined_number(e + 1)));
  }

  // What follows a bare hour or a four-digit time ends the expression (so "at 10 Downing Street",
  // "by 5 children" and "by 4.5%" are not times).
  bool ends_expression(std::size_t j) const {
    if (j >= t_.size()) return true;
    const token& k = t_[j];
    if (k.type == kind::number) return false;
    if (k.type == kind::symbol) return !symbol_in(j, "%/:$") && !(symbol_in(j, ".,-") && joined_number(j + 1));
    if (k.joined) return k.text == "ish";
    return one_of(k.text, hour_followers) || weekday_at(j);
  }

  bool hours_suffix(std::size_t j) const {
    return word_in(j, hour_units) ? !(word(j, "hours") && word(j + 1, "of")) : (word(j, "h") && joined(j));
  }

  std::optional<meridiem> am_pm(std::size_t j) const {
    if (word(j, "am") || word(j, "pm")) return meridiem{word(j, "pm"), j + 1};
    if ((word(j, "a") || word(j, "p")) && symbol(j + 1, '.') && joined(j + 1) && word(j + 2, "m") && joined(j + 2)) {
      std::size_t end = j + 3;
      if (symbol(end, '.') && joined(end)) ++end;
      return meridiem{word(j, "p"), end};
    }
    return std::nullopt;
  }

  // ---- elements: days, times and moments, left to right, never overlapping

  std::vector<element> scan_elements() const {
    std::vector<element> out;
    for (std::size_t i = 0; i < t_.size();) {
      auto e = parse_at(i);
      if (!e) {
        ++i;
        continue;
      }
      out.push_back(*e);
      i = e->last;  // every parser consumes at least one token
    }
    return out;
  }

  std::optional<element> parse_at(std::size_t i) const {
    if (t_[i].type == kind::symbol || (t_[i].type == kind::word && !starts_element(t_[i].text))) return std::nullopt;
    if (auto e = parse_relative(i)) return e;
    if (auto e = parse_date(i)) return with_day_part(*e);
    if (auto e = parse_day(i)) return e;
    return parse_time(i);
  }

  // "in 2 hours", "within the hour", "in the next 3 hours", "within half an hour", "in 30 minutes".
  std::optional<element> parse_relative(std::size_t i) const {
    if (!word(i, "in") && !word(i, "within")) return std::nullopt;
    std::size_t j = i + 1;
    bool the = word(j, "the");
    if (the) ++j;
    if (word(j, "next")) ++j;
    int amount = 0;
    bool counted = false;  // a digit or number word: only then are minutes meant ("in a minute" is not)
    if (the && word_in(j, hour_units)) {
      amount = 1;
    } else if (word(j, "half") && (word(j + 1, "an") || word(j + 1, "a")) && word(j + 2, "hour")) {
      return moment(i, j + 3, 30);
    } else if (number(j) && width(j) <= 2 && value(j) >= 1) {
      amount = value(j++);
      counted = true;
    } else if (int n = number_word_at(j)) {
      amount = n;
      counted = true;
      ++j;
    } else if (word(j, "a") || word(j, "an")) {
      amount = word(j + 1, "couple") && word(j + 2, "of") ? 2 : 1;
      j += amount == 2 ? 3 : 1;
    } else {
      return std::nullopt;
    }
    int unit = word_in(j, hour_units) || (word(j, "h") && joined(j)) ? 60 : counted && word_in(j, minute_units) ? 1 : 0;
    // "within 24 hours of arrival" states a rule, not a deadline.
    if (unit == 0 || word(j + 1, "of")) return std::nullopt;
    return moment(i, j + 1, amount * unit);
  }

  element moment(std::size_t first, std::size_t last, int minutes_ahead) const {
    element e{first, last, element_kind::moment};
    e.at = std::chrono::floor<std::chrono::minutes>(now_) + std::chrono::minutes{minutes_ahead};
    return e;
  }

  // A calendar date, optionally after a weekday ("Wed 3 Dec", "Thursday 3rd December").
  std::optional<element> parse_date(std::size_t i) const {
    if (!weekday_at(i)) return parse_calendar_date(i);
    std::size_t j = i + 1;
    if (symbol(j, '.') && joined(j)) ++j;
    if (symbol(j, ',')) ++j;
    if (word(j, "the")) ++j;
    auto e = parse_calendar_date(j);
    if (e) e->first = i;
    return e;
  }

  std::optional<element> parse_calendar_date(std::size_t i) const {
    if (month_at(i)) return parse_month_day(i);
    if (!standalone_number(i)) return std::nullopt;
    if (width(i) == 4) return parse_iso_date(i);
    if (width(i) > 2) return std::nullopt;
    if (symbol(i + 1, '/') && joined(i + 1)) return parse_slash_date(i);
    return parse_day_month(i);
  }

  // "2026-12-03"
  std::optional<element> parse_iso_date(std::size_t i) const {
    if (!(symbol(i + 1, '-') && joined(i + 1) && joined_number(i + 2) && width(i + 2) <= 2 && symbol(i + 3, '-') &&
          joined(i + 3) && joined_number(i + 4) && width(i + 4) <= 2) ||
        continues(i + 5) || !plausible_year(value(i)))
      return std::nullopt;
    return date_element(i, i + 5, value(i + 4), value(i + 2), value(i));
  }

  // "2/12", "2/12/26", "2/12/2026" (UK order: day first).
  std::optional<element> parse_slash_date(std::size_t i) const {
    if (!joined_number(i + 2) || width(i + 2) > 2) return std::nullopt;
    int day = value(i), month = value(i + 2);
    std::size_t e = i + 3;
    std::optional<int> year;
    if (symbol(e, '/') && joined(e) && joined_number(e + 1) && (width(e + 1) == 2 || width(e + 1) == 4)) {
      year = width(e + 1) == 2 ? 2000 + value(e + 1) : value(e + 1);
      e += 2;
    }
    if (continues(e) || (year && !plausible_year(*year))) return std::nullopt;
    if (day == 24 && month == 7 && !year) return std::nullopt;  // "24/7" means always
    return date_element(i, e, day, month, year);
  }

  // "3 December", "3rd Dec", "3rd of December 2026".
  std::optional<element> parse_day_month(std::size_t i) const {
    std::size_t j = i + 1;
    bool ordinal = joined(j) && word_in(j, ordinal_suffixes);
    if (ordinal)
      ++j;
    else if (joined(j))
      return std::nullopt;
    if (word(j, "of")) ++j;
    auto month = month_at(j);
    if (!month) return std::nullopt;
    j = skip_abbreviation_dot(j + 1);
    auto year = year_after(j);
    if (year) j = year->second;
    if (month->ambiguous && !ordinal && !year && !date_context(i) && !ends_expression(j)) return std::nullopt;
    return date_element(i, j, value(i), month->month, year ? std::optional<int>{year->first} : std::nullopt);
  }

  // "December 3rd", "Dec 3", "December 3, 2026".
  std::optional<element> parse_month_day(std::size_t i) const {
    auto month = month_at(i);
    std::size_t j = skip_abbreviation_dot(i + 1);
    if (!number(j) || joined(j) || width(j) > 2) return std::nullopt;
    int day = value(j++);
    bool ordinal = joined(j) && word_in(j, ordinal_suffixes);
    if (ordinal)
      ++j;
    else if (joined(j) && !symbol_in(j, ",."))
      return std::nullopt;  // "Dec 3pm", "May 3.5"
    if (continues(j)) return std::nullopt;
    auto year = year_after(j);
    if (year) j = year->second;
    if (month->ambiguous && !ordinal && !year && !date_context(i) && !ends_expression(j)) return std::nullopt;
    return date_element(i, j, day, month->month, year ? std::optional<int>{year->first} : std::nullopt);
  }

  std::size_t skip_abbreviation_dot(std::size_t j) const { return symbol(j, '.') && joined(j) ? j + 1 : j; }

  // An optional ", 2026" after a date: the year and where the date ends.
  std::optional<std::pair<int, std::size_t>> year_after(std::size_t j) const {
    std::size_t k = symbol(j, ',') ? j + 1 : j;
    if (number(k) && width(k) == 4 && plausible_year(value(k)) && !continues(k + 1)) return std::pair{value(k), k + 1};
    return std::nullopt;
  }

  // Words before an ambiguous month that make it a date ("on 5 May", "Friday 5 May").
  bool date_context(std::size_t i) const {
    static constexpr string_view context[] = {"on", "by", "before", "until", "till", "the", "from", "deadline"};
    return word_in(i - 1, context) || weekday_at(i - 1) || (symbol(i - 1, ',') && weekday_at(i - 2));
  }

  // Without a year: this year, or next year when the date is more than 7 days past.
  std::optional<element> date_element(std::size_t first, std::size_t last, int d, int m, std::optional<int> y) const {
    if (d < 1 || d > 31 || m < 1 || m > 12) return std::nullopt;
    auto month_day = std::chrono::month{static_cast<unsigned>(m)} / std::chrono::day{static_cast<unsigned>(d)};
    auto this_year = year_month_day{today_}.year();
    year_month_day date = y ? std::chrono::year{*y} / month_day : this_year / month_day;
    if (!y && date.ok() && sys_days{date} < today_ - days{7}) date = (this_year + std::chrono::years{1}) / month_day;
    if (!date.ok()) return std::nullopt;
    element e{first, last, element_kind::day};
    e.date = sys_days{date};
    return e;
  }

  // today, tonight, tomorrow, this/next <weekday>, <weekday>, this morning; each may take a part of
  // the day after it ("tomorrow morning", "Friday afternoon").
  std::optional<element> parse_day(std::size_t i) const {
    static constexpr string_view show_words[] = {"programme", "program", "show"};  // "the Today programme"
    element e{i, i + 1, element_kind::day};
    e.date = today_;
    if (word(i, "today")) {
      if (word_in(i + 1, show_words)) return std::nullopt;
    } else if (word(i, "tonight")) {
      e.part = day_part::evening;
      e.minutes = 18 * 60;
    } else if (word_in(i, tomorrow_words)) {
      e.date = today_ + days{1};
    } else if (word(i, "this") && day_part_at(i + 1)) {
      e.last = i + 1;
    } else if ((word(i, "this") || word(i, "next")) && weekday_at(i + 1)) {
      e = weekday_element(i, i + 2, *weekday_at(i + 1), word(i, "next"));
    } else if (auto w = weekday_at(i)) {
      e = weekday_element(i, i + 1, *w, false);
      e.weak = w->weak;
    } else {
      return std::nullopt;
    }
    return with_day_part(e);
  }

  // A weekday is its next occurrence; "next Friday" is the first Friday after today.
  element weekday_element(std::size_t first, std::size_t last, const weekday_name& w, bool next) const {
    element e{first, last, element_kind::day};
    auto ahead = (weekday{w.weekday} - weekday{today_}).count();
    e.rolls_week = ahead == 0 && !next;
    e.date = today_ + days{ahead == 0 && next ? 7 : ahead};
    return e;
  }

  element with_day_part(element e) const {
    if (e.minutes >= 0) return e;
    if (auto p = day_part_at(e.last)) {
      e.part = p->part;
      e.minutes = p->minutes;
      ++e.last;
    }
    return e;
  }

  std::optional<element> parse_time(std::size_t i) const {
    if (number(i)) return parse_clock(i);
    if (int n = number_word_at(i)) return parse_hour_word(i, n);
    return parse_named_time(i);
  }

  // 4pm, 4 p.m., 12 noon, 4 o'clock, 9.45, 16:00, 4.30pm, 1600hrs, "by 1600", "by 4".
  std::optional<element> parse_clock(std::size_t i) const {
    if (!standalone_number(i)) return std::nullopt;
    int v = value(i);
    std::size_t j = i + 1;
    if (width(i) <= 2 && symbol_in(j, ":.") && joined(j) && joined_number(j + 1) && width(j + 1) == 2)
      return parse_hours_minutes(i);
    if (width(i) == 4) return parse_four_digits(i);
    if (width(i) > 2) return std::nullopt;
    if (auto m = am_pm(j)) {
      if (v < 1 || v > 12) return std::nullopt;
      return time_element(i, m->end, hour24(v, m->pm) * 60, false);
    }
    if (v == 12 && (word(j, "noon") || word(j, "midday"))) return time_element(i, j + 1, noon, false);
    if (word(j, "oclock") || (word_in(i - 1, clock_cues) && !joined(i) && ends_expression(j)))
      return guessed_hour(i, word(j, "oclock") || (word(j, "ish") && joined(j)) ? j + 1 : j, v);
    return std::nullopt;
  }

  // "four o'clock", "four pm", "by four".
  std::optional<element> parse_hour_word(std::size_t i, int hour) const {
    if (auto m = am_pm(i + 1)) return time_element(i, m->end, hour24(hour, m->pm) * 60, false);
    if (word(i + 1, "oclock")) return guessed_hour(i, i + 2, hour);
    if (word_in(i - 1, clock_cues) && ends_expression(i + 1)) return guessed_hour(i, i + 1, hour);
    return std::nullopt;
  }

  std::optional<element> guessed_hour(std::size_t first, std::size_t last, int hour) const {
    if (hour < 1 || hour > 12) return std::nullopt;
    return time_element(first, last, guessed_hour_minutes(hour), hour != 12);
  }

  // H:MM or H.MM, optionally with :SS and am/pm. Without am/pm an hour written without a leading
  // zero follows the bare-hour rule ("by 4.30" is 16:30); "04:30" and "16.00" are 24-hour times.
  std::optional<element> parse_hours_minutes(std::size_t i) const {
    int hour = value(i), minute = value(i + 2);
    bool dot = symbol(i + 1, '.');
    std::size_t e = i + 3;
    if (symbol(e, ':') && joined(e) && joined_number(e + 1) && width(e + 1) == 2) e += 2;
    if (minute > 59 || continues(e)) return std::nullopt;
    if (auto m = am_pm(e)) {
      if (hour < 1 || hour > 12) return std::nullopt;
      return time_element(i, m->end, hour24(hour, m->pm) * 60 + minute, false);
    }
    if (hour > 23) return std::nullopt;
    if (hours_suffix(e)) return time_element(i, e + 1, hour * 60 + minute, false);
    if (joined(e) && t_[e].type == kind::word && !word(e, "ish")) return std::nullopt;  // "1.25m", "2.50p"
    if (dot && (word_in(e, measure_words) || word_in(i - 1, reference_words))) return std::nullopt;
    bool guessed = hour >= 1 && hour <= 11 && t_[i].text[0] != '0';
    int minutes = (guessed ? guessed_hour_minutes(hour) : hour * 60) + minute;
    return time_element(i, word(e, "ish") ? e + 1 : e, minutes, guessed);
  }

  // "1600hrs", "1600 hours", and "by 1600" next to a cue; 1900-2099 after a cue alone reads as a year.
  std::optional<element> parse_four_digits(std::size_t i) const {
    int v = value(i), hour = v / 100, minute = v % 100;
    if (hour > 23 || minute > 59) return std::nullopt;
    if (hours_suffix(i + 1)) return time_element(i, i + 2, hour * 60 + minute, false);
    if (word_in(i - 1, clock_cues) && !joined(i) && (v < 1900 || v > 2099) && ends_expression(i + 1))
      return time_element(i, i + 1, hour * 60 + minute, false);
    return std::nullopt;
  }

  // noon, midday, lunchtime; EOD, end of (the) day, close of play/business, COB, COP; "by the
  // afternoon"; first thing.
  std::optional<element> parse_named_time(std::size_t i) const {
    static constexpr string_view day_ends[] = {"day", "play", "business"};
    static constexpr string_view working_words[] = {"working", "business"};
    static constexpr string_view part_cues[] = {"in", "by", "before", "until", "till"};  // not "good afternoon"
    if (word_in(i, noon_words)) return time_element(i, i + 1, noon, false);
    if (word(i, "lunch") && word(i + 1, "time")) return time_element(i, i + 2, noon, false);
    if (word(i, "eod") || word(i, "cob")) return time_element(i, i + 1, close_of_business, false);
    if (word(i, "cop") && word_in(i - 1, clock_cues))  // alone, COP is also a summit or a police officer
      return time_element(i, i + 1, close_of_business, false);
    if (word(i, "end") && word(i + 1, "of")) {
      std::size_t j = word(i + 2, "the") ? i + 3 : i + 2;
      if (word_in(j, working_words) && word(j + 1, "day")) ++j;
      bool idiom = word(i - 1, "the") && word(i - 2, "at");  // "at the end of the day, ..."
      if (!word_in(j, day_ends) || idiom) return std::nullopt;
      return time_element(i, j + 1, close_of_business, false);
    }
    if (word(i, "close") && word(i + 1, "of") && (word(i + 2, "play") || word(i + 2, "business")))
      return time_element(i, i + 3, close_of_business, false);
    if (auto p = day_part_at(i); p && word(i - 1, "the") && word_in(i - 2, part_cues))  // "by the afternoon"
      return time_element(word(i - 2, "in") ? i - 2 : i, i + 1, p->minutes, false);     // "in" is no cue: keep it shown
    if (word(i, "first") && word(i + 1, "thing")) {
      bool in_the_morning = word(i + 2, "in") && word(i + 3, "the") && word(i + 4, "morning");
      return time_element(i, in_the_morning ? i + 5 : i + 2, first_thing, false);
    }
    return std::nullopt;
  }

  // A clock time, taking a following "in the morning/afternoon/evening" into account.
  element time_element(std::size_t first, std::size_t last, int minutes, bool guessed) const {
    element e{first, last, element_kind::time};
    e.minutes = minutes;
    e.hour_guessed = guessed;
    if (word(last, "in") && word(last + 1, "the")) {
      if (auto p = day_part_at(last + 2)) {
        e.minutes = fit_to_part(minutes, guessed, p->part);
        e.hour_guessed = false;
        e.last = last + 3;
      }
    }
    return e;
  }

  // ---- candidates: each day joined with a nearby time, resolved and classified

  // Tokens between a day and a time that may go together: at most 3 link words, else npos.
  std::size_t link_gap(std::size_t from, std::size_t to) const {
    if (to - from > 3) return npos;
    for (std::size_t k = from; k < to; ++k)
      if (!text_in(k, link_fillers)) return npos;
    return to - from;
  }

  // For each element, whether it goes with the next one: a day takes the nearer free time beside
  // it (the earlier one on a tie).
  std::vector<bool> link_days_to_times(const std::vector<element>& els) const {
    std::vector<bool> with_next(els.size()), taken(els.size());
    for (std::size_t k = 0; k < els.size(); ++k) {
      if (els[k].type != element_kind::day) continue;
      bool has_before = k > 0 && els[k - 1].type == element_kind::time && !taken[k - 1];
      bool has_after = k + 1 < els.size() && els[k + 1].type == element_kind::time;
      std::size_t before = has_before ? link_gap(els[k - 1].last, els[k].first) : npos;
      std::size_t after = has_after ? link_gap(els[k].last, els[k + 1].first) : npos;
      if (before != npos && before <= after) {
        with_next[k - 1] = true;
        taken[k - 1] = taken[k] = true;
      } else if (after != npos) {
        with_next[k] = true;
        taken[k] = taken[k + 1] = true;
      }
    }
    return with_next;
  }

  std::vector<candidate> candidates(const std::vector<element>& els) const {
    std::vector<candidate> out;
    auto with_next = link_days_to_times(els);
    for (std::size_t k = 0; k < els.size(); ++k) {
      std::size_t second = with_next[k] ? k + 1 : k;
      const element& a = els[k];
      const element& b = els[second];
      std::size_t lower = k > 0 ? els[k - 1].last : 0;
      std::size_t upper = second + 1 < els.size() ? els[second + 1].first : t_.size();
      cue_match inner;
      if (second != k) inner = deadline_cue_before(b.first, a.last);
      if (a.type == element_kind::moment && word(a.first, "within")) inner = {a.first, a.first + 1};
      k = second;
      const element* day = a.type == element_kind::day ? &a : b.type == element_kind::day ? &b : nullptr;
      const element* time = a.type == element_kind::time ? &a : b.type == element_kind::time ? &b : nullptr;
      if (day && !time && day->weak && !word_in(day->first - 1, weak_day_context)) continue;
      candidate c{a.first, b.last, a.at, role::plain, {}, 0, 0};
      if (a.type != element_kind::moment) resolve(day, time, c);
      classify(c, inner, lower, upper);
      out.push_back(c);
    }
    return out;
  }

  time_point at_london(sys_days date, int minutes) const {
    return from_london(year_month_day{date}, minutes / 60, minutes % 60);
  }

  // A day without a time is 17:00 (or its part of the day); a time without a day is today if
  // later than now, else tomorrow; a bare weekday naming today is today only with a later time.
  void resolve(const element* day, const element* time, candidate& c) const {
    if (!day) {
      c.at = at_london(today_, time->minutes);
      if (c.at <= now_) {
        c.at = at_london(today_ + days{1}, time->minutes);
        c.notes |= rolled_to_tomorrow;
      }
      return;
    }
    int minutes = time                ? fit_to_part(time->minutes, time->hour_guessed, day->part)
                  : day->minutes >= 0 ? day->minutes
                                      : close_of_business;
    if (!time) {
      c.notes |= no_time;
      c.default_minutes = minutes;
    }
    c.at = at_london(day->date, minutes);
    if (day->rolls_week && ((!time && day->minutes < 0) || c.at <= now_)) {
      c.at = at_london(day->date + days{7}, minutes);
      c.notes |= rolled_to_next_week;
    }
  }

  void classify(candidate& c, cue_match inner, std::size_t lower, std::size_t upper) const {
    for (auto cue : {inner, deadline_cue_before(c.first, lower), deadline_cue_after(c.last, upper),
                     deadline_noun_before(c.first, lower)}) {
      if (cue.found()) {
        c.kind = role::deadline;
        c.cue = cue;
        return;
      }
    }
    for (auto cue : {event_cue_before(c.first, lower), event_cue_after(c.last, upper)}) {
      if (cue.found()) {
        c.kind = role::event;
        c.cue = cue;
        return;
      }
    }
    if (c.first > lower && word_in(c.first - 1, clock_cues)) c.cue = {c.first - 1, c.first};  // shown: "at 8"
  }

  // "by", "before", "latest", "no later than" just before the expression (fillers allowed between).
  cue_match deadline_cue_before(std::size_t pos, std::size_t lower) const {
    for (std::size_t j = pos, steps = 0; j > lower && steps < 4; ++steps) {
      --j;
      if (word_in(j, deadline_cues) || word(j, "latest")) return {j, j + 1};
      if (word(j, "than") && j >= lower + 2 && word(j - 1, "later") && (word(j - 2, "no") || word(j - 2, "not")))
        return {j - 2, j + 1};
      if (!text_in(j, cue_fillers)) break;
    }
    return {};
  }

  // "4pm latest", "Friday at the latest", "our 4pm deadline".
  cue_match deadline_cue_after(std::size_t end, std::size_t upper) const {
    std::size_t j = symbol(end, ',') ? end + 1 : end;
    if (j < upper && (word(j, "latest") || word_in(j, deadline_nouns))) return {j, j + 1};
    if (j + 2 < upper && word(j, "at") && word(j + 1, "the") && word(j + 2, "latest")) return {j, j + 3};
    if (j + 1 < upper && word(j, "at") && word(j + 1, "latest")) return {j, j + 2};
    return {};
  }

  // "deadline" a little further back in the same sentence ("our deadline for this is Friday").
  cue_match deadline_noun_before(std::size_t pos, std::size_t lower) const {
    for (std::size_t j = pos, steps = 0; j > lower && steps < 6; ++steps) {
      --j;
      if (barrier(j)) break;
      if (word_in(j, deadline_nouns)) return {j, j + 1};
    }
    return {};
  }

  // "live at 6pm", "goes out at 7", "filming on Friday", "it airs Thursday".
  cue_match event_cue_before(std::size_t pos, std::size_t lower) const {
    for (std::size_t j = pos, steps = 0; j > lower && steps < 4; ++steps) {
      --j;
      if (barrier(j)) break;
      if (word(j, "air") && j > lower && word(j - 1, "on")) return {j - 1, j + 1};
      if (word_in(j, event_words)) return {j, j + 1};
      if (word(j, "out") && j > lower && word_in(j - 1, go_words)) return {j - 1, j + 1};
    }
    return {};
  }

  // "6pm live", "the six o'clock news", "8 we're live".
  cue_match event_cue_after(std::size_t end, std::size_t upper) const {
    for (std::size_t j = end; j < upper && j < end + 2; ++j) {
      if (barrier(j)) break;
      if (word_in(j, event_nouns_after)) return {j, j + 1};
    }
    return {};
  }

  // ---- output text: only tokens of the expression, its cue and filler words between them

  void append_tokens(std::string& out, std::size_t first, std::size_t last) const {
    for (std::size_t k = first; k < last; ++k) {
      if (!out.empty() && (k == first || !t_[k].joined)) out += ' ';
      out += t_[k].text;
    }
  }

  // Tokens [a_first, b_last) with what lies between a and b elided unless it is filler words.
  void append_joined(std::string& out, std::size_t a_first, std::size_t a_last, std::size_t b_first,
                     std::size_t b_last) const {
    bool fillers = true;
    for (std::size_t k = a_last; k < b_first; ++k) fillers = fillers && text_in(k, phrase_fillers);
    if (fillers) return append_tokens(out, a_first, b_last);
    append_tokens(out, a_first, a_last);
    out += " ...";
    append_tokens(out, b_first, b_last);
  }

  std::string phrase(const candidate& c) const {
    std::string out;
    if (!c.cue.found() || (c.cue.first >= c.first && c.cue.last <= c.last))
      append_tokens(out, c.first, c.last);
    else if (c.cue.last <= c.first)
      append_joined(out, c.cue.first, c.cue.last, c.first, c.last);
    else
      append_joined(out, c.first, c.last, c.cue.first, c.cue.last);
    return out;
  }

  std::string why(const candidate& chosen, const std::vector<candidate>& all, std::size_t events) const {
    std::string out;
    if (chosen.kind == role::deadline) {
      std::string cue;
      append_tokens(cue, chosen.cue.first, chosen.cue.last);
      out = "cued by '" + cue + "'";
    } else {
      out = chosen.kind == role::plain ? "no deadline cue; earliest time not tied to an event"
                                       : "no deadline cue; earliest event time";
    }
    if (chosen.notes & no_time)
      out += fmt::format("; no time given: {:02}:{:02}", chosen.default_minutes / 60, chosen.default_minutes % 60);
    if (chosen.notes & rolled_to_tomorrow) out += "; time already past today: tomorrow";
    if (chosen.notes & rolled_to_next_week) out += "; weekday is today: next week";
    if (chosen.kind == role::event || events == 0) return out;
    out += fmt::format("; {} event time{} ignored (", events, events == 1 ? "" : "s");
    std::size_t shown = 0;
    for (auto& c : all) {
      if (c.kind != role::event) continue;
      if (shown == 3) {
        out += ", ...";
        break;
      }
      out += shown++ ? ", '" : "'";
      out += phrase(c);
      out += '\'';
    }
    out += ')';
    return out;
  }

  const std::vector<token>& t_;
  time_point now_;
  sys_days today_;  // London's date at now_
};

}  // namespace

std::optional<deadline_finding> find_deadline(std::string_view text, time_point now) {
  auto folded = fold(text);
  auto tokens = tokenize(folded);
  return scanner(tokens, now).find();
}

}  // namespace md::routing
