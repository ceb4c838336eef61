// The SMTP (RFC 5321) and LMTP (RFC 2033) server protocol as a pure state machine: bytes in,
// reply bytes and an action out. No sockets, clocks or queues here (the listener in
// server/smtp_server.cpp owns those), so that a fuzzer can drive every state.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.hpp"

namespace md::mail {

struct smtp_session_config {
  std::string hostname = "localhost";  // in the greeting, the EHLO reply and 421 replies
  bool lmtp = false;                   // LHLO instead of HELO/EHLO; one DATA reply per recipient
  // The desk's mail: any address at one of these domains, or exactly one of these addresses
  // (lower-case, as parse_address_list returns them). Everything else is refused: we never relay.
  std::vector<std::string> domains;
  std::vector<std::string> addresses;
  std::size_t max_message_bytes = 25u << 20;  // announced in EHLO SIZE; 552 5.3.4 beyond
  std::size_t max_recipients = 50;
  std::size_t max_line_bytes = 4096;  // a longer command gets 500 5.5.6, a longer DATA line 552
  std::size_t max_commands = 500;     // per connection, counted afresh after each queued message; then 421
  std::size_t max_errors = 10;        // refused or malformed commands, then 421
};

// "a.example, B.example ,," -> {"a.example", "b.example"}: trimmed, lower-case, empties dropped.
std::vector<std::string> parse_address_list(std::string_view comma_separated);

// What one message arrived with. Valid from a `deliver` step until complete() is called.
struct smtp_envelope {
  std::string helo;      // the client's EHLO/HELO/LHLO name, cleaned for a header
  std::string protocol;  // "SMTP" (HELO), "ESMTP" (EHLO) or "LMTP" (LHLO), as RFC 3848 names them
  std::string sender;    // the reverse-path without <>; empty for the null sender <>
  std::vector<std::string> recipients;  // accepted forward-paths, in order (duplicates kept)
  std::string data;      // the message: dot-unstuffed, every line ending in CRLF, no final "."
};

enum class smtp_action {
  read,     // send the replies, then read more input
  deliver,  // send the replies, queue envelope(), then call complete() with the outcome
  close,    // send the replies, then close the connection
};

struct smtp_step {
  std::string replies;  // zero or more complete reply lines, CRLF-terminated
  smtp_action action = smtp_action::read;
};

struct smtp_delivery {
  bool queued = false;        // false: the queue did not confirm, and the client must retry (451)
  std::string intake_id;      // for queued
  bool rate_limited = false;  // not queued: too many messages from this client or sender (450 4.7.1)
};

class smtp_session {
 public:
  explicit smtp_session(smtp_session_config config);

  // The 220 greeting.
  smtp_step start();
  // Consumes bytes as read from the client: any number of whole or partial lines (pipelining).
  // Processes complete lines until the input runs out, a message is complete (deliver: the
  // rest stays buffered until complete()) or the session ends (close). Must not be called
  // while a delivery is outstanding or after close.
  smtp_step feed(std::string_view bytes);
  // The queue's answer for the message of the last deliver step: the DATA reply (one per
  // recipient for LMTP), then whatever buffered input follows.
  smtp_step complete(const smtp_delivery& outcome);
  // The driver's deadline passed: 421 4.4.2 and close.
  smtp_step timeout();
  // The server is stopping: 421 4.3.2 and close. Call it between transactions.
  smtp_step shutting_down();
  // For a connection over the cap, before any session: 421 4.3.2.
  static std::string too_many_connections_reply(std::string_view hostname);

  const smtp_envelope& envelope() const { return envelope_; }
  smtp_envelope& envelope() { return envelope_; }
  bool in_data() const { return state_ == state::data; }
  // MAIL accepted, DATA under way or the queue's answer outstanding: finish before stopping.
  bool in_transaction() const { return mail_given_ || state_ == state::data || state_ == state::delivering; }
  bool awaiting_delivery() const { return state_ == state::delivering; }
  bool closed() const { return state_ == state::closed; }
  std::size_t buffered_bytes() const { return input_.size() - input_pos_; }

 private:
  enum class state { command, data, delivering, closed };

  void process(smtp_step& out);
  void on_line(std::string_view line, bool too_long, smtp_step& out);
  void on_command(std::string_view line, bool too_long, smtp_step& out);
  void on_data_line(std::string_view line, bool too_long, smtp_step& out);
  void finish_data(smtp_step& out);
  void reply(smtp_step& out, std::string_view text);
  void error_reply(smtp_step& out, std::string_view text);  // counts towards max_errors
  void close_with(smtp_step& out, std::string_view text);
  void reset_transaction();
  void per_recipient(smtp_step& out, std::string_view text);

  void cmd_hello(std::string_view verb, std::string_view args, smtp_step& out);
  void cmd_mail(std::string_view args, smtp_step& out);
  void cmd_rcpt(std::string_view args, smtp_step& out);
  void cmd_data(std::string_view args, smtp_step& out);
  bool recipient_accepted(std::string_view address) const;

  smtp_session_config config_;
  state state_ = state::command;
  std::string input_;          // unprocessed bytes: at most one partial line beyond input_pos_
  std::size_t input_pos_ = 0;  // start of the unprocessed part of input_
  bool discarding_line_ = false;  // the current line passed max_line_bytes; drop it up to its LF
  bool hello_given_ = false;
  bool esmtp_ = false;
  bool mail_given_ = false;
  std::size_t rcpt_attempts_ = 0;  // RCPT commands in this transaction, accepted or not
  bool data_too_big_ = false;      // DATA passed max_message_bytes: discard the rest, then 552
  bool data_line_too_long_ = false;
  std::size_t commands_ = 0;
  std::size_t errors_ = 0;
  smtp_envelope envelope_;
};

// The trace headers a final delivery puts in front of a message (RFC 5321 4.4):
//   Return-Path: <sender>
//   Received: from <helo> (<client>) by <hostname> with <protocol> id <intake id>;
//   	<RFC 5322 date>
// client: "[192.0.2.1]" for TCP, "local" for a unix socket.
std::string trace_headers(const smtp_envelope& envelope, std::string_view client, std::string_view hostname,
                          std::string_view intake_id, time_point received);

// "Tue, 03 Feb 2026 09:04:05 +0000" (RFC 5322 date-time, in UTC).
std::string format_rfc5322_date(time_point t);

}  // namespace md::mail
