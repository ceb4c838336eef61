// An RFC 4180 CSV reader for the files staff import (the partner and spokesperson registry):
// records with the physical line each starts on, problems by line and column. Pure: no I/O.
#pragma once
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace md::routing::csv {

// Bounds on what one file may cost, so that a wrong or hostile upload is refused in linear time
// and bounded memory instead of being read whole.
struct limits {
  std::size_t max_file_bytes = 10 * 1024 * 1024;
  std::size_t max_field_bytes = 64 * 1024;
  std::size_t max_columns = 64;      // fields per record
  std::size_t max_records = 20'000;  // records, the header included
};

// A problem in the text. line: 1-based physical line, 0 when it concerns the file as a whole;
// column: 1-based field number within its record, 0 when it concerns the whole record. The message never quotes a
// field's value (values may be personal data); it says what is wrong and how to fix it.
struct problem {
  std::size_t line = 0, column = 0;
  std::string message;
  bool operator==(const problem&) const = default;
};

struct field {
  std::string value;      // unquoted, "" unescaped; an unquoted field trimmed of spaces and tabs
  std::size_t line = 0;   // physical line the field starts on
  bool quoted = false;
};

struct record {
  std::size_t line = 0;  // physical line the record starts on
  std::vector<field> fields;
  std::vector<problem> problems;  // this record's; its fields are then not to be trusted
  // No field has any content: a blank line, or a row of bare commas as spreadsheets export.
  bool blank() const;
};

// Reads records one at a time, so that only the current one is held in raw form.
// Accepted: CRLF or LF line ends, quoted fields with commas, "" and line breaks inside, spaces
// around a quoted field, a UTF-8 byte order mark at the start, a missing final line end.
// Problems: a quote inside an unquoted field, text after a closing quote, a quote never
// closed (reported on the line where it opened; nothing after it can be read), a field or a
// record over the limits, bytes that are not UTF-8 (on the line of the bad byte).
// Empty lines are skipped; a lone CR is not a line end (it stays in the field).
class reader {
 public:
  explicit reader(std::string_view text, const limits& = {});

  // Set when the text is refused as a whole (too large, or UTF-16); next() then returns false.
  const std::optional<problem>& refused() const { return refused_; }

  // The next record into `out` (cleared first). False at the end of the text, and after a
  // record whose problem leaves the rest unreadable (an unclosed quote, too many records).
  bool next(record& out);

 private:
  bool read_field(record& out);  // false at the record's end

  std::string_view text_;
  limits limits_;
  std::size_t pos_ = 0, line_ = 1, records_ = 0, column_ = 0;
  bool done_ = false;
  std::optional<problem> refused_;
};

// Where the contract's columns are in a file: the header names must be exactly the contract's
// (any order). position[i] is the 0-based index in the file of expected[i].
struct header_binding {
  std::vector<std::size_t> position;
  std::vector<std::string> names;  // the file's header names, in file order
};

// Binds a header record to the expected column names. Problems (all of them, in column order):
// an unknown column, a column named twice, an empty name, a missing column. A first row with
// none of the expected names is reported once, without echoing it: it is likely data, and
// data may be personal.
std::vector<problem> bind_header(const record& header, std::span<const std::string_view> expected,
                                 header_binding& out);

// The position of the first byte that is not valid UTF-8 (overlong forms, surrogates and code
// points above U+10FFFF included), or npos.
std::size_t invalid_utf8_at(std::string_view text);

}  // namespace md::routing::csv
