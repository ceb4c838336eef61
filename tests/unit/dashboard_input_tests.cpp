// Unit tests for server/dashboard_input: the case list's query parameters and a note's text.
// No servers: the integration suite (dashboard_api) covers the same through HTTP.
#include <catch2/catch.hpp>

#include "server/dashboard_input.hpp"

using namespace md;
using namespace md::server;

namespace {

store::case_filter filter_of(const std::map<std::string, std::string>& params) {
  auto parsed = parse_case_filter(params, 42);
  REQUIRE(std::holds_alternative<store::case_filter>(parsed));
  return std::get<store::case_filter>(parsed);
}

std::string refused_field(const std::map<std::string, std::string>& params) {
  auto parsed = parse_case_filter(params, 42);
  REQUIRE(std::holds_alternative<field_error>(parsed));
  return std::get<field_error>(parsed).field;
}

}  // namespace

TEST_CASE("case list query: every filter read, empty values ignored") {
  auto none = filter_of({});
  CHECK_FALSE(none.status);
  CHECK_FALSE(none.open_only);
  CHECK(none.sort == store::case_filter::order::recent);
  CHECK(none.limit == 50);

  auto f = filter_of({{"open", "1"}, {"topic", "asylum_process"}, {"region", "south-east"}, {"medium", "podcast"},
                      {"assignee", "me"}, {"sort", "urgency"}, {"limit", "5000"}, {"unknown", "x"}});
  CHECK(f.open_only);
  CHECK(f.topic == "asylum_process");
  CHECK(f.region == "south-east");
  CHECK(f.medium == "podcast");
  CHECK(f.assignee_id == 42);
  CHECK_FALSE(f.unassigned);
  CHECK(f.sort == store::case_filter::order::urgency);
  CHECK(f.limit == 5000);

  CHECK(filter_of({{"assignee", "none"}}).unassigned);
  CHECK(filter_of({{"assignee", "7"}}).assignee_id == 7);
  CHECK_FALSE(filter_of({{"open", "0"}, {"status", "new"}}).open_only);
  CHECK(filter_of({{"status", ""}, {"topic", ""}, {"before", ""}, {"sort", "urgency"}}).sort ==
        store::case_filter::order::urgency);
  CHECK(filter_of({{"before", "MD-2026-000123"}}).before_ref == "MD-2026-000123");
  CHECK(filter_of({{"topic", std::string(64, 'a')}}).topic->size() == 64);
}

TEST_CASE("case list query: each bad parameter is refused, naming it") {
  CHECK(refused_field({{"open", "1"}, {"status", "new"}}) == "open");
  CHECK(refused_field({{"open", "true"}}) == "open");
  CHECK(refused_field({{"topic", "Asylum"}}) == "topic");
  CHECK(refused_field({{"topic", std::string(65, 'a')}}) == "topic");
  CHECK(refused_field({{"region", "kent'--"}}) == "region");
  CHECK(refused_field({{"medium", "TV"}}) == "medium");
  CHECK(refused_field({{"assignee", "0"}}) == "assignee");
  CHECK(refused_field({{"assignee", "-1"}}) == "assignee");
  CHECK(refused_field({{"assignee", "1234567890123456789"}}) == "assignee");
  CHECK(refused_field({{"sort", "oldest"}}) == "sort");
  CHECK(refused_field({{"sort", "urgency"}, {"before", "MD-2026-000123"}}) == "before");
  CHECK(refused_field({{"before", "123"}}) == "before");
  CHECK(refused_field({{"limit", "5001"}}) == "limit");
  CHECK(refused_field({{"status", "open"}}) == "status");
}

TEST_CASE("a note's text: trimmed, 1 to 5000 characters (not bytes)") {
  CHECK(std::get<std::string>(note_text("  \n a note\t\r\n")) == "a note");
  CHECK(std::get<field_error>(note_text(" \t\r\n ")).field == "text");
  CHECK(std::get<field_error>(note_text("")).field == "text");
  std::string two_byte;
  for (int i = 0; i < 5000; ++i) two_byte += "\xc3\xa9";
  CHECK(std::get<std::string>(note_text(two_byte)).size() == 10000);
  CHECK(std::get<field_error>(note_text(two_byte + "e")).field == "text");
  CHECK(std::get<std::string>(note_text(std::string(5000, 'x') + "   ")).size() == 5000);
}
