// Fixed-window counters (see rate_limit.hpp).
#include "queue/rate_limit.hpp"

#include <string_view>

#include "core/errors.hpp"

namespace md::queue {

window_count count_in_window(redis_connection& c, const std::string& key, std::chrono::seconds window) {
  auto seconds = std::to_string(window.count());
  std::string_view incr[] = {"INCR", key};
  std::string_view expire[] = {"EXPIRE", key, seconds, "NX"};
  std::string_view ttl[] = {"TTL", key};
  c.append(incr);
  c.append(expire);
  c.append(ttl);
  auto counted = c.read_reply();
  c.read_reply();
  auto remaining = c.read_reply();
  if (!counted || counted->type != REDIS_REPLY_INTEGER) throw unavailable_error("redis refused a rate-limit count");
  return {counted->integer, remaining && remaining->type == REDIS_REPLY_INTEGER ? remaining->integer : window.count()};
}

}  // namespace md::queue
