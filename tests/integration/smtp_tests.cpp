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
namespace fs = std::filesystem;

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
  auto [status, output] = run_command(command);
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

TEST_CASE("SMTP: a client or sender over its hourly limit gets 450 4.7.1 and nothing is queued", "[smtp]") {
  test_stack stack("smtp_limits");
  int ip_port = server::free_loopback_port();
  stack.start("serve", smtp_env(ip_port, {{"MEDIADESK_SMTP_MESSAGES_PER_IP_PER_HOUR", "2"}}));
  for (int i = 0; i < 2; ++i)
    REQUIRE(crypto::is_valid_intake_id(queued_id(run_client("send", "127.0.0.1", ip_port), "data")));
  auto over = run_client("send", "127.0.0.1", ip_port, "One too many");
  CHECK(code(over, "data") == 450);
  CHECK(text(over, "data").starts_with("4.7.1 "));
  CHECK(code(over, "quit") == 221);  // a temporary refusal: the session goes on
  CHECK(intake_stream(stack).size() == 2);

  // Per sender (here the only limit): counted under the sender's blind index, never its address.
  int sender_port = server::free_loopback_port();
  stack.start("serve", smtp_env(sender_port, {{"MEDIADESK_HTTP_PORT", std::to_string(server::free_loopback_port())},
                                              {"MEDIADESK_SMTP_MESSAGES_PER_SENDER_PER_HOUR", "1"}}));
  stack.redis().command({"FLUSHDB"});
  REQUIRE(crypto::is_valid_intake_id(queued_id(run_client("send", "127.0.0.1", sender_port), "data")));
  CHECK(code(run_client("send", "127.0.0.1", sender_port), "data") == 450);
  CHECK(intake_stream(stack).size() == 1);
  auto keys = stack.redis().command({"KEYS", "*smtp-sender*"});
  REQUIRE(keys->elements == 1);
  CHECK(std::string(keys->element[0]->str).find("@") == std::string::npos);
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

namespace {

// A private Postfix instance in front of the desk, set up as docs/OPERATIONS.md says: the desk's
// domain in relay_domains, routed by transport_maps to LMTP or to the mailgate pipe. Its master
// runs as root (it binds, then drops to the `postfix` user), so this needs root, as CI has.
// Retries are made fast (1 s) so that a deferred message is seen delivered within the test.
class postfix_instance {
 public:
  postfix_instance(const fs::path& dir, int smtp_port, const std::string& mailgate_command) : dir_(dir) {
    fs::create_directories(dir_ / "etc");
    fs::create_directories(dir_ / "spool");
    fs::create_directories(dir_ / "data");
    std::ofstream(dir_ / "etc/main.cf") << fmt::format(R"(compatibility_level = 3.6
queue_directory = {0}/spool
data_directory = {0}/data
mail_owner = postfix
setgid_group = postdrop
maillog_file_prefixes = {0}
maillog_file = {0}/postfix.log
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.test.example
mydestination =
mynetworks = 127.0.0.0/8
relay_domains = desk.example
transport_maps = hash:{0}/etc/transport
smtputf8_enable = no
alias_maps =
alias_database =
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 1s
)",
                                                       dir_.string());
    // No chroot: the daemons reach loopback and the mailgate wrapper directly.
    std::ofstream(dir_ / "etc/master.cf") << fmt::format(R"(127.0.0.1:{} inet n - n - - smtpd
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
smtp unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
lmtp unix - - n - - lmtp
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
mediadesk unix - n n - 10 pipe
  flags=Rq user=nobody argv={} --sender ${{sender}}
)",
                                                         smtp_port, mailgate_command);
    fs::permissions(dir_ / "data", fs::perms::owner_all);
    REQUIRE(run_command(fmt::format("chown postfix '{}/data'", dir_.string())).status == 0);
  }
  ~postfix_instance() {
    if (started_) run_command(fmt::format("postfix -c '{}/etc' stop >/dev/null 2>&1", dir_.string()));
  }

  // Routes desk.example: "lmtp:inet:127.0.0.1:PORT" or "mediadesk:" (the pipe).
  void route(const std::string& transport) {
    std::ofstream(dir_ / "etc/transport", std::ios::trunc) << "desk.example " << transport << "\n";
    auto etc = (dir_ / "etc").string();
    REQUIRE(run_command(fmt::format("postmap -c '{0}' '{0}/transport' 2>&1", etc)).status == 0);
    auto verb = started_ ? "reload" : "start";
    auto r = run_command(fmt::format("postfix -c '{}' {} 2>&1", etc, verb));
    INFO(r.out << log());
    REQUIRE(r.status == 0);
    started_ = true;
  }

  // `postqueue -f`: retry deferred mail now. Postfix retries by itself every second here, but on a
  // loaded machine it can hold a destination it saw fail for longer than the test waits.
  void flush() const { run_command(fmt::format("postqueue -c '{}/etc' -f 2>&1", dir_.string())); }

  // `postqueue -j`: one JSON line per queued message (empty when the queue is empty).
  std::string queue() const { return run_command(fmt::format("postqueue -c '{}/etc' -j", dir_.string())).out; }
  std::string log() const {
    std::ifstream in(dir_ / "postfix.log");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  fs::path dir_;
  bool started_ = false;
};

// How many messages in the stream carry this subject.
int count_subject(test_stack& stack, const std::string& subject) {
  int n = 0;
  for (auto& [id, entry] : intake_stream(stack))
    if (entry.raw.find("Subject: " + subject + "\r\n") != std::string::npos) ++n;
  return n;
}

}  // namespace

TEST_CASE("Postfix in front: delivery over LMTP and through the mailgate pipe, and a 451 or exit 75 keeps "
          "the message in Postfix's queue until it is delivered, once",
          "[smtp][postfix]") {
  if (::geteuid() != 0) {
    WARN("skipped: a private Postfix instance needs root (CI runs as root)");
    return;
  }
  if (!fs::exists("/usr/sbin/postfix")) FAIL("Postfix is not installed: run scripts/packages.sh");
  test_stack stack("postfix");
  int lmtp_port = server::free_loopback_port();
  auto serve = stack.start("serve", {{"MEDIADESK_SMTP_LMTP_PORT", std::to_string(lmtp_port)},
                                     {"MEDIADESK_SMTP_DOMAINS", "desk.example"}});
  REQUIRE(stack.wait_for_log(serve, fmt::format("serving LMTP on 127.0.0.1:{}", lmtp_port)));

  // The pipe runs as `nobody`: the wrapper and its environment file as OPERATIONS.md shows them,
  // in a folder nobody can read, and the binary copied there if nobody cannot reach the build.
  auto gate = fs::temp_directory_path() / fmt::format("mediadesk-postfix-{}", ::getpid());
  fs::remove_all(gate);
  fs::create_directories(gate);
  fs::permissions(gate, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                            fs::perms::others_read | fs::perms::others_exec);
  std::string binary = MEDIADESK_BINARY;
  if (run_command(fmt::format("runuser -u nobody -- test -x '{}'", binary)).status != 0) {
    fs::copy_file(binary, gate / "mediadesk", fs::copy_options::overwrite_existing);
    binary = (gate / "mediadesk").string();
  }
  {
    std::ofstream env(gate / "mediadesk.env");
    for (auto& [name, value] : stack.environment()) env << name << "='" << value << "'\n";
    std::ofstream(gate / "mediadesk-mailgate") << "#!/bin/sh\nset -a; . " << (gate / "mediadesk.env").string()
                                               << "; set +a\nexec " << binary << " --config /dev/null mailgate \"$@\"\n";
    fs::permissions(gate / "mediadesk-mailgate", fs::perms::owner_all | fs::perms::others_read | fs::perms::others_exec);
  }
  int postfix_port = server::free_loopback_port();
  postfix_instance postfix(stack.home() / "postfix", postfix_port, (gate / "mediadesk-mailgate").string());
  auto delivered = [&](const std::string& subject) {
    return eventually([&] { return count_subject(stack, subject) >= 1; }, 30s);
  };
  // A message Postfix deferred, once the desk can take it again: its retry, prompted.
  auto redelivered = [&](const std::string& subject) {
    auto last_flush = std::chrono::steady_clock::now();
    return eventually([&] {
      if (count_subject(stack, subject) >= 1) return true;
      if (std::chrono::steady_clock::now() - last_flush > 2s) {
        postfix.flush();
        last_flush = std::chrono::steady_clock::now();
      }
      return false;
    }, 60s);
  };
  auto deferred_with = [&](const std::string& reason) {
    return eventually([&] { return postfix.queue().find(reason) != std::string::npos; }, 30s);
  };

  SECTION("LMTP, then the pipe") {
    postfix.route(fmt::format("lmtp:inet:127.0.0.1:{}", lmtp_port));
    CHECK(code(run_client("send", "127.0.0.1", postfix_port, "Through Postfix over LMTP"), "data") == 250);
    INFO(postfix.log());
    REQUIRE(delivered("Through Postfix over LMTP"));

    // Redis down: our 451 4.3.0 keeps the message in Postfix's queue; once Redis is back,
    // Postfix's retry is queued, exactly once.
    auto redis_port = stack.redis_server().port();
    stack.redis_server().stop();
    CHECK(code(run_client("send", "127.0.0.1", postfix_port, "Held by Postfix at LMTP"), "data") == 250);
    CHECK(deferred_with("451 4.3.0"));
    stack.redis_server().start(redis_port);
    CHECK(redelivered("Held by Postfix at LMTP"));
    CHECK(eventually([&] { return postfix.queue().empty(); }, 60s));

    // The same domain through the pipe transport.
    postfix.route("mediadesk:");
    CHECK(code(run_client("send", "127.0.0.1", postfix_port, "Through Postfix by the pipe"), "data") == 250);
    REQUIRE(delivered("Through Postfix by the pipe"));
    stack.redis_server().stop();
    CHECK(code(run_client("send", "127.0.0.1", postfix_port, "Held by Postfix at the pipe"), "data") == 250);
    CHECK(deferred_with("4.3.0 not queued, try again later"));
    stack.redis_server().start(redis_port);
    CHECK(redelivered("Held by Postfix at the pipe"));
    CHECK(eventually([&] { return postfix.queue().empty(); }, 60s));

    auto stream = intake_stream(stack);
    CHECK(stream.size() == 4);
    for (auto subject : {"Through Postfix over LMTP", "Held by Postfix at LMTP", "Through Postfix by the pipe",
                         "Held by Postfix at the pipe"})
      CHECK(count_subject(stack, subject) == 1);
    for (auto& [id, entry] : stream) {
      INFO(entry.raw);
      CHECK(entry.source == "email");
      CHECK(entry.raw.starts_with("Return-Path: <sam@news.example>"));  // Postfix's flags=R, or our LMTP
    }
  }
  fs::remove_all(gate);
}
