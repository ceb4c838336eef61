// Outbound transports (see transport.hpp): maildir by the Maildir rules (tmp/, fsync, rename
// into new/), SMTP by libcurl. Neither logs: the sender logs the outcome with the outbox id.
#include "mail/transport.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

namespace md::mail {
namespace fs = std::filesystem;
namespace {

using kind = delivery_result::kind;

delivery_result temporary(std::string detail) { return {kind::temporary, std::move(detail)}; }

bool plain_file_name(std::string_view name) {
  if (name.empty() || name.size() > 200 || name.front() == '.') return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
          c == '-'))
      return false;
  return true;
}

std::string errno_text(int error) { return fmt::format("{} ({})", std::strerror(error), error); }

bool fsync_path(const fs::path& p, int flags) {
  int fd = ::open(p.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

// A reader that has seen the message moves it to cur/ as "<name>:2,<flags>".
bool already_in_cur(const fs::path& cur, std::string_view name) {
  std::error_code ec;
  if (fs::exists(cur / std::string{name}, ec)) return true;
  std::string prefix = std::string{name} + ":";
  for (fs::directory_iterator it(cur, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().filename().string().starts_with(prefix)) return true;
  return false;
}

void curl_global() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct upload {
  std::string_view data;
  std::size_t offset = 0;
};

std::size_t read_upload(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto* u = static_cast<upload*>(user);
  std::size_t n = std::min(size * count, u->data.size() - u->offset);
  std::memcpy(buffer, u->data.data() + u->offset, n);
  u->offset += n;
  return n;
}

int progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* cancel = static_cast<const std::atomic<bool>*>(user);
  return cancel && cancel->load() ? 1 : 0;  // non-zero aborts the transfer
}

// An address for MAIL FROM / RCPT TO: anything that could break the SMTP command line or
// smuggle another parameter is refused rather than cleaned.
bool plain_address(std::string_view a) {
  if (a.empty() || a.size() > 320 || a.find('@') == std::string_view::npos) return false;
  for (char c : a) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F || c == '<' || c == '>' || c == '"' || c == '\\' || c == ',') return false;
  }
  return true;
}

}  // namespace

std::string_view to_string(delivery_result::kind k) {
  switch (k) {
    case kind::delivered:
      return "delivered";
    case kind::temporary:
      return "temporary";
    case kind::permanent:
      return "permanent";
  }
  return "unknown";
}

delivery_result deliver_to_maildir(const fs::path& dir, std::string_view name, std::string_view message) {
  if (!plain_file_name(name)) return {kind::permanent, "maildir: the message name is not a plain file name"};
  if (dir.empty()) return temporary("maildir: no folder configured (mail.maildir)");
  auto tmp = dir / "tmp", new_dir = dir / "new", cur = dir / "cur";
  std::error_code ec;
  for (auto& d : {tmp, new_dir, cur}) {
    fs::create_directories(d, ec);
    if (ec) return temporary(fmt::format("maildir: cannot create the folders: {}", ec.message()));
  }
  auto target = new_dir / std::string{name};
  // Named after the outbox id: a redelivered entry finds its file and is not written twice.
  if (fs::exists(target, ec) || already_in_cur(cur, name)) return {kind::delivered, "maildir: already delivered"};

  // A temporary name unique to this process and thread, in case two senders race on one id.
  auto temp = tmp / fmt::format("{}.{}.{}", name, ::getpid(), std::hash<std::thread::id>{}(std::this_thread::get_id()));
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return temporary("maildir: cannot create the file in tmp/: " + errno_text(errno));
  std::size_t written = 0;
  while (written < message.size()) {
    auto n = ::write(fd, message.data() + written, message.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int error = errno;
      ::close(fd);
      ::unlink(temp.c_str());
      return temporary("maildir: cannot write the file: " + errno_text(error));
    }
    written += static_cast<std::size_t>(n);
  }
  // Durable before it becomes visible: fsync the file, rename, then fsync the folder.
  if (::fsync(fd) != 0) {
    int error = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    return temporary("maildir: fsync failed: " + errno_text(error));
  }
  ::close(fd);
  if (::rename(temp.c_str(), target.c_str()) != 0) {
    int error = errno;
    ::unlink(temp.c_str());
    return temporary("maildir: cannot move the file into new/: " + errno_text(error));
  }
  if (!fsync_path(new_dir, O_RDONLY | O_DIRECTORY))
    return temporary("maildir: fsync of new/ failed: " + errno_text(errno));
  return {kind::delivered, "maildir: written to new/"};
}

delivery_result classify_smtp_outcome(int curl_code, long smtp_response_code) {
  auto code = static_cast<CURLcode>(curl_code);
  if (code == CURLE_OK) return {kind::delivered, fmt::format("smtp: accepted ({})", smtp_response_code)};
  std::string detail =
      fmt::format("smtp: {} (curl {}, reply {})", curl_easy_strerror(code), curl_code, smtp_response_code);
  // A refused log-in or a missing STARTTLS is the relay set-up, not the message: retrying after
  // the set-up is fixed can succeed, as Postfix treats SASL failures.
  if (code == CURLE_LOGIN_DENIED || code == CURLE_USE_SSL_FAILED) return temporary(std::move(detail));
  if (smtp_response_code >= 500 && smtp_response_code <= 599) return {kind::permanent, std::move(detail)};
  return temporary(std::move(detail));
}

delivery_result deliver_by_smtp(const smtp_options& options, std::string_view envelope_from,
                                const std::vector<std::string>& recipients, std::string_view message) {
  if (!options.url.starts_with("smtp://") && !options.url.starts_with("smtps://"))
    return temporary("smtp: mail.smtp_url must be an smtp:// or smtps:// URL");
  if (recipients.empty()) return {kind::permanent, "smtp: no recipients"};
  // An empty envelope sender (a null reverse path) is allowed; anything else must be plain.
  if (!envelope_from.empty() && !plain_address(envelope_from))
    return {kind::permanent, "smtp: invalid envelope sender"};
  for (auto& r : recipients)
    if (!plain_address(r)) return {kind::permanent, "smtp: invalid recipient address"};

  curl_global();
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) return temporary("smtp: cannot initialise libcurl");
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> rcpt(nullptr, &curl_slist_free_all);
  for (auto& r : recipients) {
    auto* list = curl_slist_append(rcpt.get(), ("<" + r + ">").c_str());
    if (!list) return temporary("smtp: out of memory");
    rcpt.release();
    rcpt.reset(list);
  }
  std::string from = "<" + std::string{envelope_from} + ">";
  upload body{message};
  CURL* h = curl.get();
  curl_easy_setopt(h, CURLOPT_URL, options.url.c_str());
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
#endif
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // we run on worker threads
  curl_easy_setopt(h, CURLOPT_MAIL_FROM, from.c_str());
  curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt.get());
  curl_easy_setopt(h, CURLOPT_READFUNCTION, &read_upload);
  curl_easy_setopt(h, CURLOPT_READDATA, &body);
  curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message.size()));
  if (options.url.starts_with("smtp://") && options.starttls)
    curl_easy_setopt(h, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
  if (!options.username.empty()) {
    curl_easy_setopt(h, CURLOPT_USERNAME, options.username.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, options.password.c_str());
  }
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min(options.connect_timeout, options.timeout).count()));
  if (options.cancel) {
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, options.cancel);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  }
  auto code = curl_easy_perform(h);
  long response = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response);
  return classify_smtp_outcome(static_cast<int>(code), response);
}

}  // namespace md::mail
