// Unit tests for the registry import (issue 5): the CSV reader (quotes, line ends, BOM, UTF-8,
// limits, line tracking), the header binding, every column check with its exact line and
// column, the all-or-nothing rule, the error cap, the no-personal-data-in-errors rule, and the
// demo data in config/demo.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <fstream>
#include <map>
#include <sstream>

#include "config/taxonomy_files.hpp"
#include "routing/csv.hpp"
#include "routing/registry_import.hpp"

namespace {

using namespace md;
using namespace md::routing;
using namespace std::chrono;

const taxonomy& shared_taxonomy() {
  static auto t = taxonomy::parse(as_embedded(read_taxonomy_files({})));  // the built-in copies
  return *t;
}

std::string read_data(std::string_view name) {
  std::ifstream in(std::string(MEDIADESK_SOURCE_DIR) + "/config/demo/" + std::string(name), std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// --- The reader on its own. ---

std::vector<csv::record> read_all(std::string_view text, const csv::limits& limits = {}) {
  csv::reader reader(text, limits);
  std::vector<csv::record> out;
  csv::record r;
  while (reader.next(r)) out.push_back(r);
  return out;
}

std::vector<std::string> values(const csv::record& r) {
  std::vector<std::string> out;
  for (auto& f : r.fields) out.push_back(f.value);
  return out;
}

using strings = std::vector<std::string>;

// --- Registry files built from column -> value maps. ---

using row_values = std::map<std::string, std::string>;

std::string csv_field(const std::string& v) {
  if (v.find_first_of(",\"\r\n") == std::string::npos && (v.empty() || (v.front() != ' ' && v.back() != ' '))) return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

template <std::size_t N>
std::string file_of(const std::string_view (&columns)[N], const std::vector<row_values>& rows) {
  std::string out = fmt::format("{}\n", fmt::join(columns, ","));
  for (auto& row : rows) {
    for (std::size_t i = 0; i < N; ++i) {
      if (i) out += ',';
      auto it = row.find(std::string(columns[i]));
      if (it != row.end()) out += csv_field(it->second);
    }
    out += '\n';
  }
  return out;
}

row_values good_partner(std::string key = "refugee-aid") {
  return {{"key", key}, {"name", "Refugee Aid Example"}, {"contact_name", "Ada Fernhill"},
          {"contact_email", "ada@example.org"}, {"regions", "london;hackney"}, {"topics", "asylum_process;housing"}};
}

row_values good_spokesperson(std::string key = "sp-1") {
  return {{"key", key}, {"partner_key", ""}, {"alias", "Kestrel"}, {"full_name", "Samira Example"},
          {"email", "samira@example.org"}, {"phone", "+44 7700 900123"}, {"regions", "london"},
          {"topics", "asylum_process"}, {"languages", "ar;en"}, {"media", "tv;radio"}, {"identification", "named"},
          {"consent_granted", "2025-01-01"}, {"consent_expires", "2026-01-01"}, {"consent_withdrawn", ""},
          {"max_per_month", "4"}};
}

row_values with(row_values row, const row_values& changes) {
  for (auto& [k, v] : changes) row[k] = v;
  return row;
}

import_result<partner_import_row> partners(std::string_view text, const import_limits& limits = {}) {
  return parse_partners_csv(text, shared_taxonomy(), limits);
}
import_result<spokesperson_import_row> spokespeople(std::string_view text, const key_set* keys = nullptr,
                                                    const import_limits& limits = {}) {
  return parse_spokespeople_csv(text, shared_taxonomy(), keys, limits);
}

std::string describe(const std::vector<import_error>& errors) {
  std::string out;
  for (auto& e : errors) out += fmt::format("line {} column {} ({}): {}\n", e.line, e.column, e.column_name, e.message);
  return out;
}

template <typename Result>
void require_one_error(const Result& r, std::size_t line, std::size_t column, std::string_view name,
                       std::string_view message_part) {
  INFO(describe(r.errors));
  REQUIRE(r.errors.size() == 1);
  CHECK(r.rows.empty());
  CHECK(r.errors[0].line == line);
  CHECK(r.errors[0].column == column);
  CHECK(r.errors[0].column_name == name);
  CHECK_THAT(r.errors[0].message, Catch::Contains(std::string(message_part)));
}

sys_days date(int y, unsigned m, unsigned d) { return sys_days{year{y} / month{m} / day{d}}; }

}  // namespace

// ================================ The CSV reader ============================================

TEST_CASE("csv: quoted fields keep commas, doubled quotes and line breaks; lines are tracked", "[registry][csv]") {
  auto records = read_all("a,b,c\n\"x, y\",\"say \"\"hi\"\"\",\"two\nlines\"\nnext,row,here\n");
  REQUIRE(records.size() == 3);
  CHECK(values(records[0]) == strings{"a", "b", "c"});
  CHECK(values(records[1]) == strings{"x, y", "say \"hi\"", "two\nlines"});
  CHECK(records[1].line == 2);
  CHECK(records[1].fields[2].line == 2);
  CHECK(records[1].fields[2].quoted);
  CHECK(records[2].line == 4);  // the record after a two-line field starts on line 4
  for (auto& r : records) CHECK(r.problems.empty());
}

TEST_CASE("csv: CRLF and LF line ends, a BOM, a missing final line end", "[registry][csv]") {
  auto crlf = read_all("\xEF\xBB\xBF" "a,b\r\n1,2\r\n\"3\r\n3\",4");
  REQUIRE(crlf.size() == 3);
  CHECK(values(crlf[0]) == strings{"a", "b"});  // the BOM is not part of the first name
  CHECK(values(crlf[1]) == strings{"1", "2"});
  CHECK(values(crlf[2]) == strings{"3\r\n3", "4"});  // inside quotes the line end is content
  CHECK(crlf[2].line == 3);
  // A lone CR is not a line end: it stays in the field (and the registry refuses it there).
  auto cr = read_all("a,b\rc\n");
  REQUIRE(cr.size() == 1);
  CHECK(values(cr[0]) == strings{"a", "b\rc"});
}

TEST_CASE("csv: unquoted fields are trimmed, quoted ones are not; spaces around quotes are allowed", "[registry][csv]") {
  auto records = read_all("  a  ,\t b\t, \" c \" ,,\"\"\n");
  REQUIRE(records.size() == 1);
  CHECK(values(records[0]) == strings{"a", "b", " c ", "", ""});
  CHECK(records[0].problems.empty());
  auto trailing = read_all("a,b,\n");
  REQUIRE(trailing.size() == 1);
  CHECK(values(trailing[0]) == strings{"a", "b", ""});
}

TEST_CASE("csv: empty lines are skipped but counted; rows of bare commas are blank", "[registry][csv]") {
  auto records = read_all("\n\na\r\n\r\n\nb\n,,\n");
  REQUIRE(records.size() == 3);
  CHECK(records[0].line == 3);
  CHECK(records[1].line == 6);
  CHECK(records[2].line == 7);
  CHECK(records[2].blank());
  CHECK_FALSE(records[1].blank());
  CHECK(read_all("").empty());
  CHECK(read_all("\n\r\n").empty());
}

TEST_CASE("csv: an unclosed quote is reported on the line where it opened and ends the reading", "[registry][csv]") {
  auto records = read_all("a,b\n1,\"never\nclosed,\n3,4\n");
  REQUIRE(records.size() == 2);
  REQUIRE(records[1].problems.size() == 1);
  CHECK(records[1].problems[0].line == 2);
  CHECK(records[1].problems[0].column == 2);
  CHECK_THAT(records[1].problems[0].message, Catch::Contains("closing quote"));
}

TEST_CASE("csv: stray quotes are problems with their line and column", "[registry][csv]") {
  auto records = read_all("ok,it\"s\n\"x\"y,b\n\"x\"  ,b\n");
  REQUIRE(records.size() == 3);
  REQUIRE(records[0].problems.size() == 1);
  CHECK(records[0].problems[0] == csv::problem{1, 2, records[0].problems[0].message});
  CHECK_THAT(records[0].problems[0].message, Catch::Contains("inside an unquoted field"));
  REQUIRE(records[1].problems.size() == 1);
  CHECK(records[1].problems[0].line == 2);
  CHECK(records[1].problems[0].column == 1);
  CHECK_THAT(records[1].problems[0].message, Catch::Contains("after the closing quote"));
  CHECK(values(records[1])[1] == "b");  // the reader resynchronises at the next comma
  CHECK(records[2].problems.empty());   // spaces after a closing quote are fine
}

TEST_CASE("csv: bytes that are not UTF-8 are reported on the line of the bad byte", "[registry][csv]") {
  auto records = read_all("a,b\n1,\"ok\nstill ok\nbad \xFF here\"\n\xC3\xA9t\xC3\xA9,\xE2\x82\xAC\n");
  REQUIRE(records.size() == 3);
  REQUIRE(records[1].problems.size() == 1);
  CHECK(records[1].problems[0].line == 4);  // the field starts on 2; the bad byte is on 4
  CHECK(records[1].problems[0].column == 2);
  CHECK_THAT(records[1].problems[0].message, Catch::Contains("UTF-8"));
  CHECK(records[2].problems.empty());  // é and € are fine
  CHECK(records[2].line == 5);
}

TEST_CASE("csv: the UTF-8 check refuses overlong forms, surrogates and truncated sequences", "[registry][csv]") {
  CHECK(csv::invalid_utf8_at("plain ascii") == std::string_view::npos);
  CHECK(csv::invalid_utf8_at("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80") == std::string_view::npos);  // é € 😀
  CHECK(csv::invalid_utf8_at("ab\xC0\xAF") == 2);          // overlong '/'
  CHECK(csv::invalid_utf8_at("\xE0\x80\xAF") == 0);        // overlong, 3 bytes
  CHECK(csv::invalid_utf8_at("x\xED\xA0\x80") == 1);       // a UTF-16 surrogate
  CHECK(csv::invalid_utf8_at("\xF4\x90\x80\x80") == 0);    // above U+10FFFF
  CHECK(csv::invalid_utf8_at("ok\xE2\x82") == 2);          // cut short
  CHECK(csv::invalid_utf8_at("\x80") == 0);                // a continuation byte first
  CHECK(csv::invalid_utf8_at("\xC3\xA9\xC3(") == 2);
}

TEST_CASE("csv: limits on the file, a field, the columns and the records", "[registry][csv]") {
  csv::limits small{.max_file_bytes = 64, .max_field_bytes = 8, .max_columns = 3, .max_records = 3};
  csv::reader too_big(std::string(65, 'a'), small);
  REQUIRE(too_big.refused());
  CHECK(too_big.refused()->line == 0);
  CHECK_THAT(too_big.refused()->message, Catch::Contains("the limit is 64 bytes"));
  csv::record r;
  CHECK_FALSE(too_big.next(r));

  auto field = read_all("12345678,\"123456789\"\nb\n", small);
  REQUIRE(field.size() == 2);
  REQUIRE(field[0].problems.size() == 1);
  CHECK(field[0].problems[0].column == 2);
  CHECK_THAT(field[0].problems[0].message, Catch::Contains("longer than 8 bytes"));
  CHECK(field[1].line == 2);

  auto columns = read_all("a,b,c,d,\"e\n\",f\nnext\n", small);
  REQUIRE(columns.size() == 2);
  CHECK(columns[0].fields.size() == 3);  // the rest dropped, but read to the record's end
  REQUIRE(columns[0].problems.size() == 1);
  CHECK(columns[0].problems[0].column == 4);
  CHECK(columns[1].line == 3);

  auto records = read_all("1\n2\n3\n4\n5\n", small);
  REQUIRE(records.size() == 4);
  REQUIRE(records[3].problems.size() == 1);
  CHECK(records[3].line == 4);
  CHECK_THAT(records[3].problems[0].message, Catch::Contains("more than 3 rows"));

  csv::reader utf16("\xFF\xFEk\0e\0y\0", {});
  REQUIRE(utf16.refused());
  CHECK_THAT(utf16.refused()->message, Catch::Contains("UTF-16"));
}

TEST_CASE("csv: the header binds the expected columns in any order", "[registry][csv]") {
  constexpr std::string_view expected[] = {"key", "name", "email"};
  auto bind = [&](std::string_view text, csv::header_binding& b) { return csv::bind_header(read_all(text).at(0), expected, b); };
  csv::header_binding b;
  CHECK(bind("email,key,name\n", b).empty());
  CHECK(b.position == std::vector<std::size_t>{1, 2, 0});

  auto problems = bind("key,Name,key,,colour,size\n", b);
  REQUIRE(problems.size() == 7);
  CHECK(problems[0] == csv::problem{1, 2, "unknown column 'Name': column names are lower case ('name')"});
  CHECK(problems[1] == csv::problem{1, 3, "the column 'key' appears twice (also column 1)"});
  CHECK(problems[2] == csv::problem{1, 4, "column 4 has no name"});
  CHECK(problems[3] == csv::problem{1, 5, "unknown column 'colour'; the columns are key,name,email"});
  CHECK(problems[4] == csv::problem{1, 6, "unknown column 'size'"});  // the list of columns is given once
  CHECK(problems[5] == csv::problem{1, 0, "the column 'name' is missing"});
  CHECK(problems[6] == csv::problem{1, 0, "the column 'email' is missing"});

  // A first row that is data, not a header: said once, and its values are not repeated.
  auto data = bind("k1,Jane Doe,jane@example.org\n", b);
  REQUIRE(data.size() == 1);
  CHECK(data[0].column == 0);
  CHECK(data[0].message.find("Jane") == std::string::npos);
  // An unknown header name that looks like data is not repeated either.
  auto odd = bind("key,name,email,jane@example.org\n", b);
  REQUIRE(odd.size() == 1);
  CHECK(odd[0].message.find("jane") == std::string::npos);
}

// ================================ Partners ==================================================

TEST_CASE("partners: a good file gives complete rows", "[registry]") {
  auto text = std::string(
      "key,name,contact_name,contact_email,regions,topics\n"
      "refugee-aid,\"Bread, Books and Belonging\",Ada Fernhill,Ada.Fernhill@Example.ORG, London ; hackney;;LONDON ,housing\n"
      "\n"
      "quiet-harbour,Quiet Harbour,,hello@quiet.example.net,,\n");
  auto r = partners(text);
  INFO(describe(r.errors));
  REQUIRE(r.ok());
  REQUIRE(r.rows.size() == 2);
  auto& a = r.rows[0];
  CHECK(a.key == "refugee-aid");
  CHECK(a.name == "Bread, Books and Belonging");
  CHECK(a.contact_name == "Ada Fernhill");
  CHECK(a.contact_email == "ada.fernhill@example.org");                  // lower-cased
  CHECK(a.regions == std::vector<std::string>{"london", "hackney"});   // trimmed, lower-cased, deduplicated
  CHECK(a.topics == std::vector<std::string>{"housing"});
  CHECK(a.line == 2);
  auto& b = r.rows[1];
  CHECK(b.line == 4);
  CHECK(b.contact_name.empty());
  CHECK(b.regions.empty());
  CHECK(b.topics.empty());
}

TEST_CASE("partners: column order does not matter; errors name the column where it is", "[registry]") {
  auto normal = partners("key,name,contact_name,contact_email,regions,topics\n"
                         "a1,Alpha,Al,al@example.org,london,housing\n");
  auto shuffled = partners("topics,contact_email,regions,key,contact_name,name\n"
                           "housing,al@example.org,london,a1,Al,Alpha\n");
  REQUIRE(normal.ok());
  REQUIRE(shuffled.ok());
  CHECK(normal.rows == shuffled.rows);

  auto bad = partners("topics,contact_email,regions,key,contact_name,name\n"
                      "housing,al@example.org,atlantis,a1,Al,Alpha\n");
  require_one_error(bad, 2, 3, "regions", "unknown region 'atlantis'");
}

TEST_CASE("partners: every check with its line and column", "[registry]") {
  struct example {
    row_values change;
    std::size_t column;
    std::string name, message;
  };
  std::vector<example> examples = {
      {{{"key", ""}}, 1, "key", "required"},
      {{{"key", "has space"}}, 1, "key", "'has space' is not a valid key"},
      {{{"key", std::string(65, 'k')}}, 1, "key", "is not a valid key: use 1 to 64"},
      {{{"name", ""}}, 2, "name", "required"},
      {{{"name", std::string(201, 'n')}}, 2, "name", "longer than 200 bytes"},
      {{{"name", "Two\nlines"}}, 2, "name", "line break"},
      {{{"contact_name", "Tab\there"}}, 3, "contact_name", "control character"},
      {{{"contact_email", ""}}, 4, "contact_email", "required"},
      {{{"contact_email", "nobody.example.org"}}, 4, "contact_email", "there is no @"},
      {{{"contact_email", "a@b@example.org"}}, 4, "contact_email", "more than one @"},
      {{{"contact_email", "a b@example.org"}}, 4, "contact_email", "contains a space"},
      {{{"contact_email", "@example.org"}}, 4, "contact_email", "nothing before the @"},
      {{{"contact_email", "a@localhost"}}, 4, "contact_email", "has no dot"},
      {{{"contact_email", "a@example..org"}}, 4, "contact_email", "not a domain name"},
      {{{"contact_email", "a@-example.org"}}, 4, "contact_email", "not a domain name"},
      {{{"contact_email", "a>@example.org"}}, 4, "contact_email", "not allowed"},
      {{{"contact_email", "\xC3\xA9@example.org"}}, 4, "contact_email", "not allowed"},
      {{{"contact_email", std::string(65, 'a') + "@example.org"}}, 4, "contact_email", "more than 64 bytes before the @"},
      {{{"contact_email", "a@" + std::string(250, 'e') + ".org"}}, 4, "contact_email", "longer than 254 bytes"},
      {{{"regions", "london;narnia"}}, 5, "regions", "unknown region 'narnia'"},
      {{{"topics", "housing;weather"}}, 6, "topics", "unknown topic 'weather'"},
  };
  for (auto& e : examples) {
    auto text = file_of(partner_columns, {good_partner("first"), with(good_partner(), e.change)});
    INFO(text);
    require_one_error(partners(text), 3, e.column, e.name, e.message);
  }
}

TEST_CASE("partners: a duplicate key is an error on its second use, naming the first line", "[registry]") {
  auto text = file_of(partner_columns, {good_partner("a"), good_partner("b"), good_partner("a")});
  require_one_error(partners(text), 4, 1, "key", "duplicate key 'a' (first on line 2)");
  // Keys are case-sensitive identifiers: "A" is another key.
  CHECK(partners(file_of(partner_columns, {good_partner("a"), good_partner("A")})).ok());
}

TEST_CASE("partners: all or nothing, every error reported in file order", "[registry]") {
  auto text = file_of(partner_columns, {good_partner("a"), with(good_partner("b"), {{"regions", "mars"}, {"topics", "x;y"}}),
                                        good_partner("c"), with(good_partner("d"), {{"name", ""}})});
  auto r = partners(text);
  CHECK(r.rows.empty());
  REQUIRE(r.errors.size() == 4);
  CHECK(r.errors[0] == import_error{3, 5, "regions", r.errors[0].message});
  CHECK(r.errors[1] == import_error{3, 6, "topics", "unknown topic 'x' (ids are in config/taxonomy/topics.toml)"});
  CHECK(r.errors[2] == import_error{3, 6, "topics", "unknown topic 'y' (ids are in config/taxonomy/topics.toml)"});
  CHECK(r.errors[3] == import_error{5, 2, "name", "required"});
}

TEST_CASE("partners: errors are capped, with a final note of where reading stopped", "[registry]") {
  std::vector<row_values> rows;
  for (int i = 0; i < 150; ++i) rows.push_back(with(good_partner(fmt::format("p{}", i)), {{"regions", "nowhere"}}));
  auto r = partners(file_of(partner_columns, rows));
  CHECK(r.rows.empty());
  REQUIRE(r.errors.size() == 101);
  CHECK(r.errors[99].line == 101);
  CHECK(r.errors[100] == import_error{102, 0, "", "more than 100 errors: stopped reading at line 102"});

  import_limits few;
  few.max_errors = 3;
  CHECK(partners(file_of(partner_columns, rows), few).errors.size() == 4);
}

TEST_CASE("partners: a row with too many or too few fields is one error for the row", "[registry]") {
  auto more = partners("key,name,contact_name,contact_email,regions,topics\n"
                       "a,Smith, Jones and Partners,,a@example.org,,\n");
  require_one_error(more, 2, 7, "", "the row has 7 fields but the header has 6: a comma inside a field needs the field in quotes");
  auto fewer = partners("key,name,contact_name,contact_email,regions,topics\n"
                        "a,Name,,a@example.org\n");
  require_one_error(fewer, 2, 5, "regions", "the row has 4 fields but the header has 6");
}

TEST_CASE("partners: header problems and empty files", "[registry]") {
  require_one_error(partners(""), 0, 0, "", "the file is empty");
  require_one_error(partners("\xEF\xBB\xBF\n\n"), 0, 0, "", "the file is empty");
  auto header_only = partners("key,name,contact_name,contact_email,regions,topics\r\n");
  CHECK(header_only.ok());
  CHECK(header_only.rows.empty());

  auto r = partners("key,name,contact_email,regions,topics,website\n");
  INFO(describe(r.errors));
  REQUIRE(r.errors.size() == 2);
  CHECK(r.errors[0] == import_error{1, 6, "", "unknown column 'website'; the columns are key,name,contact_name,contact_email,regions,topics"});
  CHECK(r.errors[1] == import_error{1, 0, "", "the column 'contact_name' is missing"});

  auto twice = partners("key,name,contact_name,contact_email,regions,topics,name\n");
  require_one_error(twice, 1, 7, "name", "the column 'name' appears twice (also column 2)");

  // The other registry file given by mistake: said once.
  require_one_error(partners(file_of(spokesperson_columns, {good_spokesperson()})), 1, 0, "",
                    "this is a spokespeople file");
  require_one_error(spokespeople(file_of(partner_columns, {good_partner()})), 1, 0, "", "this is a partners file");

  // The header itself must be readable.
  require_one_error(partners("key,\"name\n"), 1, 2, "", "closing quote");
}

TEST_CASE("partners: CSV problems in a data row carry the column's name; blank rows are skipped", "[registry]") {
  auto r = partners("key,name,contact_name,contact_email,regions,topics\n"
                    ",,,,,\n"
                    "\n"
                    "a,Name,\"Ann\" Lee,a@example.org,,\n"
                    "b,\"Unclosed,,b@example.org,,\n");
  INFO(describe(r.errors));
  REQUIRE(r.errors.size() == 2);
  CHECK(r.errors[0].line == 4);
  CHECK(r.errors[0].column == 3);
  CHECK(r.errors[0].column_name == "contact_name");
  CHECK_THAT(r.errors[0].message, Catch::Contains("after the closing quote"));
  CHECK(r.errors[1].line == 5);
  CHECK(r.errors[1].column == 2);
  CHECK(r.errors[1].column_name == "name");
  CHECK_THAT(r.errors[1].message, Catch::Contains("closing quote (\") is missing"));
}

TEST_CASE("partners: line numbers follow physical lines across quoted line breaks and CRLF", "[registry]") {
  auto r = partners("\xEF\xBB\xBFkey,name,contact_name,contact_email,regions,topics\r\n"
                    "a,\"Name\",,a@example.org,\"london;\r\nhackney\",housing\r\n"
                    "b,Name B,,b@example.org,nowhere,\r\n");
  require_one_error(r, 4, 5, "regions", "unknown region 'nowhere'");
  // A list typed one item per line inside a cell.
  auto ok = partners("\xEF\xBB\xBFkey,name,contact_name,contact_email,regions,topics\r\n"
                     "a,\"Name\",,a@example.org,\"london;\r\nhackney\",housing\r\n");
  REQUIRE(ok.ok());
  CHECK(ok.rows[0].regions == std::vector<std::string>{"london", "hackney"});
}

TEST_CASE("partners: bytes that are not UTF-8 are an error at their line and column", "[registry]") {
  auto r = partners("key,name,contact_name,contact_email,regions,topics\n"
                    "a,Caf\xE9 Welcome,,a@example.org,,\n");
  require_one_error(r, 2, 2, "name", "not valid UTF-8");
}

TEST_CASE("partners: the file and field limits", "[registry]") {
  import_limits limits;
  limits.csv.max_file_bytes = 100;
  auto header = std::string("key,name,contact_name,contact_email,regions,topics\n");
  require_one_error(partners(header + std::string(60, '\n'), limits), 0, 0, "", "the limit is 100 bytes");
  limits = {};
  limits.csv.max_field_bytes = 14;  // the longest header name is 13
  require_one_error(partners(header + "a,A long name here,,a@example.org,,\n", limits), 2, 2, "name", "longer than 14 bytes");
  limits = {};
  limits.csv.max_records = 2;
  require_one_error(partners(header + "a,A,,a@example.org,,\nb,B,,b@example.org,,\n", limits), 3, 0, "", "more than 2 rows");
}

// ================================ Spokespeople ==============================================

TEST_CASE("spokespeople: a good row gives every value", "[registry]") {
  auto row = with(good_spokesperson(), {{"partner_key", "refugee-aid"}, {"email", "Samira@Example.org"},
                                         {"phone", "+44 (0)7700 900-123"}, {"languages", "AR; en;ar"},
                                         {"media", "podcast;TV"}, {"identification", "First_Name"},
                                         {"consent_withdrawn", "2025-06-30"}, {"max_per_month", "0"}});
  key_set partners_known{"refugee-aid"};
  auto r = spokespeople(file_of(spokesperson_columns, {row}), &partners_known);
  INFO(describe(r.errors));
  REQUIRE(r.ok());
  REQUIRE(r.rows.size() == 1);
  auto& s = r.rows[0];
  CHECK(s.key == "sp-1");
  CHECK(s.partner_key == "refugee-aid");
  CHECK(s.alias == "Kestrel");
  CHECK(s.full_name == "Samira Example");
  CHECK(s.email == "samira@example.org");
  CHECK(s.phone == "+447700900123");
  CHECK(s.regions == std::vector<std::string>{"london"});
  CHECK(s.topics == std::vector<std::string>{"asylum_process"});
  CHECK(s.languages == std::vector<std::string>{"ar", "en"});
  CHECK(s.media == std::vector<std::string>{"podcast", "tv"});
  CHECK(s.identification == "first_name");
  CHECK(s.consent_granted == date(2025, 1, 1));
  CHECK(s.consent_expires == date(2026, 1, 1));
  CHECK(s.consent_withdrawn == date(2025, 6, 30));
  CHECK(s.max_per_month == 0);
  CHECK(s.line == 2);
}

TEST_CASE("spokespeople: empty optional fields mean none", "[registry]") {
  auto row = good_spokesperson();
  for (auto column : {"partner_key", "full_name", "email", "phone", "regions", "topics", "languages", "media",
                      "identification", "consent_granted", "consent_expires", "consent_withdrawn", "max_per_month"})
    row[column] = "";
  auto r = spokespeople(file_of(spokesperson_columns, {row}));
  INFO(describe(r.errors));
  REQUIRE(r.ok());
  auto& s = r.rows[0];
  CHECK(s.partner_key.empty());  // the desk's own
  CHECK(s.full_name.empty());
  CHECK(s.phone.empty());
  CHECK(s.media.empty());
  CHECK_FALSE(s.consent_granted);
  CHECK_FALSE(s.max_per_month);
  // Identification without a consent is kept (a preference recorded ahead of the consent).
  CHECK(spokespeople(file_of(spokesperson_columns, {with(row, {{"identification", "anonymous"}})})).ok());
}

TEST_CASE("spokespeople: phone numbers are normalised simply", "[registry]") {
  auto phone_of = [](std::string phone) {
    auto r = spokespeople(file_of(spokesperson_columns, {with(good_spokesperson(), {{"phone", phone}})}));
    INFO(describe(r.errors));
    REQUIRE(r.ok());
    return r.rows[0].phone;
  };
  CHECK(phone_of("+44 7700 900123") == "+447700900123");
  CHECK(phone_of("+44 (0)7700 900123") == "+447700900123");
  CHECK(phone_of("07700 900123") == "07700900123");
  CHECK(phone_of("(020) 7946-0000") == "02079460000");
  CHECK(phone_of("+33 6 12 34 56 78") == "+33612345678");
  CHECK(phone_of("1234567") == "1234567");
  CHECK(phone_of(std::string(20, '9')) == std::string(20, '9'));
}

TEST_CASE("spokespeople: every check with its line and column", "[registry]") {
  struct example {
    row_values change;
    std::size_t column;
    std::string name, message;
  };
  std::vector<example> examples = {
      {{{"key", ""}}, 1, "key", "required"},
      {{{"key", "sp/1"}}, 1, "key", "'sp/1' is not a valid key"},
      {{{"partner_key", "no such!"}}, 2, "partner_key", "'no such!' is not a valid key"},
      {{{"alias", ""}}, 3, "alias", "required"},
      {{{"alias", std::string(101, 'a')}}, 3, "alias", "longer than 100 bytes"},
      {{{"full_name", "Line\r\nbreak"}}, 4, "full_name", "line break"},
      {{{"full_name", "C1 \xC2\x85 next line"}}, 4, "full_name", "control character"},
      {{{"full_name", std::string(201, 'f')}}, 4, "full_name", "longer than 200 bytes"},
      {{{"email", "not-an-address"}}, 5, "email", "there is no @"},
      {{{"email", "a@b.org, c@d.org"}}, 5, "email", "contains a space"},
      {{{"email", "a@b.org;c@d.org"}}, 5, "email", "more than one @"},
      {{{"phone", "call me"}}, 6, "phone", "use digits, spaces and + - ( ) only"},
      {{{"phone", "44+7700900123"}}, 6, "phone", "'+' may only come first"},
      {{{"phone", "123 456"}}, 6, "phone", "it has 6 digits; 7 to 20 are needed"},
      {{{"phone", std::string(21, '1')}}, 6, "phone", "it has 21 digits"},
      {{{"regions", "uk;oz"}}, 7, "regions", "unknown region 'oz'"},
      {{{"topics", "pets"}}, 8, "topics", "unknown topic 'pets'"},
      {{{"languages", "ar;klingon"}}, 9, "languages", "unknown language 'klingon' (ids are in config/taxonomy/languages.toml)"},
      {{{"media", "tv;cinema"}}, 10, "media", "unknown medium 'cinema': use tv, radio, print, online or podcast"},
      {{{"identification", "partial"}}, 11, "identification", "'partial' is not an identification level"},
      {{{"identification", ""}}, 11, "identification", "required with consent_granted"},
      {{{"media", " ; "}}, 10, "media", "required with consent_granted"},
      {{{"consent_granted", "01/02/2025"}}, 12, "consent_granted", "'01/02/2025' is not a date: use YYYY-MM-DD"},
      {{{"consent_granted", "2025-1-5"}}, 12, "consent_granted", "is not a date"},
      {{{"consent_expires", "2026-02-30"}}, 13, "consent_expires", "'2026-02-30' is not a real date"},
      {{{"consent_expires", "2026-13-01"}}, 13, "consent_expires", "not a real date"},
      {{{"consent_granted", "2024-02-29"}, {"consent_expires", "2025-02-29"}}, 13, "consent_expires", "not a real date"},
      {{{"consent_expires", "2206-01-01"}}, 13, "consent_expires", "outside 2000-01-01 to 2099-12-31"},
      {{{"consent_granted", "1999-12-31"}}, 12, "consent_granted", "outside"},
      {{{"consent_expires", "2025-01-01"}}, 13, "consent_expires", "consent_expires must be after consent_granted"},
      {{{"consent_expires", "2024-12-31"}}, 13, "consent_expires", "must be after consent_granted"},
      {{{"consent_withdrawn", "2024-12-31"}}, 14, "consent_withdrawn", "must not be before consent_granted"},
      {{{"consent_granted", ""}, {"consent_expires", "2026-01-01"}}, 13, "consent_expires", "needs consent_granted"},
      {{{"consent_granted", ""}, {"consent_expires", ""}, {"consent_withdrawn", "2026-01-01"}}, 14, "consent_withdrawn", "needs consent_granted"},
      {{{"max_per_month", "101"}}, 15, "max_per_month", "'101' is not a whole number from 0 to 100"},
      {{{"max_per_month", "-1"}}, 15, "max_per_month", "not a whole number"},
      {{{"max_per_month", "2.5"}}, 15, "max_per_month", "not a whole number"},
      {{{"max_per_month", "1000"}}, 15, "max_per_month", "not a whole number"},
  };
  for (auto& e : examples) {
    auto text = file_of(spokesperson_columns, {good_spokesperson("sp-0"), with(good_spokesperson(), e.change)});
    INFO(text);
    require_one_error(spokespeople(text), 3, e.column, e.name, e.message);
  }
}

TEST_CASE("spokespeople: boundaries that are allowed", "[registry]") {
  for (row_values change : std::vector<row_values>{
           {{"consent_withdrawn", "2025-01-01"}},                                  // withdrawn the day it was granted
           {{"consent_expires", "2025-01-02"}},                                    // one day later
           {{"consent_granted", "2024-02-29"}, {"consent_expires", "2028-02-29"}},  // leap days
           {{"consent_granted", "2030-06-01"}, {"consent_expires", "2031-06-01"}},  // not started yet
           {{"max_per_month", "100"}},
           {{"max_per_month", "0007"}},
           {{"key", std::string(64, 'k')}},
           {{"key", "A.b_c-9"}},
           {{"alias", std::string(100, 'a')}},
           {{"full_name", "Zoë Ní Bhriain"}},
       }) {
    auto r = spokespeople(file_of(spokesperson_columns, {with(good_spokesperson(), change)}));
    INFO(describe(r.errors));
    CHECK(r.ok());
  }
}

TEST_CASE("spokespeople: partner keys are checked against known partners only when given", "[registry]") {
  auto text = file_of(spokesperson_columns, {with(good_spokesperson("sp-1"), {{"partner_key", "refugee-aid"}}),
                                             with(good_spokesperson("sp-2"), {{"partner_key", "ghost-org"}}),
                                             good_spokesperson("sp-3")});
  CHECK(spokespeople(text).ok());
  key_set known{"refugee-aid"};
  require_one_error(spokespeople(text, &known), 3, 2, "partner_key", "no partner has the key 'ghost-org'");
  key_set none;
  CHECK(spokespeople(text, &none).errors.size() == 2);  // the desk's own (sp-3) needs no partner
}

TEST_CASE("spokespeople: several errors in one row are all reported, in column order", "[registry]") {
  // Cross-column checks (consent dates, identification) run last but are listed in place.
  auto row = with(good_spokesperson(), {{"alias", ""}, {"email", "x"}, {"identification", ""}, {"media", "film"},
                                        {"consent_expires", "2020-01-01"}, {"max_per_month", "x"}});
  auto r = spokespeople(file_of(spokesperson_columns, {row}));
  INFO(describe(r.errors));
  REQUIRE(r.errors.size() == 6);
  CHECK(r.errors[0].column == 3);
  CHECK(r.errors[1].column == 5);
  CHECK(r.errors[2].column == 10);
  CHECK(r.errors[3].column == 11);
  CHECK(r.errors[4].column == 13);
  CHECK(r.errors[5].column == 15);
  for (auto& e : r.errors) CHECK(e.line == 2);
}

TEST_CASE("registry: error messages never contain the values of personal columns", "[registry]") {
  // Each value is wrong in its own way and carries a marker that must appear in no message.
  const std::string marker = "Qzxv";
  std::vector<std::string> personal_values;
  auto add = [&](std::string v) {
    personal_values.push_back(v);
    return v;
  };
  std::vector<row_values> rows = {
      with(good_spokesperson("sp-1"), {{"full_name", add(marker + " Line\nBreak")}, {"email", add(marker + "@nodot")},
                                        {"phone", add(marker + " 7700")}}),
      with(good_spokesperson("sp-2"), {{"full_name", add(marker + std::string(300, 'x'))}, {"email", add(marker + "@a@b.org")},
                                        {"phone", add("+44 " + marker)}}),
      with(good_spokesperson("sp-3"), {{"email", add(marker + " spaced@example.org")}, {"phone", add("+44 7700 9001234567890123")},
                                        {"alias", add(marker + "\tAlias")}}),
      with(good_spokesperson("sp-4"), {{"email", add(marker + "<x>@example.org")}}),
      with(good_spokesperson("sp-5"), {{"email", add(std::string(300, 'q') + "@example.org")},
                                        {"full_name", add(marker + " \"quoted\" name")}}),
  };
  auto spoke = spokespeople(file_of(spokesperson_columns, rows));
  auto partner = partners(file_of(partner_columns, {with(good_partner("a"), {{"contact_name", add(marker + "\x01")},
                                                                                {"contact_email", add(marker + "@@x.org")}}),
                                                      with(good_partner("b"), {{"contact_email", add(marker + "@x")}})}));
  // A data row where the header should be: the reader does not repeat it.
  auto headerless = partners(marker + "-key,Jane " + marker + ",Ann " + marker + "," + marker + "@example.org,london,housing\n");
  auto headerless2 = spokespeople("sp-1,,Kestrel,Jane " + marker + ",x@example.org\n");
  // Invalid UTF-8 and a broken quote in personal columns.
  auto broken = partners("key,name,contact_name,contact_email,regions,topics\n"
                         "a,A,\"" + marker + "\" Smith,x@example.org,,\n"
                         "b,B,Ann " + marker + "\xFF,x@example.org,,\n"
                         "c,C,Ann " + marker + " Lee,\"" + marker + "@example.org\n");

  std::vector<const std::vector<import_error>*> all = {&spoke.errors, &partner.errors, &headerless.errors, &headerless2.errors, &broken.errors};
  std::size_t count = 0;
  for (auto* errors : all) {
    CHECK_FALSE(errors->empty());
    for (auto& e : *errors) {
      INFO(e.message);
      CHECK(e.message.find(marker) == std::string::npos);
      CHECK(e.column_name.find(marker) == std::string::npos);
      for (auto& v : personal_values) CHECK(e.message.find(v) == std::string::npos);
      ++count;
    }
  }
  CHECK(spoke.errors.size() == 11);  // every bad personal value was caught, one error each
  CHECK(partner.errors.size() == 3);
  CHECK(broken.errors.size() == 3);
  CHECK(count == 19);
}

// ================================ Single fields (the staff API) =============================

TEST_CASE("single fields are checked as their import columns are", "[registry]") {
  auto& t = shared_taxonomy();
  auto field = [&](std::string_view name, std::string_view value) { return check_registry_field(name, value, t); };
  CHECK(field("email", " Ada@Example.ORG ").value == "ada@example.org");
  CHECK(field("phone", "+44 (0)7700 900123").value == "+447700900123");
  CHECK(field("identification", "Anonymous").value == "anonymous");
  CHECK(field("key", "refugee-aid").value == "refugee-aid");
  CHECK(field("name", "Bread, Books and Belonging").value == "Bread, Books and Belonging");
  CHECK(field("story_notes", "Arrived 2019.\nSpeaks at schools.\tHappy to do radio.").problem == std::nullopt);
  for (auto name : {"key", "partner_key", "name", "alias", "contact_name", "full_name", "contact_email", "email", "phone",
                    "identification", "story_notes"}) {
    auto empty = field(name, "  ");
    CHECK(empty.value.empty());
    CHECK_FALSE(empty.problem);  // whether it may be empty is the caller's rule
  }
  CHECK(*field("key", "a b").problem == "'a b' is not a valid key: use 1 to 64 letters, digits, '_', '.' or '-'");
  CHECK(*field("email", "Qzxv@nodot").problem == "not an email address: the part after the @ has no dot");
  CHECK(*field("phone", "Qzxv").problem == "not a phone number: use digits, spaces and + - ( ) only");
  CHECK(*field("full_name", "Qzxv\nX").problem == "contains a line break or another control character");
  CHECK(*field("alias", std::string(101, 'a')).problem == "longer than 100 bytes");
  CHECK(*field("story_notes", "Qzxv\x07").problem == "contains a control character");
  CHECK(*field("story_notes", std::string(4001, 's')).problem == "longer than 4000 bytes");
  CHECK(*field("contact_name", "Qzxv\xFF").problem == "not valid UTF-8 text");
  CHECK(*field("identification", "partly").problem == "'partly' is not an identification level: use named, first_name or anonymous");
  CHECK_THROWS_AS(field("regions", "london"), std::invalid_argument);
  CHECK_THROWS_AS(field("shoe_size", "9"), std::invalid_argument);

  using ids = std::vector<std::string>;
  using list_result = std::variant<ids, std::string>;
  CHECK(check_registry_list("regions", {" London", "hackney", "", "LONDON"}, t) == list_result{ids{"london", "hackney"}});
  CHECK(check_registry_list("media", {"TV", "podcast"}, t) == list_result{ids{"tv", "podcast"}});
  CHECK(check_registry_list("languages", {}, t) == list_result{ids{}});
  CHECK(check_registry_list("topics", {"housing", "weather", "sport"}, t) ==
        list_result{std::string("unknown topic 'weather' (ids are in config/taxonomy/topics.toml)")});
  CHECK(check_registry_list("languages", {"ar", "xx"}, t) ==
        list_result{std::string("unknown language 'xx' (ids are in config/taxonomy/languages.toml)")});
  CHECK(check_registry_list("media", {"cinema"}, t) == list_result{std::string("unknown medium 'cinema': use tv, radio, print, online or podcast")});
  CHECK_THROWS_AS(check_registry_list("email", {"a@example.org"}, t), std::invalid_argument);
}

// ================================ Taxonomy and demo data ====================================

TEST_CASE("taxonomy: languages are found by id", "[registry]") {
  auto& t = shared_taxonomy();
  REQUIRE(t.find_language("ar"));
  CHECK(t.languages[*t.find_language("ar")].label == "Arabic");
  CHECK(t.find_language("prs"));
  CHECK_FALSE(t.find_language("Arabic"));
  CHECK_FALSE(t.find_language("xx"));

  // Spokespeople's languages are stored by id, so an id may name only one language.
  auto files = read_taxonomy_files({});
  for (auto& f : files)
    if (f.name == "languages.toml") f.content += "\n[[language]]\nid = \"ar\"\nlabel = \"Arabic again\"\n";
  CHECK_THROWS_WITH(taxonomy::parse(as_embedded(files)), Catch::Contains("language 'ar' is defined twice"));
}

TEST_CASE("demo data: the registry files in config/demo are valid and varied", "[registry]") {
  auto p = partners(read_data("partners.csv"));
  INFO(describe(p.errors));
  REQUIRE(p.ok());
  CHECK(p.rows.size() == 34);
  // Every region-level id has at least one partner.
  for (auto region : taxonomy::required_regions) {
    INFO(region);
    CHECK(std::any_of(p.rows.begin(), p.rows.end(), [&](auto& row) {
      return std::find(row.regions.begin(), row.regions.end(), region) != row.regions.end();
    }));
  }
  for (auto& row : p.rows) CHECK((row.contact_email.ends_with("example.org") || row.contact_email.ends_with("example.net")));

  auto keys = keys_of(p.rows);
  auto s = spokespeople(read_data("spokespeople.csv"), &keys);
  INFO(describe(s.errors));
  REQUIRE(s.ok());
  CHECK(s.rows.size() == 62);
  auto count = [&](auto&& predicate) { return std::count_if(s.rows.begin(), s.rows.end(), predicate); };
  auto demo_day = date(2026, 1, 14);
  CHECK(count([](auto& r) { return r.partner_key.empty(); }) == 4);  // the desk's own
  CHECK(count([](auto& r) { return r.consent_withdrawn.has_value(); }) == 5);
  CHECK(count([](auto& r) { return !r.consent_granted; }) == 2);
  CHECK(count([&](auto& r) { return r.consent_granted && *r.consent_granted > demo_day; }) == 5);  // not yet started
  CHECK(count([&](auto& r) { return r.consent_expires && *r.consent_expires < demo_day; }) == 6);  // expired
  CHECK(count([&](auto& r) { return r.consent_granted && !r.consent_expires; }) == 5);             // open-ended
  CHECK(count([](auto& r) { return r.identification == "anonymous"; }) == 18);
  CHECK(count([](auto& r) { return r.max_per_month == 0; }) == 1);  // paused
  CHECK(count([](auto& r) { return !r.max_per_month; }) >= 1);      // the desk's default cap
  for (auto& r : s.rows) {
    if (!r.phone.empty()) CHECK((r.phone.starts_with("+447700900") || r.phone.starts_with("07700900")));
    if (!r.email.empty()) CHECK((r.email.ends_with("@example.org") || r.email.ends_with("@example.net")));
  }
}
