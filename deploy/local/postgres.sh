#!/usr/bin/env bash
# A private PostgreSQL cluster under the repo, for `make run` and `make test`.
#
#   postgres.sh start DIR PORT [--ephemeral|--fresh]   create (if needed) and start
#   postgres.sh stop DIR                       stop if running
#   postgres.sh destroy DIR                    stop at once and delete the cluster
#   postgres.sh status DIR                     exit 0 if running, non-zero if not
#
# PostgreSQL's own initdb/pg_ctl are used; when they are missing they are installed from the
# distribution's packages. initdb and pg_ctl refuse to run as root, so as root the cluster runs
# as the `postgres` system user. It listens on 127.0.0.1:PORT only, trusts local connections
# (a developer cluster, never a deployment) and has one superuser, `fallwerk`.
# --ephemeral (tests): a fresh cluster every start, without fsync (a crash loses nothing that
# matters, and tests run several times faster). --fresh (benchmarks): a fresh, durable cluster.
set -euo pipefail

cmd=${1:?usage: postgres.sh start|stop|destroy|status DIR [PORT] [--ephemeral|--fresh]}
dir=${2:?data directory}
port=${3:-54329}
ephemeral=${4:-}

find_bindir() {
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [ -x "$d/initdb" ] && { echo "$d"; return 0; }
    done
    command -v initdb >/dev/null 2>&1 && { dirname "$(readlink -f "$(command -v initdb)")"; return 0; }
    return 1
}

install_postgres() {
    echo "postgres.sh: PostgreSQL server binaries not found; installing from the distribution's packages" >&2
    if [ "$(id -u)" -ne 0 ]; then
        echo "postgres.sh: run as root, or install the 'postgresql' package yourself" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
}

as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# The data directory must be reachable by the user PostgreSQL runs as. A checkout in a
# directory the `postgres` user cannot enter (say under /root) gets its cluster in /tmp instead.
resolve_dir() {
    mkdir -p "$(dirname "$dir")"
    dir="$(readlink -f "$(dirname "$dir")")/$(basename "$dir")"
    if [ "$(id -u)" -eq 0 ] && id postgres >/dev/null 2>&1 && ! runuser -u postgres -- test -x "$(dirname "$dir")"; then
        dir="/tmp/fallwerk-pg-$(printf '%s' "$dir" | cksum | cut -d' ' -f1)"
    fi
}

case "$cmd" in
start)
    bindir=$(find_bindir) || { install_postgres; bindir=$(find_bindir); }
    resolve_dir
    if [ "$ephemeral" = "--ephemeral" ] || [ "$ephemeral" = "--fresh" ]; then
        [ -f "$dir/postmaster.pid" ] && as_owner "$bindir/pg_ctl" -D "$dir" -m immediate stop >/dev/null 2>&1 || true
        rm -rf "$dir"
    fi
    if [ ! -f "$dir/PG_VERSION" ]; then
        mkdir -p "$dir"
        [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
        chmod 700 "$dir"
        as_owner "$bindir/initdb" -D "$dir" -U fallwerk --auth=trust --encoding=UTF8 --no-locale >/dev/null
        {
            echo "listen_addresses = '127.0.0.1'"
            echo "port = $port"
            echo "unix_socket_directories = '$dir'"
            echo "max_connections = 400"
            echo "shared_buffers = 128MB"
            echo "timezone = 'UTC'"
            if [ "$ephemeral" = "--ephemeral" ]; then
                echo "fsync = off"
                echo "synchronous_commit = off"
                echo "full_page_writes = off"
            fi
        } | as_owner tee -a "$dir/postgresql.conf" >/dev/null
    fi
    if ! as_owner "$bindir/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
        as_owner "$bindir/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start >/dev/null
    fi
    # The database the services use by default.
    if ! as_owner "$bindir/psql" -h 127.0.0.1 -p "$port" -U fallwerk -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = 'fallwerk'" | grep -q 1; then
        as_owner "$bindir/createdb" -h 127.0.0.1 -p "$port" -U fallwerk fallwerk
    fi
    ;;
stop)
    bindir=$(find_bindir) || exit 0
    resolve_dir
    [ -d "$dir" ] || exit 0
    if as_owner "$bindir/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
        as_owner "$bindir/pg_ctl" -D "$dir" -m fast -w stop >/dev/null
    fi
    ;;
destroy)
    bindir=$(find_bindir) || exit 0
    resolve_dir
    [ -d "$dir" ] || exit 0
    as_owner "$bindir/pg_ctl" -D "$dir" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
status)
    # pg_ctl's own answer: 0 running, 3 not running, 4 no data directory.
    bindir=$(find_bindir) || exit 3
    resolve_dir
    [ -d "$dir" ] || exit 4
    as_owner "$bindir/pg_ctl" -D "$dir" status >/dev/null 2>&1
    ;;
*)
    echo "usage: postgres.sh start|stop|destroy|status DIR [PORT] [--ephemeral|--fresh]" >&2
    exit 2
    ;;
esac
