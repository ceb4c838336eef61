// Fixed-window counters in Redis, shared by every serve process: the form, the log-in, the SMTP
// listener and the webhook count their clients with it. One round trip per count.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

#include "queue/redis_connection.hpp"

namespace md::queue {

struct window_count {
  std::int64_t count = 0;        // this one included
  std::int64_t ttl_seconds = 0;  // until the window ends
};

// INCR key, then an expiry of `window` only if none is set (a fixed window from the first count),
// then its TTL, pipelined. Throws unavailable_error when Redis does not answer as expected.
window_count count_in_window(redis_connection& c, const std::string& key, std::chrono::seconds window);

}  // namespace md::queue
