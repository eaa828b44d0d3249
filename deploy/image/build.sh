#!/usr/bin/env bash
# `make image`: builds the fallwerk runtime image on this machine, without any registry.
#
#   deploy/image/build.sh [BIN_DIR]      BIN_DIR: the binaries (default target/release)
#
# FROM scratch (deploy/image/Containerfile): the service binaries intake, case-plan and partner,
# the CLI fallwerk and, when BIN_DIR has it, the load generator fallwerk-load, under
# /usr/local/bin; exactly the shared libraries `ldd` names for them, the loader at the path the
# binaries ask for; /etc/passwd and /etc/group with `nonroot` (65532); /etc/nsswitch.conf; the
# host's CA bundle. No shell, no package manager. Runs as uid 65532.
#
# The binaries are taken as they are (`make image` builds them with `cargo build --release`
# first); their libraries come from this host, so build them here (or on the same Debian).
# buildah (Debian's package) is installed when missing. The image goes into the local
# containers storage as FALLWERK_IMAGE (default localhost/fallwerk:dev), where podman sees it
# and where the manifests' short name `fallwerk:dev` finds it. deploy/image/test.sh runs it as
# the manifests do. A cluster's container runtime reads the manifests' `fallwerk:dev` as
# docker.io/library/fallwerk:dev, so export it under that name for a laptop cluster (not tried
# here, no cluster on this machine):
#   podman tag localhost/fallwerk:dev docker.io/library/fallwerk:dev
#   podman save docker.io/library/fallwerk:dev -o fallwerk.tar && kind load image-archive fallwerk.tar
set -euo pipefail
umask 022
cd "$(dirname "$0")/../.."
repo=$(pwd)

bin_dir=${1:-target/release}
image=${FALLWERK_IMAGE:-localhost/fallwerk:dev}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$repo/deploy/image/containers.conf}
started=$(date +%s)

say() { echo "image: $*"; }
die() { echo "image: $*" >&2; exit 1; }

[ -d "$bin_dir" ] || die "no binary directory $bin_dir (make image builds target/release first)"
bin_dir=$(cd "$bin_dir" && pwd)

# Every service binary and the CLI must be there; the load generator is optional.
required=(intake case-plan partner fallwerk)
optional=(fallwerk-load)
binaries=()
for name in "${required[@]}"; do
    [ -x "$bin_dir/$name" ] || die "$bin_dir/$name is missing (cargo build --release -p fallwerk-intake -p fallwerk-case-plan -p fallwerk-partner -p fallwerk-cli -p fallwerk-load)"
    binaries+=("$name")
done
for name in "${optional[@]}"; do
    if [ -x "$bin_dir/$name" ]; then
        binaries+=("$name")
    else
        say "note: $bin_dir/$name is missing; the image is built without the load generator"
    fi
done

# Binaries older than the last commit to the sources were built from older code (the manifests
# may name settings they do not know): said, not refused, since a deliberate BIN_DIR may be so.
if source_time=$(git log -1 --format=%ct -- crates services proto Cargo.toml Cargo.lock 2>/dev/null) && [ -n "$source_time" ]; then
    for name in "${binaries[@]}"; do
        if [ "$(stat -c %Y "$bin_dir/$name")" -lt "$source_time" ]; then
            say "warning: $bin_dir/$name is older than the last commit to the sources ($(date -u -d "@$source_time" '+%F %T') UTC): \`make image\` builds them first"
        fi
    done
fi

if ! command -v buildah >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "buildah not found; installing Debian's buildah (and runc)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null
        apt-get install -y -qq --no-install-recommends buildah runc >/dev/null
    else
        die "buildah not found: install it (Debian: apt-get install buildah runc), or run as root"
    fi
fi
command -v ldd >/dev/null 2>&1 || die "ldd not found (libc-bin)"
[ -s /etc/ssl/certs/ca-certificates.crt ] || die "no CA bundle at /etc/ssl/certs/ca-certificates.crt (apt-get install ca-certificates)"

stage=$(mktemp -d /tmp/fallwerk-image.XXXXXX)
trap 'rm -rf "$stage"' EXIT
root=$stage/rootfs
mkdir -p "$root/usr/local/bin" "$root/etc/ssl/certs"

# The binaries, and every shared object ldd resolves for them. ldd prints `name => /path (addr)`
# for a library found through the search path and `/path (addr)` for the loader (the ELF
# interpreter, which must stay at exactly that path); linux-vdso is the kernel's and has no
# file. A library ldd cannot find would fail at start inside the image, so it fails here.
declare -A libs=()
for name in "${binaries[@]}"; do
    install -m 0755 "$bin_dir/$name" "$root/usr/local/bin/$name"
    if ! out=$(ldd "$bin_dir/$name" 2>&1); then
        case "$out" in
            *"not a dynamic executable"*|*"statically linked"*) continue ;;
            *) die "ldd $bin_dir/$name failed: $out" ;;
        esac
    fi
    if grep -q "not found" <<<"$out"; then
        die "$name needs a library this host lacks: $(grep 'not found' <<<"$out" | tr -s ' \t' ' ')"
    fi
    while read -r path; do
        libs[$path]=1
    done < <(sed -n -e 's/^.*=> \(\/[^ ]*\) (0x[0-9a-f]*)$/\1/p' -e 's/^[[:space:]]*\(\/[^ ]*\) (0x[0-9a-f]*)$/\1/p' <<<"$out")
    if command -v readelf >/dev/null 2>&1; then
        interp=$(readelf -l "$bin_dir/$name" | sed -n 's/.*Requesting program interpreter: \(.*\)\]/\1/p')
        [ -z "$interp" ] || libs[$interp]=1
    fi
done
for path in "${!libs[@]}"; do
    # The path as named (the loader's /lib64/ld-linux-x86-64.so.2 is a symlink on Debian),
    # holding the file it resolves to.
    real=$(readlink -f "$path")
    [ -f "$real" ] || die "$path (from ldd) does not resolve to a file"
    mkdir -p "$root$(dirname "$path")"
    install -m 0755 "$real" "$root$path"
done

cat > "$root/etc/passwd" <<'TXT'
root:x:0:0:root:/root:/sbin/nologin
nonroot:x:65532:65532:nonroot:/:/sbin/nologin
TXT
cat > "$root/etc/group" <<'TXT'
root:x:0:
nonroot:x:65532:
TXT
cat > "$root/etc/nsswitch.conf" <<'TXT'
passwd: files
group: files
hosts: files dns
TXT
install -m 0644 "$(readlink -f /etc/ssl/certs/ca-certificates.crt)" "$root/etc/ssl/certs/ca-certificates.crt"
chmod 0644 "$root/etc/passwd" "$root/etc/group" "$root/etc/nsswitch.conf"
cp deploy/image/Containerfile "$stage/Containerfile"

version=$("$bin_dir/intake" --version 2>/dev/null | awk '{print $2}') || version=""
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
if [ "$revision" != unknown ] && [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    revision="$revision-dirty"
fi
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)

say "staged $(find "$root" -type f | wc -l) files, $(du -sh "$root" | cut -f1) unpacked:"
(cd "$root" && find . -type f | sed 's/^\./    /' | sort)

previous=$(buildah images --noheading --format '{{.ID}}' "$image" 2>/dev/null | head -n1 || true)
buildah bud --quiet --layers=false --format oci \
    --label "org.opencontainers.image.version=${version:-unknown}" \
    --label "org.opencontainers.image.revision=$revision" \
    --label "org.opencontainers.image.created=$created" \
    -f "$stage/Containerfile" -t "$image" "$stage" >/dev/null
current=$(buildah images --noheading --format '{{.ID}}' "$image" | head -n1)
# The image this tag named before is left untagged by the build: remove it (only that one).
if [ -n "$previous" ] && [ "$previous" != "$current" ]; then
    buildah rmi "$previous" >/dev/null 2>&1 || true
fi

say "built $image ($current) from $bin_dir in $(( $(date +%s) - started ))s"
buildah images --format '{{.Name}}:{{.Tag}}  {{.ID}}  {{.Size}}' "$image" | sed 's/^/    /'
