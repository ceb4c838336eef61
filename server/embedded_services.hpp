// Private PostgreSQL and Redis servers for the demo and the test suite: started as child
// processes under a folder of ours, on free loopback ports, with generated passwords, and
// stopped (or killed, in fault tests) on request. As root they run as an unprivileged user,
// since PostgreSQL refuses to run as root. They die with their parent (PR_SET_PDEATHSIG); one
// still shutting down on the folder, its parent just killed, is waited for before a new start.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace md::server {

struct run_as_user {
  uid_t uid;
  gid_t gid;
  std::string name;
};
// nullopt when not root; otherwise the "mediadesk" system user (created if missing).
std::optional<run_as_user> unprivileged_user();

class child_process {
 public:
  child_process() = default;
  // environment: nullopt inherits ours (argv[0] is looked up in PATH); otherwise exactly these
  // variables (argv[0] must be a path).
  child_process(const std::vector<std::string>& argv, const std::filesystem::path& log_file,
                const std::optional<run_as_user>& user, int parent_death_signal,
                const std::optional<std::map<std::string, std::string>>& environment = std::nullopt);
  child_process(child_process&& other) noexcept;
  child_process& operator=(child_process&& other) noexcept;
  ~child_process();
  pid_t pid() const { return pid_; }
  bool running();
  void signal(int signal);
  // Waits up to timeout: the exit status (128 + signal if killed), or -1 if still running.
  int wait(std::chrono::milliseconds timeout);
  // Sends signal, waits up to grace, then SIGKILL. Returns the exit status.
  int stop(int signal, std::chrono::milliseconds grace);

 private:
  pid_t pid_ = -1;
};

// Runs a command to completion (initdb); throws with the log's path if it fails.
void run_to_completion(const std::vector<std::string>& argv, const std::filesystem::path& log_file,
                       const std::optional<run_as_user>& user);

int free_loopback_port();

// Reads a one-line secret file (the demo's keys, the servers' passwords), or creates it, mode
// 0600, holding value_if_new. Returns {value, created}.
std::pair<std::string, bool> read_or_create_secret_file(const std::filesystem::path& file,
                                                        const std::string& value_if_new);

class embedded_postgres {
 public:
  explicit embedded_postgres(std::filesystem::path dir);
  ~embedded_postgres();
  // initdb on first use, then start and wait until it accepts connections. port 0: a free one
  // (a restart in a fault test passes the old port, so that clients' URLs still reach it).
  void start(int port = 0);
  void stop();   // fast shutdown
  std::string url(std::string_view database = "mediadesk") const;
  // Creates a database if missing (tests use one per case) and returns its URL.
  std::string create_database(std::string_view name);
  int port() const { return port_; }

 private:
  std::filesystem::path dir_;
  std::optional<run_as_user> user_;
  std::string password_;
  int port_ = 0;
  child_process process_;
};

class embedded_redis {
 public:
  explicit embedded_redis(std::filesystem::path dir);
  ~embedded_redis();
  void start(int port = 0);  // port 0: a free one (a restart may pass the old port)
  void stop();
  std::string url() const;
  int port() const { return port_; }

 private:
  std::filesystem::path dir_;
  std::optional<run_as_user> user_;
  std::string password_;
  int port_ = 0;
  child_process process_;
};

}  // namespace md::server
