// The SMTP/LMTP state machine (see smtp_session.hpp). Pure: no I/O and no clock; every input
// byte sequence must leave it in a defined state with bounded memory, whatever the client sends.
#include "mail/smtp_session.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

namespace md::mail {
namespace {

constexpr std::size_t max_path_bytes = 256;  // RFC 5321 4.5.3.1.3
constexpr std::size_t max_helo_bytes = 255;

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
char ascii_upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = ascii_lower(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_control(char c) {
  auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

// RFC 5322 atext, plus 8-bit bytes (leniency for senders that use UTF-8 without SMTPUTF8).
bool is_atext(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u >= 0x80) return true;
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view{"!#$%&'*+-/=?^_`{|}~."}.find(c) != std::string_view::npos;
}

bool valid_domain(std::string_view d) {
  if (d.empty() || d.size() > 255) return false;
  if (d.front() == '[') {  // address literal: [192.0.2.1], [IPv6:...]
    if (d.size() < 3 || d.back() != ']') return false;
    for (char c : d.substr(1, d.size() - 2))
      if (is_control(c) || c == '[' || c == ']' || c == '\\' || c == ' ') return false;
    return true;
  }
  std::size_t label = 0;
  for (char c : d) {
    if (c == '.') {
      if (label == 0) return false;  // empty label: "a..b", ".a", and a trailing dot below
      label = 0;
      continue;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok || ++label > 63) return false;
  }
  return label > 0;
}

// local-part "@" domain, with a dot-atom or quoted-string local part (RFC 5321 4.1.2).
bool valid_mailbox(std::string_view a) {
  std::size_t at = 0;
  if (!a.empty() && a.front() == '"') {
    std::size_t i = 1;
    for (; i < a.size(); ++i) {
      if (a[i] == '\\') {
        ++i;
        continue;
      }
      if (a[i] == '"') break;
    }
    if (i >= a.size()) return false;
    at = i + 1;
  } else {
    at = a.find('@');
    if (at == std::string_view::npos || at == 0) return false;
    for (char c : a.substr(0, at))
      if (!is_atext(c)) return false;
  }
  if (at >= a.size() || a[at] != '@') return false;
  return valid_domain(a.substr(at + 1));
}

struct parsed_path {
  std::string address;     // without <>, without a source route
  std::string_view params;  // what follows the path (ESMTP parameters), trimmed
};

// "<user@example.org> SIZE=100", "<>", "<@relay:user@example.org>", and leniently a bare
// "user@example.org" as Postfix accepts it. Quoted local parts may hold '>' and '@'.
std::optional<parsed_path> parse_path(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::string_view inner, rest;
  if (s.front() == '<') {
    bool quoted = false;
    std::size_t i = 1;
    for (; i < s.size(); ++i) {
      char c = s[i];
      if (quoted) {
        if (c == '\\') ++i;
        else if (c == '"') quoted = false;
      } else if (c == '"') {
        quoted = true;
      } else if (c == '>') {
        break;
      }
    }
    if (i >= s.size()) return std::nullopt;
    inner = s.substr(1, i - 1);
    rest = s.substr(i + 1);
    if (!rest.empty() && rest.front() != ' ' && rest.front() != '\t') return std::nullopt;
  } else {
    auto space = s.find_first_of(" \t");
    inner = s.substr(0, space);
    rest = space == std::string_view::npos ? std::string_view{} : s.substr(space);
    if (inner.find_first_of("<>") != std::string_view::npos) return std::nullopt;
  }
  if (!inner.empty() && inner.front() == '@') {  // a source route: accepted and ignored (RFC 5321 4.1.2)
    auto colon = inner.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    inner = inner.substr(colon + 1);
  }
  if (inner.size() > max_path_bytes) return std::nullopt;
  for (char c : inner)
    if (is_control(c)) return std::nullopt;
  return parsed_path{std::string(inner), trim(rest)};
}

std::vector<std::string_view> split_params(std::string_view s) {
  std::vector<std::string_view> out;
  while (!(s = trim(s)).empty()) {
    auto end = s.find_first_of(" \t");
    out.push_back(s.substr(0, end));
    if (end == std::string_view::npos) break;
    s.remove_prefix(end);
  }
  return out;
}

// The EHLO name goes into a Received header: keep it one token of visible ASCII.
std::string clean_helo(std::string_view name) {
  std::string out;
  for (char c : name.substr(0, max_helo_bytes)) {
    auto u = static_cast<unsigned char>(c);
    out += (u > 0x20 && u < 0x7f && c != '(' && c != ')') ? c : '?';
  }
  return out;
}

bool is_http_verb(std::string_view verb) {
  for (std::string_view v : {"GET", "POST", "HEAD", "PUT", "CONNECT", "OPTIONS", "DELETE", "PATCH"})
    if (verb == v) return true;
  return false;
}

}  // namespace

std::vector<std::string> parse_address_list(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    auto comma = text.find(',');
    auto item = trim(text.substr(0, comma));
    if (!item.empty()) out.push_back(lower(item));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

smtp_session::smtp_session(smtp_session_config config) : config_(std::move(config)) {
  // A limit of 0 would make every line "too long"; the settings table forbids it, the fuzzer may not.
  config_.max_line_bytes = std::max<std::size_t>(config_.max_line_bytes, 64);
  config_.max_errors = std::max<std::size_t>(config_.max_errors, 1);
}

smtp_step smtp_session::start() {
  smtp_step out;
  reply(out, fmt::format("220 {} {} ready", config_.hostname, config_.lmtp ? "LMTP" : "ESMTP"));
  return out;
}

smtp_step smtp_session::feed(std::string_view bytes) {
  smtp_step out;
  if (state_ == state::closed) {
    out.action = smtp_action::close;
    return out;
  }
  input_.append(bytes);
  process(out);
  return out;
}

smtp_step smtp_session::complete(const smtp_delivery& outcome) {
  smtp_step out;
  if (state_ != state::delivering) {  // nothing outstanding: a driver bug, answered by nothing
    if (state_ == state::closed) out.action = smtp_action::close;
    return out;
  }
  if (outcome.queued) {
    per_recipient(out, "250 2.0.0 Ok: queued as " + outcome.intake_id);
    // The command cap bounds a connection that gets nothing done; an MTA that reuses one
    // connection for many messages must not be cut off mid-queue.
    commands_ = 0;
  } else if (outcome.rate_limited) {
    per_recipient(out, "450 4.7.1 Too many messages from you in the last hour; try again later");
  } else {
    per_recipient(out, "451 4.3.0 Error: queue temporarily unavailable; try again later");
  }
  reset_transaction();
  state_ = state::command;
  process(out);  // pipelined commands that arrived behind the message
  return out;
}

smtp_step smtp_session::timeout() {
  smtp_step out;
  if (state_ != state::closed) close_with(out, fmt::format("421 4.4.2 {} Error: timeout exceeded", config_.hostname));
  out.action = smtp_action::close;
  return out;
}

smtp_step smtp_session::shutting_down() {
  smtp_step out;
  if (state_ != state::closed)
    close_with(out, fmt::format("421 4.3.2 {} Service shutting down; try again later", config_.hostname));
  out.action = smtp_action::close;
  return out;
}

std::string smtp_session::too_many_connections_reply(std::string_view hostname) {
  return fmt::format("421 4.3.2 {} Too many connections; try again later\r\n", hostname);
}

void smtp_session::process(smtp_step& out) {
  while (state_ == state::command || state_ == state::data) {
    std::string_view rest{input_.data() + input_pos_, input_.size() - input_pos_};
    auto lf = rest.find('\n');
    if (lf == std::string_view::npos) {
      // A partial line waits for more input, but never more than the line limit (+1 for a CR):
      // beyond it the line is dropped as it arrives and answered once its end comes.
      if (discarding_line_ || rest.size() > config_.max_line_bytes + 1) {
        discarding_line_ = true;
        input_pos_ = input_.size();
      }
      break;
    }
    auto line = rest.substr(0, lf);
    input_pos_ += lf + 1;
    bool too_long = discarding_line_;
    discarding_line_ = false;
    // CRLF, or a bare LF (accepted: some clients and pipes send them).
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > config_.max_line_bytes) too_long = true;
    on_line(line, too_long, out);
  }
  if (state_ == state::closed) {
    input_.clear();
    input_pos_ = 0;
  } else if (input_pos_ > 0) {
    input_.erase(0, input_pos_);
    input_pos_ = 0;
  }
}

void smtp_session::on_line(std::string_view line, bool too_long, smtp_step& out) {
  if (state_ == state::data) on_data_line(line, too_long, out);
  else on_command(line, too_long, out);
}

void smtp_session::reply(smtp_step& out, std::string_view text) {
  out.replies.append(text);
  out.replies += "\r\n";
}

void smtp_session::error_reply(smtp_step& out, std::string_view text) {
  reply(out, text);
  if (++errors_ >= config_.max_errors)
    close_with(out, fmt::format("421 4.7.0 {} Error: too many errors; closing connection", config_.hostname));
}

void smtp_session::close_with(smtp_step& out, std::string_view text) {
  reply(out, text);
  state_ = state::closed;
  out.action = smtp_action::close;
}

void smtp_session::per_recipient(smtp_step& out, std::string_view text) {
  // LMTP answers the message once per accepted recipient (RFC 2033 4.2); SMTP once.
  std::size_t n = config_.lmtp ? envelope_.recipients.size() : 1;
  for (std::size_t i = 0; i < n; ++i) reply(out, text);
}

void smtp_session::reset_transaction() {
  mail_given_ = false;
  rcpt_attempts_ = 0;
  data_too_big_ = false;
  data_line_too_long_ = false;
  envelope_.sender.clear();
  envelope_.recipients.clear();
  envelope_.data.clear();
  // Hand a big message's memory back; keep a small buffer for the next one.
  if (envelope_.data.capacity() > (1u << 20)) envelope_.data.shrink_to_fit();
}

void smtp_session::on_command(std::string_view line, bool too_long, smtp_step& out) {
  if (++commands_ > config_.max_commands) {
    close_with(out, fmt::format("421 4.7.0 {} Error: too many commands; closing connection", config_.hostname));
    return;
  }
  if (too_long) {
    error_reply(out, "500 5.5.6 Error: line too long");
    return;
  }
  auto space = line.find(' ');
  auto verb_text = line.substr(0, space);
  auto args = space == std::string_view::npos ? std::string_view{} : trim(line.substr(space + 1));
  std::string verb;
  for (char c : verb_text.substr(0, 16)) verb += ascii_upper(c);
  if (verb_text.size() > 16) verb += '?';  // no such command, and no huge copy

  // A browser or proxy talking HTTP to us (cross-protocol attack): hang up before its body,
  // which could hold SMTP commands, is read as commands.
  if (is_http_verb(verb) || (!verb.empty() && verb.back() == ':')) {
    close_with(out, fmt::format("421 4.7.0 {} Error: not an SMTP client; closing connection", config_.hostname));
    return;
  }

  bool lmtp = config_.lmtp;
  if ((!lmtp && (verb == "EHLO" || verb == "HELO")) || (lmtp && verb == "LHLO")) {
    cmd_hello(verb, args, out);
  } else if (verb == "MAIL") {
    cmd_mail(args, out);
  } else if (verb == "RCPT") {
    cmd_rcpt(args, out);
  } else if (verb == "DATA") {
    cmd_data(args, out);
  } else if (verb == "RSET") {
    if (!args.empty()) return error_reply(out, "501 5.5.4 Syntax: RSET");
    reset_transaction();
    reply(out, "250 2.0.0 Ok");
  } else if (verb == "NOOP") {
    reply(out, "250 2.0.0 Ok");
  } else if (verb == "QUIT") {
    close_with(out, fmt::format("221 2.0.0 {} closing connection", config_.hostname));
  } else if (verb == "VRFY") {
    if (args.empty()) return error_reply(out, "501 5.5.4 Syntax: VRFY address");
    // Never confirm or deny an address (harvesting); RFC 5321 3.5.3 allows 252.
    reply(out, "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery");
  } else if (verb == "EXPN") {
    reply(out, "502 5.5.1 Error: EXPN not available");
  } else if (verb == "HELP") {
    reply(out, lmtp ? "214 2.0.0 Commands: LHLO MAIL RCPT DATA RSET NOOP QUIT VRFY"
                    : "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY");
  } else if (verb == "STARTTLS" || verb == "AUTH" || verb == "BDAT" || verb == "ETRN" || verb == "TURN" ||
             verb == "ATRN" || verb == "XCLIENT" || verb == "XFORWARD") {
    // Known but not offered. BDAT in particular would be followed by a chunk we cannot frame.
    error_reply(out, "502 5.5.1 Error: command not implemented");
  } else if ((verb == "EHLO" || verb == "HELO") && lmtp) {
    error_reply(out, "500 5.5.2 Error: this is LMTP; use LHLO");
  } else {
    error_reply(out, "500 5.5.2 Error: command not recognized");
  }
}

void smtp_session::cmd_hello(std::string_view verb, std::string_view args, smtp_step& out) {
  if (args.empty()) return error_reply(out, fmt::format("501 5.5.4 Syntax: {} hostname", verb));
  auto name = args.substr(0, args.find_first_of(" \t"));
  reset_transaction();  // RFC 5321 4.1.4: a new EHLO/HELO starts over
  hello_given_ = true;
  esmtp_ = verb != "HELO";
  envelope_.helo = clean_helo(name);
  envelope_.protocol = verb == "LHLO" ? "LMTP" : verb == "EHLO" ? "ESMTP" : "SMTP";
  if (!esmtp_) return reply(out, fmt::format("250 {}", config_.hostname));
  reply(out, fmt::format("250-{}", config_.hostname));
  reply(out, "250-PIPELINING");
  reply(out, fmt::format("250-SIZE {}", config_.max_message_bytes));
  reply(out, "250-8BITMIME");
  reply(out, "250 ENHANCEDSTATUSCODES");
}

void smtp_session::cmd_mail(std::string_view args, smtp_step& out) {
  if (!hello_given_)
    return error_reply(out, config_.lmtp ? "503 5.5.1 Error: send LHLO first" : "503 5.5.1 Error: send EHLO/HELO first");
  if (mail_given_) return error_reply(out, "503 5.5.1 Error: nested MAIL command");
  if (!istarts_with(args, "FROM:")) return error_reply(out, "501 5.5.4 Syntax: MAIL FROM:<address>");
  auto path = parse_path(trim(args.substr(5)));
  if (!path || (!path->address.empty() && !valid_mailbox(path->address)))
    return error_reply(out, "501 5.1.7 Error: bad sender address syntax");
  for (auto param : split_params(path->params)) {
    if (!esmtp_) return error_reply(out, "555 5.5.4 Error: parameters need EHLO");
    auto eq = param.find('=');
    auto key = param.substr(0, eq);
    auto value = eq == std::string_view::npos ? std::string_view{} : param.substr(eq + 1);
    if (iequals(key, "SIZE")) {
      if (value.empty() || value.size() > 18 || !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return error_reply(out, "501 5.5.4 Error: bad SIZE parameter");
      std::uint64_t size = 0;
      for (char c : value) size = size * 10 + static_cast<std::uint64_t>(c - '0');
      if (size > config_.max_message_bytes)
        return reply(out, fmt::format("552 5.3.4 Error: message size exceeds fixed limit of {} bytes",
                                      config_.max_message_bytes));
    } else if (iequals(key, "BODY")) {
      if (!iequals(value, "7BIT") && !iequals(value, "8BITMIME"))
        return error_reply(out, "501 5.5.4 Error: BODY must be 7BIT or 8BITMIME");
    } else {
      return error_reply(out, "555 5.5.4 Error: unsupported MAIL parameter");
    }
  }
  mail_given_ = true;
  rcpt_attempts_ = 0;
  envelope_.sender = std::move(path->address);
  envelope_.recipients.clear();
  reply(out, "250 2.1.0 Ok");
}

bool smtp_session::recipient_accepted(std::string_view address) const {
  auto a = lower(address);
  auto has = [](const std::vector<std::string>& list, std::string_view item) {
    return std::find(list.begin(), list.end(), item) != list.end();
  };
  if (has(config_.addresses, a)) return true;
  // The whole domain, compared exactly: "desk.example.evil.com" or "sub.desk.example" is not ours.
  return has(config_.domains, std::string_view{a}.substr(a.rfind('@') + 1));
}

void smtp_session::cmd_rcpt(std::string_view args, smtp_step& out) {
  if (!mail_given_) return error_reply(out, "503 5.5.1 Error: need MAIL command");
  if (!istarts_with(args, "TO:")) return error_reply(out, "501 5.5.4 Syntax: RCPT TO:<address>");
  ++rcpt_attempts_;
  auto path = parse_path(trim(args.substr(3)));
  if (!path || path->address.empty()) return error_reply(out, "501 5.1.3 Error: bad recipient address syntax");
  if (!split_params(path->params).empty()) return error_reply(out, "555 5.5.4 Error: unsupported RCPT parameter");
  if (envelope_.recipients.size() >= config_.max_recipients) return reply(out, "452 4.5.3 Error: too many recipients");
  // RFC 5321 4.5.1: <postmaster> without a domain must be accepted by every server that takes mail.
  bool postmaster = iequals(path->address, "postmaster");
  if (postmaster) {
    if (config_.domains.empty() && config_.addresses.empty())
      return error_reply(out, "550 5.1.1 <postmaster>: Recipient address rejected: not a desk address");
  } else {
    if (!valid_mailbox(path->address)) return error_reply(out, "501 5.1.3 Error: bad recipient address syntax");
    // Never an open relay: only the desk's own addresses and domains.
    if (!recipient_accepted(path->address))
      return error_reply(out, fmt::format("550 5.1.1 <{}>: Recipient address rejected: not a desk address",
                                          path->address));
  }
  envelope_.recipients.push_back(std::move(path->address));
  reply(out, "250 2.1.5 Ok");
}

void smtp_session::cmd_data(std::string_view args, smtp_step& out) {
  if (!mail_given_) return error_reply(out, "503 5.5.1 Error: need MAIL command");
  if (!args.empty()) return error_reply(out, "501 5.5.4 Syntax: DATA");
  if (envelope_.recipients.empty()) {
    // Every RCPT refused (each already counted as an error): the pipelining client's DATA.
    if (rcpt_attempts_ > 0) return reply(out, "554 5.5.1 Error: no valid recipients");
    return error_reply(out, "503 5.5.1 Error: need RCPT command");
  }
  state_ = state::data;
  data_too_big_ = false;
  data_line_too_long_ = false;
  envelope_.data.clear();
  reply(out, "354 End data with <CR><LF>.<CR><LF>");
}

void smtp_session::on_data_line(std::string_view line, bool too_long, smtp_step& out) {
  if (too_long) {
    data_line_too_long_ = true;
    envelope_.data.clear();
    return;
  }
  if (line == ".") return finish_data(out);
  if (!line.empty() && line.front() == '.') line.remove_prefix(1);  // dot-unstuffing (RFC 5321 4.5.2)
  if (data_too_big_ || data_line_too_long_) return;  // refused at the end; keep reading to stay in step
  if (envelope_.data.size() + line.size() + 2 > config_.max_message_bytes) {
    data_too_big_ = true;
    envelope_.data.clear();
    envelope_.data.shrink_to_fit();
    return;
  }
  envelope_.data.append(line);
  envelope_.data += "\r\n";
}

void smtp_session::finish_data(smtp_step& out) {
  if (data_line_too_long_ || data_too_big_) {
    per_recipient(out, data_line_too_long_
                           ? fmt::format("552 5.3.4 Error: message has a line longer than {} bytes",
                                         config_.max_line_bytes)
                           : fmt::format("552 5.3.4 Error: message exceeds fixed limit of {} bytes",
                                         config_.max_message_bytes));
    reset_transaction();
    state_ = state::command;
    return;
  }
  state_ = state::delivering;
  out.action = smtp_action::deliver;
}

std::string format_rfc5322_date(time_point t) {
  using namespace std::chrono;
  auto day = floor<days>(t);
  year_month_day ymd{day};
  weekday wd{day};
  hh_mm_ss hms{floor<seconds>(t - day)};
  static constexpr const char* day_names[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* month_names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  return fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} +0000", day_names[wd.c_encoding()],
                     static_cast<unsigned>(ymd.day()), month_names[static_cast<unsigned>(ymd.month()) - 1],
                     static_cast<int>(ymd.year()), hms.hours().count(), hms.minutes().count(),
                     hms.seconds().count());
}

std::string trace_headers(const smtp_envelope& envelope, std::string_view client, std::string_view hostname,
                          std::string_view intake_id, time_point received) {
  return fmt::format("Return-Path: <{}>\r\nReceived: from {} ({}) by {} with {} id {}; {}\r\n", envelope.sender,
                     envelope.helo.empty() ? "unknown" : envelope.helo, client, hostname,
                     envelope.protocol.empty() ? "SMTP" : envelope.protocol, intake_id, format_rfc5322_date(received));
}

}  // namespace md::mail
