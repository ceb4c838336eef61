// Consumer group member (see intake_consumer.hpp).
#include "queue/intake_consumer.hpp"

#include <spdlog/spdlog.h>

#include <charconv>

#include "core/errors.hpp"

namespace md::queue {
namespace {

std::optional<std::int64_t> to_int64(std::string_view s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

intake_consumer::intake_consumer(const redis_settings& redis, const worker_settings& worker, std::string consumer_name)
    : endpoint_(parse_redis_url(redis.url)),
      timeout_(redis.timeout_ms),
      batch_size_(worker.batch_size),
      block_ms_(worker.block_ms),
      reclaim_idle_ms_(worker.reclaim_idle_ms),
      max_deliveries_(worker.max_deliveries),
      keys_{redis.key_prefix},
      consumer_name_(std::move(consumer_name)) {}

redis_connection& intake_consumer::connection() {
  if (!connection_ || connection_->broken()) {
    connection_.reset();
    auto c = std::make_unique<redis_connection>(endpoint_, timeout_);
    ensure_group(*c);
    connection_ = std::move(c);
  }
  return *connection_;
}

void intake_consumer::ensure_group(redis_connection& c) {
  // From id 0, not $: entries appended before the first worker ever started are not skipped.
  auto stream = keys_.intake_stream(), group = keys_.consumer_group();
  auto r = c.command({"XGROUP", "CREATE", stream, group, "0", "MKSTREAM"});
  if (is_error(r.get()) && !text_of(r.get()).starts_with("BUSYGROUP"))
    throw unavailable_error(fmt::format("redis: cannot create the consumer group: {}", text_of(r.get())));
}

std::vector<delivered_intake> intake_consumer::parse_entries(const redisReply* entries) {
  std::vector<delivered_intake> out;
  if (!entries || entries->type != REDIS_REPLY_ARRAY) return out;
  for (std::size_t i = 0; i < entries->elements; ++i) {
    auto* e = entries->element[i];
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2) continue;
    delivered_intake d;
    d.entry_id = std::string{text_of(e->element[0])};
    auto* fields = e->element[1];
    if (fields->type == REDIS_REPLY_ARRAY) {  // nil when the entry was deleted meanwhile
      intake::intake_record record;
      bool has_id = false, has_payload = false, has_source = false;
      for (std::size_t f = 0; f + 1 < fields->elements; f += 2) {
        auto name = text_of(fields->element[f]);
        auto value = text_of(fields->element[f + 1]);
        if (name == "id") record.id = std::string{value}, has_id = true;
        else if (name == "p") record.sealed_payload = std::string{value}, has_payload = true;
        else if (name == "at") record.received_unix_ms = to_int64(value).value_or(0);
        else if (name == "src") {
          if (auto s = intake::parse_intake_source(value)) record.source = *s, has_source = true;
        }
      }
      if (has_id && has_payload && has_source) d.record = std::move(record);
    } else {
      continue;  // deleted entry: nothing left to process, it will be acknowledged by its owner
    }
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<delivered_intake> intake_consumer::read(std::string_view start_id, bool block) {
  auto& c = connection();
  auto count = std::to_string(batch_size_);
  auto block_text = std::to_string(block_ms_);
  auto stream = keys_.intake_stream(), group = keys_.consumer_group();
  redis_reply reply;
  if (block) {
    c.set_timeout(timeout_ + std::chrono::milliseconds(block_ms_));
    reply = c.command({"XREADGROUP", "GROUP", group, consumer_name_, "COUNT", count, "BLOCK", block_text, "STREAMS",
                       stream, start_id});
    c.set_timeout(timeout_);
  } else {
    reply = c.command({"XREADGROUP", "GROUP", group, consumer_name_, "COUNT", count, "STREAMS", stream, start_id});
  }
  if (is_error(reply.get())) {
    if (text_of(reply.get()).starts_with("NOGROUP")) {  // the stream was deleted: recreate and go on
      ensure_group(c);
      return {};
    }
    throw unavailable_error(fmt::format("redis: XREADGROUP failed: {}", text_of(reply.get())));
  }
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) return {};
  auto* stream_reply = reply->element[0];
  if (stream_reply->type != REDIS_REPLY_ARRAY || stream_reply->elements != 2) return {};
  return parse_entries(stream_reply->element[1]);
}

std::vector<delivered_intake> intake_consumer::read_own_pending() { return read("0", false); }
std::vector<delivered_intake> intake_consumer::read_new() { return read(">", true); }

intake_consumer::reclaimed intake_consumer::reclaim() {
  auto& c = connection();
  auto stream = keys_.intake_stream(), group = keys_.consumer_group();
  auto idle = std::to_string(reclaim_idle_ms_);
  auto count = std::to_string(batch_size_);
  auto pending = c.command({"XPENDING", stream, group, "IDLE", idle, "-", "+", count});
  reclaimed out;
  if (is_error(pending.get()) || pending->type != REDIS_REPLY_ARRAY || pending->elements == 0) return out;
  std::vector<std::string> ids;
  std::vector<std::int64_t> deliveries;
  for (std::size_t i = 0; i < pending->elements; ++i) {
    auto* p = pending->element[i];
    if (p->type != REDIS_REPLY_ARRAY || p->elements < 4) continue;
    ids.emplace_back(text_of(p->element[0]));
    deliveries.push_back(p->element[3]->integer);
  }
  if (ids.empty()) return out;
  // XCLAIM with the same min-idle time: if another worker claimed an entry meanwhile, we skip it.
  std::vector<std::string_view> args{"XCLAIM", stream, group, consumer_name_, idle};
  for (auto& id : ids) args.push_back(id);
  auto claimed = c.command(args);
  if (is_error(claimed.get())) throw unavailable_error(fmt::format("redis: XCLAIM failed: {}", text_of(claimed.get())));
  for (auto& d : parse_entries(claimed.get())) {
    auto it = std::find(ids.begin(), ids.end(), d.entry_id);
    // XCLAIM itself counts as a delivery.
    d.deliveries = (it == ids.end() ? 1 : deliveries[it - ids.begin()]) + 1;
    (d.deliveries > max_deliveries_ ? out.over_limit : out.to_process).push_back(std::move(d));
  }
  return out;
}

void intake_consumer::acknowledge(const std::vector<std::string>& entry_ids) {
  if (entry_ids.empty()) return;
  auto& c = connection();
  auto stream = keys_.intake_stream(), group = keys_.consumer_group();
  std::vector<std::string_view> ack{"XACK", stream, group};
  std::vector<std::string_view> del{"XDEL", stream};
  for (auto& id : entry_ids) {
    ack.push_back(id);
    del.push_back(id);
  }
  // The stream holds only work in flight: PostgreSQL has the committed intakes, so delete them.
  c.append(ack);
  c.append(del);
  auto r1 = c.read_reply();
  auto r2 = c.read_reply();
  if (is_error(r1.get()) || is_error(r2.get()))
    throw unavailable_error(fmt::format("redis: acknowledge failed: {}", text_of(is_error(r1.get()) ? r1.get() : r2.get())));
}

void intake_consumer::dead_letter(const delivered_intake& entry, std::string_view reason) {
  auto& c = connection();
  auto deliveries = std::to_string(entry.deliveries);
  std::string source{entry.record ? intake::to_string(entry.record->source) : "unknown"};
  std::string id = entry.record ? entry.record->id : "";
  std::string received = entry.record ? std::to_string(entry.record->received_unix_ms) : "0";
  std::string_view payload = entry.record ? std::string_view{entry.record->sealed_payload} : std::string_view{};
  auto r = c.command({"XADD", keys_.dead_letter_stream(), "*", "id", id, "src", source, "at", received, "p", payload,
                      "entry", entry.entry_id, "deliveries", deliveries, "reason", reason});
  if (is_error(r.get())) throw unavailable_error(fmt::format("redis: dead-letter append failed: {}", text_of(r.get())));
  acknowledge({entry.entry_id});
}

stream_stats read_stream_stats(redis_connection& c, const redis_keys& keys) {
  stream_stats s;
  auto stream = keys.intake_stream();
  c.append(std::initializer_list<std::string_view>{"XLEN", stream});
  c.append(std::initializer_list<std::string_view>{"XPENDING", stream, keys.consumer_group()});
  auto dead = keys.dead_letter_stream();
  c.append(std::initializer_list<std::string_view>{"XLEN", dead});
  auto len = c.read_reply(), pending = c.read_reply(), dead_len = c.read_reply();
  if (len->type == REDIS_REPLY_INTEGER) s.length = len->integer;
  if (pending->type == REDIS_REPLY_ARRAY && pending->elements >= 1 && pending->element[0]->type == REDIS_REPLY_INTEGER)
    s.pending = pending->element[0]->integer;
  if (dead_len->type == REDIS_REPLY_INTEGER) s.dead_letters = dead_len->integer;
  return s;
}

void intake_consumer::publish(std::string_view channel, std::string_view message) {
  connection().command({"PUBLISH", channel, message});
}


}  // namespace md::queue
