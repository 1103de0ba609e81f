#!/usr/bin/env bash
# minnow run --dump-dtb: the device tree the guest would get, decompiled
# with dtc, has what Linux binds to and what the command line asked for.
# Usage: dtb.sh MINNOW
set -euo pipefail
minnow=${1:?usage: dtb.sh MINNOW}
top=$(cd "$(dirname "$0")/../.." && pwd)
guest=$("$top/guest/build" -q)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$minnow" run --kernel "$guest/Image" --initrd "$guest/initramfs.cpio.gz" --cpus 3 --mem 512M \
  --append 'console=ttyS0 quiet' --dump-dtb "$work/guest.dtb"
dtc -q -I dtb -O dts -o "$work/guest.dts" "$work/guest.dtb"
fail() { echo "FAIL: $*" >&2; cat "$work/guest.dts" >&2; exit 1; }
has() { grep -qE "$1" "$work/guest.dts" || fail "the device tree has no /$1/"; }
has 'cpu@0 \{'
has 'cpu@2 \{'
! grep -q 'cpu@3' "$work/guest.dts" || fail "a fourth cpu for --cpus 3"
has 'riscv,isa = "rv64imafdc_zicbom_zicboz_zicntr_zicsr_zifencei_zihintpause_zihpm_zba_zbb_zbs_sdtrig_sstc_svpbmt"'
has 'mmu-type = "riscv,sv57"'
has 'timebase-frequency = <(0x989680|10000000)>'
has 'reg = <0x00 0x80000000 0x00 0x20000000>'
has 'bootargs = "console=ttyS0 quiet"'
has 'linux,initrd-start'
has 'stdout-path = "/soc/serial@10000000"'
for c in ns16550a sifive,plic-1.0.0 riscv,clint0 google,goldfish-rtc sifive,test0 syscon-poweroff \
         syscon-reboot riscv,cpu-intc; do
  has "compatible = .*[\"0]$c[\"\\]"  # each entry begins after " or \0
done
echo "ok: device tree for 3 harts and 512 MiB"
