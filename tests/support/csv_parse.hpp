// A strict RFC 4180 reader for the tests: CRLF (or LF) line ends, quoted cells with doubled
// quotes. Independent of the writer under test, so that a quoting bug shows up as a parse error.
#pragma once
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace md::test {

inline std::vector<std::vector<std::string>> parse_csv(std::string_view text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string cell;
  bool quoted = false, was_quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char ch = text[i];
    if (quoted) {
      if (ch != '"') {
        cell += ch;
      } else if (i + 1 < text.size() && text[i + 1] == '"') {
        cell += '"';
        ++i;
      } else {
        quoted = false;
      }
    } else if (ch == '"') {
      if (!cell.empty() || was_quoted) throw std::runtime_error("quote inside an unquoted cell");
      quoted = was_quoted = true;
    } else if (ch == ',') {
      row.push_back(std::move(cell));
      cell.clear();
      was_quoted = false;
    } else if (ch == '\r' || ch == '\n') {
      if (ch == '\r' && (i + 1 >= text.size() || text[i + 1] != '\n')) throw std::runtime_error("bare CR");
      if (ch == '\r') ++i;
      row.push_back(std::move(cell));
      rows.push_back(std::move(row));
      cell.clear();
      row.clear();
      was_quoted = false;
    } else {
      if (was_quoted) throw std::runtime_error("text after a closing quote");
      cell += ch;
    }
  }
  if (quoted) throw std::runtime_error("unterminated quote");
  if (!cell.empty() || !row.empty() || was_quoted) {
    row.push_back(std::move(cell));
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace md::test
