// Integration: the SMTP and LMTP listeners of `mediadesk serve` against a real client (Python
// smtplib, and raw sockets for LMTP and pipelining: tests/integration/smtp_client.py), with the
// exact reply codes, what lands in the Redis stream, Redis down (451), limits and shutdown.
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "intake/intake_record.hpp"
#include "support/test_env.hpp"

using namespace md;
using namespace md::test;
using namespace std::chrono_literals;

namespace {

const std::string client_script = std::string(MEDIADESK_SOURCE_DIR) + "/tests/integration/smtp_client.py";

// The last line of the client's output: {"step": [code, "text"], ...}.
boost::json::object parse_result(const std::string& output) {
  auto trimmed = output.substr(0, output.find_last_not_of("\n") + 1);
  auto last = trimmed.substr(trimmed.find_last_of('\n') == std::string::npos ? 0 : trimmed.find_last_of('\n') + 1);
  boost::system::error_code ec;
  auto value = boost::json::parse(last, ec);
  INFO(output);
  REQUIRE_FALSE(ec);
  REQUIRE(value.is_object());
  return value.as_object();
}

boost::json::object run_client(const std::string& scenario, const std::string& host, int port,
                               const std::string& arg = "") {
  // Every argument the tests pass is plain text without quotes; single quotes keep its spaces.
  auto command = fmt::format("python3 '{}' {} '{}' {} '{}' 2>&1", client_script, scenario, host, port, arg);
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe);
  std::string output;
  char chunk[4096];
  while (auto n = std::fread(chunk, 1, sizeof chunk, pipe)) output.append(chunk, n);
  int status = ::pclose(pipe);
  INFO(command << "\n" << output);
  REQUIRE(status == 0);
  return parse_result(output);
}

int code(const boost::json::object& r, const char* step) {
  INFO(step << ": " << boost::json::serialize(r));
  REQUIRE(r.contains(step));
  return static_cast<int>(r.at(step).as_array().at(0).to_number<std::int64_t>());
}

std::string text(const boost::json::object& r, const char* step) {
  REQUIRE(r.contains(step));
  return std::string(r.at(step).as_array().at(1).as_string());
}

// "2.0.0 Ok: queued as 01J..." -> the intake id; empty if the reply is not exactly that.
std::string queued_id(const boost::json::object& r, const char* step) {
  auto t = text(r, step);
  const std::string prefix = "2.0.0 Ok: queued as ";
  if (code(r, step) != 250 || !t.starts_with(prefix)) return {};
  return t.substr(prefix.size());
}

struct stream_entry {
  std::string source;
  std::string raw;  // the opened payload
};

// Every md:intake entry by intake id, payloads opened with the test's keys.
std::map<std::string, stream_entry> intake_stream(test_stack& stack) {
  std::map<std::string, stream_entry> out;
  auto reply = stack.redis().command({"XRANGE", "md:intake", "-", "+"});
  for (std::size_t i = 0; i < reply->elements; ++i) {
    auto* fields = reply->element[i]->element[1];
    std::map<std::string, std::string> f;
    for (std::size_t j = 0; j + 1 < fields->elements; j += 2)
      f[std::string(fields->element[j]->str, fields->element[j]->len)] =
          std::string(fields->element[j + 1]->str, fields->element[j + 1]->len);
    auto opened = stack.keys().open(f["p"], intake::payload_binding(f["id"]));
    out[f["id"]] = {f["src"], opened ? *opened : std::string("(cannot open)")};
  }
  return out;
}

std::map<std::string, std::string> smtp_env(int smtp_port, std::map<std::string, std::string> extra = {}) {
  extra["MEDIADESK_SMTP_PORT"] = std::to_string(smtp_port);
  extra["MEDIADESK_SMTP_DOMAINS"] = "desk.example";
  return extra;
}

}  // namespace

TEST_CASE("SMTP: a real client's session gets the exact replies, and the messages reach the stream sealed",
          "[smtp]") {
  test_stack stack("smtp_session");
  int smtp_port = server::free_loopback_port();
  int lmtp_port = server::free_loopback_port();
  auto socket_path = fmt::format("/tmp/mediadesk-test-lmtp-{}.sock", ::getpid());
  auto serve = stack.start("serve", smtp_env(smtp_port, {{"MEDIADESK_SMTP_LMTP_PORT", std::to_string(lmtp_port)},
                                                         {"MEDIADESK_SMTP_LMTP_SOCKET", socket_path},
                                                         {"MEDIADESK_SMTP_MAX_MESSAGE_BYTES", "65536"},
                                                         {"MEDIADESK_SMTP_HOSTNAME", "mx.desk.example"}}));
  REQUIRE(stack.wait_for_log(serve, fmt::format("serving SMTP on 127.0.0.1:{}", smtp_port)));
  REQUIRE(stack.wait_for_log(serve, fmt::format("serving LMTP on 127.0.0.1:{}", lmtp_port)));
  REQUIRE(stack.wait_for_log(serve, "serving LMTP on unix socket"));
  std::vector<std::string> ids;

  // One message, start to end.
  auto sent = run_client("send", "127.0.0.1", smtp_port);
  CHECK(code(sent, "ehlo") == 250);
  CHECK(code(sent, "mail") == 250);
  CHECK(text(sent, "mail") == "2.1.0 Ok");
  CHECK(code(sent, "rcpt") == 250);
  CHECK(text(sent, "rcpt") == "2.1.5 Ok");
  auto first_id = queued_id(sent, "data");
  CHECK(crypto::is_valid_intake_id(first_id));
  CHECK(code(sent, "quit") == 221);
  ids.push_back(first_id);

  // Every command of a long session.
  auto s = run_client("session", "127.0.0.1", smtp_port, "65536");
  auto features = text(s, "features");
  CHECK(features.find("\"size\": \"65536\"") != std::string::npos);
  CHECK(features.find("pipelining") != std::string::npos);
  CHECK(features.find("8bitmime") != std::string::npos);
  CHECK(features.find("enhancedstatuscodes") != std::string::npos);
  CHECK(features.find("starttls") == std::string::npos);
  CHECK(code(s, "noop") == 250);
  CHECK(code(s, "vrfy") == 252);
  CHECK(code(s, "expn") == 502);
  CHECK(code(s, "unknown") == 500);
  CHECK(text(s, "unknown").starts_with("5.5.2 "));
  CHECK(code(s, "starttls") == 502);
  CHECK(code(s, "rcpt_before_mail") == 503);
  CHECK(text(s, "rcpt_before_mail").starts_with("5.5.1 "));
  CHECK(code(s, "mail_size_too_big") == 552);
  CHECK(text(s, "mail_size_too_big").starts_with("5.3.4 "));
  CHECK(code(s, "mail_bad_syntax") == 501);
  CHECK(text(s, "mail_bad_syntax").starts_with("5.5.4 "));
  CHECK(code(s, "mail") == 250);
  CHECK(code(s, "rcpt_desk") == 250);
  CHECK(code(s, "rcpt_foreign") == 550);
  CHECK(text(s, "rcpt_foreign").starts_with("5.1.1 "));
  CHECK(code(s, "rcpt_suffix_trick") == 550);
  CHECK(text(s, "rcpt_suffix_trick").starts_with("5.1.1 "));
  CHECK(code(s, "rcpt_desk_2") == 250);
  auto multi_id = queued_id(s, "data");
  CHECK(crypto::is_valid_intake_id(multi_id));
  ids.push_back(multi_id);
  CHECK(code(s, "big_mail") == 250);
  CHECK(code(s, "big_data") == 552);
  CHECK(text(s, "big_data").starts_with("5.3.4 "));
  CHECK(code(s, "rset") == 250);
  CHECK(code(s, "after_mail") == 250);
  auto after_id = queued_id(s, "after_data");
  CHECK(crypto::is_valid_intake_id(after_id));  // the session survived the 552
  ids.push_back(after_id);
  CHECK(code(s, "quit") == 221);

  // LMTP over TCP and over the unix socket: one reply per accepted recipient.
  struct stat st {};
  REQUIRE(::stat(socket_path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0660);
  for (auto [host, port] : {std::pair<std::string, int>{"127.0.0.1", lmtp_port}, {"unix:" + socket_path, 0}}) {
    auto l = run_client("lmtp", host, port);
    CHECK(code(l, "greeting") == 220);
    CHECK(text(l, "greeting").find("LMTP") != std::string::npos);
    CHECK(code(l, "ehlo") == 500);
    CHECK(code(l, "lhlo") == 250);
    CHECK(code(l, "mail") == 250);
    CHECK(code(l, "rcpt_1") == 250);
    CHECK(code(l, "rcpt_foreign") == 550);
    CHECK(code(l, "rcpt_2") == 250);
    CHECK(code(l, "data") == 354);
    auto id1 = queued_id(l, "data_1");
    CHECK(crypto::is_valid_intake_id(id1));
    CHECK(queued_id(l, "data_2") == id1);  // one intake, answered for each recipient
    CHECK(code(l, "quit") == 221);
    ids.push_back(id1);
  }

  // Real pipelining, bare LF line ends, the end of data split across writes.
  auto p = run_client("pipelining", "127.0.0.1", smtp_port);
  CHECK(code(p, "mail") == 250);
  CHECK(code(p, "rcpt") == 250);
  CHECK(code(p, "rcpt_foreign") == 550);
  CHECK(code(p, "data") == 354);
  auto pipelined_id = queued_id(p, "data_end");
  CHECK(crypto::is_valid_intake_id(pipelined_id));
  CHECK(code(p, "quit") == 221);
  ids.push_back(pipelined_id);

  // What Redis holds: one sealed email intake per 250, with the trace headers on top.
  auto stream = intake_stream(stack);
  CHECK(stream.size() == ids.size());
  for (auto& id : ids) {
    INFO(id);
    REQUIRE(stream.contains(id));
    CHECK(stream[id].source == "email");
  }
  auto& multi = stream[multi_id].raw;
  CHECK(multi.starts_with("Return-Path: <sam@news.example>\r\nReceived: from client.example ([127.0.0.1]) by "
                          "mx.desk.example with ESMTP id " + multi_id + "; "));
  CHECK(multi.find("\r\nFirst line\r\n.leading dot\r\nLast line\r\n") != std::string::npos);
  auto& pipelined = stream[pipelined_id].raw;
  CHECK(pipelined.starts_with("Return-Path: <>\r\n"));
  CHECK(pipelined.ends_with("Subject: pipelined\r\n\r\nbare LF body\r\n.stuffed\r\n"));
  CHECK(stream[ids[3]].raw.find(" with LMTP id ") != std::string::npos);
  CHECK(stream[ids[4]].raw.find("Received: from mta.example (local) by mx.desk.example with LMTP") != std::string::npos);

  stack.kill(serve, SIGTERM);
  CHECK(stack.wait_exit(serve, 15s) == 0);
  CHECK(::access(socket_path.c_str(), F_OK) != 0);  // the socket file is removed on the way out
}

TEST_CASE("SMTP: idle clients time out with 421 4.4.2, big messages are taken whole, connections over the cap get 421 4.3.2",
          "[smtp]") {
  test_stack stack("smtp_limits");
  int smtp_port = server::free_loopback_port();
  auto serve = stack.start("serve", smtp_env(smtp_port, {{"MEDIADESK_SMTP_COMMAND_TIMEOUT_MS", "800"},
                                                         {"MEDIADESK_SMTP_MAX_CONNECTIONS", "3"}}));
  REQUIRE(stack.wait_for_log(serve, "serving SMTP"));
  auto idle = run_client("idle", "127.0.0.1", smtp_port);
  CHECK(code(idle, "timeout") == 421);
  CHECK(text(idle, "timeout").starts_with("4.4.2 "));
  auto waited = std::stoi(text(idle, "waited_ms"));
  CHECK(waited >= 700);
  CHECK(waited < 5000);

  // A big message (3 MB, under the default 25 MiB) is queued whole.
  auto big = queued_id(run_client("big", "127.0.0.1", smtp_port, "3000000"), "data");
  REQUIRE(crypto::is_valid_intake_id(big));
  auto stream = intake_stream(stack);
  REQUIRE(stream.contains(big));
  CHECK(stream[big].raw.size() > 3'000'000);
  CHECK(stream[big].raw.ends_with(std::string(98, 'y') + "\r\n"));

  auto crowd = run_client("crowd", "127.0.0.1", smtp_port, "3");
  for (const char* step : {"greeting_0", "greeting_1", "greeting_2"}) CHECK(code(crowd, step) == 220);
  CHECK(code(crowd, "over_cap") == 421);
  CHECK(text(crowd, "over_cap").starts_with("4.3.2 "));
}

TEST_CASE("SMTP: while Redis is down a message gets 451 4.3.0, and the retry after it is back is queued",
          "[smtp]") {
  test_stack stack("smtp_redis_down");
  int smtp_port = server::free_loopback_port();
  stack.start("serve", smtp_env(smtp_port));
  REQUIRE(crypto::is_valid_intake_id(queued_id(run_client("send", "127.0.0.1", smtp_port), "data")));

  auto port = stack.redis_server().port();
  stack.redis_server().stop();
  auto refused = run_client("send", "127.0.0.1", smtp_port, "While Redis is down");
  CHECK(code(refused, "data") == 451);
  CHECK(text(refused, "data").starts_with("4.3.0 "));
  CHECK(code(refused, "quit") == 221);  // the session went on after the 451

  stack.redis_server().start(port);
  std::string retried;
  REQUIRE(eventually(
      [&] {
        retried = queued_id(run_client("send", "127.0.0.1", smtp_port, "While Redis is down"), "data");
        return !retried.empty();
      },
      20s));
  auto stream = intake_stream(stack);
  CHECK(stream.size() == 2);  // the first message and the retry; nothing for the 451
  REQUIRE(stream.contains(retried));
  CHECK(stream[retried].raw.find("Subject: While Redis is down") != std::string::npos);
}

TEST_CASE("SMTP: on SIGTERM an idle session gets 421 4.3.2 and a message under way is finished first", "[smtp]") {
  test_stack stack("smtp_shutdown");
  int smtp_port = server::free_loopback_port();
  auto serve = stack.start("serve", smtp_env(smtp_port));
  auto log = stack.home() / "smtp-shutdown-client.log";
  server::child_process client({"python3", client_script, "shutdown", "127.0.0.1", std::to_string(smtp_port)},
                               log, std::nullopt, SIGKILL);
  auto log_text = [&] {
    std::ifstream in(log);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  REQUIRE(eventually([&] { return log_text().find("ready") != std::string::npos; }, 20s));
  stack.kill(serve, SIGTERM);
  CHECK(client.wait(20s) == 0);
  CHECK(stack.wait_exit(serve, 15s) == 0);
  auto r = parse_result(log_text());
  CHECK(code(r, "idle_after_stop") == 421);
  CHECK(text(r, "idle_after_stop").starts_with("4.3.2 "));
  auto id = queued_id(r, "busy_data_end");
  CHECK(crypto::is_valid_intake_id(id));
  CHECK(code(r, "busy_after") == 421);
  CHECK(intake_stream(stack).contains(id));
}

TEST_CASE("SMTP: with a worker, an email intake becomes a processed case", "[smtp]") {
  test_stack stack("smtp_worker");
  int smtp_port = server::free_loopback_port();
  stack.start("serve", smtp_env(smtp_port));
  stack.start("worker");
  auto id = queued_id(run_client("send", "127.0.0.1", smtp_port, "Refugee doctor in Birmingham for tonight"), "data");
  REQUIRE(crypto::is_valid_intake_id(id));
  auto admin = stack.admin();
  auto status = stack.wait_for_intake(admin, id);
  INFO(status);
  CHECK(json_string(status, "status") == "processed");
}
