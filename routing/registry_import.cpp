// Registry CSV parsing (see registry_import.hpp): the CSV reader gives records, the header binds
// the contract's columns, and each column's checker turns a field into a value or an error.
// Personal columns are checked by checkers whose messages take no value at all.
#include "routing/registry_import.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <functional>
#include <map>
#include <stdexcept>

namespace md::routing {
namespace {

using std::chrono::sys_days;

constexpr std::size_t max_key_bytes = 64;
constexpr std::size_t max_name_bytes = 200;
constexpr std::size_t max_alias_bytes = 100;
constexpr std::size_t max_story_notes_bytes = 4000;
constexpr std::size_t max_email_bytes = 254;
constexpr std::size_t max_local_part_bytes = 64;
constexpr std::size_t max_shown_bytes = 40;
constexpr int max_cap = 100;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lowered(std::string_view v) {
  std::string out(v);
  for (auto& c : out) c = lower(c);
  return out;
}

std::string_view trimmed(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

// A non-personal value quoted back in a message: at most 40 bytes, whole UTF-8 characters
// (the reader has checked the text is UTF-8), control characters shown as '?'.
std::string shown(std::string_view v) {
  std::string out;
  for (std::size_t i = 0; i < v.size();) {
    auto c = static_cast<unsigned char>(v[i]);
    std::size_t length = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    length = std::min(length, v.size() - i);
    if (out.size() + length > max_shown_bytes) {
      out += "...";
      break;
    }
    if (c < 0x20 || c == 0x7F)
      out += '?';
    else
      out.append(v.substr(i, length));
    i += length;
  }
  return out;
}

// C0 controls (line breaks, tabs), DEL and the C1 controls (U+0080..U+009F, encoded C2 80..9F).
bool has_control_character(std::string_view v) {
  for (std::size_t i = 0; i < v.size(); ++i) {
    auto c = static_cast<unsigned char>(v[i]);
    if (c < 0x20 || c == 0x7F) return true;
    if (c == 0xC2 && i + 1 < v.size() && static_cast<unsigned char>(v[i + 1]) <= 0x9F) return true;
  }
  return false;
}

bool is_key(std::string_view v) {
  return !v.empty() && v.size() <= max_key_bytes &&
         std::all_of(v.begin(), v.end(), [](char c) { return is_alnum(c) || c == '_' || c == '.' || c == '-'; });
}

// The errors of one file, capped: past the cap one final entry says reading stopped.
class error_list {
 public:
  error_list(std::vector<import_error>& errors, std::size_t max) : errors_(errors), max_(max) {}

  void add(import_error e) {
    if (full_) return;
    if (errors_.size() >= max_) {
      errors_.push_back({e.line, 0, {}, fmt::format("more than {} errors: stopped reading at line {}", max_, e.line)});
      full_ = true;
      return;
    }
    errors_.push_back(std::move(e));
  }
  bool full() const { return full_; }
  bool empty() const { return errors_.empty(); }

 private:
  std::vector<import_error>& errors_;
  std::size_t max_;
  bool full_ = false;
};

// One data record seen through the header: values and errors by the contract's column index.
class row_reader {
 public:
  row_reader(const csv::record& record, const csv::header_binding& binding, std::span<const std::string_view> columns,
             error_list& errors)
      : record_(record), binding_(binding), columns_(columns), errors_(errors) {}

  // Spaces around a value never matter, quoted or not.
  std::string_view value(std::size_t c) const { return trimmed(record_.fields[binding_.position[c]].value); }
  void error(std::size_t c, std::string message) {
    errors_.add({record_.line, binding_.position[c] + 1, std::string(columns_[c]), std::move(message)});
    failed_ = true;
  }
  bool failed() const { return failed_; }

 private:
  const csv::record& record_;
  const csv::header_binding& binding_;
  std::span<const std::string_view> columns_;
  error_list& errors_;
  bool failed_ = false;
};

// --- Checks: one field's text (already trimmed) to its value, or what is wrong with it. -----
// Shared by the CSV rows and the single-field API, so that a value is judged the same way
// wherever it comes from. An empty text is an empty value here: requiredness is the caller's.

registry_field_check failed(std::string message) { return {{}, std::move(message)}; }

registry_field_check check_key(std::string_view v) {
  if (v.empty() || is_key(v)) return {std::string(v), std::nullopt};
  return failed(fmt::format("'{}' is not a valid key: use 1 to {} letters, digits, '_', '.' or '-'", shown(v), max_key_bytes));
}

// Free text that may be personal (names, notes): the messages say what is wrong, never the value.
// One-line text refuses line breaks because names end up in email subjects and headers.
registry_field_check check_text(std::string_view v, std::size_t max_bytes, bool multi_line = false) {
  if (v.size() > max_bytes) return failed(fmt::format("longer than {} bytes", max_bytes));
  if (multi_line) {
    std::string copy(v);
    std::erase_if(copy, [](char c) { return c == '\n' || c == '\r' || c == '\t'; });
    if (has_control_character(copy)) return failed("contains a control character");
  } else if (has_control_character(v)) {
    return failed("contains a line break or another control character");
  }
  return {std::string(v), std::nullopt};
}

// What is wrong with an address, or nothing. Never includes the address.
std::optional<std::string> email_problem(std::string_view v) {
  if (v.size() > max_email_bytes) return fmt::format("longer than {} bytes", max_email_bytes);
  if (std::any_of(v.begin(), v.end(), [](char c) { return c == ' ' || c == '\t'; }))
    return "not an email address: it contains a space";
  auto ats = std::count(v.begin(), v.end(), '@');
  if (ats == 0) return "not an email address: there is no @";
  if (ats > 1) return "not an email address: more than one @ (one address per field)";
  auto at = v.find('@');
  auto local = v.substr(0, at), domain = v.substr(at + 1);
  if (local.empty()) return "not an email address: nothing before the @";
  if (local.size() > max_local_part_bytes)
    return fmt::format("not an email address: more than {} bytes before the @", max_local_part_bytes);
  // Printable ASCII without the characters that would let an address break out of an email
  // header ("a@x.org>, b@y.org") or smuggle a comment in.
  constexpr std::string_view forbidden = "<>()[],;:\\\"";
  for (char c : local) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F || forbidden.find(c) != std::string_view::npos)
      return "not an email address: a character before the @ is not allowed";
  }
  if (domain.find('.') == std::string_view::npos) return "not an email address: the part after the @ has no dot";
  for (std::size_t begin = 0; begin <= domain.size();) {
    auto end = std::min(domain.find('.', begin), domain.size());
    auto label = domain.substr(begin, end - begin);
    if (label.empty() || label.front() == '-' || label.back() == '-' ||
        !std::all_of(label.begin(), label.end(), [](char c) { return is_alnum(c) || c == '-'; }))
      return "not an email address: the part after the @ is not a domain name";
    begin = end + 1;
  }
  return std::nullopt;
}

registry_field_check check_email(std::string_view v) {
  if (v.empty()) return {};
  if (auto problem = email_problem(v)) return failed(std::move(*problem));
  return {lowered(v), std::nullopt};
}

registry_field_check check_phone(std::string_view v) {
  if (v.empty()) return {};
  if (!std::all_of(v.begin(), v.end(), [](char ch) { return is_digit(ch) || std::string_view(" +-()").find(ch) != std::string_view::npos; }))
    return failed("not a phone number: use digits, spaces and + - ( ) only");
  bool international = v.front() == '+';
  if (v.find('+', 1) != std::string_view::npos) return failed("not a phone number: '+' may only come first");
  std::string digits;
  for (std::size_t i = 0; i < v.size(); ++i) {
    // "+44 (0)20 ..." writes the trunk 0 for callers at home; it is not dialled from abroad.
    if (international && v.compare(i, 3, "(0)") == 0) {
      i += 2;
      continue;
    }
    if (is_digit(v[i])) digits += v[i];
  }
  if (digits.size() < 7 || digits.size() > 20)
    return failed(fmt::format("not a phone number: it has {} digits; 7 to 20 are needed", digits.size()));
  return {international ? "+" + digits : digits, std::nullopt};
}

bool one_of(std::string_view v, std::span<const std::string_view> allowed) {
  return std::find(allowed.begin(), allowed.end(), v) != allowed.end();
}

registry_field_check check_identification(std::string_view text) {
  auto v = lowered(text);
  if (v.empty() || one_of(v, identification_values)) return {v, std::nullopt};
  return failed(fmt::format("'{}' is not an identification level: use named, first_name or anonymous", shown(v)));
}

// The kinds of id list: what an item is called in messages, and how it is known.
struct id_kind {
  std::string_view what, hint;
  std::function<bool(std::string_view)> known;
};

std::optional<id_kind> id_kind_of(std::string_view column, const taxonomy& t) {
  if (column == "regions")
    return id_kind{"region", " (ids are in config/taxonomy/regions.toml)", [&t](std::string_view id) { return t.find_region(id).has_value(); }};
  if (column == "topics")
    return id_kind{"topic", " (ids are in config/taxonomy/topics.toml)", [&t](std::string_view id) { return t.find_topic(id).has_value(); }};
  if (column == "languages")
    return id_kind{"language", " (ids are in config/taxonomy/languages.toml)",
                   [&t](std::string_view id) { return t.find_language(id).has_value(); }};
  if (column == "media")
    return id_kind{"medium", ": use tv, radio, print, online or podcast", [](std::string_view m) { return one_of(m, media_values); }};
  return std::nullopt;
}

// Items trimmed (line breaks too: a list typed one item per line inside a spreadsheet cell is
// fine), lower-cased, empty ones skipped, repeats dropped. Each unknown id is a problem naming it
// (ids are not personal).
template <typename Items>
std::vector<std::string> check_ids(const Items& items, const id_kind& kind, std::vector<std::string>& problems) {
  std::vector<std::string> out;
  constexpr std::string_view space = " \t\r\n";
  for (std::string_view item : items) {
    while (!item.empty() && space.find(item.front()) != std::string_view::npos) item.remove_prefix(1);
    while (!item.empty() && space.find(item.back()) != std::string_view::npos) item.remove_suffix(1);
    if (item.empty()) continue;
    if (csv::invalid_utf8_at(item) != std::string_view::npos) {
      problems.push_back("not valid UTF-8 text");
      continue;
    }
    auto id = lowered(item);
    if (!kind.known(id)) {
      problems.push_back(fmt::format("unknown {} '{}'{}", kind.what, shown(id), kind.hint));
      continue;
    }
    if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(std::move(id));
  }
  return out;
}

std::vector<std::string_view> split_list(std::string_view v) {
  std::vector<std::string_view> items;
  for (std::size_t begin = 0; begin <= v.size();) {
    auto end = std::min(v.find(';', begin), v.size());
    items.push_back(v.substr(begin, end - begin));
    begin = end + 1;
  }
  return items;
}

struct date_check {
  std::optional<sys_days> value;
  std::optional<std::string> problem;
};

date_check check_date(std::string_view v) {
  if (v.empty()) return {};
  bool shape = v.size() == 10 && v[4] == '-' && v[7] == '-';
  for (std::size_t i = 0; shape && i < v.size(); ++i)
    if (i != 4 && i != 7 && !is_digit(v[i])) shape = false;
  if (!shape) return {std::nullopt, fmt::format("'{}' is not a date: use YYYY-MM-DD", shown(v))};
  auto number = [&](std::size_t at, std::size_t length) {
    int n = 0;
    for (std::size_t i = at; i < at + length; ++i) n = n * 10 + (v[i] - '0');
    return n;
  };
  std::chrono::year_month_day ymd{std::chrono::year{number(0, 4)}, std::chrono::month{static_cast<unsigned>(number(5, 2))},
                                  std::chrono::day{static_cast<unsigned>(number(8, 2))}};
  if (!ymd.ok()) return {std::nullopt, fmt::format("'{}' is not a real date", shown(v))};
  // A typo in the year (0226, 2206) would otherwise make a consent that never or always runs.
  if (ymd.year() < std::chrono::year{2000} || ymd.year() > std::chrono::year{2099})
    return {std::nullopt, fmt::format("'{}' is outside 2000-01-01 to 2099-12-31", shown(v))};
  return {sys_days{ymd}, std::nullopt};
}

struct cap_check {
  std::optional<int> value;
  std::optional<std::string> problem;
};

cap_check check_monthly_cap(std::string_view v) {
  if (v.empty()) return {};
  auto digits = v;
  while (digits.size() > 1 && digits.front() == '0') digits.remove_prefix(1);  // "004" is 4
  int n = 0;
  bool ok = digits.size() <= 3 && std::all_of(digits.begin(), digits.end(), is_digit);
  for (std::size_t i = 0; ok && i < digits.size(); ++i) n = n * 10 + (digits[i] - '0');
  if (!ok || n > max_cap) return {std::nullopt, fmt::format("'{}' is not a whole number from 0 to {}", shown(v), max_cap)};
  return {n, std::nullopt};
}

// --- A row's columns through the checks. ------------------------------------------------------

// A text column: "required" when empty and required, else the check's problem or value.
template <typename Check>
std::string take(row_reader& r, std::size_t c, bool required, Check&& check) {
  auto v = r.value(c);
  if (v.empty() && required) {
    r.error(c, "required");
    return {};
  }
  auto checked = check(v);
  if (checked.problem) {
    r.error(c, std::move(*checked.problem));
    return {};
  }
  return std::move(checked.value);
}

std::vector<std::string> take_list(row_reader& r, std::size_t c, std::string_view column, const taxonomy& t) {
  std::vector<std::string> problems;
  auto out = check_ids(split_list(r.value(c)), *id_kind_of(column, t), problems);
  for (auto& p : problems) r.error(c, std::move(p));
  return out;
}

template <typename Checked>
decltype(Checked::value) take_value(row_reader& r, std::size_t c, Checked checked) {
  if (checked.problem) r.error(c, std::move(*checked.problem));
  return checked.value;
}

// --- The file: header, records, all-or-nothing. ---------------------------------------------

// Reads a file of the given columns (the key first); parse_row fills the rest of a row from a
// row_reader, reporting its errors there. Keys, record shape and the error cap are here.
template <typename Row, typename ParseRow>
import_result<Row> import_file(std::string_view text, std::span<const std::string_view> columns,
                               std::span<const std::string_view> other_columns, std::string_view other_kind,
                               const import_limits& limits, ParseRow&& parse_row) {
  import_result<Row> result;
  error_list errors(result.errors, limits.max_errors);
  csv::reader reader(text, limits.csv);
  if (auto& refused = reader.refused()) {
    errors.add({refused->line, refused->column, {}, refused->message});
    return result;
  }

  csv::header_binding binding;
  // The contract's name of a column in the file, once the header is known (empty if none).
  auto name_at = [&](std::size_t column) -> std::string {
    if (column == 0 || column > binding.names.size()) return {};
    auto& name = binding.names[column - 1];
    return one_of(name, columns) ? name : std::string();
  };
  auto add_problems = [&](const std::vector<csv::problem>& problems) {
    for (auto& p : problems) errors.add({p.line, p.column, name_at(p.column), p.message});
  };

  csv::record record;
  if (!reader.next(record)) {
    errors.add({0, 0, {}, fmt::format("the file is empty: it needs a header row naming the columns {}", fmt::join(columns, ","))});
    return result;
  }
  if (!record.problems.empty()) {
    add_problems(record.problems);
    return result;  // without a header nothing else can be read by name
  }
  auto header_problems = csv::bind_header(record, columns, binding);
  if (!header_problems.empty() && std::is_permutation(binding.names.begin(), binding.names.end(), other_columns.begin(),
                                                      other_columns.end())) {
    // The other registry file given by mistake: one error instead of one per column.
    errors.add({record.line, 0, {}, fmt::format("this is a {} file (its columns are those of one)", other_kind)});
    return result;
  }
  add_problems(header_problems);
  if (!errors.empty()) return result;

  std::map<std::string, std::size_t, std::less<>> first_line_of_key;
  while (!errors.full() && reader.next(record)) {
    if (!record.problems.empty()) {
      add_problems(record.problems);
      continue;
    }
    if (record.blank()) continue;
    if (auto count = record.fields.size(); count != binding.names.size()) {
      if (count > binding.names.size())
        errors.add({record.line, binding.names.size() + 1, {},
                    fmt::format("the row has {} fields but the header has {}: a comma inside a field needs the field in quotes",
                                count, binding.names.size())});
      else
        errors.add({record.line, count + 1, name_at(count + 1),
                    fmt::format("the row has {} fields but the header has {}", count, binding.names.size())});
      continue;
    }
    const auto first_error = result.errors.size();
    row_reader r(record, binding, columns, errors);
    Row row;
    row.line = record.line;
    row.key = take(r, 0, true, check_key);
    if (!row.key.empty()) {
      auto [first, fresh] = first_line_of_key.emplace(row.key, record.line);
      if (!fresh) r.error(0, fmt::format("duplicate key '{}' (first on line {})", row.key, first->second));
    }
    parse_row(r, row);
    // Checks across columns run last; the row's errors are still listed in column order.
    if (!errors.full())
      std::stable_sort(result.errors.begin() + static_cast<std::ptrdiff_t>(first_error), result.errors.end(),
                       [](const import_error& a, const import_error& b) { return a.column < b.column; });
    // Rows are kept only while the file is clean: a file with errors imports nothing.
    if (!r.failed() && errors.empty()) result.rows.push_back(std::move(row));
  }
  if (!errors.empty()) result.rows.clear();
  return result;
}

enum partner_column : std::size_t { p_key, p_name, p_contact_name, p_contact_email, p_regions, p_topics };
enum spokesperson_column : std::size_t {
  s_key, s_partner_key, s_alias, s_full_name, s_email, s_phone, s_regions, s_topics, s_languages, s_media,
  s_identification, s_consent_granted, s_consent_expires, s_consent_withdrawn, s_max_per_month
};

constexpr auto name_check = [](std::string_view v) { return check_text(v, max_name_bytes); };
constexpr auto alias_check = [](std::string_view v) { return check_text(v, max_alias_bytes); };

}  // namespace

import_result<partner_import_row> parse_partners_csv(std::string_view text, const taxonomy& t, const import_limits& limits) {
  return import_file<partner_import_row>(text, partner_columns, spokesperson_columns, "spokespeople", limits, [&](row_reader& r, partner_import_row& row) {
    row.name = take(r, p_name, true, name_check);
    row.contact_name = take(r, p_contact_name, false, name_check);
    row.contact_email = take(r, p_contact_email, true, check_email);
    row.regions = take_list(r, p_regions, "regions", t);
    row.topics = take_list(r, p_topics, "topics", t);
  });
}

import_result<spokesperson_import_row> parse_spokespeople_csv(std::string_view text, const taxonomy& t,
                                                              const key_set* known_partner_keys, const import_limits& limits) {
  return import_file<spokesperson_import_row>(text, spokesperson_columns, partner_columns, "partners", limits, [&](row_reader& r, spokesperson_import_row& row) {
    row.partner_key = take(r, s_partner_key, false, check_key);
    if (!row.partner_key.empty() && known_partner_keys && !known_partner_keys->contains(row.partner_key))
      r.error(s_partner_key, fmt::format("no partner has the key '{}'", row.partner_key));
    row.alias = take(r, s_alias, true, alias_check);
    row.full_name = take(r, s_full_name, false, name_check);
    row.email = take(r, s_email, false, check_email);
    row.phone = take(r, s_phone, false, check_phone);
    row.regions = take_list(r, s_regions, "regions", t);
    row.topics = take_list(r, s_topics, "topics", t);
    row.languages = take_list(r, s_languages, "languages", t);
    row.media = take_list(r, s_media, "media", t);
    row.identification = take(r, s_identification, false, check_identification);
    row.consent_granted = take_value(r, s_consent_granted, check_date(r.value(s_consent_granted)));
    row.consent_expires = take_value(r, s_consent_expires, check_date(r.value(s_consent_expires)));
    row.consent_withdrawn = take_value(r, s_consent_withdrawn, check_date(r.value(s_consent_withdrawn)));
    row.max_per_month = take_value(r, s_max_per_month, check_monthly_cap(r.value(s_max_per_month)));

    // A consent is anchored on its grant date; the other dates and its scope hang off it.
    // The raw field decides "given": a bad date is already reported and not reported again.
    if (r.value(s_consent_granted).empty()) {
      if (row.consent_expires) r.error(s_consent_expires, "consent_expires needs consent_granted");
      if (row.consent_withdrawn) r.error(s_consent_withdrawn, "consent_withdrawn needs consent_granted");
    } else if (row.consent_granted) {
      if (row.consent_expires && *row.consent_expires <= *row.consent_granted)
        r.error(s_consent_expires, "consent_expires must be after consent_granted");
      if (row.consent_withdrawn && *row.consent_withdrawn < *row.consent_granted)
        r.error(s_consent_withdrawn, "consent_withdrawn must not be before consent_granted");
      if (r.value(s_identification).empty())
        r.error(s_identification, "required with consent_granted: the level of identification the consent allows");
      if (trimmed(r.value(s_media)).find_first_not_of("; \t") == std::string_view::npos)
        r.error(s_media, "required with consent_granted: the media the consent covers");
    }
  });
}

registry_field_check check_registry_field(std::string_view field, std::string_view value, const taxonomy&) {
  auto v = trimmed(value);
  if (csv::invalid_utf8_at(v) != std::string_view::npos) return failed("not valid UTF-8 text");
  if (field == "key" || field == "partner_key") return check_key(v);
  if (field == "name" || field == "contact_name" || field == "full_name") return check_text(v, max_name_bytes);
  if (field == "alias") return check_text(v, max_alias_bytes);
  if (field == "contact_email" || field == "email") return check_email(v);
  if (field == "phone") return check_phone(v);
  if (field == "identification") return check_identification(v);
  if (field == "story_notes") return check_text(v, max_story_notes_bytes, true);
  throw std::invalid_argument(fmt::format("check_registry_field: no text field named '{}'", field));
}

std::variant<std::vector<std::string>, std::string> check_registry_list(std::string_view field,
                                                                        const std::vector<std::string>& items,
                                                                        const taxonomy& t) {
  auto kind = id_kind_of(field, t);
  if (!kind) throw std::invalid_argument(fmt::format("check_registry_list: no list field named '{}'", field));
  std::vector<std::string> problems;
  auto out = check_ids(items, *kind, problems);
  if (!problems.empty()) return std::move(problems.front());
  return out;
}

key_set keys_of(const std::vector<partner_import_row>& partners) {
  key_set keys;
  for (auto& p : partners) keys.insert(p.key);
  return keys;
}

}  // namespace md::routing
