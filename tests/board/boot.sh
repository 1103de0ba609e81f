#!/usr/bin/env bash
# Boots the default guest under minnow's virt board and checks what the guest
# printed and how minnow exited. Usage: boot.sh MINNOW MODE [ATOMICS_PROGRAM]
#   cmd       kernel + initramfs with minnow.cmd="echo hello; exit 3": the
#             command's status (3) is minnow's exit status
#   default   the short form `minnow run` boots the default guest, and a
#             user program reading the clock (vDSO rdtime) works
#   smp2/4    2 or 4 harts: the guest sees them all, and the atomics program
#             (LR/SC, AMOs, a spinlock across threads) loses no update
#   jit-cmd   cmd with --engine jit
#   jit-smp2  smp2 with --engine jit
#   opensbi   Debian's OpenSBI (fw_dynamic) in M-mode boots the same kernel
#             on 2 harts; the command's status comes back through it
#   uboot     Debian's U-Boot (qemu-riscv64_smode) under minnow's SBI reaches
#             its prompt, answers `version` and powers off
#   idle      the guest idles at its shell for 5 s using under 1% of a host
#             core (from /proc), then a typed command runs and `exit` powers off
#   panic     no root filesystem: the kernel panics, minnow exits 121
#   reboot    `reboot -f` in the guest: minnow exits 120
set -euo pipefail
minnow=${1:?usage: boot.sh MINNOW MODE [ATOMICS_PROGRAM]}
mode=${2:?usage: boot.sh MINNOW MODE [ATOMICS_PROGRAM]}
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/guest/lib.sh"
guest=$("$top/guest/build" -q)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log=$work/console.log

fail() { echo "FAIL ($mode): $*" >&2; echo "--- console ---" >&2; cat "$log" >&2 || true; exit 1; }
expect_line() { grep -qxF "$1" <(tr -d '\r' <"$log") || fail "the guest did not print the line '$1'"; }
expect_text() { grep -qF "$1" <(tr -d '\r' <"$log") || fail "the output has no '$1'"; }
# run_status WANT CMD...: runs CMD (output to the log, no input, 120 s at
# most) and checks its exit status.
run_status() {
  local want=$1 st=0; shift
  timeout 120 "$@" </dev/null >"$log" 2>&1 || st=$?
  [ "$st" = 124 ] && [ "$want" != 124 ] && fail "minnow did not finish within 120 s"
  [ "$st" = "$want" ] || fail "minnow exited with status $st, expected $want"
}
boot=("$minnow" run --kernel "$guest/Image" --initrd "$guest/initramfs.cpio.gz")

case $mode in
  cmd)
    run_status 3 "${boot[@]}" --append 'console=ttyS0 minnow.cmd="echo hello; exit 3"'
    expect_line "minnow-guest: init ready"
    expect_line "hello"
    expect_line "minnow-guest: exit 3"
    ;;
  default)
    # dd reads the clock through the vDSO: rdtime from U-mode must work
    run_status 0 "$minnow" run --append 'console=ttyS0 minnow.cmd="dd if=/dev/zero of=/dev/null count=1 && echo default-guest-$((6*7))"'
    expect_line "minnow-guest: init ready"
    expect_line "default-guest-42"
    ;;
  jit-cmd)
    # The JIT engine boots the kernel and runs a command.
    run_status 3 "${boot[@]}" --engine jit --append 'console=ttyS0 minnow.cmd="echo hello; exit 3"'
    expect_line "minnow-guest: init ready"
    expect_line "hello"
    expect_line "minnow-guest: exit 3"
    ;;
  jit-smp2)
    # Two harts under the JIT: SBI IPIs, remote fences, atomics (in the interpreter).
    extend_initramfs "$guest/initramfs.cpio.gz" "$work/initramfs" "${3:?jit-smp2 needs the atomics program}"
    run_status 0 "$minnow" run --engine jit --kernel "$guest/Image" --initrd "$work/initramfs" --cpus 2 \
      --append "console=ttyS0 minnow.cmd=\"grep -c ^processor /proc/cpuinfo; atomics 2 20000\""
    expect_line "2"
    expect_line "atomics ok 2 20000"
    ;;
  smp2|smp4)
    n=${mode#smp}
    extend_initramfs "$guest/initramfs.cpio.gz" "$work/initramfs" "${3:?smp needs the atomics program}"
    run_status 0 "$minnow" run --kernel "$guest/Image" --initrd "$work/initramfs" --cpus "$n" \
      --append "console=ttyS0 minnow.cmd=\"grep -c ^processor /proc/cpuinfo; atomics $n 20000\""
    expect_line "$n"
    expect_line "atomics ok $n 20000"
    expect_line "minnow-guest: exit 0"
    ;;
  opensbi)
    run_status 5 "${boot[@]}" --cpus 2 --bios /usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin \
      --append 'console=ttyS0 minnow.cmd="grep -c ^processor /proc/cpuinfo; exit 5"'
    expect_text "OpenSBI v"
    expect_text "Domain0 Next Mode         : S-mode"
    expect_line "2"
    expect_line "minnow-guest: exit 5"
    ;;
  uboot)
    # A key stops the autoboot countdown; then one command, then poweroff.
    mkfifo "$work/in"
    timeout 60 "$minnow" run --kernel /usr/lib/u-boot/qemu-riscv64_smode/uboot.elf <"$work/in" >"$log" 2>&1 &
    pid=$!
    exec 3>"$work/in"
    for _ in $(seq 300); do grep -q "Hit any key" "$log" && break; sleep 0.1; done
    printf '\n' >&3
    for _ in $(seq 100); do grep -q "^=> " <(tr -d '\r' <"$log") && break; sleep 0.1; done
    printf 'version\n' >&3
    for _ in $(seq 100); do grep -qE '^U-Boot 20' <(tr -d '\r' <"$log") && break; sleep 0.1; done
    printf 'poweroff\n' >&3
    st=0; wait "$pid" || st=$?
    exec 3>&-
    [ "$st" = 0 ] || fail "minnow exited with status $st, expected 0 (U-Boot's poweroff)"
    expect_text "=> version"
    grep -qE '^U-Boot 20[0-9]{2}\.[0-9]{2}' <(tr -d '\r' <"$log") || fail "U-Boot did not print its version"
    expect_text "=> poweroff"
    ;;
  idle)
    mkfifo "$work/in"
    "${boot[@]}" --append 'console=ttyS0' <"$work/in" >"$log" 2>&1 &
    pid=$!
    exec 3>"$work/in"
    for _ in $(seq 600); do grep -q "minnow-guest: init ready" "$log" && break; sleep 0.1; done
    grep -q "minnow-guest: init ready" "$log" || fail "no init marker within 60 s"
    sleep 2  # let the shell start and the boot settle
    ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
    t0=$(ticks); s0=$(date +%s.%N)
    sleep 5
    t1=$(ticks); s1=$(date +%s.%N)
    hz=$(getconf CLK_TCK)
    pct=$(awk -v d=$((t1 - t0)) -v hz="$hz" -v a="$s0" -v b="$s1" 'BEGIN { printf "%.2f", 100 * d / hz / (b - a) }')
    echo "idle guest: $((t1 - t0)) ticks of CPU in $(awk -v a="$s0" -v b="$s1" 'BEGIN{printf "%.1f", b-a}') s = ${pct}% of a core"
    printf 'echo shell-$((6*7))\necho printk-$(cut -f1 /proc/sys/kernel/printk)\nexit\n' >&3
    st=0; wait "$pid" || st=$?
    exec 3>&-
    [ "$st" = 0 ] || fail "minnow exited with status $st after the shell's exit, expected 0"
    expect_line "shell-42"
    # A first boot shows no error lines that are not errors, and at the
    # prompt only warnings and worse reach the console.
    ! grep -iE '(^|[^a-z])(error|failed)([^a-z]|$)' "$log" || fail "the boot printed error lines"
    expect_line "printk-4"
    awk -v p="$pct" 'BEGIN { exit !(p < 1.0) }' || fail "the idle guest used ${pct}% of a host core (limit 1%)"
    ;;
  panic)
    run_status 121 "$minnow" run --kernel "$guest/Image" --append 'console=ttyS0 root=/dev/vda'
    expect_text "Kernel panic - not syncing"
    expect_text "minnow: the guest kernel panicked"
    ;;
  reboot)
    run_status 120 "${boot[@]}" --append 'console=ttyS0 minnow.cmd="reboot -f"'
    expect_text "minnow: the guest asked for a reboot"
    ;;
  *) echo "boot.sh: unknown mode '$mode'" >&2; exit 2 ;;
esac
echo "ok ($mode)"
