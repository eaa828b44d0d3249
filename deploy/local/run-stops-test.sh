#!/usr/bin/env bash
# Checks that `make run` leaves nothing behind when its process group gets SIGTERM, as a
# supervisor or `kill -TERM -PGID` stops it: no intake, no case-plan, no partner and no private
# PostgreSQL under .dev/pg.
#
#   deploy/local/run-stops-test.sh              (PG_PORT=... if 54329 is taken)
#
# Starts `make run` in a session and process group of its own, waits until intake, case-plan
# and partner accept connections on 127.0.0.1:50051, :50052 and :50053 (at most START_TIMEOUT
# s, 120 by default; `make run` builds first), sends SIGTERM to the whole group and expects the
# group, every service and the cluster gone within STOP_TIMEOUT s (40 by default: the services
# drain at the same time, each for at most SHUTDOWN_GRACE_SECS, 20).
# Exits 1 with what is left otherwise, and then stops it.
set -euo pipefail
cd "$(dirname "$0")/../.."

start_timeout=${START_TIMEOUT:-120}
stop_timeout=${STOP_TIMEOUT:-40}
mkdir -p .dev
log=.dev/run-stops-test.log
pgid=""

# The services `make run` starts, with their gRPC ports.
services=(intake case-plan partner)
declare -A port_of=([intake]=50051 [case-plan]=50052 [partner]=50053)

accepts() { (exec 3<>"/dev/tcp/127.0.0.1/${port_of[$1]}") 2>/dev/null; }
all_accept() { local s; for s in "${services[@]}"; do accepts "$s" || return 1; done; }
group_alive() { [ -n "$pgid" ] && pgrep -g "$pgid" >/dev/null; }
running() { pgrep -f "target/(debug|release)/$1 serve" >/dev/null; }
any_running() { local s; for s in "${services[@]}"; do running "$s" && return 0; done; return 1; }
pg_running() { deploy/local/postgres.sh status .dev/pg; }

# Whatever the outcome, nothing of this test stays running.
clean_up() {
    if group_alive; then
        kill -KILL -- "-$pgid" 2>/dev/null || true
    fi
    if pg_running; then
        deploy/local/postgres.sh stop .dev/pg || true
    fi
}
trap clean_up EXIT

fail() {
    echo "run-stops-test: FAIL: $*" >&2
    echo "--- last lines of $log:" >&2
    tail -n 15 "$log" >&2
    exit 1
}

for s in "${services[@]}"; do
    if accepts "$s"; then
        echo "run-stops-test: something already listens on 127.0.0.1:${port_of[$s]} ($s's port); stop it first" >&2
        trap - EXIT
        exit 2
    fi
done
if pg_running; then
    echo "run-stops-test: the cluster under .dev/pg already runs; stop it first" \
        "(deploy/local/postgres.sh stop .dev/pg)" >&2
    trap - EXIT
    exit 2
fi

# In a script, `&` starts a process that leads no group, so setsid makes it the leader of a
# new session and group, without forking: its pid is the group id.
setsid make run >"$log" 2>&1 </dev/null &
pgid=$!
for _ in 1 2 3 4 5 6 7 8 9 10; do
    [ "$(ps -o pgid= -p "$pgid" | tr -d ' ')" = "$pgid" ] && break
    sleep 0.2
done
[ "$(ps -o pgid= -p "$pgid" | tr -d ' ')" = "$pgid" ] || fail "make run did not get a process group of its own"
echo "run-stops-test: make run started as process group $pgid (log: $log)"

deadline=$((SECONDS + start_timeout))
until all_accept; do
    group_alive || fail "make run ended before ${services[*]} accepted connections"
    ((SECONDS < deadline)) ||
        fail "${services[*]} did not all accept connections on 127.0.0.1:50051/50052/50053 within ${start_timeout}s"
    sleep 1
done
pg_running || fail "the services are up, but no cluster runs under .dev/pg (DATABASE_URL set?)"
echo "run-stops-test: ${services[*]} accept connections and .dev/pg runs; SIGTERM to process group $pgid"
kill -TERM -- "-$pgid"

deadline=$((SECONDS + stop_timeout))
while group_alive || any_running || pg_running; do
    ((SECONDS < deadline)) || break
    sleep 1
done

left=()
group_alive && left+=("make run's process group: $(pgrep -a -g "$pgid" | paste -sd,)")
for s in "${services[@]}"; do
    running "$s" && left+=("$s: $(pgrep -a -f "target/(debug|release)/$s serve" | paste -sd,)")
done
pg_running && left+=("the PostgreSQL cluster under .dev/pg")
if ((${#left[@]})); then
    fail "still running ${stop_timeout}s after SIGTERM: $(IFS=';'; echo "${left[*]}")"
fi
echo "run-stops-test: ok, SIGTERM to the group stopped ${services[*]} and the cluster under .dev/pg within $((SECONDS - deadline + stop_timeout))s"
