#!/usr/bin/env bash
# Benchmark (not a test): wrk against POST /api/v1/requests (1 KiB signed bodies, 64 connections,
# 10 s) beside the same load on POST /bench/trivial of the same server in the same run, so the
# ratio is measured side by side. Redis runs privately with appendonly yes, appendfsync always.
# Only `mediadesk serve` runs (no worker): this measures the intake path up to the durable ack.
# The per-sender count (inbound.webhook_requests_per_sender_per_hour) is on, with a limit high enough
# never to refuse, so every request pays for it; SENDER_LIMIT=0 measures the path without it.
# Usage: bench/webhook.sh [seconds] [connections]   Results: paste into docs/PERFORMANCE.md.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
duration="${1:-10}"
connections="${2:-64}"
"$here/scripts/setup.sh" >/dev/null
binary="${MEDIADESK_BUILD_DIR:-$here/build}/server/mediadesk"
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
MEDIADESK_HTTP_PORT="$http_port" MEDIADESK_HTTP_BENCHMARK_ROUTE=true MEDIADESK_LOG_LEVEL=error \
MEDIADESK_INBOUND_WEBHOOK_REQUESTS_PER_SENDER_PER_HOUR="${SENDER_LIMIT:-1000000}" \
  "$binary" --config /dev/null serve >"$work/serve.log" 2>&1 &
serve_pid=$!
until curl -sf "http://127.0.0.1:$http_port/healthz" >/dev/null; do sleep 0.1; done

# 500 different ~1 KiB bodies, each signed at 501 different seconds around now: 250,500 distinct
# signed messages, all inside the 5-minute window for the whole run. The server takes a signed
# message it has already seen as a replay (the first intake), so a bench that sent the same one
# twice would measure replays. requests.tsv: <X-Signature value>\t<body number>; bodies.txt.
python3 - "$secret" "$work/bodies.txt" >"$work/requests.tsv" <<'PY'
import hashlib, hmac, json, sys, time
secret, bodies_path = sys.argv[1].encode(), sys.argv[2]
now = int(time.time())
filler = "We are looking for someone with lived experience of the asylum system to speak on the record. "
bodies = [json.dumps({"journalist": {"name": f"Bench Journalist {i}", "email": f"bench{i}@news.example"},
                      "outlet": "Bench News", "subject": f"Request {i}",
                      "body": (filler * 12)[:900]}, separators=(",", ":")) for i in range(500)]
with open(bodies_path, "w") as f:
    f.write("\n".join(bodies) + "\n")
out = []
for t in range(now - 250, now + 251):
    for i, body in enumerate(bodies):
        sig = hmac.new(secret, f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
        out.append(f"t={t},v1={sig}\t{i + 1}")
sys.stdout.write("\n".join(out) + "\n")
PY

run() {  # run <label> <path>
  local label="$1" path="$2"
  local out
  out="$(wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$here/bench/signed_requests.lua" \
    "http://127.0.0.1:$http_port$path" -- "$work/requests.tsv" "$work/bodies.txt")"
  local rps p50 p99 non2xx
  rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
  p50="$(awk '/^ +50%/ {print $2}' <<<"$out")"
  p99="$(awk '/^ +99%/ {print $2}' <<<"$out")"
  non2xx="$(awk '/Non-2xx/ {print $5}' <<<"$out")"
  printf '%-22s %10s req/s   p50 %-9s p99 %-9s non-2xx %s\n' "$label" "$rps" "$p50" "$p99" "${non2xx:-0}"
  echo "$rps" >"$work/$label.rps"
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
echo "wrk -t2 -c$connections -d${duration}s; Redis appendfsync always; serve only"
run trivial /bench/trivial
run webhook /api/v1/requests
python3 - "$(cat "$work/trivial.rps")" "$(cat "$work/webhook.rps")" <<'PY'
import sys
trivial, webhook = map(float, sys.argv[1:])
print(f"webhook / trivial throughput: {webhook / trivial:.0%}")
PY
echo "intakes in the stream: $(redis-cli -p "$redis_port" xlen md:intake)"
