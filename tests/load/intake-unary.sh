#!/usr/bin/env bash
# Unary gRPC load on intake with h2load (Debian's nghttp2-client): a read (ListTeams) and a
# write (RegisterVisit: one transaction with the visit, its outbox event and its audit row). Release build, durable PostgreSQL, everything on loopback. Prints h2load's
# throughput, the server's own outcome counts and latency quantiles from /metrics, and the
# service's memory. Bounded: REQUESTS per RPC (default 20000), CONCURRENCY streams (16).
set -euo pipefail
cd "$(dirname "$0")/../.."
requests=${REQUESTS:-20000}
concurrency=${CONCURRENCY:-16}
port=50061; metrics=9161; pg_port=54359

command -v h2load >/dev/null || { apt-get update -qq && apt-get install -y -qq nghttp2-client >/dev/null; }
SQLX_OFFLINE=true cargo build --release --locked -q -p fallwerk-intake -p fallwerk-cli
deploy/local/postgres.sh start .dev/pg-load "$pg_port" --fresh
work=$(mktemp -d)
cleanup() {
    [ -n "${pid:-}" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    deploy/local/postgres.sh stop .dev/pg-load
    rm -rf "$work"
}
trap cleanup EXIT

export DATABASE_URL="postgres://fallwerk@127.0.0.1:$pg_port/fallwerk"
target/release/fallwerk dev-key --dir "$work" >/dev/null
target/release/intake migrate >/dev/null
# intake alone: it consumes case-plan's feed, which is not running here (its subscriber waits
# and retries, as while case-plan is down in a cluster).
target/release/fallwerk dev-token --dir "$work" --role service --subject load-services > "$work/service-token"
RUST_LOG=error GRPC_PLAINTEXT=true GRPC_LISTEN=127.0.0.1:$port METRICS_LISTEN=127.0.0.1:$metrics JWKS_FILE="$work/jwks.json" \
    UPSTREAMS=case-plan=http://127.0.0.1:$((port + 1)) SERVICE_TOKEN_FILE="$work/service-token" \
    target/release/intake serve >"$work/intake.log" 2>&1 &
pid=$!
sleep 2
addr="http://127.0.0.1:$port"
admin=$(target/release/fallwerk dev-token --dir "$work" --role admin)
team=$(target/release/fallwerk --addr "$addr" --token "$admin" --json team create "Last" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["team"]["id"])')
desk=$(target/release/fallwerk dev-token --dir "$work" --role front_desk --team "$team")
applicant=$(target/release/fallwerk --addr "$addr" --token "$desk" --json applicant create \
    --given Lena --family Lasttest --birth 1985-06-15 |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["applicant"]["id"])')

# gRPC frames by hand: 1 byte compression flag, 4 bytes length, then the protobuf message.
python3 - "$work" "$applicant" <<'PY'
import struct, sys
def field(n, wire, payload):
    key = bytes([(n << 3) | wire])
    if wire == 0:
        return key + varint(payload)
    return key + varint(len(payload)) + payload
def varint(v):
    out = b""
    while True:
        b = v & 0x7F; v >>= 7
        out += bytes([b | (0x80 if v else 0)])
        if not v: return out
visit = field(1, 2, sys.argv[2].encode()) + field(2, 2, b"Lasttest")
for name, msg in [("list_teams", b""), ("register_visit", visit)]:
    open(f"{sys.argv[1]}/{name}.bin", "wb").write(b"\0" + struct.pack(">I", len(msg)) + msg)
PY

run() {
    local method=$1 body=$2 token=$3
    echo "== $method: $requests requests, $concurrency concurrent streams on 4 connections"
    h2load -n "$requests" -c 4 -m $((concurrency / 4)) -H 'content-type: application/grpc' -H 'te: trailers' \
        -H "authorization: Bearer $token" -d "$work/$body.bin" \
        "$addr/fallwerk.intake.v1.IntakeService/$method" | grep -E '^finished in|^requests:|time for request'
}
run ListTeams list_teams "$admin"
run RegisterVisit register_visit "$desk"

echo "== server side (/metrics)"
curl -s "127.0.0.1:$metrics/metrics" > "$work/metrics.txt"
grep -E '^grpc_server_handled_total' "$work/metrics.txt" | grep -E 'ListTeams|RegisterVisit'
python3 - "$work/metrics.txt" <<'PY'
import re, sys
buckets = {}
for line in open(sys.argv[1]):
    m = re.match(r'grpc_server_handling_seconds_bucket\{grpc_method="[^"]*/(\w+)",le="([^"]+)"\} (\d+)', line)
    if m:
        buckets.setdefault(m[1], []).append((float("inf") if m[2] == "+Inf" else float(m[2]), int(m[3])))
for method, bs in sorted(buckets.items()):
    if method not in ("ListTeams", "RegisterVisit"): continue
    bs.sort(); total = bs[-1][1]
    q = lambda p: next(le for le, c in bs if c >= p * total)
    print(f"{method}: server time p50 <= {q(0.5)*1e3:g} ms, p99 <= {q(0.99)*1e3:g} ms (histogram bucket bounds)")
PY
echo "== intake memory: $(grep -E 'VmRSS|VmHWM' /proc/$pid/status | tr -s ' ' | tr '\n' ' ')"
