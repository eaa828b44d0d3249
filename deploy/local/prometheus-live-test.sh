#!/usr/bin/env bash
# `make prometheus-live-test`: fallwerk's Prometheus rules evaluated by a real Prometheus
# scraping the three services, as `make run` wires them, under load.
#
#   1. a PostgreSQL of its own, intake, case-plan and partner (built binaries from
#      FALLWERK_BIN_DIR, default target/debug; nothing is built here), and Prometheus scraping
#      their /metrics every second with the rules of
#      deploy/k8s/components/observability/prometheus/rules.yaml, evaluated every second;
#   2. healthy: the load generator runs the office's mix through all three services; then
#      every rule must have loaded and evaluated without error, the recording rules must hold
#      the services' series (RED per method, pool, feeds, same-day rate), and no alert may be
#      pending or firing;
#   3. a fault: case-plan, the consumer of intake's event feed, is stopped while intake keeps
#      taking visits. FallwerkServiceDown{service="case-plan"} and
#      FallwerkFeedNotConsumed{service="intake"} (intake's feed written to and followed by
#      nobody: a stopped consumer reports no lag of its own) must go pending and then fire
#      within a bounded wait, while alerts the fault does not concern (intake's error ratio,
#      pools, parked events, the same-day rate, the other services' scrapes) stay inactive;
#   4. repair: case-plan starts again, and both alerts must resolve.
#
# Alerts wait minutes (`for:`) before they fire; the rules are loaded with every `for:`
# shortened to FOR_SECONDS (10 s), and the output says so. Everything started is stopped on
# exit. Ports 59120-59140 (PROM_LIVE_PORT_BASE moves them). Prints PASS/FAIL lines; exits 1 on
# any failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)

bin=$(readlink -f "${FALLWERK_BIN_DIR:-target/debug}")
base=${PROM_LIVE_PORT_BASE:-59120}
for_seconds=${FOR_SECONDS:-10}
pg_port=$base
grpc_intake=$((base + 1)) grpc_case_plan=$((base + 2)) grpc_partner=$((base + 3))
metrics_intake=$((base + 11)) metrics_case_plan=$((base + 12)) metrics_partner=$((base + 13))
prom_port=$((base + 20))
prom="http://127.0.0.1:$prom_port"

for b in intake case-plan partner fallwerk fallwerk-load; do
    [ -x "$bin/$b" ] || { echo "prometheus-live-test: $bin/$b is missing (build first, or set FALLWERK_BIN_DIR)" >&2; exit 2; }
done
deploy/local/prometheus-check.sh --install-only
for port in $pg_port $grpc_intake $grpc_case_plan $grpc_partner $metrics_intake $metrics_case_plan $metrics_partner $prom_port; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "prometheus-live-test: port $port is in use; set PROM_LIVE_PORT_BASE" >&2
        exit 2
    fi
done

work=$(mktemp -d /tmp/fallwerk-prom-live.XXXXXX)
# PostgreSQL runs as the `postgres` user when started as root: it must enter the directory.
chmod 755 "$work"
declare -A pid=()
pg_started=""
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    set +e
    for name in "${!pid[@]}"; do kill -TERM "${pid[$name]}" 2>/dev/null; done
    for name in "${!pid[@]}"; do wait "${pid[$name]}" 2>/dev/null; done
    [ -n "$pg_started" ] && "$repo/deploy/local/postgres.sh" destroy "$work/pg" >/dev/null 2>&1
    if [ "$status" -ne 0 ] && [ -z "${KEEP_LOGS:-}" ]; then
        for log in "$work"/*.log; do
            [ -f "$log" ] || continue
            echo "--- last lines of $(basename "$log")"
            tail -n 15 "$log"
        done
    fi
    if [ -n "${KEEP_LOGS:-}" ]; then echo "logs kept in $work"; else rm -rf "$work"; fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

failures=0
pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; failures=$((failures + 1)); }

# --- The services, as deploy/local/run.sh starts them ----------------------------------------
pg_started=yes
deploy/local/postgres.sh start "$work/pg" "$pg_port" --ephemeral
export DATABASE_URL="postgres://fallwerk@127.0.0.1:$pg_port/fallwerk"
"$bin/fallwerk" dev-key --dir "$work/dev" >/dev/null
"$bin/fallwerk" dev-token --dir "$work/dev" --role service --subject fallwerk-services --ttl-minutes 600 >"$work/dev/service-token"
export JWKS_FILE="$work/dev/jwks.json" SERVICE_TOKEN_FILE="$work/dev/service-token"
export RUST_LOG_FORMAT=text GRPC_PLAINTEXT=true
"$bin/intake" migrate >"$work/migrate.log" 2>&1
"$bin/case-plan" migrate >>"$work/migrate.log" 2>&1
"$bin/partner" migrate >>"$work/migrate.log" 2>&1

start_intake() {
    GRPC_LISTEN=127.0.0.1:$grpc_intake METRICS_LISTEN=127.0.0.1:$metrics_intake \
        UPSTREAMS=case-plan=http://127.0.0.1:$grpc_case_plan \
        "$bin/intake" serve >>"$work/intake.log" 2>&1 &
    pid[intake]=$!
}
start_case_plan() {
    GRPC_LISTEN=127.0.0.1:$grpc_case_plan METRICS_LISTEN=127.0.0.1:$metrics_case_plan \
        UPSTREAMS=intake=http://127.0.0.1:$grpc_intake,partner=http://127.0.0.1:$grpc_partner \
        "$bin/case-plan" serve >>"$work/case-plan.log" 2>&1 &
    pid[case-plan]=$!
}
start_partner() {
    GRPC_LISTEN=127.0.0.1:$grpc_partner METRICS_LISTEN=127.0.0.1:$metrics_partner \
        UPSTREAMS=case-plan=http://127.0.0.1:$grpc_case_plan,intake=http://127.0.0.1:$grpc_intake \
        "$bin/partner" serve >>"$work/partner.log" 2>&1 &
    pid[partner]=$!
}
start_intake
start_case_plan
start_partner

# --- Prometheus ------------------------------------------------------------------------
rules="$repo/deploy/k8s/components/observability/prometheus/rules.yaml"
sed -E "s/^([[:space:]]+for:[[:space:]]*).*/\1${for_seconds}s/" "$rules" >"$work/fallwerk.rules.yaml"
shortened=$(grep -cE '^[[:space:]]+for:' "$rules" || true)
echo "NOTE rules loaded from $rules with every \`for:\` ($shortened alerts, 2m to 30m in the file) shortened to ${for_seconds}s, so that alerts can fire within this test"
cat >"$work/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $work/fallwerk.rules.yaml
scrape_configs:
  # The label contract of rules.yaml: every series carries its service's name.
  - job_name: fallwerk
    static_configs:
      - targets: ["127.0.0.1:$metrics_intake"]
        labels: {service: intake}
      - targets: ["127.0.0.1:$metrics_case_plan"]
        labels: {service: case-plan}
      - targets: ["127.0.0.1:$metrics_partner"]
        labels: {service: partner}
YAML
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
    --web.listen-address="127.0.0.1:$prom_port" --log.level=warn >"$work/prometheus.log" 2>&1 &
pid[prometheus]=$!

# The checks against Prometheus' HTTP API.
cat >"$work/prom.py" <<'PY'
import json, sys, time, urllib.parse, urllib.request

base = sys.argv[1]


def get(path, **params):
    url = f"{base}{path}" + (("?" + urllib.parse.urlencode(params)) if params else "")
    with urllib.request.urlopen(url, timeout=5) as answer:
        body = json.load(answer)
    if body.get("status") != "success":
        raise RuntimeError(f"{url}: {body}")
    return body["data"]


def query(expr):
    return get("/api/v1/query", query=expr)["result"]


def active():
    """Pending and firing alerts, as (name, labels, state)."""
    return [(a["labels"]["alertname"], a["labels"], a["state"]) for a in get("/api/v1/alerts")["alerts"]]


def show(alert):
    name, labels, state = alert
    rest = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in {"alertname", "severity"})
    return f"{name}{{{rest}}} {state}"


def parse_match(text):
    """NAME or NAME{label=value,...}"""
    name, _, rest = text.partition("{")
    labels = dict(p.split("=", 1) for p in rest.rstrip("}").split(",") if p) if rest else {}
    return name, labels


def matches(alert, want):
    name, labels, _ = alert
    return name == want[0] and all(labels.get(k) == v for k, v in want[1].items())


cmd = sys.argv[2]
if cmd == "ready":
    deadline = time.time() + float(sys.argv[3])
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{base}/-/ready", timeout=2)
            sys.exit(0)
        except OSError:
            time.sleep(0.5)
    sys.exit(1)

elif cmd == "up":
    # Every target up, and every service's feed subscriptions connected (their producers see them).
    deadline = time.time() + float(sys.argv[3])
    while time.time() < deadline:
        try:
            up = {r["metric"]["service"]: r["value"][1] for r in query("up")}
            subs = {r["metric"]["service"]: float(r["value"][1]) for r in query("sum by (service) (feed_subscriptions)")}
            if len(up) == 3 and all(v == "1" for v in up.values()) and subs.get("intake", 0) >= 1 \
                    and subs.get("case-plan", 0) >= 2 and subs.get("partner", 0) >= 1:
                print(f"     targets up: {sorted(up)}; feed subscribers per producer: {subs}")
                sys.exit(0)
        except (OSError, RuntimeError):
            pass
        time.sleep(1)
    print(f"     up: {query('up')}; subscriptions: {query('feed_subscriptions')}")
    sys.exit(1)

elif cmd == "rules":
    # Every rule evaluated at least once, none with an error.
    deadline = time.time() + float(sys.argv[3])
    while True:
        groups = get("/api/v1/rules")["groups"]
        rules = [(g["name"], r) for g in groups for r in g["rules"]]
        errors = [(g, r) for g, r in rules if r.get("health") == "err"]
        unknown = [(g, r) for g, r in rules if r.get("health") not in {"ok", "err"}]
        if errors or not unknown or time.time() > deadline:
            break
        time.sleep(1)
    for g, r in errors:
        print(f"FAIL rule {r.get('name')} in {g}: {r.get('lastError')}")
    for g, r in unknown:
        print(f"FAIL rule {r.get('name')} in {g} never evaluated (health {r.get('health')})")
    kinds = {"recording": 0, "alerting": 0}
    for _, r in rules:
        kinds[r["type"]] += 1
    ok = not errors and not unknown and kinds["alerting"] > 0
    print(f"{'PASS' if ok else 'FAIL'} {len(groups)} rule groups loaded: {kinds['recording']} recording and "
          f"{kinds['alerting']} alerting rules, every one evaluated without error")
    sys.exit(0 if ok else 1)

elif cmd == "series":
    # Each expression must return data; for per-service ones, from every service named.
    bad = 0
    for spec in sys.argv[3:]:
        expr, _, services = spec.partition("@")
        result = query(expr)
        got = sorted({r["metric"].get("service", "") for r in result})
        need = [s for s in services.split(",") if s] if services else []
        missing = [s for s in need if s not in got]
        if not result or missing:
            print(f"FAIL {expr}: no data" + (f" for {', '.join(missing)}" if missing else ""))
            bad += 1
        else:
            sample = ", ".join(f"{r['metric'].get('service', '')}{'/' + r['metric']['grpc_method'].split('/')[-1] if 'grpc_method' in r['metric'] else ''}"
                               f"{'/' + r['metric']['subscription'] if 'subscription' in r['metric'] else ''}={float(r['value'][1]):.4g}"
                               for r in result[:4])
            print(f"PASS {expr}: {len(result)} series ({sample}{', ...' if len(result) > 4 else ''})")
    sys.exit(1 if bad else 0)

elif cmd == "dashboard":
    # Every query of the Grafana dashboard, with its variables at "All": which return data.
    board = json.load(open(sys.argv[3]))
    empty, full = [], 0
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            expr = (target["expr"].replace("$service", "intake|case-plan|partner")
                    .replace("$method", ".*").replace("$__rate_interval", "1m"))
            if query(expr):
                full += 1
            else:
                empty.append(f"{panel['title']}: {target.get('legendFormat', '')}")
    print(f"PASS dashboard: {full} of {full + len(empty)} queries return data from the live services")
    if empty:
        print("NOTE no data yet (nothing of the kind happened in this run): " + "; ".join(empty))
    sys.exit(0)

elif cmd == "quiet":
    found = active()
    for a in found:
        print(f"FAIL alert active on the healthy system: {show(a)}")
    if not found:
        print("PASS the healthy system has no pending or firing alert")
    sys.exit(1 if found else 0)

elif cmd == "wait":
    # wait TIMEOUT --fire NAME{l=v} ... --quiet NAME{l=v} ...: every --fire alert firing
    # (after pending for its shortened `for:`) within TIMEOUT, and no --quiet alert active at
    # any moment until then.
    timeout = float(sys.argv[3])
    fire, quiet, into = [], [], None
    for arg in sys.argv[4:]:
        if arg in ("--fire", "--quiet"):
            into = fire if arg == "--fire" else quiet
        else:
            into.append(parse_match(arg))
    start = time.time()
    pending, firing, broke = {}, {}, {}
    while time.time() - start < timeout:
        for a in active():
            for want in fire:
                key = (want[0], str(want[1]))
                if matches(a, want):
                    pending.setdefault(key, time.time() - start)
                    if a[2] == "firing":
                        firing.setdefault(key, time.time() - start)
            for want in quiet:
                if matches(a, want):
                    broke.setdefault(show(a), time.time() - start)
        if len(firing) == len(fire):
            break
        time.sleep(1)
    ok = True
    for want in fire:
        key = (want[0], str(want[1]))
        label = want[0] + ("{" + ",".join(f"{k}={v}" for k, v in want[1].items()) + "}" if want[1] else "")
        if key in firing:
            print(f"PASS {label} pending {pending[key]:.0f} s, firing {firing[key]:.0f} s after the fault")
        elif key in pending:
            print(f"FAIL {label} pending {pending[key]:.0f} s after the fault, but not firing within {timeout:.0f} s")
            ok = False
        else:
            print(f"FAIL {label} not pending or firing within {timeout:.0f} s")
            ok = False
    for text, when in broke.items():
        print(f"FAIL {text} {when:.0f} s after the fault, which it does not concern")
        ok = False
    if not broke:
        print("PASS unconcerned alerts stayed inactive: " + ", ".join(
            w[0] + ("{" + ",".join(f"{k}={v}" for k, v in w[1].items()) + "}" if w[1] else "") for w in quiet))
    others = [show(a) for a in active() if not any(matches(a, w) for w in fire)]
    if others:
        print("NOTE also active now: " + "; ".join(others))
    sys.exit(0 if ok else 1)

elif cmd == "resolved":
    # resolved TIMEOUT NAME{l=v} ...: none of them active any more within TIMEOUT.
    timeout = float(sys.argv[3])
    wants = [parse_match(a) for a in sys.argv[4:]]
    start = time.time()
    while time.time() - start < timeout:
        still = [show(a) for a in active() if any(matches(a, w) for w in wants)]
        if not still:
            print(f"PASS resolved {time.time() - start:.0f} s after the repair: " + ", ".join(sys.argv[4:]))
            sys.exit(0)
        time.sleep(1)
    print(f"FAIL still active {timeout:.0f} s after the repair: " + "; ".join(still))
    sys.exit(1)
PY
check() { python3 "$work/prom.py" "$prom" "$@"; }

check ready 30 || { fail "Prometheus did not become ready on $prom"; exit 1; }
echo "== Prometheus on $prom scrapes intake :$metrics_intake, case-plan :$metrics_case_plan, partner :$metrics_partner"
if check up 60; then pass "all three services scraped, every feed subscription connected"; else fail "the services did not come up (see their logs)"; exit 1; fi

# --- Healthy, under load -------------------------------------------------------------------
echo "== healthy: the office's mix through all three services"
if "$bin/fallwerk-load" --intake "http://127.0.0.1:$grpc_intake" --case-plan "http://127.0.0.1:$grpc_case_plan" \
    --partner "http://127.0.0.1:$grpc_partner" --key-dir "$work/dev" --scenario mix --rate 4 \
    --duration 20s --seed-cases 4 --quiet >"$work/load-healthy.log" 2>&1; then
    pass "load: $(head -n1 "$work/load-healthy.log")"
else
    fail "the load generator failed"; cat "$work/load-healthy.log"
fi
# The report's last column is each step's errors by code, `-` for none.
if awk 'NR > 2 && NF > 1 && $NF != "-" { found = 1 } END { exit !found }' "$work/load-healthy.log"; then
    echo "NOTE the load saw errors (the alerts decide whether they matter):"
    awk 'NR > 2 && NF > 1 && $NF != "-"' "$work/load-healthy.log"
fi
# Longer than any shortened `for:`, so that whatever was pending has fired by now.
sleep $((for_seconds + 5))
check rules 30 || failures=$((failures + 1))
check series \
    'service_grpc_method:grpc_server_handled:rate5m@intake,case-plan,partner' \
    'service_grpc_method:grpc_server_error_ratio:ratio5m@intake,case-plan,partner' \
    'service_grpc_method:grpc_server_handling_seconds:p99_5m > 0@intake,case-plan,partner' \
    'service_instance:db_pool_utilisation:ratio@intake,case-plan,partner' \
    'service_schema:feed_events_stamped:rate5m@intake,case-plan,partner' \
    'service_schema:feed_subscriptions:sum@intake,case-plan,partner' \
    'service_subscription:feed_events_applied:rate5m@intake,case-plan,partner' \
    'service:intake_same_day_consultation:ratio1d@intake' \
    'feed_subscription_lag@intake,case-plan,partner' \
    || failures=$((failures + 1))
check dashboard deploy/k8s/components/observability/grafana/fallwerk.json || failures=$((failures + 1))
check quiet || failures=$((failures + 1))

# --- A fault: the consumer of intake's feed stops while intake keeps writing -----------------
echo "== fault: case-plan (the consumer of intake's feed) stopped while visits keep arriving at intake"
"$bin/fallwerk-load" --intake "http://127.0.0.1:$grpc_intake" --key-dir "$work/dev" --scenario register-visit \
    --rate 3 --duration 120s --quiet >"$work/load-fault.log" 2>&1 &
pid[load]=$!
sleep 3
kill -TERM "${pid[case-plan]}"
wait "${pid[case-plan]}" 2>/dev/null || true
unset 'pid[case-plan]'
# case-plan also follows partner's feed: FallwerkFeedNotConsumed{service=partner} goes off too
# when partner wrote within the last 5 minutes (the mix above did), and is not required here.
check wait 90 \
    --fire 'FallwerkServiceDown{service=case-plan}' 'FallwerkFeedNotConsumed{service=intake,schema=intake}' \
    --quiet 'FallwerkErrorRatioHigh{service=intake}' FallwerkDbPoolSaturated FallwerkFeedEventsParked \
    FallwerkSameDayRateFalling FallwerkServiceAbsent 'FallwerkServiceDown{service=intake}' \
    'FallwerkServiceDown{service=partner}' \
    || failures=$((failures + 1))

# --- Repair --------------------------------------------------------------------------------
echo "== repair: case-plan starts again"
start_case_plan
check resolved 90 'FallwerkServiceDown{service=case-plan}' 'FallwerkFeedNotConsumed{service=intake}' \
    || failures=$((failures + 1))
kill -TERM "${pid[load]}" 2>/dev/null || true
wait "${pid[load]}" 2>/dev/null || true
unset 'pid[load]'

if [ "$failures" -ne 0 ]; then
    echo "prometheus-live-test: $failures check(s) failed"
    exit 1
fi
echo "prometheus-live-test: PASS"
