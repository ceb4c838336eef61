// Delivers one built message into a maildir folder (the demo's default) or to an SMTP relay with libcurl.
// Results say temporary or permanent; they never carry an address, a server's text or content.
#pragma once
#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace md::mail {

struct delivery_result {
  enum class kind { delivered, temporary, permanent } result;
  std::string detail;  // fixed wording plus codes: never an address, a server's text or content
};

std::string_view to_string(delivery_result::kind k);

// Writes message to dir/tmp/<name>, fsyncs it, and renames it into dir/new/<name> (creating
// tmp/, new/ and cur/ if missing), then fsyncs new/. Idempotent per name: if new/<name> or a
// cur/<name>:... (a reader moved it) exists, it is not written again. name must be a plain file
// name ([A-Za-z0-9._-]); anything else is a permanent failure.
delivery_result deliver_to_maildir(const std::filesystem::path& dir, std::string_view name, std::string_view message);

struct smtp_options {
  std::string url;                                    // smtp://relay:587[/ehlo-name] or smtps://relay:465
  std::string username, password;                     // empty username: no AUTH
  bool starttls = true;                               // smtp:// only: require STARTTLS (CURLUSESSL_ALL)
  std::chrono::milliseconds timeout{30'000};          // the whole delivery attempt
  std::chrono::milliseconds connect_timeout{10'000};  // of that, for connecting
  const std::atomic<bool>* cancel = nullptr;          // set: the attempt is abandoned (temporary), for shutdown
};

// One SMTP transaction: MAIL FROM envelope_from, RCPT TO each recipient, DATA message.
// 4xx replies and connection, TLS and timeout errors are temporary; 5xx replies are permanent.
delivery_result deliver_by_smtp(const smtp_options& options, std::string_view envelope_from,
                                const std::vector<std::string>& recipients, std::string_view message);

// The classification deliver_by_smtp uses, exposed for tests: a curl result code and the last
// SMTP reply code (0 if none).
delivery_result classify_smtp_outcome(int curl_code, long smtp_response_code);

}  // namespace md::mail
