#!/usr/bin/env bash
# Packs busybox, guest/init and guest/udhcpc.script (udhcpc's default
# script) into the two userland images of the default guest: a gzip'd newc
# initramfs (made with the kernel's gen_init_cpio, so /dev/console needs no
# root) and an ext4 root (mke2fs -d, no root needed).
# Usage: images.sh BUSYBOX_DIR; prints the initramfs and the rootfs paths.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

bb=$1
need_tool gzip gzip
need_tool mke2fs e2fsprogs
need_tool gcc gcc
kver=$(pkg_version linux-source-6.1)
ksrc=$MINNOW_CACHE/src/linux-source-6.1-${kver//:/_}
[ -f "$ksrc/.extracted" ] || die "kernel source $ksrc is missing; build the kernel first (guest/build)"

key=$(input_hash "$bb/busybox" "$bb/busybox.links" "$GUEST_DIR/init" "$GUEST_DIR/udhcpc.script" "$0" "$GUEST_DIR/lib.sh" "$kver" "$(pkg_version e2fsprogs)")
out=$MINNOW_CACHE/images/$key
if [ -f "$out/initramfs.cpio.gz" ] && [ -f "$out/rootfs.ext4" ]; then
  echo "$out/initramfs.cpio.gz"; echo "$out/rootfs.ext4"; exit 0
fi
tmp=$MINNOW_CACHE/images/.tmp-$key
rm -rf "$tmp" && mkdir -p "$tmp/out"

say "images: staging the userland"
root=$tmp/root
dirs="bin sbin usr usr/bin usr/sbin proc sys dev dev/pts tmp run root etc mnt"
for d in $dirs; do mkdir -p "$root/$d"; done
install -m 755 "$bb/busybox" "$root/bin/busybox"
install -m 755 "$GUEST_DIR/init" "$root/init"
mkdir -p "$root/usr/share/udhcpc"
install -m 755 "$GUEST_DIR/udhcpc.script" "$root/usr/share/udhcpc/default.script"
while read -r link; do
  [ -n "$link" ] && [ "$link" != /bin/busybox ] || continue
  rel=$(realpath -m --relative-to="$(dirname "$root$link")" "$root/bin/busybox")
  ln -sf "$rel" "$root$link"
done <"$bb/busybox.links"
# after the applets: busybox would otherwise be /sbin/init on the ext4 root
ln -sfn ../init "$root/sbin/init"
echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
echo "root:x:0:" >"$root/etc/group"
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

say "images: initramfs (gen_init_cpio from the kernel source)"
gcc -O2 -o "$tmp/gen_init_cpio" "$ksrc/usr/gen_init_cpio.c" || die "could not compile gen_init_cpio from $ksrc"
{
  echo "nod /dev/console 0600 0 0 c 5 1"
  (cd "$root" && find . -mindepth 1 | LC_ALL=C sort) | while read -r p; do
    p=${p#.}
    if [ -L "$root$p" ]; then echo "slink $p $(readlink "$root$p") 0777 0 0"
    elif [ -d "$root$p" ]; then echo "dir $p 0755 0 0"
    else echo "file $p $root$p $(stat -c %a "$root$p") 0 0"; fi
  done
} >"$tmp/initramfs.list"
"$tmp/gen_init_cpio" -t "$SOURCE_DATE_EPOCH" "$tmp/initramfs.list" >"$tmp/initramfs.cpio" \
  || die "gen_init_cpio failed on $tmp/initramfs.list"
gzip -9 -n <"$tmp/initramfs.cpio" >"$tmp/out/initramfs.cpio.gz"

say "images: ext4 root (mke2fs -d)"
E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH mke2fs -q -F -t ext4 -L minnow-root \
  -U 6d696e6e-6f77-4000-8000-726f6f746673 -E root_owner=0:0,hash_seed=6d696e6e-6f77-4000-8000-000000000000 \
  -d "$root" "$tmp/out/rootfs.ext4" 64M >"$tmp/mke2fs.log" 2>&1 \
  || { cat "$tmp/mke2fs.log" >&2; die "mke2fs failed to build the root image"; }

publish "$tmp/out" "$out"
rm -rf "$tmp"
say "images: initramfs $(du -h "$out/initramfs.cpio.gz" | cut -f1), rootfs $(du -h --apparent-size "$out/rootfs.ext4" | cut -f1) (sparse: $(du -h "$out/rootfs.ext4" | cut -f1) on disk)"
echo "$out/initramfs.cpio.gz"
echo "$out/rootfs.ext4"
