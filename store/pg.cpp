// libpq wrapper (see pg.hpp).
#include "store/pg.hpp"

#include <fmt/format.h>

#include <charconv>

#include "core/errors.hpp"

namespace md::store {

std::int64_t pg_result::get_int(int row, int col) const {
  auto s = get(row, col);
  std::int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

std::string pg_result::get_bytes(int row, int col) const {
  if (is_null(row, col)) return {};
  std::size_t length = 0;
  auto* raw = PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(result_.get(), row, col)), &length);
  if (!raw) throw std::bad_alloc();
  std::string out(reinterpret_cast<const char*>(raw), length);
  PQfreemem(raw);
  return out;
}

std::vector<std::string> pg_result::get_text_array(int row, int col) const {
  // Array literal {a,b,"c d"}: our arrays hold taxonomy ids, but quoting is handled anyway.
  std::vector<std::string> out;
  auto s = get(row, col);
  if (s.size() < 2) return out;
  s = s.substr(1, s.size() - 2);
  std::string current;
  bool quoted = false, any = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (quoted) {
      if (c == '\\' && i + 1 < s.size()) current.push_back(s[++i]);
      else if (c == '"') quoted = false;
      else current.push_back(c);
    } else if (c == '"') {
      quoted = true;
      any = true;
    } else if (c == ',') {
      out.push_back(std::move(current));
      current.clear();
      any = false;
    } else {
      current.push_back(c);
      any = true;
    }
  }
  if (any || !current.empty()) out.push_back(std::move(current));
  return out;
}

std::int64_t pg_result::affected() const {
  std::string_view s = PQcmdTuples(result_.get());
  std::int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

pg_connection::pg_connection(const pg_options& options) {
  auto timeout = std::to_string(options.connect_timeout.count());
  auto statement = fmt::format("-c statement_timeout={} -c idle_in_transaction_session_timeout=60000",
                               options.statement_timeout.count());
  const char* keys[] = {"dbname", "connect_timeout", "options", "application_name", "keepalives", "keepalives_idle",
                        nullptr};
  const char* values[] = {options.url.c_str(), timeout.c_str(), statement.c_str(), "mediadesk", "1", "30", nullptr};
  conn_ = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
    // PQerrorMessage names host and port, never credentials.
    std::string message = conn_ ? PQerrorMessage(conn_) : "out of memory";
    if (conn_) PQfinish(conn_);
    conn_ = nullptr;
    while (!message.empty() && message.back() == '\n') message.pop_back();
    throw unavailable_error(fmt::format("postgresql: cannot connect: {}", message));
  }
}

pg_connection::~pg_connection() {
  if (conn_) PQfinish(conn_);
}

bool pg_connection::broken() const { return !conn_ || PQstatus(conn_) != CONNECTION_OK; }

pg_result pg_connection::checked(PGresult* raw) {
  pg_result result{raw};
  if (!raw) throw unavailable_error("postgresql: no result (connection lost)");
  auto status = PQresultStatus(raw);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY) return result;
  const char* state = PQresultErrorField(raw, PG_DIAG_SQLSTATE);
  std::string sqlstate = state ? state : "";
  // Only the primary message, never DETAIL: details can quote the values of a row.
  const char* primary = PQresultErrorField(raw, PG_DIAG_MESSAGE_PRIMARY);
  auto message =
      fmt::format("postgresql {}: {}", sqlstate, primary ? std::string_view{primary}.substr(0, 160) : "error");
  // Lost connections, shutdowns, timeouts, too many connections, serialisation failures and
  // read-only standbys are temporary: the caller may retry.
  if (broken() || sqlstate.starts_with("08") || sqlstate.starts_with("57P") || sqlstate == "57014" ||
      sqlstate.starts_with("53") || sqlstate.starts_with("40") || sqlstate == "25006" || sqlstate.empty())
    throw unavailable_error(message);
  throw pg_error(sqlstate, message);
}

pg_result pg_connection::exec(std::string_view sql, std::span<const pg_param> params) {
  std::vector<const char*> values(params.size());
  std::vector<int> lengths(params.size()), formats(params.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    values[i] = params[i].value ? params[i].value->data() : nullptr;
    lengths[i] = params[i].value ? static_cast<int>(params[i].value->size()) : 0;
    formats[i] = params[i].binary ? 1 : 0;
  }
  std::string query{sql};
  return checked(PQexecParams(conn_, query.c_str(), static_cast<int>(params.size()), nullptr, values.data(),
                              lengths.data(), formats.data(), 0));
}

void pg_connection::exec_script(std::string_view sql) {
  std::string script{sql};
  checked(PQexec(conn_, script.c_str()));  // the last statement's result; an error stops the script
}

pg_pool::pg_pool(pg_options options, std::size_t size, std::chrono::milliseconds acquire_timeout)
    : options_(std::move(options)), size_(size), acquire_timeout_(acquire_timeout) {}

pg_pool::lease::~lease() {
  if (pool_ && connection_) pool_->release(std::move(connection_));
}

pg_pool::lease pg_pool::acquire() {
  std::unique_lock lock(mutex_);
  if (!available_.wait_for(lock, acquire_timeout_, [&] { return !idle_.empty() || open_ < size_; }))
    throw unavailable_error("postgresql: no free connection in the pool");
  if (!idle_.empty()) {
    auto c = std::move(idle_.back());
    idle_.pop_back();
    return lease{this, std::move(c)};
  }
  ++open_;
  lock.unlock();
  try {
    return lease{this, std::make_unique<pg_connection>(options_)};
  } catch (...) {
    std::lock_guard relock(mutex_);
    --open_;
    available_.notify_one();
    throw;
  }
}

void pg_pool::release(std::unique_ptr<pg_connection> c) {
  std::lock_guard lock(mutex_);
  if (c->broken()) {
    --open_;
  } else {
    idle_.push_back(std::move(c));
  }
  available_.notify_one();
}

std::string iso8601_sql(std::string_view column) {
  return fmt::format(R"(to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))", column);
}

std::string text_array_literal(const std::vector<std::string>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

}  // namespace md::store
