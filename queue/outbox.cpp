// The outbox stream and its consumer (see outbox.hpp). Every move of an entry between the stream, the retry
// schedule and the dead letters is one Lua script: a crash can never lose a message or leave it in two places.
#include "queue/outbox.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <stdexcept>

#include "core/errors.hpp"
#include "crypto/primitives.hpp"

namespace md::queue {
namespace {

std::optional<std::int64_t> to_int64(std::string_view s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return v;
}

bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > 100 || id.front() == '.') return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  });
}
bool valid_purpose(std::string_view p) {
  return !p.empty() && p.size() <= 32 &&
         std::all_of(p.begin(), p.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; });
}
bool valid_ref(std::string_view r) {
  return r.size() <= 32 && std::all_of(r.begin(), r.end(), [](char c) {
           return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
         });
}

// The sealed part: netstrings ("<length>:<bytes>,") of the envelope sender, the recipient
// count, each recipient and the message. Binary-safe, and trivially checked when read back.
void put(std::string& out, std::string_view s) {
  out += std::to_string(s.size());
  out += ':';
  out += s;
  out += ',';
}
std::optional<std::string_view> take(std::string_view& in) {
  auto colon = in.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 12) return std::nullopt;
  auto n = to_int64(in.substr(0, colon));
  if (!n || *n < 0 || static_cast<std::size_t>(*n) > in.size() - colon - 1) return std::nullopt;
  auto end = colon + 1 + static_cast<std::size_t>(*n);
  if (end >= in.size() || in[end] != ',') return std::nullopt;
  auto value = in.substr(colon + 1, static_cast<std::size_t>(*n));
  in.remove_prefix(end + 1);
  return value;
}

std::string serialise(const outbound_mail& m) {
  std::string out;
  out.reserve(m.message.size() + 256);
  put(out, m.envelope_from);
  put(out, std::to_string(m.recipients.size()));
  for (auto& r : m.recipients) put(out, r);
  put(out, m.message);
  return out;
}

std::string hex_key(std::string_view index) {
  bool hex = !index.empty() && std::all_of(index.begin(), index.end(),
                                           [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
  return hex ? std::string{index} : crypto::to_hex(index);
}

// Sliding hour: one sorted-set member per acknowledgement sent, by time.
constexpr std::string_view take_slot_script = R"lua(
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1)lua";

// KEYS: stream, sent marker. ARGV: group, entry id, marker ttl ms.
constexpr std::string_view delivered_script = R"lua(
redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return 1)lua";

// KEYS: stream, schedule, messages. ARGV: group, entry id, due ms, schedule member, id, sealed.
constexpr std::string_view schedule_script = R"lua(
redis.call('HSET', KEYS[3], ARGV[5], ARGV[6])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return 1)lua";

// KEYS: stream, schedule, messages. ARGV: now ms, how many at most.
// Returns {moved, missing, next due ms or -1}.
constexpr std::string_view move_due_script = R"lua(
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local moved, missing = 0, 0
for _, member in ipairs(due) do
  local id, attempt, purpose, ref, at = string.match(member, '^([^|]+)|([^|]*)|([^|]*)|([^|]*)|([^|]*)$')
  local sealed = id and redis.call('HGET', KEYS[3], id)
  if sealed then
    redis.call('XADD', KEYS[1], '*', 'id', id, 'purpose', purpose, 'ref', ref, 'attempt', attempt, 'at', at, 'p', sealed)
    redis.call('HDEL', KEYS[3], id)
    moved = moved + 1
  else
    missing = missing + 1
  end
  redis.call('ZREM', KEYS[2], member)
end
local next_due = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
return {moved, missing, next_due[2] or '-1'})lua";

// KEYS: stream, dead-letter stream. ARGV: group, entry id, then the dead letter's fields.
constexpr std::string_view dead_letter_script = R"lua(
redis.call('XADD', KEYS[2], '*', unpack(ARGV, 3))
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return 1)lua";

void check(const redis_reply& r, std::string_view what) {
  if (!r || is_error(r.get()))
    throw unavailable_error(fmt::format("redis: {} failed: {}", what, r ? text_of(r.get()) : ""));
}

}  // namespace

std::string new_outbox_id() { return crypto::new_intake_id(); }

std::string outbox_binding(std::string_view outbox_id) { return fmt::format("outbox.message:{}", outbox_id); }

void enqueue_mail(redis_connection& c, const redis_keys& keys, const crypto::keyring& ring, const outbound_mail& mail) {
  if (!valid_id(mail.id)) throw std::invalid_argument("outbox: invalid message id");
  if (!valid_purpose(mail.purpose)) throw std::invalid_argument("outbox: invalid purpose");
  if (!valid_ref(mail.case_ref)) throw std::invalid_argument("outbox: invalid case ref");
  if (mail.recipients.empty()) throw std::invalid_argument("outbox: no recipients");
  auto sealed = ring.seal(serialise(mail), outbox_binding(mail.id));
  auto at = std::to_string(to_unix_ms(now()));
  auto r = c.command({"XADD", keys.outbox_stream(), "*", "id", mail.id, "purpose", mail.purpose, "ref", mail.case_ref,
                      "attempt", "0", "at", at, "p", sealed});
  check(r, "outbox XADD");
}

bool take_acknowledgement_slot(redis_connection& c, const redis_keys& keys, std::string_view address_blind_index,
                               std::int64_t per_hour) {
  if (per_hour <= 0) return false;
  auto key = keys.acknowledgement_rate_limit(hex_key(address_blind_index));
  auto now_ms = std::to_string(to_unix_ms(now()));
  auto limit = std::to_string(per_hour);
  auto member = now_ms + "-" + crypto::to_hex(crypto::random_bytes(6));
  auto r = c.command({"EVAL", take_slot_script, "1", key, now_ms, "3600000", limit, member});
  check(r, "acknowledgement rate limit");
  return r->type == REDIS_REPLY_INTEGER && r->integer == 1;
}

std::optional<outbound_mail> open_outbox_entry(const crypto::keyring& ring, const outbox_entry& entry) {
  if (entry.malformed) return std::nullopt;
  auto plain = ring.open(entry.sealed, outbox_binding(entry.id));
  if (!plain) return std::nullopt;
  std::string_view in{*plain};
  outbound_mail m;
  m.id = entry.id;
  m.purpose = entry.purpose;
  m.case_ref = entry.case_ref;
  auto from = take(in);
  auto count_text = take(in);
  if (!from || !count_text) return std::nullopt;
  auto count = to_int64(*count_text);
  if (!count || *count < 0 || *count > 1000) return std::nullopt;
  m.envelope_from = std::string{*from};
  for (std::int64_t i = 0; i < *count; ++i) {
    auto r = take(in);
    if (!r) return std::nullopt;
    m.recipients.emplace_back(*r);
  }
  auto message = take(in);
  if (!message || !in.empty()) return std::nullopt;
  m.message = std::string{*message};
  return m;
}

outbox_consumer::outbox_consumer(const redis_settings& redis, outbox_consumer_options options,
                                 std::string consumer_name)
    : endpoint_(parse_redis_url(redis.url)),
      timeout_(redis.timeout_ms),
      options_(options),
      keys_{redis.key_prefix},
      consumer_name_(std::move(consumer_name)) {}

redis_connection& outbox_consumer::connection() {
  if (!connection_ || connection_->broken()) {
    connection_.reset();
    auto c = std::make_unique<redis_connection>(endpoint_, timeout_);
    ensure_group(*c);
    connection_ = std::move(c);
  }
  return *connection_;
}

void outbox_consumer::ensure_group(redis_connection& c) {
  // From id 0, not $: mail queued before any sender ever started is not skipped.
  auto r = c.command({"XGROUP", "CREATE", keys_.outbox_stream(), keys_.outbox_consumer_group(), "0", "MKSTREAM"});
  if (is_error(r.get()) && !text_of(r.get()).starts_with("BUSYGROUP"))
    throw unavailable_error(fmt::format("redis: cannot create the outbox consumer group: {}", text_of(r.get())));
}

redis_reply outbox_consumer::eval(std::string_view script, std::span<const std::string_view> keys,
                                  std::span<const std::string_view> args) {
  auto count = std::to_string(keys.size());
  std::vector<std::string_view> command{"EVAL", script, count};
  command.insert(command.end(), keys.begin(), keys.end());
  command.insert(command.end(), args.begin(), args.end());
  return connection().command(command);
}

std::vector<outbox_entry> outbox_consumer::parse_entries(redis_connection& c, const redisReply* entries) {
  std::vector<outbox_entry> out;
  if (!entries || entries->type != REDIS_REPLY_ARRAY) return out;
  std::vector<std::string> vanished;
  for (std::size_t i = 0; i < entries->elements; ++i) {
    auto* e = entries->element[i];
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2) continue;
    outbox_entry d;
    d.entry_id = std::string{text_of(e->element[0])};
    auto* fields = e->element[1];
    if (fields->type != REDIS_REPLY_ARRAY) {  // deleted after delivery: only the pending record is left
      vanished.push_back(d.entry_id);
      continue;
    }
    bool has_id = false, has_payload = false, has_purpose = false;
    for (std::size_t f = 0; f + 1 < fields->elements; f += 2) {
      auto name = text_of(fields->element[f]);
      auto value = text_of(fields->element[f + 1]);
      if (name == "id") d.id = std::string{value}, has_id = true;
      else if (name == "p") d.sealed = std::string{value}, has_payload = true;
      else if (name == "purpose") d.purpose = std::string{value}, has_purpose = true;
      else if (name == "ref") d.case_ref = std::string{value};
      else if (name == "attempt") d.attempt = to_int64(value).value_or(0);
      else if (name == "at") d.enqueued_unix_ms = to_int64(value).value_or(0);
    }
    d.malformed = !has_id || !has_payload || !has_purpose || !valid_id(d.id) || !valid_purpose(d.purpose) ||
                  !valid_ref(d.case_ref) || d.attempt < 0;
    out.push_back(std::move(d));
  }
  if (!vanished.empty()) {
    std::vector<std::string_view> ack{"XACK", keys_.outbox_stream(), keys_.outbox_consumer_group()};
    for (auto& id : vanished) ack.push_back(id);
    c.command(ack);
  }
  return out;
}

std::vector<outbox_entry> outbox_consumer::read(std::string_view start_id,
                                                std::optional<std::chrono::milliseconds> block) {
  auto& c = connection();
  auto count = std::to_string(options_.batch_size);
  auto stream = keys_.outbox_stream(), group = keys_.outbox_consumer_group();
  redis_reply reply;
  if (block) {
    auto block_text = std::to_string(std::max<std::int64_t>(block->count(), 1));
    c.set_timeout(timeout_ + *block);
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
    throw unavailable_error(fmt::format("redis: outbox XREADGROUP failed: {}", text_of(reply.get())));
  }
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) return {};
  auto* stream_reply = reply->element[0];
  if (stream_reply->type != REDIS_REPLY_ARRAY || stream_reply->elements != 2) return {};
  return parse_entries(c, stream_reply->element[1]);
}

std::vector<outbox_entry> outbox_consumer::read_own_pending() { return read("0", std::nullopt); }
std::vector<outbox_entry> outbox_consumer::read_new(std::chrono::milliseconds block) { return read(">", block); }

outbox_consumer::reclaimed outbox_consumer::reclaim() {
  auto& c = connection();
  auto stream = keys_.outbox_stream(), group = keys_.outbox_consumer_group();
  auto idle = std::to_string(options_.reclaim_idle_ms);
  auto count = std::to_string(options_.batch_size);
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
  // XCLAIM with the same min-idle time: an entry another sender claimed meanwhile is skipped.
  std::vector<std::string_view> args{"XCLAIM", stream, group, consumer_name_, idle};
  for (auto& id : ids) args.push_back(id);
  auto claimed = c.command(args);
  if (is_error(claimed.get()))
    throw unavailable_error(fmt::format("redis: outbox XCLAIM failed: {}", text_of(claimed.get())));
  for (auto& d : parse_entries(c, claimed.get())) {
    auto it = std::find(ids.begin(), ids.end(), d.entry_id);
    d.deliveries = (it == ids.end() ? 1 : deliveries[it - ids.begin()]) + 1;  // XCLAIM counts as a delivery
    (d.deliveries > options_.max_deliveries ? out.over_limit : out.to_process).push_back(std::move(d));
  }
  return out;
}

bool outbox_consumer::already_sent(const outbox_entry& entry) {
  if (entry.malformed) return false;
  auto r = connection().command({"EXISTS", keys_.outbox_sent(entry.id)});
  check(r, "outbox sent check");
  return r->type == REDIS_REPLY_INTEGER && r->integer == 1;
}

void outbox_consumer::mark_delivered(const outbox_entry& entry) {
  auto stream = keys_.outbox_stream(), sent = keys_.outbox_sent(entry.id);
  auto group = keys_.outbox_consumer_group();
  auto ttl = std::to_string(options_.sent_marker_ttl.count());
  std::string_view keys[] = {stream, sent};
  std::string_view args[] = {group, entry.entry_id, ttl};
  check(eval(delivered_script, keys, args), "outbox acknowledge");
}

void outbox_consumer::schedule_retry(const outbox_entry& entry, time_point due) {
  auto stream = keys_.outbox_stream(), schedule = keys_.outbox_retry_schedule(),
       messages = keys_.outbox_retry_messages();
  auto group = keys_.outbox_consumer_group();
  auto due_ms = std::to_string(to_unix_ms(due));
  // The member carries the clear fields; none of them can hold '|' (checked when read).
  auto member =
      fmt::format("{}|{}|{}|{}|{}", entry.id, entry.attempt + 1, entry.purpose, entry.case_ref, entry.enqueued_unix_ms);
  std::string_view keys[] = {stream, schedule, messages};
  std::string_view args[] = {group, entry.entry_id, due_ms, member, entry.id, entry.sealed};
  check(eval(schedule_script, keys, args), "outbox retry schedule");
}

void outbox_consumer::dead_letter(const outbox_entry& entry, std::string_view reason) {
  auto stream = keys_.outbox_stream(), dead = keys_.outbox_dead_letter_stream();
  auto group = keys_.outbox_consumer_group();
  auto attempt = std::to_string(entry.attempt), at = std::to_string(entry.enqueued_unix_ms);
  auto deliveries = std::to_string(entry.deliveries), failed_at = std::to_string(to_unix_ms(now()));
  std::string_view keys[] = {stream, dead};
  std::string_view args[] = {group,       entry.entry_id, "id",      entry.id,       "purpose",    entry.purpose,
                             "ref",       entry.case_ref, "attempt", attempt,        "at",         at,
                             "p",         entry.sealed,   "entry",   entry.entry_id, "deliveries", deliveries,
                             "failed_at", failed_at,      "reason",  reason};
  check(eval(dead_letter_script, keys, args), "outbox dead letter");
}

outbox_consumer::due_retries outbox_consumer::move_due_retries(time_point now_at) {
  auto stream = keys_.outbox_stream(), schedule = keys_.outbox_retry_schedule(),
       messages = keys_.outbox_retry_messages();
  auto now_ms = std::to_string(to_unix_ms(now_at));
  auto limit = std::to_string(std::max<std::int64_t>(options_.batch_size * 10, 100));
  std::string_view keys[] = {stream, schedule, messages};
  std::string_view args[] = {now_ms, limit};
  auto r = eval(move_due_script, keys, args);
  check(r, "outbox retry move");
  due_retries out;
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 3) return out;
  out.moved = r->element[0]->integer;
  auto next = to_int64(text_of(r->element[2]));
  if (!next) {  // Redis turns a Lua number into an integer reply, a string into a bulk string
    if (r->element[2]->type == REDIS_REPLY_INTEGER) next = r->element[2]->integer;
  }
  if (next && *next >= 0) out.next_due = from_unix_ms(*next);
  if (r->element[1]->integer > 0)  // only if someone deleted the hash by hand: say so loudly
    spdlog::error("{} scheduled outbox retries had no message left in Redis and were dropped", r->element[1]->integer);
  return out;
}

}  // namespace md::queue
