#!/usr/bin/env bash
# Benchmark (not a test): email intake over SMTP beside the webhook path, in the same run against
# the same `mediadesk serve`: wrk on POST /api/v1/requests (1 KiB signed bodies), then
# bench/smtp_load (N concurrent SMTP clients, M messages of 8 KiB each, no pipelining). Redis runs
# privately with appendonly yes, appendfsync always; only serve runs (no worker), so both
# measure the intake path up to the durable acknowledgement (202 / 250).
# Usage: bench/smtp.sh [wrk seconds] [connections] [messages per SMTP connection] [message bytes]
# Results: paste into docs/PERFORMANCE.md.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
duration="${1:-10}"
connections="${2:-64}"
per_connection="${3:-300}"
message_bytes="${4:-8192}"
"$here/scripts/setup.sh" >/dev/null
build="${MEDIADESK_BUILD_DIR:-$here/build}"
binary="$build/server/mediadesk"
load="$build/bench/smtp_load"
[[ -x "$load" ]] || { echo "build the smtp_load target first (ninja -C $build smtp_load)" >&2; exit 1; }
work="$(mktemp -d /tmp/mediadesk-bench.XXXXXX)"
chmod 755 "$work"
cleanup() {
  [[ -n "${serve_pid:-}" ]] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null || true
  [[ -n "${redis_pid:-}" ]] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
redis_port="$(free_port)"
http_port="$(free_port)"
smtp_port="$(free_port)"
redis_user=""; [[ $(id -u) -eq 0 ]] && redis_user="nobody"
mkdir -p "$work/redis"; [[ -n "$redis_user" ]] && chown "$redis_user" "$work/redis"
cat >"$work/redis.conf" <<CONF
bind 127.0.0.1
port $redis_port
dir $work/redis
appendonly yes
appendfsync always
save ""
CONF
if [[ -n "$redis_user" ]]; then
  setpriv --reuid="$redis_user" --regid=nogroup --clear-groups redis-server "$work/redis.conf" >"$work/redis.log" 2>&1 &
else
  redis-server "$work/redis.conf" >"$work/redis.log" 2>&1 &
fi
redis_pid=$!
until redis-cli -p "$redis_port" ping >/dev/null 2>&1; do sleep 0.1; done

secret="bench-secret-$(date +%s)"
MEDIADESK_REDIS_URL="redis://127.0.0.1:$redis_port/0" \
MEDIADESK_DATABASE_URL="postgresql://nobody@127.0.0.1:1/none" \
MEDIADESK_MASTER_KEY="$("$binary" keys generate)" MEDIADESK_WEBHOOK_SECRET="$secret" \
MEDIADESK_HTTP_PORT="$http_port" MEDIADESK_LOG_LEVEL=error \
MEDIADESK_SMTP_PORT="$smtp_port" MEDIADESK_SMTP_DOMAINS=desk.example \
  "$binary" --config /dev/null serve >"$work/serve.log" 2>&1 &
serve_pid=$!
until curl -sf "http://127.0.0.1:$http_port/healthz" >/dev/null; do sleep 0.1; done

# 500 different ~1 KiB webhook bodies, signed now (valid for the 5-minute window).
python3 - "$secret" >"$work/requests.tsv" <<'PY'
import hashlib, hmac, json, sys, time
secret = sys.argv[1].encode()
t = int(time.time())
filler = "We are looking for someone with lived experience of the asylum system to speak on the record. "
for i in range(500):
    body = json.dumps({"journalist": {"name": f"Bench Journalist {i}", "email": f"bench{i}@news.example"},
                       "outlet": "Bench News", "subject": f"Request {i}",
                       "body": (filler * 12)[:900]}, separators=(",", ":"))
    sig = hmac.new(secret, f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
    print(f"t={t},v1={sig}\t{body}")
PY

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
echo "Redis appendfsync always; serve only (no worker); $connections connections each"
out="$(wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$here/bench/signed_requests.lua" \
  "http://127.0.0.1:$http_port/api/v1/requests" -- "$work/requests.tsv")"
non2xx="$(awk '/Non-2xx/ {print $5}' <<<"$out")"
printf 'webhook %13s req/s   p50 %-9s p99 %-9s non-2xx %s   (wrk %ss)\n' \
  "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" "$(awk '/^ +50%/ {print $2}' <<<"$out")" \
  "$(awk '/^ +99%/ {print $2}' <<<"$out")" "${non2xx:-0}" "$duration"
before="$(redis-cli -p "$redis_port" xlen md:intake)"
"$load" 127.0.0.1 "$smtp_port" "$connections" "$per_connection" "$message_bytes"
after="$(redis-cli -p "$redis_port" xlen md:intake)"
echo "email intakes added to the stream: $((after - before)); serve CPU time: $(ps -o times= -p "$serve_pid")s"
