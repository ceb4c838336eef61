// The email front door: SMTP and LMTP listeners (TCP, and a unix socket for LMTP), one coroutine
// per connection driving mail::smtp_session, with a deadline on every read and write, a
// connection cap and graceful shutdown. A message is answered 250 only after Redis has it.
#pragma once
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

#include <boost/asio/local/stream_protocol.hpp>

#include "mail/smtp_session.hpp"
#include "server/app.hpp"
#include "server/net.hpp"

namespace md::server {

class smtp_server {
 public:
  // Listeners are added before start(); each throws if it cannot bind.
  smtp_server(asio::io_context& io, app_context& app);
  ~smtp_server();
  void listen_smtp(const tcp::endpoint& endpoint);
  void listen_lmtp(const tcp::endpoint& endpoint);
  // Removes a stale socket file first (refuses if something answers on it); mode 0660.
  void listen_lmtp_unix(const std::string& path);
  void start();

  std::optional<tcp::endpoint> smtp_endpoint() const;
  std::optional<tcp::endpoint> lmtp_endpoint() const;

  // Stops accepting; connections between transactions get 421 4.3.2 and close, the others
  // finish their current transaction first.
  void begin_shutdown();
  // The grace period is over: every connection still open gets 421 4.3.2 and closes (a message
  // still waiting for Redis is answered by the appender's stop, 451).
  void close_all();
  std::size_t open_connections() const { return open_connections_.load(); }

 private:
  struct connection;
  template <class Acceptor>
  awaitable<void> accept_loop(Acceptor& acceptor, bool lmtp);
  void launch(std::shared_ptr<connection> c);
  awaitable<void> serve_connection(std::shared_ptr<connection> c);
  awaitable<mail::smtp_step> deliver(mail::smtp_session& session, connection& c);
  void remove_socket_file();
  awaitable<bool> write_all(std::shared_ptr<connection>& c, const std::string& bytes,
                            std::chrono::steady_clock::time_point deadline);

  asio::io_context& io_;
  app_context& app_;
  mail::smtp_session_config smtp_config_, lmtp_config_;
  std::chrono::milliseconds command_timeout_, data_timeout_;
  std::size_t max_connections_;
  std::optional<tcp::acceptor> smtp_acceptor_, lmtp_acceptor_;
  std::optional<asio::local::stream_protocol::acceptor> unix_acceptor_;
  std::string unix_path_;  // set while this process owns the socket file (that inode)
  ino_t unix_inode_ = 0;
  dev_t unix_device_ = 0;
  std::atomic<std::size_t> open_connections_{0};
  std::atomic<bool> shutting_down_{false};
  std::mutex connections_mutex_;
  std::map<std::uint64_t, std::weak_ptr<connection>> connections_;
  std::uint64_t next_connection_id_ = 0;
};

// The session settings from the smtp.* settings (lists parsed, limits copied).
mail::smtp_session_config smtp_session_config_from(const smtp_settings& s, bool lmtp);

}  // namespace md::server
