// Integration: `mediadesk demo` killed under load (issue 9, "Proof under faults"). Webhook and
// SMTP clients send continuously while the whole demo (its PostgreSQL and Redis included) is
// SIGKILLed at once, or only the demo process is (`kill -9`, as a user would); the demo is then
// started again on the same folder at once. Every request answered 202 or 250 must become
// exactly one case, nothing dead-lettered, and no server of the killed run may linger.
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <atomic>
#include <charconv>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "support/acknowledged_checks.hpp"
#include "support/raw_socket.hpp"
#include "support/test_env.hpp"

using namespace md;
using namespace md::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

using steady = std::chrono::steady_clock;

double seconds_since(steady::time_point t) { return std::chrono::duration<double>(steady::now() - t).count(); }

int port_of(const std::string& url) { return std::stoi(url.substr(url.rfind(':') + 1)); }

// ---- processes, from /proc ----

struct process_info {
  pid_t pid;
  pid_t parent;
  char state;
  std::string comm;
};

std::optional<process_info> read_process(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto open = stat.find('('), close = stat.rfind(')');  // comm may hold spaces and parentheses
  if (open == std::string::npos || close == std::string::npos || close + 4 >= stat.size()) return std::nullopt;
  process_info p{pid, 0, stat[close + 2], stat.substr(open + 1, close - open - 1)};
  auto rest = stat.substr(close + 4);
  std::from_chars(rest.data(), rest.data() + rest.size(), p.parent);
  return p;
}

// Alive: it exists and is not a zombie (a zombie holds no port, file or lock any more).
bool alive(pid_t pid) {
  auto p = read_process(pid);
  return p && p->state != 'Z' && p->state != 'X';
}

// root and every process below it (PostgreSQL's backends are children of its postmaster).
std::vector<process_info> process_tree(pid_t root) {
  std::vector<process_info> all;
  for (auto& entry : fs::directory_iterator("/proc")) {
    auto name = entry.path().filename().string();
    pid_t pid = 0;
    if (std::from_chars(name.data(), name.data() + name.size(), pid).ec != std::errc{}) continue;
    if (auto p = read_process(pid)) all.push_back(*p);
  }
  std::vector<process_info> tree;
  std::set<pid_t> in_tree{root};
  for (bool grew = true; grew;) {
    grew = false;
    for (auto& p : all)
      if ((p.pid == root || in_tree.contains(p.parent)) && in_tree.insert(p.pid).second) grew = true;
  }
  for (auto& p : all)
    if (in_tree.contains(p.pid)) tree.push_back(p);
  return tree;
}

// The demo's PostgreSQL postmaster and its Redis: its direct children.
std::vector<process_info> servers_of(pid_t demo) {
  std::vector<process_info> out;
  for (auto& p : process_tree(demo))
    if (p.parent == demo && (p.comm == "postgres" || p.comm == "redis-server")) out.push_back(p);
  return out;
}

// This test process adopts the orphans of the demos it kills (PR_SET_CHILD_SUBREAPER) and reaps
// those it is told about. Why: a killed demo's PostgreSQL postmaster stays a zombie until someone
// reaps it, and PostgreSQL takes a zombie's pid in postmaster.pid for a running server, so the
// restart waits for it. How soon init reaps orphans differs between machines and containers
// (about 1 s on the CI machine, never under some container inits); the test should not depend on it.
class orphan_reaper {
 public:
  orphan_reaper() {
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    thread_ = std::jthread([this](std::stop_token stop) {
      while (!stop.stop_requested()) {
        {
          std::lock_guard lock(mutex_);
          for (auto it = watched_.begin(); it != watched_.end();) {
            // Not yet ours (its parent is still exiting) until it is reaped or gone.
            bool done = ::waitpid(*it, nullptr, WNOHANG) == *it || !fs::exists(fmt::format("/proc/{}", *it));
            it = done ? watched_.erase(it) : std::next(it);
          }
        }
        std::this_thread::sleep_for(20ms);
      }
    });
  }
  void watch(pid_t pid) {
    std::lock_guard lock(mutex_);
    watched_.insert(pid);
  }

 private:
  std::mutex mutex_;
  std::set<pid_t> watched_;
  std::jthread thread_;
};

orphan_reaper& reaper() {
  static orphan_reaper instance;
  return instance;
}

// The whole demo at once: SIGSTOP every process of the tree (again until no new one appears, as
// the postmaster may fork meanwhile), then SIGKILL them all. None of them runs between the first
// kill and the last, so none can react to another's death (PR_SET_PDEATHSIG, a lost connection).
std::vector<process_info> kill_whole_tree(pid_t root) {
  std::map<pid_t, process_info> stopped;
  for (int round = 0; round < 20; ++round) {
    bool found_new = false;
    for (auto& p : process_tree(root))
      if (stopped.emplace(p.pid, p).second) {
        ::kill(p.pid, SIGSTOP);
        found_new = true;
      }
    if (!found_new) break;
  }
  for (auto& [pid, p] : stopped) {
    if (pid != root) reaper().watch(pid);  // the root is the test's own child, waited for as such
    ::kill(pid, SIGKILL);
  }
  std::vector<process_info> out;
  for (auto& [pid, p] : stopped) out.push_back(p);
  return out;
}

// ---- load: signed webhooks and SMTP messages, at whatever demo is current ----

// The final line of an SMTP reply read from pos (which moves past it); nullopt if none came.
std::optional<std::string> smtp_reply(raw_socket& s, std::size_t& pos) {
  for (;;) {
    auto eol = s.received().find("\r\n", pos);
    if (eol == std::string::npos) {
      if (!s.read_until("\r\n", 10s, pos)) return std::nullopt;
      continue;
    }
    auto line = s.received().substr(pos, eol - pos);
    pos = eol + 2;
    if (line.size() < 4 || line[3] != '-') return line;  // "250-…" continues a multi-line reply
  }
}

class demo_load {
 public:
  demo_load(int webhook_threads, int smtp_threads) {
    for (int t = 0; t < webhook_threads; ++t) threads_.emplace_back([this, t] { run_webhook(t); });
    for (int t = 0; t < smtp_threads; ++t) threads_.emplace_back([this, t] { run_smtp(t); });
  }
  ~demo_load() { stop(); }

  // Sends to this demo from now on (ports 0: to nothing, between a kill and the next start).
  void aim(int http_port, int smtp_port, const std::string& secret) {
    std::lock_guard lock(mutex_);
    http_port_ = http_port;
    smtp_port_ = smtp_port;
    secret_ = secret;
  }
  void stop() {
    stop_ = true;
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }
  std::vector<std::string> acknowledged() const {
    std::lock_guard lock(mutex_);
    auto all = webhook_acks_;
    all.insert(all.end(), smtp_acks_.begin(), smtp_acks_.end());
    return all;
  }
  std::size_t webhook_acks() const {
    std::lock_guard lock(mutex_);
    return webhook_acks_.size();
  }
  std::size_t smtp_acks() const {
    std::lock_guard lock(mutex_);
    return smtp_acks_.size();
  }
  std::vector<std::string> unexpected() const {
    std::lock_guard lock(mutex_);
    return unexpected_;
  }
  std::pair<std::string, std::string> first_and_last_smtp() const {
    std::lock_guard lock(mutex_);
    return smtp_acks_.empty() ? std::pair<std::string, std::string>{} : std::pair{smtp_acks_.front(), smtp_acks_.back()};
  }
  // Waits until at least n more webhook and n_smtp more SMTP messages have been acknowledged.
  bool wait_for_more(std::size_t n, std::size_t n_smtp, std::chrono::milliseconds timeout = 30s) const {
    auto webhook_target = webhook_acks() + n, smtp_target = smtp_acks() + n_smtp;
    return eventually([&] { return webhook_acks() >= webhook_target && smtp_acks() >= smtp_target; }, timeout);
  }
  int unanswered() const { return unanswered_; }
  int temporary() const { return temporary_; }

 private:
  void run_webhook(int thread) {
    for (int n = 0; !stop_; ++n) {
      int port;
      std::string secret;
      {
        std::lock_guard lock(mutex_);
        port = http_port_;
        secret = secret_;
      }
      if (port == 0) {
        std::this_thread::sleep_for(20ms);
        continue;
      }
      auto json = fmt::format(
          R"({{"journalist":{{"name":"Demo Kill Tester","email":"demokill@news.example"}},"body":"webhook {} {} on {}"}})",
          thread, n, port);
      auto t = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
      http_client client("http://127.0.0.1:" + std::to_string(port));
      auto r = client.request("POST", "/api/v1/requests", json,
                              {"X-Signature: " + intake::sign_body(json, secret, t.count())});
      std::lock_guard lock(mutex_);
      if (r.status == 202) {
        webhook_acks_.push_back(json_string(r.body, "intake_id"));
        continue;
      }
      if (r.status == 0) ++unanswered_;  // killed or not started yet
      else if (r.status == 503 && !r.header("retry-after").empty()) ++temporary_;
      else unexpected_.push_back(fmt::format("webhook: {} {}", r.status, r.body));
    }
  }

  // One session per demo, many messages in it; a new one after any failure.
  void run_smtp(int thread) {
    std::unique_ptr<raw_socket> s;
    std::size_t pos = 0;
    int session_port = 0;
    auto fail = [&](bool answered, const std::string& what) {
      s.reset();
      std::lock_guard lock(mutex_);
      if (!answered) ++unanswered_;
      else if (what.starts_with("4")) ++temporary_;
      else unexpected_.push_back("smtp: " + what);
    };
    for (int n = 0; !stop_; ++n) {
      int port;
      {
        std::lock_guard lock(mutex_);
        port = smtp_port_;
      }
      if (port == 0 || (s && port != session_port)) s.reset();
      if (port == 0) {
        std::this_thread::sleep_for(20ms);
        continue;
      }
      try {
        if (!s) {
          s = std::make_unique<raw_socket>(port);
          session_port = port;
          pos = 0;
          auto greeting = smtp_reply(*s, pos);
          if (!greeting || !greeting->starts_with("220")) {
            fail(greeting.has_value(), greeting.value_or(""));
            std::this_thread::sleep_for(20ms);
            continue;
          }
          s->send("EHLO load.example\r\n");
          auto ehlo = smtp_reply(*s, pos);
          if (!ehlo || !ehlo->starts_with("250")) {
            fail(ehlo.has_value(), ehlo.value_or(""));
            continue;
          }
        }
        auto step = [&](const std::string& command, std::string_view expect) -> bool {
          s->send(command);
          auto reply = smtp_reply(*s, pos);
          if (reply && reply->starts_with(expect)) return true;
          fail(reply.has_value(), reply.value_or(""));
          return false;
        };
        if (!step("MAIL FROM:<demokill@news.example>\r\n", "250") ||
            !step("RCPT TO:<requests@desk.example>\r\n", "250") || !step("DATA\r\n", "354"))
          continue;
        auto message = fmt::format(
            "From: Demo Kill Tester <demokill@news.example>\r\nTo: requests@desk.example\r\n"
            // Subject and text of fewer than five content words: never taken for the same
            // request again, which would join the case before (routing/similarity.cpp).
            "Subject: Voice {} {}\r\nMessage-ID: <demokill-{}-{}-{}-{}@news.example>\r\n\r\n"
            "Housing {}.\r\n.\r\n",
            thread, n, ::getpid(), port, thread, n, port);
        s->send(message);
        auto reply = smtp_reply(*s, pos);
        const std::string queued = "250 2.0.0 Ok: queued as ";
        if (reply && reply->starts_with(queued)) {
          std::lock_guard lock(mutex_);
          smtp_acks_.push_back(reply->substr(queued.size()));
        } else {
          fail(reply.has_value(), reply.value_or(""));
        }
      } catch (const std::runtime_error&) {  // cannot connect, or the connection broke
        fail(false, "");
        std::this_thread::sleep_for(20ms);
      }
    }
  }

  std::atomic<bool> stop_ = false;
  std::atomic<int> unanswered_ = 0, temporary_ = 0;
  mutable std::mutex mutex_;
  int http_port_ = 0, smtp_port_ = 0;
  std::string secret_;
  std::vector<std::string> webhook_acks_, smtp_acks_, unexpected_;
  std::vector<std::thread> threads_;
};

// ---- the demo ----

class demo_run {
 public:
  explicit demo_run(const std::string& name) : home_(test_home() / name) {}

  // Starts `mediadesk demo` on the folder (removing the demo.env of a killed run first, so that
  // the new one shows the new ports) and waits until it answers.
  void start() {
    fs::remove(home_ / "demo.env");
    std::map<std::string, std::string> env{{"PATH", "/usr/local/bin:/usr/bin:/bin"},
                                           {"MEDIADESK_ADMIN_PASSWORD", admin_password},
                                           // Many messages from one client and sender: no hourly limit.
                                           {"MEDIADESK_SMTP_MESSAGES_PER_IP_PER_HOUR", "0"},
                                           {"MEDIADESK_SMTP_MESSAGES_PER_SENDER_PER_HOUR", "0"},
                                           {"MEDIADESK_INBOUND_WEBHOOK_REQUESTS_PER_SENDER_PER_HOUR", "0"}};
    auto log = test_home() / fmt::format("{}-{}.log", home_.filename().string(), ++runs_);
    process_ = spawn_mediadesk({"--config", "/dev/null", "demo", "--home", home_.string(), "--http-port", "0",
                                "--smtp-port", "0"},
                               env, log);
    INFO("see " << log.string());
    REQUIRE(eventually([&] { return !read_env_file(home_ / "demo.env")["MEDIADESK_HTTP_URL"].empty(); }, 60s));
    settings_ = read_env_file(home_ / "demo.env");
    http_client c(settings_["MEDIADESK_HTTP_URL"]);
    REQUIRE(eventually([&] { return c.get("/healthz").status == 200; }, 20s));
    // The SMTP port it picked (demo.env names none): from its log, written before HTTP serves.
    const std::string serving = "serving SMTP on 127.0.0.1:";
    auto text = read_file(log);
    auto at = text.find(serving);
    REQUIRE(at != std::string::npos);
    smtp_port_ = std::stoi(text.substr(at + serving.size()));
    std::ifstream secret_file(settings_["MEDIADESK_WEBHOOK_SECRET_FILE"]);
    std::getline(secret_file, webhook_secret_);
    REQUIRE(!webhook_secret_.empty());
  }
  void aim(demo_load& load) const { load.aim(port_of(settings_.at("MEDIADESK_HTTP_URL")), smtp_port_, webhook_secret_); }

  server::child_process& process() { return process_; }
  const fs::path& home() const { return home_; }
  std::string setting(const std::string& name) const { return settings_.at(name); }
  http_client admin() const {
    http_client c(settings_.at("MEDIADESK_HTTP_URL"));
    REQUIRE(c.log_in("admin@example.org", admin_password).status == 200);
    return c;
  }
  store::pg_connection database() const {
    return store::pg_connection({settings_.at("MEDIADESK_DATABASE_URL"), 5s, 30'000ms});
  }
  queue::redis_connection redis() const {
    return queue::redis_connection(queue::parse_redis_url(settings_.at("MEDIADESK_REDIS_URL")), 2000ms);
  }

  static constexpr const char* admin_password = "demo-kill-admin-password";

 private:
  fs::path home_;
  int runs_ = 0;
  int smtp_port_ = 0;
  server::child_process process_;
  std::map<std::string, std::string> settings_;
  std::string webhook_secret_;
};

// Every acknowledged intake, webhook and SMTP (support/acknowledged_checks.hpp), and the first
// and last SMTP intake as the API tells it.
void check_each_acknowledged_is_one_case(const demo_run& demo, const demo_load& load) {
  auto acknowledged = load.acknowledged();
  CHECK(std::set<std::string>(acknowledged.begin(), acknowledged.end()).size() == acknowledged.size());
  auto db = demo.database();
  auto redis = demo.redis();
  auto took = md::test::check_each_acknowledged_is_one_case(db, redis, acknowledged, 30s);
  fmt::print(stderr, "  {} acknowledged ({} webhook, {} SMTP): all processed {:.1f} s after the load stopped\n",
             acknowledged.size(), load.webhook_acks(), load.smtp_acks(), took);
  // And as the API tells it: the first and last message by SMTP.
  auto admin = demo.admin();
  auto [first, last] = load.first_and_last_smtp();
  for (auto& id : {first, last}) {
    auto r = admin.get("/api/v1/intake/" + id);
    INFO(id << ": " << r.body);
    CHECK(json_string(r.body, "status") == "processed");
    CHECK(!json_string(r.body, "case").empty());
  }
  auto unexpected = load.unexpected();
  for (auto& u : unexpected) INFO(u);
  CHECK(unexpected.empty());
}

}  // namespace

TEST_CASE("the whole demo (PostgreSQL and Redis too) SIGKILLed under load: every 202 / 250 becomes exactly one case") {
  auto test_started = steady::now();
  demo_run demo("demo_kill_whole");
  demo.start();
  fmt::print(stderr, "whole demo: first start (initdb, migrate, seed) {:.1f} s\n", seconds_since(test_started));
  demo_load load(2, 1);
  demo.aim(load);
  REQUIRE(load.wait_for_more(40, 15));

  // Everything at once: the demo, the postmaster and its backends, Redis.
  auto pid = demo.process().pid();
  auto servers = servers_of(pid);
  REQUIRE(servers.size() == 2);  // the postmaster and Redis
  auto acked_before = load.acknowledged().size();
  auto killed_at = steady::now();
  auto killed = kill_whole_tree(pid);
  load.aim(0, 0, {});
  CHECK(demo.process().wait(10s) == 128 + SIGKILL);
  CHECK(killed.size() > 3);  // the demo, Redis, the postmaster and its helpers
  for (auto& p : killed) {
    INFO(p.pid << " " << p.comm);
    CHECK(eventually([&] { return !alive(p.pid); }, 10s));
  }
  fmt::print(stderr, "whole demo: {} processes SIGKILLed ({} acknowledged before)\n", killed.size(), acked_before);

  demo.start();  // the same folder: PostgreSQL recovers from its WAL, Redis replays its AOF
  fmt::print(stderr, "whole demo: kill to answering again {:.1f} s\n", seconds_since(killed_at));
  demo.aim(load);
  REQUIRE(load.wait_for_more(40, 15));
  load.stop();
  check_each_acknowledged_is_one_case(demo, load);

  demo.process().signal(SIGTERM);
  CHECK(demo.process().wait(15s) == 0);
  fmt::print(stderr, "whole demo: test took {:.1f} s\n", seconds_since(test_started));
}

TEST_CASE("the demo alone kill -9'd under load: its PostgreSQL and Redis do not linger, the next start on the "
          "same folder works at once, every 202 / 250 becomes exactly one case") {
  auto test_started = steady::now();
  demo_run demo("demo_kill_alone");
  demo.start();
  demo_load load(2, 1);
  demo.aim(load);
  REQUIRE(load.wait_for_more(40, 15));

  // Twice: each restart must also cope with the servers of the run before still shutting down.
  for (int round = 1; round <= 2; ++round) {
    auto pid = demo.process().pid();
    auto servers = servers_of(pid);
    REQUIRE(servers.size() == 2);
    for (auto& p : servers) reaper().watch(p.pid);
    auto killed_at = steady::now();
    ::kill(pid, SIGKILL);
    load.aim(0, 0, {});
    CHECK(demo.process().wait(10s) == 128 + SIGKILL);
    // At once, as `kill -9 $pid; mediadesk demo` would: the old servers are most likely still
    // shutting down (PR_SET_PDEATHSIG asked them to).
    demo.start();
    auto restarted_in = seconds_since(killed_at);
    // The killed run's servers are gone, not orphans: they stopped on their parent's death.
    for (auto& p : servers) {
      INFO(p.pid << " " << p.comm);
      CHECK(eventually([&] { return !alive(p.pid); }, 10s));
    }
    auto now_servers = servers_of(demo.process().pid());
    CHECK(now_servers.size() == 2);
    fmt::print(stderr, "demo alone, round {}: kill -9 to answering again {:.1f} s\n", round, restarted_in);
    demo.aim(load);
    REQUIRE(load.wait_for_more(40, 15));
  }
  load.stop();
  check_each_acknowledged_is_one_case(demo, load);

  auto servers = servers_of(demo.process().pid());
  demo.process().signal(SIGTERM);
  CHECK(demo.process().wait(15s) == 0);
  for (auto& p : servers) CHECK_FALSE(alive(p.pid));
  fmt::print(stderr, "demo alone: test took {:.1f} s\n", seconds_since(test_started));
}
