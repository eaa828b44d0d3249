#!/usr/bin/env bash
# `make image-test`: runs the image (`make image`) the way the local overlay's pods run it, on
# this host, and checks what an operator relies on. Skipped, exit 0, when no container runtime
# is available (podman missing and not installable, or unable to run anything here).
#
#   deploy/image/test.sh
#
# Settings (environment): FALLWERK_IMAGE (localhost/fallwerk:dev), IMAGE_TEST_OVERLAY (the
# overlay whose pods are run, deploy/k8s/overlays/local), IMAGE_TEST_PG_PORT (29240) and
# IMAGE_TEST_PORT_BASE (29250: the services' ports become 29251.., see below).
#
# What it does:
#  1. The image: its size, its files (the binaries; no shell, no package manager), its user.
#  2. A PostgreSQL of its own on 127.0.0.1 (deploy/local/postgres.sh, trusting loopback), and
#     the first-time set-up's roles.sql as the superuser (the set-up Job's first step; the
#     second, set-passwords.sql, is left out: loopback needs no passwords).
#  3. A dev signing key and tokens minted by the CLI inside the image; the Secrets the pods
#     mount (JWKS, service token, each role's URL) as files in a temporary directory.
#  4. Per server Deployment of the overlay's render (deploy/image/podspec.py): its environment
#     (ConfigMaps in envFrom order, then env), its Secret volumes mounted read-only at their
#     paths with the kubelet's modes and fsGroup, its security context (read-only root without
#     extra tmpfs, all capabilities dropped, no new privileges, the manifest's uid/gid) and
#     resource limits; --network host. Every pod listens for health on 9110, so on one host the
#     ports must move: each container port to 2925x (gRPC), 2926x (metrics), 2927x (health),
#     and the settings naming them follow (listed in the output, nothing else changes).
#  5. Per service: the init container `migrate` (the owner role's URL, DB_RUNTIME_ROLE), then
#     the server; readiness as the kubelet's gRPC probe asks it (grpc.health.v1 Check with the
#     probe's `service`, its timeoutSeconds, on the health port); liveness (TCP); /metrics; the
#     server connected as the runtime role alone; the feeds followed through UPSTREAMS.
#  6. Real calls with the CLI inside the image: a team created and listed in intake (admin), the
#     audit trails of all three verified (auditor).
#  7. SIGTERM to each server while the others' feed subscriptions are open on it (what the
#     kubelet sends after the preStop sleep, which is not repeated here): the drain in its log,
#     exit code 0 within terminationGracePeriodSeconds minus the preStop sleep.
# The moved ports lie below Linux's ephemeral range (32768-60999), where outgoing connections
# take theirs; should another program hold one anyway, a server that exits with "Address already
# in use" is started again (twice at most), and the output says so. Logs of every container stay in .dev/image-test/.
# Nothing stays running: containers, the PostgreSQL and the temporary files go on every exit.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
repo=$(pwd)

image=${FALLWERK_IMAGE:-localhost/fallwerk:dev}
overlay=${IMAGE_TEST_OVERLAY:-deploy/k8s/overlays/local}
pg_port=${IMAGE_TEST_PG_PORT:-29240}
port_base=${IMAGE_TEST_PORT_BASE:-29250}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$repo/deploy/image/containers.conf}
logs=$repo/.dev/image-test
venv=$repo/.dev/imagetest-venv
venv_marker=$venv/.grpcio-1.85
started_at=$(date +%s)

passed=0
failed=0
pass() { echo "PASS  $*"; passed=$((passed + 1)); }
fail() { echo "FAIL  $*"; failed=$((failed + 1)); }
note() { echo "      $*"; }
step() { echo; echo "== $*"; }
# Seconds since $1 (date +%s.%N), one decimal.
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# --- A container runtime, or skip -------------------------------------------------------------
if ! command -v podman >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "image-test: podman not found; installing Debian's podman and runc"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman runc >/dev/null 2>&1 \
        || { DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 \
             && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman runc >/dev/null 2>&1; }
fi
if ! command -v podman >/dev/null 2>&1; then
    echo "SKIP  image-test: no container runtime (podman is not installed and could not be installed here); nothing tested"
    exit 0
fi
if ! why=$(podman info 2>&1 >/dev/null); then
    echo "SKIP  image-test: podman cannot run here ($(tail -n1 <<<"$why")); nothing tested"
    exit 0
fi

containers=()
tmp=""
pg_started=""
cleanup() {
    local c
    for c in "${containers[@]}"; do
        podman rm -f -t 0 "$c" >/dev/null 2>&1
    done
    if [ -n "$pg_started" ]; then
        deploy/local/postgres.sh destroy "$tmp/pg" >/dev/null 2>&1 || echo "image-test: could not stop the PostgreSQL under $tmp/pg" >&2
    fi
    [ -n "$tmp" ] && rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

finish() {
    echo
    echo "image-test: $passed passed, $failed failed in $(( $(date +%s) - started_at ))s; image $image ${size_mb:-?} MB; logs in ${logs#"$repo"/}/"
    [ "$failed" -eq 0 ] || exit 1
    exit 0
}

# --- 1. The image ---------------------------------------------------------------------------
step "image $image"
if ! podman image exists "$image"; then
    fail "no image $image here: build it first (make image)"
    finish
fi
image_id=$(podman image inspect --format '{{.Id}}' "$image")
size_bytes=$(podman image inspect --format '{{.Size}}' "$image")
size_mb=$(awk -v b="$size_bytes" 'BEGIN { printf "%.1f", b / 1000000 }')
note "id ${image_id:0:12}, size $size_mb MB ($size_bytes bytes, uncompressed), created $(podman image inspect --format '{{index .Labels "org.opencontainers.image.created"}}' "$image"), revision $(podman image inspect --format '{{index .Labels "org.opencontainers.image.revision"}}' "$image")"
mkdir -p "$logs"
rm -f "$logs"/*.log
tmp=$(mktemp -d /tmp/fallwerk-image-test.XXXXXX)
chmod 0755 "$tmp"

cid=$(podman create "$image" 2>/dev/null) && containers+=("$cid")
podman export "$cid" | tar -t | sed 's|^\./||; s|/$||' | sort > "$tmp/files"
podman rm -f "$cid" >/dev/null 2>&1
missing=""
for b in intake case-plan partner fallwerk; do
    grep -qx "usr/local/bin/$b" "$tmp/files" || missing="$missing $b"
done
[ -z "$missing" ] && pass "image holds intake, case-plan, partner and fallwerk in /usr/local/bin" \
    || fail "image lacks in /usr/local/bin:$missing"
if grep -qx "usr/local/bin/fallwerk-load" "$tmp/files"; then
    out=$(podman run --rm --network host --read-only --read-only-tmpfs=false --cap-drop ALL --user 65532:65532 "$image" /usr/local/bin/fallwerk-load --version 2>&1) \
        && pass "image holds fallwerk-load, which starts ($out)" || fail "fallwerk-load in the image does not start: $out"
else
    note "image has no fallwerk-load (built without the load generator)"
fi
shells=$(grep -E '(^|/)(sh|bash|dash|ash|zsh|busybox|toybox)$' "$tmp/files" | tr '\n' ' ')
[ -z "$shells" ] && pass "no shell in the image" || fail "shell(s) in the image: $shells"
pkgs=$(grep -E '(^|/)(dpkg|apt|apt-get|apk|rpm|yum|dnf|microdnf)$|^var/lib/dpkg' "$tmp/files" | head -3 | tr '\n' ' ')
[ -z "$pkgs" ] && pass "no package manager in the image" || fail "package manager files in the image: $pkgs"
note "$(wc -l < "$tmp/files") entries; libraries: $(grep -E '\.so' "$tmp/files" | tr '\n' ' ')"
user=$(podman image inspect --format '{{.Config.User}}' "$image")
case "$user" in
    65532|65532:65532) pass "image user $user (nonroot)" ;;
    *) fail "image user is '$user', not 65532" ;;
esac

# --- Tools: the gRPC health client, the render -------------------------------------------------
step "tools"
if [ ! -f "$venv_marker" ]; then
    note "installing grpcio, grpcio-health-checking and PyYAML into ${venv#"$repo"/} (once)"
    if python3 -m venv "$venv" && "$venv/bin/pip" install -q 'grpcio==1.85.*' 'grpcio-health-checking==1.85.*' 'PyYAML>=6' >"$tmp/pip.log" 2>&1; then
        touch "$venv_marker"
    else
        cat "$tmp/pip.log" >&2
        fail "cannot install the gRPC health client (PyPI: grpcio, grpcio-health-checking)"
        finish
    fi
fi
py=$venv/bin/python
if command -v kustomize >/dev/null 2>&1; then
    render=(kustomize build "$overlay")
elif command -v kubectl >/dev/null 2>&1; then
    render=(kubectl kustomize "$overlay")
else
    fail "neither kustomize nor kubectl here to render $overlay"
    finish
fi
if ! "${render[@]}" > "$tmp/render.yaml" 2>"$tmp/render.err"; then
    fail "render of $overlay failed: $(cat "$tmp/render.err")"
    finish
fi
pass "rendered $overlay (${render[*]})"
mapfile -t services < <("$py" -c '
import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d.get("kind") == "Deployment" and d["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "server":
        print(d["metadata"]["name"])' "$tmp/render.yaml")
note "server Deployments: ${services[*]}"

# --- 2. PostgreSQL and the roles -------------------------------------------------------------
step "PostgreSQL on 127.0.0.1:$pg_port"
pg_started=yes
t0=$(date +%s.%N)
if ! deploy/local/postgres.sh start "$tmp/pg" "$pg_port" --fresh >"$tmp/pg.log" 2>&1; then
    cat "$tmp/pg.log" >&2
    fail "PostgreSQL did not start on port $pg_port"
    finish
fi
pass "PostgreSQL started ($(since "$t0")s)"
psql_admin() { psql "postgres://fallwerk@127.0.0.1:$pg_port/fallwerk" --no-psqlrc -v ON_ERROR_STOP=1 -qtA "$@"; }
roles_sql=deploy/k8s/components/database-setup/roles.sql
if psql_admin -f "$roles_sql" >"$tmp/roles.log" 2>&1; then
    pass "roles.sql as the superuser: $(psql_admin -c "SELECT string_agg(rolname, ' ' ORDER BY rolname) FROM pg_roles WHERE rolname LIKE 'fallwerk\_%'")"
else
    fail "roles.sql failed: $(cat "$tmp/roles.log")"
fi

# --- 3. Key, tokens, Secrets -----------------------------------------------------------------
step "dev key, tokens and Secrets (files)"
# The CLI in the image, hardened like the pods.
in_image() {
    podman run --rm --network host --read-only --read-only-tmpfs=false --cap-drop ALL \
        --security-opt no-new-privileges --user 65532:65532 "$@"
}
mkdir -p "$tmp/devkey" && chown 65532:65532 "$tmp/devkey"
if ! jwks=$(in_image -v "$tmp/devkey:/devkey" "$image" /usr/local/bin/fallwerk dev-key --dir /devkey 2>&1); then
    fail "fallwerk dev-key in the image: $jwks"
    finish
fi
# dev-token writes jwks.json again on every call (DevKey::load_or_create), so the key directory
# stays writable here.
token() {
    in_image -v "$tmp/devkey:/devkey" "$image" /usr/local/bin/fallwerk dev-token --dir /devkey "$@"
}
service_token=$(token --role service --subject fallwerk-services --ttl-minutes 60) \
    && admin_token=$(token --role admin --ttl-minutes 60) \
    && auditor_token=$(token --role auditor --ttl-minutes 60) \
    && pass "dev key ($jwks) and tokens (service, admin, auditor) minted by the CLI in the image" \
    || { fail "fallwerk dev-token in the image failed"; finish; }

secrets=$tmp/secrets
secret() { mkdir -p "$secrets/$1"; printf %s "$3" > "$secrets/$1/$2"; }
secret fallwerk-jwks jwks.json "$(cat "$tmp/devkey/jwks.json")"
secret fallwerk-service-token token "$service_token"
for svc in "${services[@]}"; do
    schema=${svc//-/}
    for role in owner runtime; do
        name=fallwerk-$svc-db
        [ "$role" = owner ] && name=$name-owner
        secret "$name" username "fallwerk_${schema}_$role"
        # Loopback is trusted: the role's URL carries no password (the set-up Job sets one).
        secret "$name" password "unused-loopback-trust"
        secret "$name" url "postgres://fallwerk_${schema}_$role@127.0.0.1:$pg_port/fallwerk"
    done
done
note "Secrets: $(ls "$secrets" | tr '\n' ' ')"

plans=$tmp/plans
if ! "$py" deploy/image/podspec.py prepare --render "$tmp/render.yaml" --secrets "$secrets" \
        --out "$plans" --port-base "$port_base" --limits; then
    fail "podspec.py could not turn the render into podman arguments"
    finish
fi
plan() { jq -r "$2" "$plans/$1.json"; }
# In the order of their gRPC ports (intake, case-plan, partner): the order they start and stop.
mapfile -t services < "$plans/services"
for svc in "${services[@]}"; do
    note "$svc: ports moved (grpc, metrics, health) -> $(plan "$svc" '[.host_ports.grpc, .host_ports.metrics, .host_ports.health] | map(tostring) | join(", ")'); settings changed to match:"
    plan "$svc" '.remapped[]' | sed 's/^[a-z]*: //' | sort -u | sed 's/^/        /'
    problems=$(plan "$svc" '.problems[]')
    if [ -n "$problems" ]; then
        while read -r p; do fail "$svc manifest: $p"; done <<<"$problems"
    else
        pass "$svc: every mount, env source, port and probe of the manifest provided"
    fi
done
manifest_image=$(plan "${services[0]}" '.server.image')
if [ "$(podman image inspect --format '{{.Id}}' "$manifest_image" 2>/dev/null)" = "$image_id" ]; then
    pass "the manifests' image name $manifest_image resolves to this image"
else
    note "the manifests name the image $manifest_image, which is not $image here; running $image"
fi
grpc_addr() { echo "http://127.0.0.1:$(plan "$1" '.host_ports.grpc')"; }

# --- 4/5. Migrate, serve, probe ---------------------------------------------------------------
run_container() { # name role(migrate|server) svc [podman run flags...]
    local name=$1 role=$2 svc=$3
    shift 3
    local -a run args
    mapfile -t run < <(plan "$svc" ".$role.run[]")
    mapfile -t args < <(plan "$svc" ".$role.args[]")
    containers+=("$name")
    podman run --name "$name" "$@" "${run[@]}" "$image" "${args[@]}"
}
start_server() {
    podman rm -f "image-test-$1-server-$$" >/dev/null 2>&1
    run_container "image-test-$1-server-$$" server "$1" -d >/dev/null 2>"$tmp/run.err"
}
save_logs() { podman logs "$1" > "$logs/$2.log" 2>&1; }
show_logs() { echo "      --- last lines of $1:"; tail -n "${2:-15}" "$logs/$1.log" | cut -c1-400 | sed 's/^/      | /'; }

started=()
for svc in "${services[@]}"; do
    step "$svc"
    runtime_role=$(plan "$svc" '.migrate.env.DB_RUNTIME_ROLE // ""')
    schema=${runtime_role#fallwerk_}
    schema=${schema%_runtime}
    if [ "$runtime_role" != "fallwerk_${svc//-/}_runtime" ]; then
        fail "$svc: migrate's DB_RUNTIME_ROLE is '$runtime_role', not fallwerk_${svc//-/}_runtime"
        schema=${svc//-/}
    fi
    owner_role=fallwerk_${schema}_owner
    name=image-test-$svc-migrate-$$
    t0=$(date +%s.%N)
    run_container "$name" migrate "$svc" >/dev/null 2>&1
    code=$(podman inspect --format '{{.State.ExitCode}}' "$name" 2>/dev/null || echo "?")
    save_logs "$name" "$svc-migrate"
    podman rm -f "$name" >/dev/null 2>&1
    if [ "$code" = 0 ]; then
        pass "$svc: migrate (uid $(plan "$svc" '.migrate.user'), read-only root, no capabilities, as $owner_role, DB_RUNTIME_ROLE=$runtime_role) exit 0 in $(since "$t0")s"
    else
        fail "$svc: migrate exited $code; its server is not started (a pod's init container must succeed first)"
        show_logs "$svc-migrate"
        continue
    fi
    check=$(psql_admin -c "SELECT
        (SELECT count(*) FROM pg_tables WHERE schemaname = '$schema'),
        (SELECT count(*) FROM pg_tables WHERE schemaname = '$schema' AND tableowner <> '$owner_role'),
        has_schema_privilege('$runtime_role', '$schema', 'USAGE'),
        (SELECT count(*) FROM pg_tables WHERE schemaname = '$schema' AND has_table_privilege('$runtime_role', format('%I.%I', schemaname, tablename), 'SELECT'))" 2>&1)
    IFS='|' read -r tables foreign usage readable <<<"$check"
    if [ "${tables:-0}" -gt 0 ] && [ "$foreign" = 0 ] && [ "$usage" = t ] && [ "$readable" = "$tables" ]; then
        pass "$svc: $tables tables in schema $schema, all owned by $owner_role; $runtime_role granted its schema"
    else
        fail "$svc: schema $schema after migrate: tables=$tables, not owned by $owner_role=$foreign, runtime USAGE=$usage, runtime may SELECT $readable ($check)"
    fi
    start_server "$svc" || { fail "$svc: server container did not start: $(cat "$tmp/run.err")"; continue; }
    started+=("$svc")
done

serving=()
for svc in "${started[@]}"; do
    step "$svc serving"
    name=image-test-$svc-server-$$
    health=127.0.0.1:$(plan "$svc" '.readiness.host_port')
    probe_service=$(plan "$svc" '.readiness.service')
    probe_timeout=$(plan "$svc" '.readiness.timeout')
    t0=$(date +%s.%N)
    ready=""
    restarts=0
    for _ in $(seq 1 60); do
        if answer=$("$py" deploy/image/probe.py grpc-health "$health" "$probe_service" --timeout "$probe_timeout"); then
            ready=yes
            break
        fi
        if [ "$(podman inspect --format '{{.State.Running}}' "$name" 2>/dev/null)" != true ]; then
            # Another program on this host may hold a moved port for a moment. Not the image's
            # fault; start again (twice at most), as a pod's restart would.
            if [ "$restarts" -lt 2 ] && podman logs "$name" 2>&1 | grep -q 'Address already in use'; then
                restarts=$((restarts + 1))
                note "$svc: a moved port was taken on this host (Address already in use): started again"
                sleep 2
                start_server "$svc" && continue
            fi
            break
        fi
        sleep 1
    done
    if [ -n "$ready" ]; then
        pass "$svc: ready after $(since "$t0")s: grpc.health.v1 Check(\"$probe_service\") on the health port ($health, manifest port $(plan "$svc" '.readiness.port'), timeout ${probe_timeout}s) answered ${answer%% after*}"
    else
        state=$(podman inspect --format '{{.State.Status}} (exit code {{.State.ExitCode}})' "$name" 2>/dev/null)
        fail "$svc: not ready after $(since "$t0")s: Check(\"$probe_service\") on $health: $answer; container $state"
        save_logs "$name" "$svc-server"
        show_logs "$svc-server"
        continue
    fi
    serving+=("$svc")
    live=$(plan "$svc" '.liveness_tcp // empty')
    if [ -n "$live" ]; then
        answer=$("$py" deploy/image/probe.py tcp "127.0.0.1:$live") \
            && pass "$svc: liveness (TCP to the grpc port, $live) $answer" || fail "$svc: liveness TCP to $live: $answer"
    fi
    metrics=http://127.0.0.1:$(plan "$svc" '.host_ports.metrics')/metrics
    answer=$("$py" deploy/image/probe.py http "$metrics") \
        && pass "$svc: $metrics $answer" || fail "$svc: $metrics $answer"
done

step "roles in use"
sleep 1
for svc in "${serving[@]}"; do
    schema=${svc//-/}
    conns=$(psql_admin -c "SELECT coalesce(sum((usename = 'fallwerk_${schema}_runtime')::int), 0), coalesce(sum((usename = 'fallwerk_${schema}_owner')::int), 0) FROM pg_stat_activity WHERE datname = 'fallwerk'")
    IFS='|' read -r as_runtime as_owner <<<"$conns"
    if [ "${as_runtime:-0}" -gt 0 ] && [ "$as_owner" = 0 ]; then
        pass "$svc: serves as fallwerk_${schema}_runtime ($as_runtime connections), none as the owner"
    else
        fail "$svc: connections as fallwerk_${schema}_runtime: $as_runtime, as the owner: $as_owner"
    fi
done

# --- 6. Real calls ----------------------------------------------------------------------------
step "calls with the CLI in the image"
calls=yes
for svc in intake case-plan partner; do
    if [[ " ${serving[*]} " != *" $svc "* ]]; then
        fail "no calls: $svc is not serving (the CLI's calls need intake, case-plan and partner)"
        calls=""
    fi
done
cli() {
    local token=$1
    shift
    in_image -e "FALLWERK_TOKEN=$token" "$image" /usr/local/bin/fallwerk \
        --addr "$(grpc_addr intake)" --case-plan-addr "$(grpc_addr case-plan)" \
        --partner-addr "$(grpc_addr partner)" "$@"
}
team="Image test $$"
if [ -z "$calls" ]; then
    :
elif out=$(cli "$admin_token" team create "$team" 2>&1); then
    pass "intake: fallwerk team create (admin) -> $(head -n1 <<<"$out")"
else
    fail "intake: fallwerk team create: $out"
fi
if [ -z "$calls" ]; then
    :
elif out=$(cli "$admin_token" team list 2>&1) && grep -q "$team" <<<"$out"; then
    pass "intake: fallwerk team list (admin) lists \"$team\""
else
    fail "intake: fallwerk team list: $out"
fi
if [ -z "$calls" ]; then
    :
elif out=$(cli "$auditor_token" --json audit verify 2>&1); then
    for svc in intake case-plan partner; do
        line=$(jq -r --arg s "$svc" '.trails[] | select(.service == $s) | "intact=\(.intact) chained_records=\(.chained_records)"' <<<"$out" 2>/dev/null)
        case "$line" in
            intact=true*) pass "$svc: fallwerk audit verify (auditor): $line" ;;
            *) fail "$svc: fallwerk audit verify: ${line:-no answer} ($out)" ;;
        esac
    done
else
    fail "fallwerk audit verify (auditor): $out"
fi

# The feeds the services follow (UPSTREAMS, pointed at the moved ports, with the service token
# against the JWKS): each service another one names in its UPSTREAMS counts the subscriptions
# open on its feed. UPSTREAMS also names services only called (partner calls intake's
# GetApplicantContact but follows only case-plan's feed), so at least one is expected.
step "feeds"
for svc in "${serving[@]}"; do
    port=$(plan "$svc" '.host_ports.grpc')
    expected=0
    followers=""
    for other in "${serving[@]}"; do
        [ "$other" = "$svc" ] && continue
        if plan "$other" '.server.env.UPSTREAMS // ""' | grep -q "://127.0.0.1:$port\b"; then
            followers="$followers $other"
        fi
    done
    [ -z "$followers" ] && continue
    expected=1
    metrics=http://127.0.0.1:$(plan "$svc" '.host_ports.metrics')/metrics
    subs=0
    for _ in $(seq 1 30); do
        subs=$("$py" deploy/image/probe.py metric "$metrics" feed_subscriptions) || subs=0
        awk -v a="$subs" -v b="$expected" 'BEGIN { exit !(a + 0 >= b) }' && break
        sleep 1
    done
    if awk -v a="$subs" -v b="$expected" 'BEGIN { exit !(a + 0 >= b) }'; then
        pass "$svc: $subs subscription(s) open on its feed (UPSTREAMS naming it:$followers)"
    else
        fail "$svc: no subscription open on its feed after 30s (UPSTREAMS naming it:$followers)"
    fi
done

# --- 7. SIGTERM -------------------------------------------------------------------------------
step "SIGTERM"
for svc in "${started[@]}"; do
    name=image-test-$svc-server-$$
    podman container exists "$name" || continue
    if [ "$(podman inspect --format '{{.State.Running}}' "$name")" != true ]; then
        fail "$svc: exited before SIGTERM (exit code $(podman inspect --format '{{.State.ExitCode}}' "$name"))"
        save_logs "$name" "$svc-server"
        podman rm -f "$name" >/dev/null 2>&1
        continue
    fi
    pid=$(podman inspect --format '{{.State.Pid}}' "$name" 2>/dev/null)
    rss=$(awk '/^VmRSS:/ { printf "%.1f MiB", $2 / 1024 }' "/proc/$pid/status" 2>/dev/null)
    [ -z "$rss" ] || note "$svc: resident memory before SIGTERM $rss (the manifest's limit: $(plan "$svc" '.server.run | index("--memory") as $i | if $i then (.[$i + 1] | tonumber / 1048576 | tostring) + " MiB" else "none" end'))"
    grace=$(plan "$svc" '.grace')
    sleep_s=$(plan "$svc" '.prestop_sleep')
    budget=$((grace - sleep_s))
    t0=$(date +%s.%N)
    podman kill --signal TERM "$name" >/dev/null
    if code=$(timeout "$grace" podman wait "$name" 2>/dev/null); then
        took=$(since "$t0")
    else
        took=$(since "$t0")
        podman kill --signal KILL "$name" >/dev/null 2>&1
        code="none: still running after terminationGracePeriodSeconds ($grace s), killed"
    fi
    save_logs "$name" "$svc-server"
    within=$(awk -v t="$took" -v b="$budget" 'BEGIN { print (t <= b) ? "yes" : "no" }')
    if [ "$code" = 0 ] && [ "$within" = yes ]; then
        pass "$svc: SIGTERM -> exit 0 after ${took}s (budget ${budget}s: terminationGracePeriodSeconds $grace - preStop sleep $sleep_s)"
    else
        fail "$svc: SIGTERM -> exit code $code after ${took}s (budget ${budget}s)"
        show_logs "$svc-server"
    fi
    if grep -q 'draining in-flight RPCs' "$logs/$svc-server.log" && grep -q 'gRPC server stopped' "$logs/$svc-server.log" \
        && ! grep -q 'shutdown grace period over' "$logs/$svc-server.log"; then
        pass "$svc: drained (log: shutdown signal received, draining in-flight RPCs, gRPC server stopped)"
    else
        fail "$svc: no clean drain in its log (draining in-flight RPCs / gRPC server stopped, without 'shutdown grace period over')"
        show_logs "$svc-server"
    fi
    errors=$(grep -c '"level":"ERROR"' "$logs/$svc-server.log")
    [ "$errors" -eq 0 ] || note "$svc: $errors ERROR line(s) in its log, e.g. $(grep -m1 '"level":"ERROR"' "$logs/$svc-server.log" | cut -c1-300)"
    podman rm -f "$name" >/dev/null 2>&1
done

finish
