// A bare loopback TCP client for tests that read a response as it arrives (event streams), with
// a deadline on every wait. Header-only so unit tests can use it; not for anything but tests.
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>

namespace md::test {

class raw_socket {
 public:
  explicit raw_socket(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      if (fd_ >= 0) ::close(fd_);
      throw std::runtime_error("cannot connect to 127.0.0.1:" + std::to_string(port));
    }
  }
  ~raw_socket() { ::close(fd_); }
  raw_socket(const raw_socket&) = delete;
  raw_socket& operator=(const raw_socket&) = delete;

  void send(std::string_view bytes) {
    while (!bytes.empty()) {
      auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("send failed");
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  // Reads until `needle` has arrived (searching from `from` in received()), the peer closes, or
  // the timeout passes. Returns whether the needle is there.
  bool read_until(std::string_view needle, std::chrono::milliseconds timeout, std::size_t from = 0) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (received_.find(needle, from) == std::string::npos)
      if (!read_some(until)) return false;
    return true;
  }
  // Reads until the peer closes (true) or the timeout passes (false).
  bool read_until_closed(std::chrono::milliseconds timeout) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (read_some(until)) {
    }
    return closed_;
  }
  const std::string& received() const { return received_; }
  bool closed() const { return closed_; }

 private:
  // false once closed or past the deadline.
  bool read_some(std::chrono::steady_clock::time_point until) {
    if (closed_) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buffer[4096];
    auto n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) {
      closed_ = true;
      return false;
    }
    received_.append(buffer, static_cast<std::size_t>(n));
    return true;
  }
  int fd_;
  std::string received_;
  bool closed_ = false;
};

}  // namespace md::test
