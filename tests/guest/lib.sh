# Helpers for tests that boot the default guest. Sourced.

# extend_initramfs BASE.cpio.gz OUT FILE...: OUT is BASE with the FILEs
# added under /bin, as a second (uncompressed) newc archive appended after
# padding to 4 bytes, which is how Linux finds the next archive.
extend_initramfs() {
  local base=$1 out=$2; shift 2
  local stage
  stage=$(mktemp -d)
  mkdir -p "$stage/bin"
  cp "$@" "$stage/bin/"
  cp "$base" "$out"
  local size
  size=$(stat -c %s "$out")
  head -c $(( (4 - size % 4) % 4 )) /dev/zero >>"$out"
  (cd "$stage" && find bin | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >>"$out"
  rm -rf "$stage"
}
