// The CSV reader and header binding (see csv.hpp). One pass over the text; nothing is copied but
// the current record's fields, and no problem message carries a field's value.
#include "routing/csv.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace md::routing::csv {
namespace {

constexpr std::string_view utf8_bom = "\xEF\xBB\xBF";

bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::size_t count_newlines(std::string_view s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

// Whether a header name may be quoted back in a message: short and made of name characters.
// Anything else may be a data row's value (a name, an address) and is not repeated.
bool showable_name(std::string_view name) {
  if (name.empty() || name.size() > 40) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.' || c == ' ';
  });
}

}  // namespace

std::size_t invalid_utf8_at(std::string_view text) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  std::size_t i = 0, n = text.size();
  while (i < n) {
    unsigned char c = byte(i);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t length;
    unsigned char low = 0x80, high = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      length = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
      if (c == 0xE0) low = 0xA0;   // overlong
      if (c == 0xED) high = 0x9F;  // UTF-16 surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
      if (c == 0xF0) low = 0x90;   // overlong
      if (c == 0xF4) high = 0x8F;  // above U+10FFFF
    } else {
      return i;  // a continuation byte first, C0/C1 (overlong) or F5..FF
    }
    if (i + length > n) return i;
    if (byte(i + 1) < low || byte(i + 1) > high) return i;
    for (std::size_t k = 2; k < length; ++k)
      if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return i;
    i += length;
  }
  return std::string_view::npos;
}

bool record::blank() const {
  return std::all_of(fields.begin(), fields.end(), [](const field& f) { return f.value.empty(); });
}

reader::reader(std::string_view text, const limits& l) : text_(text), limits_(l) {
  if (text_.size() > limits_.max_file_bytes) {
    refused_ = problem{0, 0, fmt::format("the file is {} bytes; the limit is {} bytes", text_.size(), limits_.max_file_bytes)};
  } else if (text_.starts_with("\xFF\xFE") || text_.starts_with("\xFE\xFF")) {
    // Excel's "Unicode text" export: every other byte zero. Said plainly rather than as a
    // UTF-8 error on line 1.
    refused_ = problem{0, 0, "the file is UTF-16 text: save it as CSV UTF-8"};
  } else if (text_.starts_with(utf8_bom)) {
    pos_ = utf8_bom.size();  // Excel's "CSV UTF-8" starts with one
  }
}

bool reader::next(record& out) {
  out.line = 0;
  out.fields.clear();
  out.problems.clear();
  if (done_ || refused_) return false;
  // Empty lines between records carry nothing (a final line end, spacing in a hand-made file).
  while (pos_ < text_.size()) {
    if (text_[pos_] == '\n') {
      ++pos_;
      ++line_;
    } else if (text_.substr(pos_, 2) == "\r\n") {
      pos_ += 2;
      ++line_;
    } else {
      break;
    }
  }
  if (pos_ >= text_.size()) {
    done_ = true;
    return false;
  }
  out.line = line_;
  column_ = 0;
  if (++records_ > limits_.max_records) {
    out.problems.push_back({line_, 0, fmt::format("the file has more than {} rows; split it into smaller files", limits_.max_records)});
    done_ = true;
    return true;
  }
  while (read_field(out)) {
  }
  return true;
}

bool reader::read_field(record& out) {
  const std::size_t n = text_.size();
  const std::size_t column = ++column_;  // counts the fields dropped past max_columns too
  // Past max_columns the record is still read to its end (quotes decide where that is), but
  // its fields are dropped: a row of a million commas costs no memory.
  const bool keep = column <= limits_.max_columns;
  if (column == limits_.max_columns + 1)
    out.problems.push_back({line_, column, fmt::format("the row has more than {} fields", limits_.max_columns)});

  field f;
  f.line = line_;
  bool oversize = false;
  auto append = [&](std::string_view part) {
    if (oversize || !keep) return;
    if (f.value.size() + part.size() > limits_.max_field_bytes) {
      oversize = true;
      f.value.clear();
      out.problems.push_back({f.line, column, fmt::format("the field is longer than {} bytes", limits_.max_field_bytes)});
      return;
    }
    f.value.append(part);
  };
  // Where the field's text ends: at a comma, a line end or the end of the text.
  auto at_delimiter = [&](std::size_t p) { return p >= n || text_[p] == ',' || text_[p] == '\n' || text_.substr(p, 2) == "\r\n"; };

  std::size_t p = pos_;
  while (p < n && is_blank(text_[p])) ++p;
  if (p < n && text_[p] == '"') {
    f.quoted = true;
    pos_ = p + 1;
    bool closed = false;
    while (pos_ < n) {
      auto quote = text_.find('"', pos_);
      if (quote == std::string_view::npos) break;
      auto part = text_.substr(pos_, quote - pos_);
      line_ += count_newlines(part);
      append(part);
      if (quote + 1 < n && text_[quote + 1] == '"') {
        append("\"");
        pos_ = quote + 2;
        continue;
      }
      pos_ = quote + 1;
      closed = true;
      break;
    }
    if (!closed) {
      out.problems.push_back({f.line, column, "a quoted field starts here and its closing quote (\") is missing"});
      pos_ = n;
      done_ = true;
      if (keep) out.fields.push_back(std::move(f));
      return false;
    }
    while (pos_ < n && is_blank(text_[pos_])) ++pos_;
    if (!at_delimiter(pos_)) {
      out.problems.push_back({line_, column, "text after the closing quote: quote the whole field and double any quote inside it (\"\")"});
      while (!at_delimiter(pos_)) ++pos_;
    }
  } else {
    std::size_t end = p;
    while (!at_delimiter(end)) ++end;
    auto value = text_.substr(p, end - p);
    while (!value.empty() && is_blank(value.back())) value.remove_suffix(1);
    if (value.find('"') != std::string_view::npos)
      out.problems.push_back({f.line, column, "a quote (\") inside an unquoted field: quote the whole field and double the quote (\"\")"});
    append(value);
    pos_ = end;
  }

  if (keep && !oversize) {
    if (auto bad = invalid_utf8_at(f.value); bad != std::string_view::npos)
      out.problems.push_back({f.line + count_newlines(std::string_view(f.value).substr(0, bad)), column,
                              "not valid UTF-8 text: save the file as CSV UTF-8"});
  }
  if (keep) out.fields.push_back(std::move(f));

  if (pos_ >= n) return false;
  if (text_[pos_] == ',') {
    ++pos_;
    return true;
  }
  pos_ += text_[pos_] == '\r' ? 2 : 1;  // at_delimiter stopped at "\n" or "\r\n"
  ++line_;
  return false;
}

std::vector<problem> bind_header(const record& header, std::span<const std::string_view> expected, header_binding& out) {
  std::vector<problem> problems;
  out.names.clear();
  out.position.assign(expected.size(), std::string_view::npos);
  for (auto& f : header.fields) out.names.push_back(f.value);

  auto index_of = [&](std::string_view name) -> std::size_t {
    auto it = std::find(expected.begin(), expected.end(), name);
    return it == expected.end() ? std::string_view::npos : static_cast<std::size_t>(it - expected.begin());
  };
  std::string all = fmt::format("{}", fmt::join(expected, ","));
  if (std::none_of(out.names.begin(), out.names.end(), [&](auto& name) { return index_of(name) != std::string_view::npos; })) {
    problems.push_back({header.line, 0, fmt::format("the first row must be the header, naming the columns {}", all)});
    return problems;
  }
  bool listed = false;
  for (std::size_t i = 0; i < out.names.size(); ++i) {
    const std::string& name = out.names[i];
    std::size_t column = i + 1;
    if (name.empty()) {
      problems.push_back({header.line, column, fmt::format("column {} has no name", column)});
      continue;
    }
    if (auto at = index_of(name); at != std::string_view::npos) {
      if (out.position[at] != std::string_view::npos)
        problems.push_back({header.line, column, fmt::format("the column '{}' appears twice (also column {})", name, out.position[at] + 1)});
      else
        out.position[at] = i;
      continue;
    }
    if (!showable_name(name)) {
      problems.push_back({header.line, column, listed ? fmt::format("column {} has an unknown name", column)
                                                      : fmt::format("column {} has an unknown name; the columns are {}", column, all)});
      listed = true;
      continue;
    }
    auto similar = std::find_if(expected.begin(), expected.end(), [&](std::string_view e) { return equal_ignoring_case(e, name); });
    if (similar != expected.end()) {
      problems.push_back({header.line, column, fmt::format("unknown column '{}': column names are lower case ('{}')", name, *similar)});
    } else {
      // The list of columns once, with the first unknown one; after that it is noise.
      problems.push_back({header.line, column, listed ? fmt::format("unknown column '{}'", name)
                                                      : fmt::format("unknown column '{}'; the columns are {}", name, all)});
      listed = true;
    }
  }
  for (std::size_t e = 0; e < expected.size(); ++e)
    if (out.position[e] == std::string_view::npos)
      problems.push_back({header.line, 0, fmt::format("the column '{}' is missing", expected[e])});
  return problems;
}

}  // namespace md::routing::csv
