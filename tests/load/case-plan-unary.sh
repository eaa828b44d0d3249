#!/usr/bin/env bash
# Unary gRPC load on case-plan with h2load (Debian's nghttp2-client), beside intake, both
# release builds on a durable PostgreSQL, everything on loopback:
#   - GetCase (audited read of one case), and
#   - RecordReview (write: review, case update, outbox event, timeline entry, audit record,
#     after locking the case and reading its current plan),
# then the same write statements in pgbench (-M prepared, same concurrency) as the machine's
# ceiling in the same run, and the intake -> case-plan propagation: OpenCase answered ->
# GetCase at its feed position answered (N cases, one after another).
# Bounded: REQUESTS per RPC (default 20000), CONCURRENCY streams (16), CASES for propagation (200).
set -euo pipefail
cd "$(dirname "$0")/../.."
requests=${REQUESTS:-20000}
concurrency=${CONCURRENCY:-16}
cases=${CASES:-200}
intake_port=50071; plan_port=50072; plan_metrics=9172; intake_metrics=9171; pg_port=54369

command -v h2load >/dev/null || { apt-get update -qq && apt-get install -y -qq nghttp2-client >/dev/null; }
SQLX_OFFLINE=true cargo build --release --locked -q -p fallwerk-intake -p fallwerk-case-plan -p fallwerk-cli
deploy/local/postgres.sh start .dev/pg-load-plan "$pg_port" --fresh
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
    deploy/local/postgres.sh stop .dev/pg-load-plan
    rm -rf "$work"
}
trap cleanup EXIT

export DATABASE_URL="postgres://fallwerk@127.0.0.1:$pg_port/fallwerk"
export JWKS_FILE="$work/jwks.json" RUST_LOG=warn GRPC_PLAINTEXT=true
bin=target/release
$bin/fallwerk dev-key --dir "$work" >/dev/null
$bin/fallwerk dev-token --dir "$work" --role service --subject load-services > "$work/service-token"
$bin/intake migrate >/dev/null
$bin/case-plan migrate >/dev/null
GRPC_LISTEN=127.0.0.1:$intake_port METRICS_LISTEN=127.0.0.1:$intake_metrics \
    UPSTREAMS=case-plan=http://127.0.0.1:$plan_port SERVICE_TOKEN_FILE="$work/service-token" \
    $bin/intake serve >"$work/intake.log" 2>&1 &
pids+=($!)
GRPC_LISTEN=127.0.0.1:$plan_port METRICS_LISTEN=127.0.0.1:$plan_metrics \
    UPSTREAMS=intake=http://127.0.0.1:$intake_port,partner=http://127.0.0.1:$((plan_port + 1)) \
    SERVICE_TOKEN_FILE="$work/service-token" \
    $bin/case-plan serve >"$work/case-plan.log" 2>&1 &
pids+=($!)
sleep 2

fw() { $bin/fallwerk --addr "http://127.0.0.1:$intake_port" --case-plan-addr "http://127.0.0.1:$plan_port" "$@"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
admin=$($bin/fallwerk dev-token --dir "$work" --role admin)
team=$(fw --token "$admin" --json team create "Last" | json 'd["team"]["id"]')
fw --token "$admin" advisor add --team "$team" --subject load-advisor --name "L. Ast" \
    --function social-work --capacity 500 >/dev/null
desk=$($bin/fallwerk dev-token --dir "$work" --role front_desk --team "$team")
advisor=$($bin/fallwerk dev-token --dir "$work" --role advisor --team "$team" --subject load-advisor)

# One case through intake's first day; with --json, `case open` prints OpenCase's answer.
open_case() {
    local person visit consultation
    person=$(fw --token "$desk" --json applicant create --given Lena --family "Last$1" \
        --birth 1985-06-15 --allow-duplicate | json 'd["applicant"]["id"]')
    visit=$(fw --token "$desk" --json visit register "$person" | json 'd["visit"]["id"]')
    fw --token "$desk" access-check "$visit" --decision continue >/dev/null
    consultation=$(fw --token "$advisor" --json consult start "$visit" | json 'd["consultation"]["id"]')
    fw --token "$advisor" consult complete "$consultation" --step "Unterlagen" --capacity full --capacity-basis self-report \
        --track with-support >/dev/null
    fw --token "$advisor" --json case open "$consultation"
}
opened=$(open_case 0)
case_id=$(echo "$opened" | json 'd["case_opening"]["case_id"]')
position=$(echo "$opened" | json 'd.get("feed_position", 0)')
fw --token "$advisor" case show "$case_id" --at-position "$position" >/dev/null

# gRPC frames by hand: 1 byte compression flag, 4 bytes length, then the protobuf message.
next_review=$(date -d '+30 days' +%Y-%m-%d)
python3 - "$work" "$case_id" "$next_review" <<'PY'
import struct, sys
def varint(v):
    out = b""
    while True:
        b = v & 0x7F; v >>= 7
        out += bytes([b | (0x80 if v else 0)])
        if not v: return out
def field(n, wire, payload):
    key = bytes([(n << 3) | wire])
    return key + (varint(payload) if wire == 0 else varint(len(payload)) + payload)
work, case_id, next_review = sys.argv[1], sys.argv[2].encode(), sys.argv[3]
y, m, d = map(int, next_review.split("-"))
date = field(1, 0, y) + field(2, 0, m) + field(3, 0, d)
review = field(5, 2, b"Lasttest") + field(6, 2, date)
bodies = {"get_case": field(1, 2, case_id), "record_review": field(1, 2, case_id) + field(2, 2, review)}
for name, msg in bodies.items():
    open(f"{work}/{name}.bin", "wb").write(b"\0" + struct.pack(">I", len(msg)) + msg)
PY

run() {
    local method=$1 body=$2
    echo "== $method: $requests requests, $concurrency concurrent streams on 4 connections"
    h2load -n "$requests" -c 4 -m $((concurrency / 4)) -H 'content-type: application/grpc' -H 'te: trailers' \
        -H "authorization: Bearer $advisor" -d "$work/$body.bin" \
        "http://127.0.0.1:$plan_port/fallwerk.caseplan.v1.CasePlanService/$method" |
        grep -E '^finished in|^requests:|time for request'
}
run GetCase get_case
run RecordReview record_review

echo "== server side (/metrics)"
curl -s "127.0.0.1:$plan_metrics/metrics" > "$work/metrics.txt"
grep -E '^grpc_server_handled_total' "$work/metrics.txt" | grep -E 'GetCase|RecordReview'
python3 - "$work/metrics.txt" <<'PY'
import re, sys
buckets = {}
for line in open(sys.argv[1]):
    m = re.match(r'grpc_server_handling_seconds_bucket\{grpc_method="[^"]*/(\w+)",le="([^"]+)"\} (\d+)', line)
    if m:
        buckets.setdefault(m[1], []).append((float("inf") if m[2] == "+Inf" else float(m[2]), int(m[3])))
for method, bs in sorted(buckets.items()):
    if method not in ("GetCase", "RecordReview"): continue
    bs.sort(); total = bs[-1][1]
    q = lambda p: next(le for le, c in bs if c >= p * total)
    print(f"{method}: server time p50 <= {q(0.5)*1e3:g} ms, p99 <= {q(0.99)*1e3:g} ms (histogram bucket bounds)")
PY
echo "== case-plan memory: $(grep -E 'VmRSS|VmHWM' /proc/${pids[1]}/status | tr -s ' ' | tr '\n' ' ')"

# The machine's ceiling for the write, same run: RecordReview's writing statements in
# pgbench (lock the case, review, case update, outbox event, timeline entry, audit record).
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
cat > "$work/review.sql" <<SQL
BEGIN;
SELECT version FROM caseplan.cases WHERE id = '$case_id' FOR UPDATE;
INSERT INTO caseplan.reviews (id, case_id, plan_revision, notes, next_review_date, due_date, author, created_at)
  VALUES (gen_random_uuid(), '$case_id', 0, 'pgbench', '$next_review', NULL, 'load-advisor', now());
UPDATE caseplan.cases SET next_review_date = '$next_review', version = version + 1, updated_at = now() WHERE id = '$case_id';
INSERT INTO caseplan.outbox (event_id, event_type, aggregate_id, payload, occurred_at)
  VALUES (gen_random_uuid(), 'fallwerk.caseplan.v1.ReviewRecorded', '$case_id', '\x00', now());
INSERT INTO caseplan.timeline (case_id, kind, occurred_at, actor, subject_id, summary)
  VALUES ('$case_id', 'reviewed', now(), 'load-advisor', '', 'pgbench');
INSERT INTO caseplan.audit_log (subject, roles, action, resource_type, resource_id)
  VALUES ('load-advisor', '{advisor}', 'RecordReview', 'review', '$case_id');
COMMIT;
SQL
echo "== ceiling: the same write statements in pgbench -M prepared -c $concurrency -j 2 -T 10"
"$pgbin/pgbench" -n -M prepared -c "$concurrency" -j 2 -T 10 -f "$work/review.sql" \
    -h 127.0.0.1 -p "$pg_port" -U fallwerk fallwerk | grep -E '^tps|latency average'

echo "== propagation: OpenCase answered -> GetCase at that feed position answered ($cases cases, sequential)"
# Each GetCase is a CLI process; the same read again right after (the case is there by then)
# is the baseline, so the difference is the wait for the feed.
: > "$work/propagation.txt"
for i in $(seq 1 "$cases"); do
    opened=$(open_case "$i")
    id=$(echo "$opened" | json 'd["case_opening"]["case_id"]')
    pos=$(echo "$opened" | json 'd.get("feed_position", 0)')
    start=$(date +%s%N)
    fw --token "$advisor" case show "$id" --at-position "$pos" >/dev/null
    waited=$(( ($(date +%s%N) - start) / 1000 ))
    start=$(date +%s%N)
    fw --token "$advisor" case show "$id" >/dev/null
    echo "$waited $(( ($(date +%s%N) - start) / 1000 ))" >> "$work/propagation.txt"
done
python3 - "$work/propagation.txt" <<'PY'
import sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
def q(xs, p):
    xs = sorted(xs); return xs[min(len(xs) - 1, int(p * len(xs)))] / 1000
at = [a for a, _ in rows]; base = [b for _, b in rows]
print(f"GetCase at OpenCase's feed position: p50 {q(at, .5):.1f} ms, p90 {q(at, .9):.1f} ms, max {max(at)/1000:.1f} ms")
print(f"the same read once arrived (baseline, CLI process included): p50 {q(base, .5):.1f} ms, p90 {q(base, .9):.1f} ms")
print(f"=> propagation wait after OpenCase answered: p50 ~{q(at, .5) - q(base, .5):.1f} ms over {len(rows)} cases")
PY
echo "== intake -> case-plan feed: case-plan's subscription lag and apply time (/metrics)"
curl -s "127.0.0.1:$plan_metrics/metrics" | grep -E '^feed_subscription_lag|^feed_apply_seconds_(sum|count)'
