// SMTP load generator (a benchmark, not a test): N concurrent connections each send M messages
// of about B bytes with a plain dialogue (EHLO once; MAIL, RCPT, DATA, wait for 354, message,
// wait for 250; no pipelining), then QUIT. Prints messages/s and end-to-end latency percentiles
// (MAIL sent to the final 250 read). It only counts replies; it never checks what was stored.
// Usage: smtp_load HOST PORT [connections=64] [messages_per_connection=200] [message_bytes=8192]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>

#include "server/net.hpp"

namespace {

using namespace md::server;  // asio, tcp, awaitable, use_nothrow
using steady = std::chrono::steady_clock;

struct client_result {
  std::vector<double> latencies_ms;
  int failures = 0;
  std::string first_error;
};

// Reads one whole reply (the last line of a multi-line one) and returns its code, 0 on EOF.
awaitable<int> read_reply(tcp::socket& socket, std::string& buffer) {
  char chunk[4096];
  for (;;) {
    auto end = buffer.find("\r\n");
    while (end == std::string::npos) {
      auto into = asio::buffer(chunk);
      auto [ec, n] = co_await socket.async_read_some(into, use_nothrow);
      if (ec) co_return 0;
      buffer.append(chunk, n);
      end = buffer.find("\r\n");
    }
    std::string line = buffer.substr(0, end);
    buffer.erase(0, end + 2);
    if (line.size() >= 4 && line[3] == '-') continue;
    co_return line.size() >= 3 ? std::atoi(line.substr(0, 3).c_str()) : 0;
  }
}

awaitable<bool> send(tcp::socket& socket, const std::string& text) {
  auto out = asio::buffer(text);
  auto [ec, n] = co_await asio::async_write(socket, out, use_nothrow);
  co_return !ec;
}

awaitable<void> run_client(const tcp::endpoint& endpoint, int messages, const std::string& message,
                           client_result& result) {
  tcp::socket socket(co_await asio::this_coro::executor);
  auto [connect_ec] = co_await socket.async_connect(endpoint, use_nothrow);
  auto fail = [&result](const std::string& what) {
    ++result.failures;
    if (result.first_error.empty()) result.first_error = what;
  };
  if (connect_ec) {
    fail("connect: " + connect_ec.message());
    co_return;
  }
  socket.set_option(tcp::no_delay(true));
  std::string buffer;
  if (co_await read_reply(socket, buffer) != 220) co_return fail("no greeting");
  const std::string ehlo = "EHLO bench.example\r\n", mail = "MAIL FROM:<bench@news.example>\r\n",
                    rcpt = "RCPT TO:<requests@desk.example>\r\n", data = "DATA\r\n", quit = "QUIT\r\n";
  co_await send(socket, ehlo);
  if (co_await read_reply(socket, buffer) != 250) co_return fail("EHLO refused");
  for (int i = 0; i < messages; ++i) {
    auto started = steady::now();
    co_await send(socket, mail);
    int code = co_await read_reply(socket, buffer);
    if (code != 250) co_return fail("MAIL: " + std::to_string(code));
    co_await send(socket, rcpt);
    code = co_await read_reply(socket, buffer);
    if (code != 250) co_return fail("RCPT: " + std::to_string(code));
    co_await send(socket, data);
    code = co_await read_reply(socket, buffer);
    if (code != 354) co_return fail("DATA: " + std::to_string(code));
    co_await send(socket, message);
    code = co_await read_reply(socket, buffer);
    if (code != 250) {
      fail("end of data: " + std::to_string(code));
      continue;  // a 451 leaves the session usable
    }
    result.latencies_ms.push_back(std::chrono::duration<double, std::milli>(steady::now() - started).count());
  }
  co_await send(socket, quit);
  co_await read_reply(socket, buffer);
}

// About `bytes` of a plausible message: headers, then 76-character lines, ending in ".\r\n".
std::string make_message(std::size_t bytes) {
  std::string m =
      "From: Bench Journalist <bench@news.example>\r\nTo: requests@desk.example\r\n"
      "Subject: Looking for a spokesperson\r\nMessage-ID: <bench@news.example>\r\n\r\n";
  const std::string filler =
      "We are looking for someone with lived experience of the asylum system to speak on the record. ";
  std::size_t at = 0;
  while (m.size() + 80 < bytes) {
    std::string line;
    while (line.size() < 76) line += filler[at++ % filler.size()];
    if (line[0] == '.') line[0] = ',';
    m += line + "\r\n";
  }
  return m + ".\r\n";
}

double percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  auto i = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1));
  return sorted[i];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: smtp_load HOST PORT [connections] [messages_per_connection] [message_bytes]\n");
    return 64;
  }
  auto address = asio::ip::make_address(argv[1]);
  tcp::endpoint endpoint{address, static_cast<unsigned short>(std::atoi(argv[2]))};
  int connections = argc > 3 ? std::atoi(argv[3]) : 64;
  int messages = argc > 4 ? std::atoi(argv[4]) : 200;
  auto message = make_message(argc > 5 ? static_cast<std::size_t>(std::atoi(argv[5])) : 8192);

  asio::io_context io;
  std::vector<client_result> results(static_cast<std::size_t>(connections));
  auto started = steady::now();
  for (auto& r : results)
    asio::co_spawn(io, run_client(endpoint, messages, message, r), [&r](std::exception_ptr e) {
      if (e) ++r.failures;
    });
  io.run();
  double seconds = std::chrono::duration<double>(steady::now() - started).count();

  std::vector<double> all;
  int failures = 0;
  std::string first_error;
  for (auto& r : results) {
    all.insert(all.end(), r.latencies_ms.begin(), r.latencies_ms.end());
    failures += r.failures;
    if (first_error.empty()) first_error = r.first_error;
  }
  std::sort(all.begin(), all.end());
  std::printf("smtp: %d connections x %d messages of %zu bytes: %zu accepted in %.2f s\n", connections, messages,
              message.size() - 3, all.size(), seconds);
  std::printf("smtp %16.0f msg/s   p50 %.2fms  p90 %.2fms  p99 %.2fms  max %.2fms   failures %d%s%s\n",
              static_cast<double>(all.size()) / seconds, percentile(all, 0.5), percentile(all, 0.9),
              percentile(all, 0.99), all.empty() ? 0.0 : all.back(), failures, first_error.empty() ? "" : " first: ",
              first_error.c_str());
  return failures == 0 ? 0 : 1;
}
