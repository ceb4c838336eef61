// SMTP/LMTP listeners and connections (see smtp_server.hpp). Socket code only: what to answer is
// mail::smtp_session's business; this file adds deadlines, caps, sealing and the Redis append.
// It must never answer 250 for a message before the appender reports Redis's acknowledgement.
#include "server/smtp_server.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <filesystem>

#include "crypto/primitives.hpp"
#include "intake/intake_record.hpp"
#include "queue/rate_limit.hpp"
#include "server/intake_append.hpp"

namespace md::server {
namespace {

using steady = std::chrono::steady_clock;
using generic_socket = asio::generic::stream_protocol::socket;

// Sealing is ~1 GB/s; past this size it runs on the blocking pool so that one big message does
// not hold an I/O thread (and every connection on it) for milliseconds.
constexpr std::size_t seal_inline_limit = 1u << 20;
constexpr std::size_t read_chunk = 32 * 1024;
constexpr auto goodbye_timeout = std::chrono::seconds(2);  // for a 421 nobody may be reading

template <class Acceptor, class Endpoint>
void open_acceptor(Acceptor& acceptor, const Endpoint& endpoint, bool reuse) {
  acceptor.open(endpoint.protocol());
  if (reuse) acceptor.set_option(asio::socket_base::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen(asio::socket_base::max_listen_connections);
}

void log_exception(std::exception_ptr e, std::string_view what) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("{}: {}", what, ex.what());
  }
}

}  // namespace

mail::smtp_session_config smtp_session_config_from(const smtp_settings& s, bool lmtp) {
  mail::smtp_session_config c;
  c.hostname = s.hostname;
  c.lmtp = lmtp;
  c.domains = mail::parse_address_list(s.domains);
  c.addresses = mail::parse_address_list(s.addresses);
  c.max_message_bytes = static_cast<std::size_t>(s.max_message_bytes);
  c.max_recipients = static_cast<std::size_t>(s.max_recipients);
  c.max_line_bytes = static_cast<std::size_t>(s.max_line_bytes);
  c.max_commands = static_cast<std::size_t>(s.max_commands);
  c.max_errors = static_cast<std::size_t>(s.max_errors);
  return c;
}

struct smtp_server::connection : std::enable_shared_from_this<connection> {
  connection(generic_socket s, bool lmtp, std::string client)
      : socket(std::move(s)), timer(socket.get_executor()), lmtp(lmtp), client(std::move(client)) {}

  // Every socket operation runs under a deadline. On expiry the socket is cancelled, not closed
  // (unlike beast::tcp_stream), so that a 421 4.4.2 can still be sent. The generation makes a
  // timer that fired just as its operation completed harmless to the next operation.
  void arm(steady::time_point deadline) {
    auto generation = ++deadline_generation;
    timed_out = false;
    timer.expires_at(deadline);
    timer.async_wait([self = shared_from_this(), generation](const boost::system::error_code& ec) {
      if (ec || generation != self->deadline_generation) return;
      self->timed_out = true;
      boost::system::error_code ignored;
      self->socket.cancel(ignored);
    });
  }
  void disarm() {
    ++deadline_generation;
    timer.cancel();
  }

  generic_socket socket;
  asio::steady_timer timer;
  std::uint64_t deadline_generation = 0;
  bool timed_out = false;
  bool idle = false;             // waiting for a command between transactions: shutdown may interrupt
  bool close_requested = false;  // shutdown: close once the current transaction is over
  bool abort_requested = false;  // grace period over: close now
  bool lmtp;
  std::string client;  // "[192.0.2.1]" or "local", for the Received header
};

smtp_server::smtp_server(asio::io_context& io, app_context& app)
    : io_(io),
      app_(app),
      smtp_config_(smtp_session_config_from(app.config.smtp, false)),
      lmtp_config_(smtp_session_config_from(app.config.smtp, true)),
      command_timeout_(app.config.smtp.command_timeout_ms),
      data_timeout_(app.config.smtp.data_timeout_ms),
      max_connections_(static_cast<std::size_t>(app.config.smtp.max_connections)) {}

smtp_server::~smtp_server() {
  if (unix_acceptor_) {
    boost::system::error_code ignored;
    unix_acceptor_->close(ignored);
  }
  remove_socket_file();
}

// Each acceptor on a strand of its own, so that begin_shutdown's close never races its accept.
void smtp_server::listen_smtp(const tcp::endpoint& endpoint) {
  smtp_acceptor_.emplace(asio::make_strand(io_));
  open_acceptor(*smtp_acceptor_, endpoint, true);
}

void smtp_server::listen_lmtp(const tcp::endpoint& endpoint) {
  lmtp_acceptor_.emplace(asio::make_strand(io_));
  open_acceptor(*lmtp_acceptor_, endpoint, true);
}

// Only the file this process made: after a quick restart it may already be the new process's.
void smtp_server::remove_socket_file() {
  if (unix_path_.empty()) return;
  struct stat st {};
  if (::lstat(unix_path_.c_str(), &st) == 0 && st.st_ino == unix_inode_ && st.st_dev == unix_device_)
    ::unlink(unix_path_.c_str());
  unix_path_.clear();
}

void smtp_server::listen_lmtp_unix(const std::string& path) {
  namespace fs = std::filesystem;
  using local = asio::local::stream_protocol;
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) throw std::runtime_error("smtp.lmtp_socket " + path + " exists and is not a socket");
    // A socket file left by a process that died is stale; one that answers belongs to a
    // running server, which we must not take over. Non-blocking: a full backlog answers
    // "try again" (someone is there) instead of blocking the start.
    local::socket probe(io_);
    boost::system::error_code ec;
    probe.open(local(), ec);
    if (!ec) probe.non_blocking(true, ec);
    if (!ec) probe.connect(local::endpoint(path), ec);
    if (!ec || ec == asio::error::would_block || ec == asio::error::try_again)
      throw std::runtime_error("smtp.lmtp_socket " + path + " is in use by another process");
    ::unlink(path.c_str());
  }
  auto parent = fs::path(path).parent_path();
  if (!parent.empty()) fs::create_directories(parent);
  unix_acceptor_.emplace(asio::make_strand(io_));
  open_acceptor(*unix_acceptor_, local::endpoint(path), false);
  // Group-writable, not world: the MTA in front reaches it through the socket's group.
  if (::chmod(path.c_str(), 0660) != 0 || ::lstat(path.c_str(), &st) != 0)
    throw std::runtime_error("cannot chmod smtp.lmtp_socket " + path);
  unix_path_ = path;
  unix_inode_ = st.st_ino;
  unix_device_ = st.st_dev;
}

std::optional<tcp::endpoint> smtp_server::smtp_endpoint() const {
  if (!smtp_acceptor_) return std::nullopt;
  return smtp_acceptor_->local_endpoint();
}

std::optional<tcp::endpoint> smtp_server::lmtp_endpoint() const {
  if (!lmtp_acceptor_) return std::nullopt;
  return lmtp_acceptor_->local_endpoint();
}

void smtp_server::start() {
  if (smtp_acceptor_)
    asio::co_spawn(smtp_acceptor_->get_executor(), accept_loop(*smtp_acceptor_, false),
                   [](std::exception_ptr e) { log_exception(e, "smtp accept loop ended"); });
  if (lmtp_acceptor_)
    asio::co_spawn(lmtp_acceptor_->get_executor(), accept_loop(*lmtp_acceptor_, true),
                   [](std::exception_ptr e) { log_exception(e, "lmtp accept loop ended"); });
  if (unix_acceptor_)
    asio::co_spawn(unix_acceptor_->get_executor(), accept_loop(*unix_acceptor_, true),
                   [](std::exception_ptr e) { log_exception(e, "lmtp socket accept loop ended"); });
}

void smtp_server::begin_shutdown() {
  shutting_down_ = true;
  auto close_acceptor = [](auto& acceptor) {
    if (!acceptor) return;
    asio::post(acceptor->get_executor(), [&acceptor] {
      boost::system::error_code ignored;
      acceptor->close(ignored);
    });
  };
  close_acceptor(smtp_acceptor_);
  close_acceptor(lmtp_acceptor_);
  close_acceptor(unix_acceptor_);
  remove_socket_file();  // no new MTA connection finds it
  std::lock_guard lock(connections_mutex_);
  for (auto& [id, weak] : connections_)
    if (auto c = weak.lock())
      asio::post(c->socket.get_executor(), [c] {
        c->close_requested = true;
        if (c->idle) {  // between transactions: interrupt the read, answer 421
          boost::system::error_code ignored;
          c->socket.cancel(ignored);
        }
      });
}

void smtp_server::close_all() {
  std::lock_guard lock(connections_mutex_);
  for (auto& [id, weak] : connections_)
    if (auto c = weak.lock())
      asio::post(c->socket.get_executor(), [c] {
        c->close_requested = true;
        c->abort_requested = true;
        boost::system::error_code ignored;
        c->socket.cancel(ignored);
      });
}

template <class Acceptor>
awaitable<void> smtp_server::accept_loop(Acceptor& acceptor, bool lmtp) {
  for (;;) {
    auto strand = asio::make_strand(io_);
    auto [ec, socket] = co_await acceptor.async_accept(strand, use_nothrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || shutting_down_) co_return;
      spdlog::warn("smtp accept failed: {}", ec.message());  // EMFILE and friends: back off, do not spin
      asio::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(50));
      co_await pause.async_wait(use_nothrow);
      continue;
    }
    std::string client = "local";
    if constexpr (std::is_same_v<Acceptor, tcp::acceptor>) {
      boost::system::error_code ignored;
      auto remote = socket.remote_endpoint(ignored);
      auto address = remote.address();
      client = address.is_v6() ? "[IPv6:" + address.to_string() + "]" : "[" + address.to_string() + "]";
      socket.set_option(tcp::no_delay(true), ignored);  // replies are whole; do not let Nagle hold them
    }
    launch(std::make_shared<connection>(generic_socket(std::move(socket)), lmtp, std::move(client)));
  }
}

void smtp_server::launch(std::shared_ptr<connection> c) {
  std::uint64_t id;
  {
    std::lock_guard lock(connections_mutex_);
    id = next_connection_id_++;
    connections_[id] = c;
  }
  ++open_connections_;
  auto executor = c->socket.get_executor();
  asio::co_spawn(executor, serve_connection(std::move(c)), [this, id](std::exception_ptr e) {
    // Every connection coroutine ends here: an exception in one never stops the server.
    log_exception(e, "smtp connection ended by an error");
    --open_connections_;
    std::lock_guard lock(connections_mutex_);
    connections_.erase(id);
  });
}

awaitable<bool> smtp_server::write_all(std::shared_ptr<connection>& c, const std::string& bytes,
                                       steady::time_point deadline) {
  c->arm(deadline);
  auto out = asio::buffer(bytes);
  auto [ec, written] = co_await asio::async_write(c->socket, out, use_nothrow);
  c->disarm();
  co_return !ec;
}

awaitable<void> smtp_server::serve_connection(std::shared_ptr<connection> c) {
  const auto& config = c->lmtp ? lmtp_config_ : smtp_config_;
  if (open_connections_.load() > max_connections_ || shutting_down_) {
    ++app_.metrics.smtp_connections_refused;
    auto reply = shutting_down_ ? mail::smtp_session(config).shutting_down().replies
                                : mail::smtp_session::too_many_connections_reply(config.hostname);
    co_await write_all(c, reply, steady::now() + goodbye_timeout);
  } else {
    mail::smtp_session session(config);
    auto step = session.start();
    std::string buffer(read_chunk, '\0');
    std::optional<steady::time_point> data_deadline;
    for (;;) {
      if (!step.replies.empty()) {
        auto deadline = steady::now() + (c->abort_requested ? std::chrono::milliseconds(goodbye_timeout) : command_timeout_);
        bool written = co_await write_all(c, step.replies, deadline);
        if (!written) break;
      }
      if (step.action == mail::smtp_action::close) break;
      if (step.action == mail::smtp_action::deliver) {
        step = co_await deliver(session, *c);
        continue;
      }
      if (c->abort_requested || ((c->close_requested || shutting_down_) && !session.in_transaction())) {
        step = session.shutting_down();
        continue;
      }
      // Between commands the idle timeout; the whole DATA transfer has one deadline of its own,
      // so that a client trickling a byte at a time cannot hold the connection for ever.
      if (!session.in_data()) data_deadline.reset();
      else if (!data_deadline) data_deadline = steady::now() + data_timeout_;
      c->idle = !session.in_transaction();
      c->arm(data_deadline ? *data_deadline : steady::now() + command_timeout_);
      auto into = asio::buffer(buffer);
      auto [ec, n] = co_await c->socket.async_read_some(into, use_nothrow);
      c->disarm();
      c->idle = false;
      if (ec) {
        if (c->timed_out) step = session.timeout();
        else if (ec == asio::error::operation_aborted && c->close_requested) step = session.shutting_down();
        else break;  // the client went away
        continue;
      }
      step = session.feed(std::string_view(buffer.data(), n));
    }
  }
  boost::system::error_code ignored;
  c->timer.cancel();
  c->socket.shutdown(asio::socket_base::shutdown_both, ignored);
  c->socket.close(ignored);
}

// The hour's message counts of a client address and an envelope sender (by its blind index: the
// address itself never goes to Redis). Counted before the message is queued, so that a client
// over its limit gets 450 and the message is not taken.
namespace {

enum class smtp_limit { ok, limited, unavailable };
smtp_limit count_message(app_context& app, const std::string& client, bool lmtp, const std::string& sender) {
  auto& smtp = app.config.smtp;
  bool per_ip = !lmtp && client != "local" && smtp.messages_per_ip_per_hour > 0;
  bool per_sender = !sender.empty() && smtp.messages_per_sender_per_hour > 0;
  if (!per_ip && !per_sender) return smtp_limit::ok;
  try {
    return app.redis.with([&](queue::redis_connection& redis) {
      constexpr auto hour = std::chrono::hours(1);
      if (per_ip &&
          queue::count_in_window(redis, app.redis_keys.rate_limit("smtp-ip", client), hour).count >
              smtp.messages_per_ip_per_hour)
        return smtp_limit::limited;
      if (per_sender && queue::count_in_window(redis, app.sender_rate_key("smtp", sender), hour).count >
                            smtp.messages_per_sender_per_hour)
        return smtp_limit::limited;
      return smtp_limit::ok;
    });
  } catch (const unavailable_error&) {
    return smtp_limit::unavailable;
  }
}

}  // namespace

awaitable<mail::smtp_step> smtp_server::deliver(mail::smtp_session& session, connection& c) {
  auto received = now();
  auto& envelope = session.envelope();
  auto count = [&app = app_, client = c.client, lmtp = c.lmtp, sender = envelope.sender] {
    return count_message(app, client, lmtp, sender);
  };
  auto limit = co_await run_blocking(app_.blocking, std::move(count));
  if (limit != smtp_limit::ok) {
    envelope.data.clear();
    mail::smtp_delivery refused;
    refused.rate_limited = limit == smtp_limit::limited;
    if (refused.rate_limited) {
      ++app_.metrics.smtp_rate_limited;
      spdlog::info("{}: a message over the hourly limit of its client or sender; answered 450", c.lmtp ? "lmtp" : "smtp");
    } else {
      ++app_.metrics.intakes_unavailable;
      spdlog::warn("{}: a message could not be counted (Redis unavailable); answered 451", c.lmtp ? "lmtp" : "smtp");
    }
    co_return session.complete(refused);
  }
  intake::intake_record record;
  record.id = crypto::new_intake_id();
  record.source = intake::intake_source::email;
  record.received_unix_ms = to_unix_ms(received);
  // What the worker reads is the message as a final delivery stores it: Return-Path (the
  // envelope sender, for auto-reply suppression) and Received (with the intake id) on top.
  auto trace = mail::trace_headers(envelope, c.client, app_.config.smtp.hostname, record.id, received);
  std::string raw;
  if (envelope.data.size() > seal_inline_limit) {
    // A big message is moved, not copied: a connection holds at most about two copies (the
    // plaintext and the sealed one) at any time.
    raw = std::move(envelope.data);
    raw.insert(0, trace);
  } else {
    // A small one is copied, so that the session keeps its buffer for the next message.
    raw.reserve(trace.size() + envelope.data.size());
    raw += trace;
    raw += envelope.data;
  }
  envelope.data.clear();
  if (raw.size() > seal_inline_limit) {
    auto seal = [&keys = app_.keys, &raw, &id = record.id] { return keys.seal(raw, intake::payload_binding(id)); };
    record.sealed_payload = co_await run_blocking(app_.blocking, std::move(seal));
  } else {
    record.sealed_payload = app_.keys.seal(raw, intake::payload_binding(record.id));
  }
  auto bytes = raw.size();
  raw.clear();
  raw.shrink_to_fit();  // the plaintext copy is not kept while Redis works
  queue::append_request append{std::move(record), std::string{}};
  auto outcome = co_await async_append(app_, std::move(append));
  app_.metrics.intake_ack_seconds.observe(std::chrono::duration<double>(now() - received).count());
  mail::smtp_delivery result;
  if (outcome.result == queue::append_outcome::status::unavailable) {
    ++app_.metrics.intakes_unavailable;
    spdlog::warn("{}: a message could not be queued (Redis unavailable); answered 451", c.lmtp ? "lmtp" : "smtp");
  } else {
    ++app_.metrics.smtp_messages_queued;
    result.queued = true;
    result.intake_id = outcome.intake_id;
    spdlog::debug("{}: queued intake {} ({} bytes)", c.lmtp ? "lmtp" : "smtp", outcome.intake_id, bytes);
  }
  co_return session.complete(result);
}

}  // namespace md::server
