// Triage benchmark: the median time of one triage over the labelled corpus (messages parsed
// beforehand, as the worker has them), and the time on 64 KiB, 256 KiB and 1 MiB inputs of several
// shapes to show it grows linearly. Prints a table for docs/PERFORMANCE.md. Not a test: run it
// by hand (build/bench/triage_bench) on a quiet machine.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <vector>

#include "config/taxonomy_files.hpp"
#include "server/triage_service.hpp"

namespace {

using namespace md;
using clock_used = std::chrono::steady_clock;

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Microseconds for one triage of text, the median of `runs`.
double time_triage(const routing::taxonomy& tax, const server::request_text& text, time_point reference, int runs) {
  std::vector<double> samples;
  for (int i = 0; i < runs; ++i) {
    auto start = clock_used::now();
    auto result = routing::triage(tax, text.input(), reference);
    auto stop = clock_used::now();
    if (result.priority_score < 0) std::cerr << "impossible";  // keeps the call from being optimised away
    samples.push_back(std::chrono::duration<double, std::micro>(stop - start).count());
  }
  return median(samples);
}

std::string repeat_to(std::string_view unit, std::size_t size) {
  std::string out;
  while (out.size() < size) out += unit;
  out.resize(size);
  return out;
}

}  // namespace

int main() {
  std::string source = MEDIADESK_SOURCE_DIR;
  auto files = read_taxonomy_files(source + "/config/taxonomy");
  auto tax = routing::taxonomy::parse(as_embedded(files));
  auto reference = *parse_iso8601("2026-03-10T09:00:00Z");

  std::vector<server::request_text> corpus;
  std::size_t bytes = 0;
  for (auto& entry : std::filesystem::directory_iterator(source + "/tests/data/triage")) {
    auto ext = entry.path().extension();
    if (ext != ".eml" && ext != ".txt") continue;
    auto raw = read_file(entry.path());
    bytes += raw.size();
    corpus.push_back(server::text_of_raw(raw).text);
  }
  std::vector<double> per_request;
  for (int round = 0; round < 20; ++round)
    for (auto& text : corpus) {
      auto start = clock_used::now();
      auto result = routing::triage(*tax, text.input(), reference);
      auto stop = clock_used::now();
      if (result.priority_score < 0) std::cerr << "impossible";
      per_request.push_back(std::chrono::duration<double, std::micro>(stop - start).count());
    }
  std::sort(per_request.begin(), per_request.end());
  std::cout << "corpus: " << corpus.size() << " requests, mean " << (corpus.empty() ? 0 : bytes / corpus.size())
            << " bytes; " << per_request.size() << " triages\n";
  std::cout << "  median " << per_request[per_request.size() / 2] << " us, p99 "
            << per_request[per_request.size() * 99 / 100] << " us, max " << per_request.back() << " us\n";

  // Linear time: each shape at 64, 256 and 1024 KiB; each step should cost about 4 times the one
  // before (small inputs are left out: they measure the fixed costs, not the growth).
  std::string prose;
  for (auto& text : corpus) prose += text.subject + "\n" + text.new_text + "\n";
  const std::pair<std::string, std::string> shapes[] = {
      {"corpus prose", prose},
      {"digits and separators", "12:34 5/6 7.8 9:00pm 10.30 1600 by 4 at 5 "},
      {"one long word", std::string(1000, 'a')},
      {"date and time words", "by tomorrow noon Friday 3rd December at 4pm before EOD close of play tonight "},
      {"place and outlet names", "Dover Kent Calais BBC Radio Kent The Guardian Lesbos Birmingham Mail Croydon "},
  };
  std::cout << "input shape | 64 KiB | 256 KiB | 1 MiB | 256/64 | 1024/256\n";
  for (auto& [name, unit] : shapes) {
    double t[3];
    std::size_t sizes[3] = {64 << 10, 256 << 10, 1024 << 10};
    for (int i = 0; i < 3; ++i) {
      server::request_text text;
      text.new_text = repeat_to(unit, sizes[i]);
      t[i] = time_triage(*tax, text, reference, 5);
    }
    std::cout << name << " | " << t[0] / 1000 << " ms | " << t[1] / 1000 << " ms | " << t[2] / 1000 << " ms | "
              << t[1] / t[0] << " | " << t[2] / t[1] << "\n";
  }
  return 0;
}
