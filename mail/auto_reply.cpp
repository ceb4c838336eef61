// Automatic reply suppression (see auto_reply.hpp). Every rule errs towards silence: a missed
// acknowledgement costs little, a mail loop or backscatter to a forged sender costs a lot.
#include "mail/auto_reply.hpp"

#include <algorithm>
#include <array>
#include <string>

namespace md::mail {
namespace {

std::string lower_trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  std::string out{s};
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
  return out;
}

// The first token of a structured header value: "auto-replied; owner=..." -> "auto-replied",
// "no (comment)" -> "no".
std::string first_token(std::string_view value) {
  auto v = lower_trimmed(value);
  auto end = v.find_first_of(" \t;(");
  return end == std::string::npos ? v : v.substr(0, end);
}

std::string local_part(std::string_view address) {
  auto v = lower_trimmed(address);
  auto at = v.rfind('@');
  return at == std::string::npos ? v : v.substr(0, at);
}

// Senders that are systems, not people (RFC 3834 §2 names owner-*, *-request, MAILER-DAEMON,
// LISTSERV and majordomo; the rest are common no-reply names).
bool system_sender(std::string_view address) {
  auto local = local_part(address);
  if (local.empty()) return true;
  // "no-reply", "noreply", "no_reply", "do-not-reply", "donotreply"...: compare without separators.
  std::string bare;
  for (char c : local)
    if (c != '-' && c != '_' && c != '.' && c != '+') bare += c;
  static constexpr std::array<std::string_view, 11> exact{"mailerdaemon", "postmaster", "noreply",      "donotreply",
                                                          "dontreply",    "listserv",   "majordomo",    "bounce",
                                                          "bounces",      "autoreply",  "autoresponder"};
  for (auto e : exact)
    if (bare == e) return true;
  if (bare.starts_with("noreply") || bare.starts_with("donotreply") || bare.starts_with("mailerdaemon") ||
      bare.starts_with("bounce"))
    return true;
  return local.starts_with("owner-") || local.ends_with("-request") || local.ends_with("-owner") ||
         local.ends_with("-bounces");
}

// Out-of-office and bounce subjects, for systems that set no Auto-Submitted header.
bool automatic_subject(std::string_view subject) {
  auto s = lower_trimmed(subject);
  static constexpr std::array<std::string_view, 14> starts{"automatic reply:",
                                                           "auto:",
                                                           "autoreply",
                                                           "auto-reply",
                                                           "auto reply",
                                                           "out of office",
                                                           "out of the office",
                                                           "undeliverable:",
                                                           "undelivered mail",
                                                           "delivery status notification",
                                                           "mail delivery failed",
                                                           "delivery failure",
                                                           "returned mail:",
                                                           "read:"};
  for (auto p : starts)
    if (s.starts_with(p)) return true;
  return false;
}

}  // namespace

bool may_acknowledge(const parsed_message& m, std::string_view own_address) {
  if (!m.parsed || m.from_address.empty()) return false;
  if (auto a = first_token(m.auto_submitted); !a.empty() && a != "no") return false;
  auto precedence = first_token(m.precedence);
  if (precedence == "bulk" || precedence == "list" || precedence == "junk" || precedence == "auto_reply" ||
      precedence == "auto-reply")
    return false;
  if (m.has_list_headers) return false;
  // parse_message strips the brackets, so "<>" and a missing Return-Path both arrive empty.
  auto return_path = lower_trimmed(m.return_path);
  if (return_path.empty() || return_path == "<>") return false;
  if (system_sender(m.from_address) || system_sender(return_path)) return false;
  if (!m.reply_to_address.empty() && system_sender(m.reply_to_address)) return false;
  for (auto& a : m.attachments)
    if (a.content_type == "message/delivery-status" || a.content_type == "message/disposition-notification" ||
        a.content_type == "message/feedback-report" || a.content_type == "message/global-delivery-status")
      return false;
  if (automatic_subject(m.subject)) return false;
  if (!own_address.empty()) {
    auto own = lower_trimmed(own_address);
    if (lower_trimmed(m.from_address) == own || return_path == own) return false;
  }
  return true;
}

}  // namespace md::mail
