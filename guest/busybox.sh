#!/usr/bin/env bash
# Builds a static riscv64 busybox from Debian's busybox source package
# (apt-get source): defconfig plus guest/busybox.config. Prints the path of
# the directory holding `busybox` and `busybox.links` (the applet list).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

need_tool ${CROSS}gcc gcc-riscv64-linux-gnu
need_tool dpkg-source dpkg-dev
ver=$(src_version busybox)
key=$(input_hash "$GUEST_DIR/busybox.config" "$0" "$GUEST_DIR/lib.sh" "$ver" "$(pkg_version gcc-riscv64-linux-gnu)" "$(pkg_version libc6-dev-riscv64-cross)")
out=$MINNOW_CACHE/busybox/$key
if [ -f "$out/busybox" ] && [ -f "$out/busybox.links" ]; then echo "$out"; exit 0; fi

srcroot=$MINNOW_CACHE/src/busybox-${ver//:/_}  # make cannot handle ":" in paths
if [ ! -f "$srcroot/.fetched" ]; then
  say "busybox: fetching Debian source package busybox $ver"
  rm -rf "$srcroot" && mkdir -p "$srcroot"
  (cd "$srcroot" && apt-get source -qq "busybox=$ver" >"$srcroot/fetch.log" 2>&1) \
    || { tail -n 5 "$srcroot/fetch.log" >&2; die "apt-get source busybox=$ver failed; check the network and that scripts/setup added the deb-src line"; }
  touch "$srcroot/.fetched"
fi
src=$(find "$srcroot" -mindepth 1 -maxdepth 1 -type d -name 'busybox-*' | head -n 1)
[ -n "$src" ] || die "no busybox-* directory in $srcroot after apt-get source; remove $srcroot and retry"

tmp=$MINNOW_CACHE/busybox/.tmp-$key
rm -rf "$tmp" && mkdir -p "$tmp/build"
bbmake() { make -C "$src" O="$tmp/build" CROSS_COMPILE=$CROSS "$@"; }

say "busybox: configuring $ver (defconfig + guest/busybox.config)"
bbmake -s defconfig >"$tmp/config.log" 2>&1 || die "busybox defconfig failed; see $tmp/config.log"
while read -r line; do
  case "$line" in
    CONFIG_*=*) sym=${line%%=*} ;;
    "# CONFIG_"*" is not set") sym=${line#\# }; sym=${sym%% *} ;;
    *) continue ;;
  esac
  sed -i -e "/^$sym=/d" -e "/^# $sym is not set/d" "$tmp/build/.config"
  echo "$line" >>"$tmp/build/.config"
done <"$GUEST_DIR/busybox.config"
bbmake oldconfig < <(yes "") >>"$tmp/config.log" 2>&1 || die "busybox oldconfig failed; see $tmp/config.log"
grep -qx 'CONFIG_STATIC=y' "$tmp/build/.config" || die "busybox config lost CONFIG_STATIC=y; see $tmp/config.log"

say "busybox: compiling with $JOBS jobs (about 3 minutes on 2 cores, once)"
run_logged "busybox: compile" "$tmp/build.log" "$tmp/build" bbmake -j"$JOBS" busybox busybox.links
mkdir -p "$tmp/out"
cp "$tmp/build/busybox" "$tmp/build/busybox.links" "$tmp/build/.config" "$tmp/out/"
publish "$tmp/out" "$out"
rm -rf "$tmp"
say "busybox: $(du -h "$out/busybox" | cut -f1) static binary at $out/busybox"
echo "$out"
