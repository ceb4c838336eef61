// A client of the live feed (GET /api/v1/events) for the integration tests: reads the stream as a
// browser's EventSource would, over a raw socket so that the test sees every byte.
#pragma once
#include <chrono>
#include <optional>
#include <string>

#include "support/raw_socket.hpp"

namespace md::test {

using namespace std::chrono_literals;

struct sse_event {
  std::string event, data;
};

// Reads GET /api/v1/events as a browser's EventSource would: the head, then the chunked body
// as events (comment lines skipped).
class event_reader {
 public:
  event_reader(int port, const std::string& cookie) : socket_(port) {
    socket_.send("GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n" +
                 (cookie.empty() ? std::string{} : "Cookie: " + cookie + "\r\n") + "\r\n");
  }
  // The status code (0 if no head came in time); the head is kept for header().
  int status() {
    if (head_.empty()) {
      if (!socket_.read_until("\r\n\r\n", 10s)) return 0;
      head_ = socket_.received().substr(0, socket_.received().find("\r\n\r\n") + 2);
      consumed_ = head_.size() + 2;
    }
    return std::stoi(head_.substr(9, 3));
  }
  std::string header(const std::string& name) const {
    auto at = head_.find("\r\n" + name + ": ");
    if (at == std::string::npos) return {};
    at += name.size() + 4;
    return head_.substr(at, head_.find("\r\n", at) - at);
  }
  // The next event, or nullopt if none comes in time or the stream ends.
  std::optional<sse_event> next(std::chrono::milliseconds timeout) {
    auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      decode_chunks();
      if (auto end = body_.find("\n\n"); end != std::string::npos) {
        auto block = body_.substr(0, end + 1);
        body_.erase(0, end + 2);
        sse_event e;
        for (std::size_t at = 0; at < block.size();) {
          auto line_end = block.find('\n', at);
          auto line = block.substr(at, line_end - at);
          at = line_end + 1;
          if (line.starts_with("event: ")) e.event = line.substr(7);
          else if (line.starts_with("data: ")) e.data += (e.data.empty() ? "" : "\n") + line.substr(6);
        }
        if (!e.event.empty()) return e;
        continue;  // a comment (keep-alive) or a lone retry line
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (ended_ || left.count() <= 0 || !socket_.read_until("\r\n", left, socket_.received().size())) {
        decode_chunks();
        if (body_.find("\n\n") == std::string::npos) return std::nullopt;
      }
    }
  }
  // Whether the server closes the stream within the timeout, after a complete (chunked) body.
  bool ends_within(std::chrono::milliseconds timeout) {
    bool closed = socket_.read_until_closed(timeout);
    decode_chunks();
    return closed && ended_;
  }
  const std::string& raw() const { return socket_.received(); }

 private:
  // Moves complete chunks from the socket's bytes into body_; the zero-size chunk ends it.
  void decode_chunks() {
    auto& raw = socket_.received();
    while (!ended_) {
      auto line_end = raw.find("\r\n", consumed_);
      if (line_end == std::string::npos) return;
      auto size = std::stoul(raw.substr(consumed_, line_end - consumed_), nullptr, 16);
      if (raw.size() < line_end + 2 + size + 2) return;
      body_ += raw.substr(line_end + 2, size);
      consumed_ = line_end + 2 + size + 2;
      if (size == 0) ended_ = true;
    }
  }
  raw_socket socket_;
  std::string head_, body_;
  std::size_t consumed_ = 0;
  bool ended_ = false;
};

}  // namespace md::test
