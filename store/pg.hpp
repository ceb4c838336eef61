// PostgreSQL access over libpq: connections with connect and statement timeouts, parameterised
// queries only (no SQL is ever built from input), a small bounded pool, and transactions.
// Connection loss and timeouts throw md::unavailable_error; other SQL errors throw pg_error.
#pragma once
#include <libpq-fe.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace md::store {

class pg_error : public std::runtime_error {
 public:
  pg_error(std::string sqlstate, const std::string& message) : std::runtime_error(message), sqlstate_(std::move(sqlstate)) {}
  const std::string& sqlstate() const { return sqlstate_; }
  bool unique_violation() const { return sqlstate_ == "23505"; }

 private:
  std::string sqlstate_;
};

// A query parameter: text, raw bytes (sent in binary format, for bytea) or NULL.
struct pg_param {
  std::optional<std::string> value;
  bool binary = false;
};
inline pg_param text(std::string_view s) { return {std::string{s}, false}; }
inline pg_param bytes(std::string_view s) { return {std::string{s}, true}; }
inline pg_param null_param() { return {std::nullopt, false}; }
inline pg_param number(std::int64_t n) { return {std::to_string(n), false}; }
// SQL that formats a timestamptz column as ISO 8601 UTC with milliseconds ("...T09:30:00.000Z").
std::string iso8601_sql(std::string_view column);
// A text[] literal ({"a","b\"c"}) for a $n::text[] parameter.
std::string text_array_literal(const std::vector<std::string>& items);

class pg_result {
 public:
  explicit pg_result(PGresult* r) : result_(r, &PQclear) {}
  int rows() const { return PQntuples(result_.get()); }
  bool is_null(int row, int col) const { return PQgetisnull(result_.get(), row, col); }
  std::string_view get(int row, int col) const {
    return {PQgetvalue(result_.get(), row, col), static_cast<std::size_t>(PQgetlength(result_.get(), row, col))};
  }
  std::optional<std::string> get_optional(int row, int col) const {
    if (is_null(row, col)) return std::nullopt;
    return std::string{get(row, col)};
  }
  std::int64_t get_int(int row, int col) const;
  bool get_bool(int row, int col) const { return get(row, col) == "t"; }
  std::string get_bytes(int row, int col) const;  // a bytea column in text result format
  std::vector<std::string> get_text_array(int row, int col) const;  // text[] literal
  std::int64_t affected() const;

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> result_;
};

struct pg_options {
  std::string url;
  std::chrono::seconds connect_timeout{5};
  std::chrono::milliseconds statement_timeout{5000};
};

class pg_connection {
 public:
  explicit pg_connection(const pg_options& options);
  ~pg_connection();
  pg_connection(const pg_connection&) = delete;
  pg_connection& operator=(const pg_connection&) = delete;

  pg_result exec(std::string_view sql, std::span<const pg_param> params = {});
  pg_result exec(std::string_view sql, std::initializer_list<pg_param> params) {
    return exec(sql, std::span<const pg_param>{params.begin(), params.size()});
  }
  // Several statements without parameters (migrations): the simple query protocol.
  void exec_script(std::string_view sql);
  // Runs fn inside BEGIN/COMMIT; rolls back if fn throws.
  template <class Fn>
  auto transaction(Fn&& fn) -> decltype(fn(*this));
  bool broken() const;

 private:
  pg_result checked(PGresult* raw);
  PGconn* conn_ = nullptr;
};

template <class Fn>
auto pg_connection::transaction(Fn&& fn) -> decltype(fn(*this)) {
  exec("BEGIN");
  try {
    if constexpr (std::is_void_v<decltype(fn(*this))>) {
      fn(*this);
      exec("COMMIT");
    } else {
      auto result = fn(*this);
      exec("COMMIT");
      return result;
    }
  } catch (...) {
    if (!broken()) {
      try {
        exec("ROLLBACK");
      } catch (...) {
      }
    }
    throw;
  }
}

// A fixed-size pool; connections are opened lazily and replaced when broken. acquire() waits
// at most acquire_timeout, then throws unavailable_error.
class pg_pool {
 public:
  pg_pool(pg_options options, std::size_t size, std::chrono::milliseconds acquire_timeout = std::chrono::seconds{5});

  class lease {
   public:
    lease(pg_pool* pool, std::unique_ptr<pg_connection> c) : pool_(pool), connection_(std::move(c)) {}
    lease(lease&&) = default;
    ~lease();
    pg_connection& operator*() { return *connection_; }
    pg_connection* operator->() { return connection_.get(); }

   private:
    pg_pool* pool_;
    std::unique_ptr<pg_connection> connection_;
  };
  lease acquire();

  // Shorthand: acquire, run fn(connection), release.
  template <class Fn>
  auto with(Fn&& fn) {
    auto c = acquire();
    return fn(*c);
  }

 private:
  void release(std::unique_ptr<pg_connection> c);
  pg_options options_;
  std::size_t size_;
  std::chrono::milliseconds acquire_timeout_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<pg_connection>> idle_;
  std::size_t open_ = 0;
};

}  // namespace md::store
