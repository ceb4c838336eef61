// Whether an incoming message may get an automatic acknowledgement (RFC 3834 §2 and common
// practice): never to automatic mail, bounces, lists or the desk itself. Pure; never throws.
#pragma once
#include <string_view>

#include "mail/message.hpp"

namespace md::mail {

// False for: Auto-Submitted other than "no"; Precedence bulk, list, junk or auto_reply; any
// List-* header; an empty or missing return path ("<>": a bounce, or mail that must not be
// answered); system senders (mailer-daemon, postmaster, no-reply and the like, owner-*,
// *-request); delivery and read reports; subjects of out-of-office replies and bounces from
// systems that mark them no other way; and, when own_address is given, the desk's own mail.
bool may_acknowledge(const parsed_message& m, std::string_view own_address = {});

}  // namespace md::mail
