// Reports benchmark (issue 8): seeds N cases (default 100k over five years, a tenth proactive),
// about 1.4 offers per case, the fulfilment events and M coverage records (default 50k) with a
// fixed seed, all in SQL, then times store::read_report over one year and over five years (one
// period, and the endpoint's pair: the period and the one before it) and prints the plans of one
// run (auto_explain, read back from the server log). Not a test: run it by hand, e.g.
//   build/bench/report_bench                      a private PostgreSQL under a temporary folder
//   build/bench/report_bench --url postgresql://… an existing, EMPTY database (it migrates it)
//   build/bench/report_bench --cases 2000 --coverage 1000 --runs 1   (a smoke run)
//   build/bench/report_bench --keep               then try queries with psql; kill it to stop
// Results go to docs/PERFORMANCE.md.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "server/embedded_services.hpp"
#include "store/migrations.hpp"
#include "store/pg.hpp"
#include "store/report_store.hpp"

namespace {

using namespace md;
using namespace std::chrono;
namespace fs = std::filesystem;

// Everything in one statement per table, so seeding 100k cases takes seconds, not minutes.
// $1 = cases, $2 = coverage records. Ids are taken relative to the first row inserted.
constexpr const char* seed_sql[] = {
    "SELECT setseed(0.2026)",
    "INSERT INTO person_keys (wrapped) SELECT '\\x00'::bytea FROM generate_series(1, 850)",
    R"sql(INSERT INTO partners (key, name, contact_key_id)
SELECT 'bench-' || g, 'Partner organisation ' || g, k.first + g - 1
FROM generate_series(1, 350) g, (SELECT min(id) AS first FROM person_keys) k)sql",
    R"sql(INSERT INTO spokespeople (alias, person_key_id)
SELECT 'Voice ' || g, k.first + 349 + g FROM generate_series(1, 500) g, (SELECT min(id) AS first FROM person_keys) k)sql",
    R"sql(INSERT INTO cases (ref, source, status, priority, topics, regions, medium, received_at, corrected_fields,
                   request_sealed)
SELECT 'MD-BENCH-' || lpad(g::text, 7, '0'),
       CASE WHEN random() < 0.1 THEN 'staff' ELSE (ARRAY['webhook', 'email', 'form'])[1 + floor(random() * 3)::int] END,
       (ARRAY['new', 'triaged', 'offered', 'accepted', 'fulfilled', 'fulfilled', 'fulfilled', 'no_match', 'declined',
              'withdrawn'])[1 + floor(random() * 10)::int],
       1 + floor(random() * 4)::int,
       ARRAY[(ARRAY['asylum_process', 'channel_crossings', 'detention', 'deportation', 'eu_settlement', 'windrush',
                    'nrpf', 'health', 'housing', 'trafficking', 'employment', 'family_reunion', 'children',
                    'destitution', 'community_contribution', 'hate_crime', 'resettlement', 'covid'])[1 + floor(random() * 18)::int]],
       ARRAY[(ARRAY['north_east', 'north_west', 'yorkshire', 'east_midlands', 'west_midlands', 'east_of_england',
                    'london', 'south_east', 'south_west', 'wales', 'scotland', 'northern_ireland', 'kent', 'calais',
                    'greece'])[1 + floor(random() * 15)::int]],
       (ARRAY['tv', 'radio', 'print', 'online', 'podcast'])[1 + floor(random() * 5)::int],
       timestamptz '2021-01-01 00:00:00+00' + random() * interval '1826 days',
       CASE WHEN random() < 0.15 THEN ARRAY['topics'] WHEN random() < 0.1 THEN ARRAY['region', 'priority']
            ELSE '{}'::text[] END,
       '\x00'::bytea
FROM generate_series(1, $1::int) g)sql",
    R"sql(INSERT INTO offers (case_id, partner_id, state, token_hash, created_by, created_at, expires_at, responded_at)
SELECT o.case_id, o.partner_id, o.state, convert_to('bench-' || o.case_id || '-' || o.k, 'UTF8'), 'user:1', o.at,
       o.at + interval '1 day',
       CASE WHEN o.state = 'sent' THEN NULL ELSE o.at + random() * interval '20 hours' END
FROM (SELECT c.id AS case_id, p.first + floor(random() * 350)::int AS partner_id, k,
             c.received_at + k * random() * interval '3 hours' AS at,
             (ARRAY['sent', 'accepted', 'accepted', 'declined', 'expired', 'withdrawn'])[1 + floor(random() * 6)::int] AS state
      FROM cases c CROSS JOIN LATERAL generate_series(1, 1 + (c.id % 3)::int) k,
           (SELECT min(id) AS first FROM partners) p
      WHERE c.status NOT IN ('new', 'triaged') OR c.id % 5 = 0) o)sql",
    R"sql(INSERT INTO case_events (case_id, actor, kind, data, at)
SELECT id, 'system:worker', 'created', '{}'::jsonb, received_at FROM cases
UNION ALL
SELECT id, 'user:1', 'status_changed', '{"from":"accepted","to":"fulfilled"}',
       received_at + random() * interval '3 days' FROM cases WHERE status = 'fulfilled')sql",
    R"sql(INSERT INTO coverage (case_id, outlet_name, outlet_scope, medium, appeared_on, lived_experience_quoted,
                      spokesperson_id, first_time, tone, recorded_by)
SELECT v.case_id, v.outlet, v.scope, v.medium, v.appeared_on, random() < 0.4, v.spokesperson_id,
       v.spokesperson_id IS NOT NULL AND random() < 0.3, v.tone, 'user:1'
FROM (SELECT c.id AS case_id, (c.received_at + random() * interval '10 days')::date AS appeared_on,
             'Outlet ' || floor(random() * 400)::int AS outlet,
             (ARRAY['national', 'local', 'local', 'international'])[1 + floor(random() * 4)::int] AS scope,
             (ARRAY['tv', 'radio', 'print', 'online', 'podcast'])[1 + floor(random() * 5)::int] AS medium,
             (ARRAY['positive', 'balanced', 'negative'])[1 + floor(random() * 3)::int] AS tone,
             CASE WHEN random() < 0.5 THEN s.first + floor(random() * 500)::int END AS spokesperson_id
      FROM generate_series(1, $2::int) g
      JOIN cases c ON c.id = (SELECT min(id) FROM cases) + (g::bigint * 7919) % $1::int,
      (SELECT min(id) AS first FROM spokespeople) s) v)sql",
    // What the write path keeps on each case (store/offer_store, store/case_store).
    R"sql(UPDATE cases c SET first_offer_at = o.at
FROM (SELECT case_id, min(created_at) AS at FROM offers GROUP BY case_id) o WHERE o.case_id = c.id)sql",
    R"sql(UPDATE cases c SET fulfilled_at = e.at
FROM (SELECT case_id, min(at) AS at FROM case_events
      WHERE kind = 'status_changed' AND data ->> 'to' = 'fulfilled' GROUP BY case_id) e WHERE e.case_id = c.id)sql",
    "ANALYZE",
};

struct timing {
  double min_ms, median_ms, max_ms;
};

template <class Fn>
timing time_runs(int runs, Fn&& fn) {
  fn();  // warm the caches once
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    auto t0 = steady_clock::now();
    fn();
    ms.push_back(duration<double, std::milli>(steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return {ms.front(), ms[ms.size() / 2], ms.back()};
}

// The plan lines worth reading: each statement's duration and every plan node with its actual
// time, first lines of each plan only.
void print_plan_highlights(const fs::path& log, std::streamoff from) {
  std::ifstream in(log);
  in.seekg(from);
  std::string line;
  int nodes = 0;
  while (std::getline(in, line)) {
    if (line.find("duration:") != std::string::npos) {
      std::cout << "  " << line.substr(line.find("duration:")) << "\n";
      nodes = 0;
    } else if (line.find("actual time") != std::string::npos && ++nodes <= 14) {
      std::cout << "    " << line << "\n";
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string url;
  int cases = 100'000, coverage = 50'000, runs = 5;
  bool keep = false;
  for (int i = 1; i < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--keep") {
      keep = true;
      --i;
    } else if (i + 1 >= argc) {
      std::cerr << "usage: report_bench [--url URL] [--cases N] [--coverage M] [--runs R] [--keep]\n";
      return 64;
    } else if (a == "--url") url = argv[i + 1];
    else if (a == "--cases") cases = std::stoi(argv[i + 1]);
    else if (a == "--coverage") coverage = std::stoi(argv[i + 1]);
    else if (a == "--runs") runs = std::max(1, std::stoi(argv[i + 1]));
    else {
      std::cerr << "usage: report_bench [--url URL] [--cases N] [--coverage M] [--runs R] [--keep]\n";
      return 64;
    }
  }
  std::unique_ptr<server::embedded_postgres> pg;
  fs::path dir;
  if (url.empty()) {
    dir = fs::temp_directory_path() / fmt::format("mediadesk-report-bench-{}", ::getpid());
    pg = std::make_unique<server::embedded_postgres>(dir);
    pg->start();
    url = pg->url();
  }
  store::pg_connection c({url, seconds(10), milliseconds(600'000)});
  store::migrate(c);
  auto t0 = steady_clock::now();
  const store::pg_param sizes[] = {store::number(cases), store::number(coverage)};
  for (std::string_view sql : seed_sql) {
    std::size_t used = sql.find("$2") != sql.npos ? 2 : sql.find("$1") != sql.npos ? 1 : 0;
    c.exec(sql, std::span<const store::pg_param>{sizes, used});
  }
  auto count = [&](const char* table) {
    return c.exec(fmt::format("SELECT count(*) FROM {}", table)).get_int(0, 0);
  };
  fmt::print("seeded in {:.1f} s: {} cases, {} offers, {} case events, {} coverage records\n",
             duration<double>(steady_clock::now() - t0).count(), count("cases"), count("offers"),
             count("case_events"), count("coverage"));

  struct range {
    const char* name;
    year_month_day first, last, previous_first, previous_last;
  };
  const range ranges[] = {
      {"1 year (2025)", 2025y / January / 1, 2025y / December / 31, 2024y / January / 1, 2024y / December / 31},
      {"5 years (2021-2025)", 2021y / January / 1, 2025y / December / 31, 2016y / January / 2, 2020y / December / 31},
  };
  c.exec("SET statement_timeout = 5000");  // as serve runs it (database.statement_timeout_ms)
  for (auto& r : ranges) {
    auto one = time_runs(runs, [&] { store::read_report(c, r.first, r.last); });
    auto pair = time_runs(runs, [&] {
      store::read_report(c, r.first, r.last);
      store::read_report(c, r.previous_first, r.previous_last);
    });
    auto f = store::read_report(c, r.first, r.last);
    fmt::print("{:<20} one period: min {:.1f} / median {:.1f} / max {:.1f} ms;  with the previous period "
               "(the endpoint): median {:.1f} ms  [received {}, coverage {}, offers {}]\n",
               r.name, one.min_ms, one.median_ms, one.max_ms, pair.median_ms, f.requests.received, f.coverage.total,
               f.partners.offers);
  }
  if (pg) {
    auto log = dir / "postgres.log";
    auto from = static_cast<std::streamoff>(fs::file_size(log));
    c.exec("LOAD 'auto_explain'");
    c.exec("SET auto_explain.log_min_duration = 0");
    c.exec("SET auto_explain.log_analyze = on");
    c.exec("SET auto_explain.log_timing = on");
    store::read_report(c, ranges[1].first, ranges[1].last);
    std::this_thread::sleep_for(milliseconds(300));  // the server writes its log asynchronously
    fmt::print("\nplans of one 5-year run (EXPLAIN ANALYZE, from {}):\n", log.string());
    std::cout.flush();
    print_plan_highlights(log, from);
    if (keep) {  // for trying queries by hand (psql); the server stops when this process does
      fmt::print("\nkept running: psql '{}'  (stop: kill {})\n", url, ::getpid());
      std::cout.flush();
      ::pause();
    }
    pg->stop();
    fs::remove_all(dir);
  }
  return 0;
}
