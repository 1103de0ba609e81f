#!/usr/bin/env bash
# Proves the default guest artifacts good on the reference machine, Debian's
# qemu-system-riscv64 -machine virt with its default OpenSBI, before minnow
# ever runs them. Usage: qemu_boot.sh initramfs|rootfs|shell
#   initramfs  kernel + initramfs, minnow.cmd="echo hello; exit 3"
#   rootfs     kernel + ext4 root on virtio-blk; the command also writes a
#              file, which the host then reads back from the image
#   shell      kernel + initramfs without minnow.cmd: commands typed on the
#              console run in a shell, and `exit` powers the guest off
#   smp        4 harts: the guest brings them up (a hart late on a loaded
#              host is reported by the kernel) and the atomics program
#              (LR/SC, AMOs, a spinlock across threads) loses no update
set -euo pipefail
mode=${1:?usage: qemu_boot.sh initramfs|rootfs|shell|smp [ATOMICS_PROGRAM]}
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/guest/lib.sh"
guest=$("$top/guest/build" -q)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log=$work/console.log

fail() { echo "FAIL ($mode): $*" >&2; echo "--- guest console ---" >&2; cat "$log" >&2 || true; exit 1; }
expect_line() { grep -qxF "$1" <(tr -d '\r' <"$log") || fail "the guest did not print the line '$1'"; }

qemu=(timeout 120 qemu-system-riscv64 -machine virt -m 256M -smp 2 -nographic
      -kernel "$guest/Image")
case $mode in
  initramfs)
    "${qemu[@]}" -initrd "$guest/initramfs.cpio.gz" \
      -append 'console=ttyS0 minnow.cmd="echo hello; exit 3"' </dev/null >"$log" 2>&1 \
      && fail "qemu exited with status 0, expected the command's status 3" \
      || { st=$?; [ $st = 3 ] || fail "qemu exited with status $st, expected 3 (124: the guest did not power off)"; }
    expect_line "minnow-guest: init ready"
    expect_line "hello"
    expect_line "minnow-guest: exit 3"
    ;;
  rootfs)
    cp --sparse=always "$guest/rootfs.ext4" "$work/root.ext4"
    "${qemu[@]}" -drive "file=$work/root.ext4,if=none,id=d0,format=raw" -device virtio-blk-device,drive=d0 \
      -append 'console=ttyS0 root=/dev/vda rw minnow.cmd="echo hello; echo written-by-guest > /proof; exit 3"' \
      </dev/null >"$log" 2>&1 \
      && fail "qemu exited with status 0, expected the command's status 3" \
      || { st=$?; [ $st = 3 ] || fail "qemu exited with status $st, expected 3 (124: the guest did not power off)"; }
    expect_line "minnow-guest: init ready"
    expect_line "hello"
    expect_line "minnow-guest: exit 3"
    e2fsck -fn "$work/root.ext4" >"$work/fsck.log" 2>&1 || { cat "$work/fsck.log" >&2; fail "e2fsck found errors in the root image"; }
    [ "$(debugfs -R 'cat /proof' "$work/root.ext4" 2>/dev/null)" = written-by-guest ] \
      || fail "the file the guest wrote is not in the image"
    ;;
  shell)
    mkfifo "$work/in"
    "${qemu[@]}" -initrd "$guest/initramfs.cpio.gz" -append 'console=ttyS0' <"$work/in" >"$log" 2>&1 &
    qpid=$!
    exec 3>"$work/in"
    for _ in $(seq 600); do grep -q "minnow-guest: init ready" "$log" && break; sleep 0.1; done
    sleep 0.5  # let the shell start and take the terminal
    printf 'echo shell-$((6*7))\nexit\n' >&3
    wait "$qpid" || fail "qemu exited with status $? (124: the guest did not power off after exit)"
    exec 3>&-
    expect_line "minnow-guest: init ready"
    expect_line "shell-42"
    ;;
  smp)
    extend_initramfs "$guest/initramfs.cpio.gz" "$work/initramfs" "${2:?smp needs the atomics program}"
    timeout 120 qemu-system-riscv64 -machine virt -m 256M -smp 4 -nographic -kernel "$guest/Image" \
      -initrd "$work/initramfs" \
      -append 'console=ttyS0 minnow.cmd="grep -c ^processor /proc/cpuinfo; atomics 4 20000"' \
      </dev/null >"$log" 2>&1 || fail "qemu exited with status $? (124: the guest did not power off)"
    # Linux gives each secondary hart 1 s of guest time to come online, and
    # QEMU's guest time is the host's: on a loaded host a hart can miss it
    # (the kernel says so). Every hart is online or reported late, and at
    # least two are online, so the atomics really run in parallel.
    online=$(tr -d '\r' <"$log" | grep -xE '[0-9]+' | head -n 1)
    late=$(grep -cE '^CPU[0-9]+: failed to come online' <(tr -d '\r' <"$log") || true)
    [ -n "$online" ] || fail "the guest did not print its hart count"
    [ $((online + late)) = 4 ] || fail "$online harts online and $late reported late, expected 4 in all"
    [ "$online" -ge 2 ] || fail "only $online hart online"
    [ "$late" = 0 ] || echo "note: $late secondary hart(s) missed Linux's bring-up deadline on this loaded host"
    expect_line "atomics ok 4 20000"
    expect_line "minnow-guest: exit 0"
    ;;
  *) echo "usage: qemu_boot.sh initramfs|rootfs|shell|smp [ATOMICS_PROGRAM]" >&2; exit 2 ;;
esac
echo "ok ($mode)"
