#!/usr/bin/env bash
# Builds the guest kernel Image from Debian's linux-source-6.1: tinyconfig
# plus guest/kernel.config, checked symbol by symbol. Prints the Image path;
# the ELF vmlinux (symbols, for gdb: tests/gdb) is kept beside it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

need_tool ${CROSS}gcc gcc-riscv64-linux-gnu
need_tool make make
need_tool bison bison
need_tool flex flex
need_tool bc bc
ver=$(pkg_version linux-source-6.1)
key=$(input_hash "$GUEST_DIR/kernel.config" "$0" "$GUEST_DIR/lib.sh" "$ver" "$(pkg_version gcc-riscv64-linux-gnu)")
out=$MINNOW_CACHE/kernel/$key
if [ -f "$out/Image" ] && [ -f "$out/vmlinux" ]; then echo "$out/Image"; exit 0; fi

tarball=/usr/src/linux-source-6.1.tar.xz
[ -f "$tarball" ] || die "$tarball is missing; run scripts/setup (package linux-source-6.1)"
src=$MINNOW_CACHE/src/linux-source-6.1-${ver//:/_}  # make cannot handle ":" in paths
if [ ! -f "$src/.extracted" ]; then
  say "kernel: extracting $tarball"
  rm -rf "$src" && mkdir -p "$src"
  tar -xf "$tarball" -C "$src" --strip-components=1 || die "could not extract $tarball (disk full?)"
  touch "$src/.extracted"
fi

tmp=$MINNOW_CACHE/kernel/.tmp-$key
rm -rf "$tmp" && mkdir -p "$tmp/build"
kmake() { make -C "$src" O="$tmp/build" ARCH=riscv CROSS_COMPILE=$CROSS "$@"; }

say "kernel: configuring Linux $ver (tinyconfig + guest/kernel.config)"
kmake -s tinyconfig >"$tmp/config.log" 2>&1 || die "kernel tinyconfig failed; see $tmp/config.log"
"$src/scripts/kconfig/merge_config.sh" -m -O "$tmp/build" "$tmp/build/.config" "$GUEST_DIR/kernel.config" >>"$tmp/config.log" 2>&1 \
  || die "merging guest/kernel.config failed; see $tmp/config.log"
kmake -s olddefconfig >>"$tmp/config.log" 2>&1 || die "kernel olddefconfig failed; see $tmp/config.log"

# Kconfig silently drops symbols whose dependencies are unmet: insist on each.
bad=""
while read -r line; do
  case "$line" in
    CONFIG_*=*) grep -qxF "$line" "$tmp/build/.config" || bad="$bad $line" ;;
    "# CONFIG_"*" is not set") sym=${line#\# }; sym=${sym%% *}
      grep -q "^$sym=" "$tmp/build/.config" && bad="$bad $sym(should be off)" ;;
  esac
done <"$GUEST_DIR/kernel.config"
[ -z "$bad" ] || die "guest/kernel.config asks for settings Kconfig did not keep:$bad (fix their dependencies in the fragment)"

say "kernel: compiling the Image with $JOBS jobs (about 5 minutes on 2 cores, once)"
run_logged "kernel: compile" "$tmp/build.log" "$tmp/build" kmake -j"$JOBS" Image
mkdir -p "$tmp/out"
cp "$tmp/build/arch/riscv/boot/Image" "$tmp/build/vmlinux" "$tmp/build/.config" "$tmp/out/"
publish "$tmp/out" "$out"
rm -rf "$tmp"
say "kernel: $(du -h "$out/Image" | cut -f1) Image at $out/Image"
echo "$out/Image"
