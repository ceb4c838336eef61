// The promise every fault test ends on, checked one way for all of them (chaos, demo kill):
// every intake answered 2xx / 250 is processed and is exactly one case with one case_opened
// event; no duplicate case anywhere; nothing pending in the stream, nothing dead-lettered.
#pragma once
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "support/test_env.hpp"

namespace md::test {

// A PostgreSQL text[] literal of intake ids (base32 digits: nothing to escape, quoted anyway).
inline std::string text_array(const std::vector<std::string>& ids) {
  std::string out = "{";
  for (auto& id : ids) out += (out.size() > 1 ? ",\"" : "\"") + id + "\"";
  return out + "}";
}

inline std::int64_t count_with(store::pg_connection& db, const std::string& sql, const std::string& ids) {
  return db.exec(sql, {store::text(ids)}).get_int(0, 0);
}

// Waits up to `timeout` for the workers to process every acknowledged intake, then checks.
// A process killed between XADD and its answer may leave a case nobody was told about: allowed,
// but only one. Returns the seconds the processing took.
inline double check_each_acknowledged_is_one_case(store::pg_connection& db, queue::redis_connection& redis,
                                                  const std::vector<std::string>& acknowledged,
                                                  std::chrono::milliseconds timeout) {
  REQUIRE(!acknowledged.empty());
  auto n = static_cast<std::int64_t>(acknowledged.size());
  auto ids = text_array(acknowledged);
  std::int64_t processed = 0;
  auto started = std::chrono::steady_clock::now();
  eventually(
      [&] {
        processed = count_with(db, "SELECT count(*) FROM intakes WHERE status = 'processed' AND id = ANY($1::text[])", ids);
        return processed == n;
      },
      timeout);
  auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  INFO(n << " acknowledged");
  CHECK(processed == n);
  CHECK(count_with(db, "SELECT count(*) FROM intakes WHERE status = 'failed' AND id = ANY($1::text[])", ids) == 0);
  CHECK(count_with(db, "SELECT count(*) FROM cases WHERE intake_id = ANY($1::text[])", ids) == n);
  CHECK(count_with(db, "SELECT count(DISTINCT intake_id) FROM cases WHERE intake_id = ANY($1::text[])", ids) == n);
  CHECK(count_rows(db, "SELECT count(*) FROM cases") == count_rows(db, "SELECT count(DISTINCT intake_id) FROM cases"));
  CHECK(count_rows(db, "SELECT count(*) FROM case_events WHERE kind = 'case_opened'") ==
        count_rows(db, "SELECT count(*) FROM cases"));
  CHECK(eventually([&] { return redis.command({"XPENDING", "md:intake", "workers"})->element[0]->integer == 0; },
                   std::chrono::seconds(20)));
  CHECK(redis.command({"XLEN", "md:intake:dead"})->integer == 0);
  return took;
}

}  // namespace md::test
