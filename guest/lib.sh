# Shared helpers for the guest build scripts: messages, failure with advice,
# input hashing and the cache layout. Sourced, not run.

MINNOW_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/minnow
GUEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CROSS=riscv64-linux-gnu-
JOBS=$(nproc 2>/dev/null || echo 2)
GUEST_QUIET=${GUEST_QUIET:-0}

say() { [ "$GUEST_QUIET" = 1 ] || echo "guest: $*" >&2; }
die() { echo "guest: error: $*" >&2; exit 1; }

need_tool() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' is missing; run scripts/setup (it installs ${2:-the package that has it})"
}

# Installed version of a Debian package, or a failure naming it.
pkg_version() {
  dpkg-query -W -f='${Version}' "$1" 2>/dev/null | grep . \
    || die "Debian package '$1' is not installed; run scripts/setup"
}

# Version of a Debian source package as apt knows it (needs the deb-src line).
src_version() {
  apt-cache showsrc "$1" 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -n 1 | grep . \
    || die "apt knows no source package '$1'; run scripts/setup (it adds the deb-src line and runs apt-get update)"
}

# Hash of the given strings and files: the cache key of an artifact.
input_hash() {
  local a
  for a in "$@"; do
    if [ -f "$a" ]; then printf 'file %s\n' "$(basename "$a")"; cat "$a"
    else printf 'str %s\n' "$a"; fi
  done | sha256sum | cut -c1-16
}

# Runs a long command with its output in a log, printing a line every 20 s
# so a cold build visibly makes progress. $1: label, $2: log, $3: directory
# whose count of *.o files shows progress (or ""), rest: the command.
run_logged() {
  local label=$1 log=$2 objdir=$3; shift 3
  local start=$SECONDS
  "$@" >"$log" 2>&1 &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    local i
    for i in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    if kill -0 "$pid" 2>/dev/null; then
      local n=""
      [ -n "$objdir" ] && n=", $(find "$objdir" -name '*.o' 2>/dev/null | wc -l) objects"
      say "$label: still working ($((SECONDS - start)) s$n)"
    fi
  done
  if ! wait "$pid"; then
    tail -n 25 "$log" >&2
    die "$label failed; the full log is $log"
  fi
}

# Moves a finished build directory into place atomically.
publish() {
  local tmp=$1 final=$2
  rm -rf "$final"
  mkdir -p "$(dirname "$final")"
  mv "$tmp" "$final"
}

# Reproducible builds: fixed timestamps, user and host names.
export SOURCE_DATE_EPOCH=1700000000
export KBUILD_BUILD_TIMESTAMP="@$SOURCE_DATE_EPOCH"
export KBUILD_BUILD_USER=minnow KBUILD_BUILD_HOST=minnow
export LC_ALL=C TZ=UTC
