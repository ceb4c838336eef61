// Embedded PostgreSQL and Redis (see embedded_services.hpp).
#include "server/embedded_services.hpp"

#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "crypto/primitives.hpp"
#include "queue/redis_connection.hpp"
#include "store/pg.hpp"

namespace md::server {
namespace fs = std::filesystem;
namespace {

void chown_tree(const fs::path& dir, const std::optional<run_as_user>& user) {
  if (!user) return;
  if (::chown(dir.c_str(), user->uid, user->gid) != 0) throw std::runtime_error("cannot chown " + dir.string());
  for (auto& entry : fs::recursive_directory_iterator(dir))
    // A file gone since the listing (a server's temporary file) needs no owner.
    if (::lchown(entry.path().c_str(), user->uid, user->gid) != 0 && errno != ENOENT)
      throw std::runtime_error("cannot chown " + entry.path().string());
}

// The unprivileged user must be able to reach its folder: add search (x, not read) permission
// for others on ancestors that lack it, and say so.
void ensure_reachable(const fs::path& dir, const std::optional<run_as_user>& user) {
  if (!user) return;
  auto path = fs::absolute(dir);
  std::vector<fs::path> ancestors;
  for (auto p = path.parent_path(); !p.empty() && p != p.root_path(); p = p.parent_path()) ancestors.push_back(p);
  for (auto& p : ancestors) {
    struct stat st{};
    if (::stat(p.c_str(), &st) != 0) continue;
    bool reachable = (st.st_uid == user->uid && (st.st_mode & S_IXUSR)) ||
                     (st.st_gid == user->gid && (st.st_mode & S_IXGRP)) || (st.st_mode & S_IXOTH);
    if (!reachable) {
      spdlog::warn("adding search permission (o+x) to {} so that user {} can reach {}", p.string(), user->name,
                   dir.string());
      ::chmod(p.c_str(), (st.st_mode & 07777) | S_IXOTH);
    }
  }
}

std::string find_postgres_binary(std::string_view name) {
  for (auto dir : {"/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin"}) {
    auto p = fs::path(dir) / name;
    if (fs::exists(p)) return p.string();
  }
  return std::string{name};  // rely on PATH
}

bool port_open(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// The process whose pid the first line of pid_file names, if it still exists and is the program
// `comm` (so that a pid reused by another program after a reboot is not mistaken for it).
struct previous_server {
  pid_t pid;
  bool zombie;  // exited, not yet reaped
};
std::optional<previous_server> previous_server_of(const fs::path& pid_file, std::string_view comm) {
  std::ifstream in(pid_file);
  long pid = 0;
  if (!(in >> pid) || pid <= 0 || pid == ::getpid()) return std::nullopt;
  std::ifstream comm_file(fmt::format("/proc/{}/comm", pid));
  std::string name;
  if (!std::getline(comm_file, name) || name != comm) return std::nullopt;
  std::ifstream stat_file(fmt::format("/proc/{}/stat", pid));
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  auto paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return std::nullopt;  // gone meanwhile
  return previous_server{static_cast<pid_t>(pid), stat[paren + 2] == 'Z' || stat[paren + 2] == 'X'};
}

// A server we started earlier on this folder may still be there: its parent (a demo) was
// SIGKILLed, and PR_SET_PDEATHSIG has only just asked it to stop, or it was orphaned without
// that signal. Starting a second one now fails at random (PostgreSQL: "lock file
// postmaster.pid already exists", or files vanishing under chown_tree) or, for Redis, has two
// processes write one AOF. So wait for it to finish; ask it to stop if it does not by itself,
// since nothing but us runs a server on our folder; give up with a clear message after that.
// zombie_blocks: PostgreSQL takes a pid that kill(pid, 0) still finds (a zombie too) for a
// running postmaster, so a zombie must be waited for as well; an orphan stays a zombie until
// init reaps it (about a second in some containers, whose init reaps periodically; never,
// where nothing reaps orphans). For Redis a zombie, holding nothing, is as good as gone.
void wait_for_previous_server(const fs::path& pid_file, std::string_view comm, int stop_signal,
                              std::string_view what, bool zombie_blocks) {
  auto gone = [&](const std::optional<previous_server>& p) { return !p || (p->zombie && !zombie_blocks); };
  auto previous = previous_server_of(pid_file, comm);
  if (gone(previous)) return;
  auto pid = previous->pid;
  spdlog::warn("a previous {} (pid {}{}) is still on {}: waiting for it to go", what, pid,
               previous->zombie ? ", exited, not yet reaped" : "", pid_file.parent_path().string());
  auto started = std::chrono::steady_clock::now();
  bool asked = false;
  for (; !gone(previous) && previous->pid == pid; previous = previous_server_of(pid_file, comm)) {
    auto waited = std::chrono::steady_clock::now() - started;
    // Its own shutdown, already under way, normally ends well within this.
    if (!asked && !previous->zombie && waited > std::chrono::seconds(3)) {
      spdlog::warn("asking the previous {} (pid {}) to stop", what, pid);
      ::kill(pid, stop_signal);
      asked = true;
    }
    if (waited > std::chrono::seconds(30)) {
      if (previous->zombie)
        throw std::runtime_error(fmt::format(
            "a previous {} (pid {}) on {} has exited but nothing reaps it (a container without an init "
            "process? run it with one, e.g. docker run --init)",
            what, pid, pid_file.parent_path().string()));
      throw std::runtime_error(fmt::format("a previous {} (pid {}) still runs on {} and does not stop; stop it first",
                                           what, pid, pid_file.parent_path().string()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  spdlog::info("the previous {} (pid {}) is gone", what, pid);
}

}  // namespace

std::pair<std::string, bool> read_or_create_secret_file(const fs::path& file, const std::string& value_if_new) {
  if (fs::exists(file)) {
    std::ifstream in(file);
    std::string line;
    std::getline(in, line);
    if (!line.empty()) return {line, false};
  }
  {
    std::ofstream out(file, std::ios::trunc);
    out << value_if_new << "\n";
  }
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write);
  return {value_if_new, true};
}

std::optional<run_as_user> unprivileged_user() {
  if (::geteuid() != 0) return std::nullopt;
  auto lookup = [](const char* name) -> std::optional<run_as_user> {
    if (auto* pw = ::getpwnam(name)) return run_as_user{pw->pw_uid, pw->pw_gid, name};
    return std::nullopt;
  };
  if (auto u = lookup("mediadesk")) return u;
  std::system("useradd --system --no-create-home --shell /usr/sbin/nologin mediadesk >/dev/null 2>&1");
  if (auto u = lookup("mediadesk")) return u;
  if (auto u = lookup("nobody")) return u;
  throw std::runtime_error("running as root and no unprivileged user is available for PostgreSQL");
}

child_process::child_process(const std::vector<std::string>& argv, const fs::path& log_file,
                             const std::optional<run_as_user>& user, int parent_death_signal,
                             const std::optional<std::map<std::string, std::string>>& environment) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_strings;
  std::vector<char*> envp;
  if (environment) {
    for (auto& [k, v] : *environment) env_strings.push_back(k + "=" + v);
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
  }
  int log_fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) throw std::runtime_error("cannot open " + log_file.string());
  if (user && ::fchown(log_fd, user->uid, user->gid) != 0) {
    ::close(log_fd);
    throw std::runtime_error("cannot chown " + log_file.string());
  }
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    throw std::runtime_error("fork failed");
  }
  if (pid == 0) {
    // Child: own process group (a terminal's Ctrl-C reaches only the parent, which stops us in
    // order), drop privileges, die with the parent, log to the file.
    ::setpgid(0, 0);
    // Signal masks and ignored signals survive exec: the parent blocks SIGINT/SIGTERM for its
    // sigwait thread and ignores SIGPIPE, which would leave the servers deaf to shutdown.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    if (user) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(user->gid) != 0 || ::setuid(user->uid) != 0) ::_exit(126);
    }
    if (parent_death_signal) ::prctl(PR_SET_PDEATHSIG, parent_death_signal);  // after setuid, which clears it
    if (::getppid() != parent) ::_exit(125);
    int null_fd = ::open("/dev/null", O_RDONLY);
    ::dup2(null_fd, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    if (environment) ::execve(args[0], args.data(), envp.data());
    else ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(log_fd);
  pid_ = pid;
}

child_process::child_process(child_process&& other) noexcept : pid_(std::exchange(other.pid_, -1)) {}
child_process& child_process::operator=(child_process&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0) stop(SIGKILL, std::chrono::milliseconds(1000));
    pid_ = std::exchange(other.pid_, -1);
  }
  return *this;
}
child_process::~child_process() {
  if (pid_ > 0) stop(SIGTERM, std::chrono::seconds(5));
}

bool child_process::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

void child_process::signal(int signal) {
  if (pid_ > 0) ::kill(pid_, signal);
}

int child_process::wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return 0;
  auto until = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  for (;;) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (std::chrono::steady_clock::now() >= until) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

int child_process::stop(int signal, std::chrono::milliseconds grace) {
  if (pid_ <= 0) return 0;
  ::kill(pid_, signal);
  auto until = std::chrono::steady_clock::now() + grace;
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || r < 0) break;
    if (std::chrono::steady_clock::now() >= until) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  pid_ = -1;
  return status;
}

void run_to_completion(const std::vector<std::string>& argv, const fs::path& log_file,
                       const std::optional<run_as_user>& user) {
  child_process p(argv, log_file, user, SIGKILL);
  if (p.wait(std::chrono::minutes(10)) != 0)
    throw std::runtime_error(fmt::format("{} failed; see {}", argv[0], log_file.string()));
}

int free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot find a free port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

// ---- PostgreSQL ----

embedded_postgres::embedded_postgres(fs::path dir) : dir_(fs::absolute(std::move(dir))), user_(unprivileged_user()) {}
embedded_postgres::~embedded_postgres() { stop(); }

void embedded_postgres::start(int port) {
  fs::create_directories(dir_);
  fs::permissions(dir_, fs::perms::owner_all);
  ensure_reachable(dir_, user_);
  password_ = read_or_create_secret_file(dir_ / "password", crypto::random_token(24)).first;
  auto data = dir_ / "data";
  auto log = dir_ / "postgres.log";
  wait_for_previous_server(data / "postmaster.pid", "postgres", SIGINT, "PostgreSQL", true);  // before chown_tree
  chown_tree(dir_, user_);
  if (!fs::exists(data / "PG_VERSION")) {
    auto pwfile = dir_ / "initdb-password";
    {
      std::ofstream out(pwfile);
      out << password_ << "\n";
    }
    chown_tree(dir_, user_);
    run_to_completion({find_postgres_binary("initdb"), "-D", data.string(), "-U", "mediadesk", "-A", "scram-sha-256",
                       "--pwfile=" + pwfile.string(), "-E", "UTF8", "--locale=C", "--no-instructions"},
                      log, user_);
    fs::remove(pwfile);
  }
  for (int attempt = 0; attempt < 3; ++attempt) {
    port_ = port ? port : free_loopback_port();
    process_ = child_process({find_postgres_binary("postgres"), "-D", data.string(), "-p", std::to_string(port_), "-c",
                              "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c",
                              "max_connections=100", "-c", "shared_buffers=64MB", "-c", "fsync=on"},
                             log, user_, SIGINT);
    auto conninfo = fmt::format("host=127.0.0.1 port={} dbname=postgres connect_timeout=2", port_);
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (process_.running() && std::chrono::steady_clock::now() < until) {
      if (PQping(conninfo.c_str()) == PQPING_OK) {
        create_database("mediadesk");
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    process_.stop(SIGKILL, std::chrono::seconds(1));  // port taken meanwhile, or a slow start: retry
  }
  throw std::runtime_error(fmt::format("PostgreSQL did not start; see {}", (dir_ / "postgres.log").string()));
}

void embedded_postgres::stop() { process_.stop(SIGINT, std::chrono::seconds(8)); }

std::string embedded_postgres::url(std::string_view database) const {
  return fmt::format("postgresql://mediadesk:{}@127.0.0.1:{}/{}", password_, port_, database);
}

std::string embedded_postgres::create_database(std::string_view name) {
  store::pg_connection c({url("postgres"), std::chrono::seconds(5), std::chrono::milliseconds(30'000)});
  auto exists = c.exec("SELECT 1 FROM pg_database WHERE datname = $1", {store::text(name)});
  if (exists.rows() == 0) {
    for (char ch : name)
      if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_')
        throw std::invalid_argument("database names are letters, digits and _");
    c.exec(fmt::format("CREATE DATABASE {}", name));
  }
  return url(name);
}

// ---- Redis ----

embedded_redis::embedded_redis(fs::path dir) : dir_(fs::absolute(std::move(dir))), user_(unprivileged_user()) {}
embedded_redis::~embedded_redis() { stop(); }

void embedded_redis::start(int port) {
  fs::create_directories(dir_);
  fs::permissions(dir_, fs::perms::owner_all);
  ensure_reachable(dir_, user_);
  password_ = read_or_create_secret_file(dir_ / "password", crypto::random_token(24)).first;
  auto pid_file = dir_ / "redis.pid";
  wait_for_previous_server(pid_file, "redis-server", SIGTERM, "Redis", false);
  for (int attempt = 0; attempt < 3; ++attempt) {
    port_ = port ? port : free_loopback_port();
    // The password goes in a 0600 file, not on the command line where ps would show it.
    auto conf = dir_ / "redis.conf";
    {
      std::ofstream out(conf, std::ios::trunc);
      out << "bind 127.0.0.1\nport " << port_ << "\ndir " << dir_.string()
          << "\nappendonly yes\nappendfsync always\nsave \"\"\ndaemonize no\nprotected-mode yes\n"
          << "requirepass " << password_ << "\nlogfile \"\"\n"
          // Written even with daemonize no: how the next start finds a Redis still running here.
          << "pidfile " << pid_file.string() << "\n";
    }
    fs::permissions(conf, fs::perms::owner_read | fs::perms::owner_write);
    chown_tree(dir_, user_);
    process_ = child_process({"redis-server", conf.string()}, dir_ / "redis.log", user_, SIGTERM);
    auto endpoint = queue::parse_redis_url(url());
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (process_.running() && std::chrono::steady_clock::now() < until) {
      if (port_open(port_)) {
        try {
          queue::redis_connection c(endpoint, std::chrono::milliseconds(1000));
          auto r = c.command({"PING"});
          if (queue::text_of(r.get()) == "PONG") return;  // LOADING while the AOF replays: wait
        } catch (const std::exception&) {
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    process_.stop(SIGKILL, std::chrono::seconds(1));
    if (port) break;
  }
  throw std::runtime_error(fmt::format("Redis did not start; see {}", (dir_ / "redis.log").string()));
}

void embedded_redis::stop() { process_.stop(SIGTERM, std::chrono::seconds(8)); }

std::string embedded_redis::url() const { return fmt::format("redis://:{}@127.0.0.1:{}/0", password_, port_); }

}  // namespace md::server
