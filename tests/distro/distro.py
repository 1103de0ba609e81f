#!/usr/bin/env python3
"""A real distribution under minnow: a Debian riscv64 image made by
guest/debian (cached by its inputs under ~/.cache/minnow/debian; a cold
build downloads and installs the packages), booted with
`minnow run --disk IMG` alone (the kernel and initrd beside the image, the
command line supplied by minnow), logged in as root on the serial console.
Usage: distro.py MINNOW GUEST_DEBIAN MODE
  boot     2 harts, user networking: systemd reaches `running` (a degraded
           system fails the test, listing its failed units); uname -a shows
           Debian's kernel; apt-get --version and python3 -c run; the guest's
           gcc compiles and runs a C program; systemd-networkd got
           10.0.2.15 by DHCP; a file written in the guest is in the image
           after `poweroff` (debugfs, e2fsck -fn clean) and minnow exits 0
  config   the same image from a Firecracker config file (minnow --no-api
           --config-file) with a drive marked is_root_device and no
           boot-source: it boots to the login prompt, logs in and powers off
           (exit 0)
  clones   the config-file VM with an API socket, paused at the login
           prompt and snapshotted (Full); `minnow restore` of it logs in
           and answers a command; then 10 clones restored from the same
           memory file, each with its own copy of the disk (minnow reopens
           a disk by path: each copy is renamed onto that path while its
           clone starts, and back once the clone answers), BATCH at a time:
           each logs in, writes its name into a file on its disk and syncs;
           afterwards each copy holds its own clone's name and no other's
The image has gcc, libc6-dev and python3 beside the default package set."""
import base64
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from api_client import request  # noqa: E402
from minnow_proc import Fail, Minnow, run  # noqa: E402

PACKAGES = "gcc,libc6-dev,python3"
SIZE = "2G"
PROMPT = r"root@debian:~# $"


def build_image(guest_debian, img):
    t0 = time.monotonic()
    # Progress goes to the test log: a cold build takes many minutes.
    r = subprocess.run([guest_debian, "-o", img, "--size", SIZE, "--packages", PACKAGES],
                       stdout=subprocess.PIPE, stderr=sys.stdout, text=True)
    if r.returncode:
        raise Fail(f"guest/debian failed with status {r.returncode}")
    print(f"image ready in {time.monotonic() - t0:.0f} s", flush=True)
    for f in (img, img + ".kernel", img + ".initrd"):
        if not os.path.isfile(f):
            raise Fail(f"guest/debian did not write {f}")


class Shell:
    """Commands typed on the guest's serial console, each ending in a marker
    line with its exit status."""

    def __init__(self, vm):
        self.vm = vm
        self.n = 0

    def type(self, text):
        self.vm.p.stdin.write(text.encode())
        self.vm.p.stdin.flush()

    def login(self, timeout, prompted=False):
        """prompted: the getty's prompt was printed before (a restored VM)."""
        t0 = time.monotonic()
        if not prompted:
            self.vm.wait_for(r"^debian login: ", timeout=timeout)
        t_login = time.monotonic() - t0
        if not prompted:
            print(f"login prompt after {t_login:.0f} s", flush=True)
        self.type("root\n")
        self.vm.wait_for(PROMPT, timeout=120)
        # No colours, no pager, no line editing surprises on the console.
        self.cmd("export TERM=dumb SYSTEMD_PAGER= SYSTEMD_COLORS=0; stty -echo; dmesg -n 1")
        return t_login

    def cmd(self, line, timeout=300, want=0):
        """Runs line; returns its output (the lines between the markers)."""
        self.n += 1
        tag = f"mark{self.n}x{secrets.token_hex(3)}"
        # The markers are printed by printf, so the typed line (echoed
        # before stty -echo) does not match them; the begin marker is not
        # anchored: bash's bracketed-paste escape ends the line before it.
        self.type(f"printf '%s-begin\\n' {tag}; {line}; printf '%s-end %d\\n' {tag} $?\n")
        m = self.vm.wait_for(rf"{tag}-begin\n((?:.*\n)*?){tag}-end (\d+)$", timeout=timeout)
        # Colour escapes (trixie's ip colours its output even for TERM=dumb).
        out, st = re.sub(r"\x1b\[[0-9;]*m", "", m.group(1)), int(m.group(2))
        if want is not None and st != want:
            raise Fail(f"guest command {line!r} exited {st}, expected {want}; output:\n{out}")
        return out


def boot_mode(minnow, img, work):
    vm = Minnow([minnow, "run", "--disk", img, "--cpus", "2", "--mem", "2G", "--net", "user"],
                os.path.join(work, "console.log"), stdin=subprocess.PIPE, timeout=900)
    try:
        sh = Shell(vm)
        sh.login(timeout=900)
        state = sh.cmd("systemctl is-system-running --wait", timeout=600, want=None).strip()
        if state != "running":
            failed = sh.cmd("systemctl --failed --no-legend --plain", want=None)
            raise Fail(f"systemd reports '{state}', expected 'running'; failed units:\n{failed}")
        print("systemd: running")
        uname = sh.cmd("uname -a")
        if not re.search(r"^Linux debian \S+-riscv64 .*riscv64 GNU/Linux$", uname, re.M):
            raise Fail(f"uname -a: {uname!r}, expected Debian's riscv64 kernel on host 'debian'")
        print("uname:", uname.strip())
        cmdline = sh.cmd("cat /proc/cmdline")
        for arg in ("console=ttyS0", "root=/dev/vda", "rw"):
            if arg not in cmdline.split():
                raise Fail(f"/proc/cmdline {cmdline.strip()!r} lacks {arg}")
        apt = sh.cmd("apt-get --version | head -n 1")
        if not apt.startswith("apt "):
            raise Fail(f"apt-get --version: {apt!r}")
        py = sh.cmd("python3 -c 'import sys; print(\"py\", sum(range(101)), sys.platform)'")
        if py.strip() != "py 5050 linux":
            raise Fail(f"python3 -c printed {py!r}, expected 'py 5050 linux'")
        t0 = time.monotonic()
        src = b'#include <stdio.h>\nint main(void)\n{\n    long s = 0;\n    for (int i = 1; i <= 1000; i++)\n' \
              b'        s += (long)i * i;\n    printf("hello %ld\\n", s);\n    return 0;\n}\n'
        sh.cmd(f"echo {base64.b64encode(src).decode()} | base64 -d >/root/hello.c && gcc -O2 -o /root/hello /root/hello.c",
               timeout=900)
        print(f"gcc -O2 hello.c: {time.monotonic() - t0:.0f} s")
        hello = sh.cmd("/root/hello")
        if hello.strip() != "hello 333833500":
            raise Fail(f"the compiled program printed {hello!r}, expected 'hello 333833500'")
        # systemd-networkd's DHCP lease from slirp (10.0.2.0/24, 10.0.2.2 the gateway).
        addr = sh.cmd("ip -color=never -4 -o addr show scope global", timeout=120)
        if not re.search(r"inet 10\.0\.2\.15/24 .*dynamic", addr):
            raise Fail(f"no DHCP address 10.0.2.15/24 on the guest: {addr!r}")
        route = sh.cmd("ip -color=never -4 route show default")
        if "via 10.0.2.2" not in route:
            raise Fail(f"no default route through 10.0.2.2: {route!r}")
        print("network:", addr.strip())
        token = secrets.token_hex(16)
        sh.cmd(f"echo {token} >/root/minnow-distro.txt && sync")
        sh.type("poweroff\n")
        vm.expect_exit(0, timeout=600)
    finally:
        vm.kill()
    out = run(["debugfs", "-R", "cat /root/minnow-distro.txt", img])
    if token not in out.stdout:
        raise Fail(f"the file the guest wrote is not in the image: debugfs said {out.stdout!r}")
    fsck = run(["e2fsck", "-fn", img])
    if fsck.returncode:
        raise Fail(f"e2fsck -fn on the image after poweroff: status {fsck.returncode}:\n{fsck.stdout}")
    print("after poweroff: the guest's file is in the image, which e2fsck finds clean")


def config_mode(minnow, img, work):
    cfg = {"machine-config": {"vcpu_count": 2, "mem_size_mib": 1024},
           "drives": [{"drive_id": "rootfs", "path_on_host": img, "is_root_device": True, "is_read_only": False}]}
    path = os.path.join(work, "vm.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    vm = Minnow([minnow, "--no-api", "--config-file", path], os.path.join(work, "console.log"),
                stdin=subprocess.PIPE, timeout=900)
    try:
        sh = Shell(vm)
        sh.login(timeout=900)
        cmdline = sh.cmd("cat /proc/cmdline").split()
        if "console=ttyS0" not in cmdline or "root=/dev/vda" not in cmdline:
            raise Fail(f"/proc/cmdline {cmdline} lacks console=ttyS0 root=/dev/vda")
        sh.type("poweroff\n")
        vm.expect_exit(0, timeout=600)
    finally:
        vm.kill()
    print("config file with is_root_device and no boot-source: booted, logged in, powered off")


CLONES, BATCH = 10, 3


def clones_mode(minnow, img, work):
    cfg = {"machine-config": {"vcpu_count": 2, "mem_size_mib": 1024},
           "drives": [{"drive_id": "rootfs", "path_on_host": img, "is_root_device": True, "is_read_only": False}]}
    path, sock = os.path.join(work, "vm.json"), os.path.join(work, "vm.sock")
    with open(path, "w") as f:
        json.dump(cfg, f)
    state, mem = os.path.join(work, "vm.state"), os.path.join(work, "vm.mem")
    vm = Minnow([minnow, "--api-sock", sock, "--config-file", path], os.path.join(work, "console.log"),
                stdin=subprocess.PIPE, timeout=900)
    try:
        vm.wait_for(r"^debian login: ", timeout=900)
        for method, where, body in (("PATCH", "/vm", {"state": "Paused"}),
                                    ("PUT", "/snapshot/create", {"snapshot_path": state, "mem_file_path": mem,
                                                                 "snapshot_type": "Full"})):
            st, raw, _ = request(sock, method, where, body, timeout=600)
            if st != 204:
                raise Fail(f"{method} {where}: status {st}, expected 204: {raw!r}")
    finally:
        vm.kill()
    print("snapshot taken at the login prompt")

    # Each VM's own disk: a sparse copy of the image as it was at the snapshot.
    names = ["restored"] + [f"clone{i}" for i in range(CLONES)]
    disks = {n: os.path.join(work, n + ".img") for n in names}
    for d in disks.values():
        cp = run(["cp", "--sparse=always", img, d])
        if cp.returncode:
            raise Fail(f"cp {img} {d}: {cp.stdout}")

    def start(name):
        """minnow restore with disks[name] at the image's path while it opens it."""
        os.replace(disks[name], img)
        try:
            v = Minnow([minnow, "restore", "--snapshot", state, "--mem", mem], os.path.join(work, name + ".log"),
                       stdin=subprocess.PIPE, timeout=900)
            # The disk is open once the guest runs: an empty login makes the getty prompt again.
            Shell(v).type("\n")
            v.wait_for(r"^debian login: ", timeout=900)
            return v
        finally:
            os.replace(img, disks[name])

    def answers(v, name):
        sh = Shell(v)
        sh.login(timeout=900, prompted=True)
        out = sh.cmd(f"echo {name} >/root/clone.txt && sync && cat /root/clone.txt && hostname")
        if out.split() != [name, "debian"]:
            raise Fail(f"{name}: the shell printed {out!r}, expected '{name}' and the host name 'debian'")

    t0 = time.monotonic()
    r = start("restored")
    try:
        answers(r, "restored")
    finally:
        r.kill()
    print(f"the restored VM logged in and answered after {time.monotonic() - t0:.0f} s")

    t0 = time.monotonic()
    for first in range(0, CLONES, BATCH):
        batch = []
        try:
            for n in names[1 + first:1 + first + BATCH]:
                batch.append((n, start(n)))
            for n, v in batch:
                answers(v, n)
        finally:
            for _, v in batch:
                v.kill()
        print(f"{', '.join(n for n, _ in batch)} answered", flush=True)
    print(f"{CLONES} clones from one snapshot, {BATCH} at a time, answered in {time.monotonic() - t0:.0f} s")
    for n, d in disks.items():
        got = run(["debugfs", "-R", "cat /root/clone.txt", d]).stdout.split()
        if got[-1:] != [n] or any(o in got for o in names if o != n):
            raise Fail(f"{n}'s disk holds {got!r} in /root/clone.txt, expected only '{n}'")
    print(f"each of the {len(disks)} disks holds its own VM's file")


def main():
    if len(sys.argv) != 4 or sys.argv[3] not in ("boot", "config", "clones"):
        print(__doc__, file=sys.stderr)
        return 2
    minnow, guest_debian, mode = sys.argv[1:]
    work = tempfile.mkdtemp(prefix=f"minnow-distro-{mode}-")
    try:
        img = os.path.join(work, "debian.img")
        build_image(guest_debian, img)
        {"boot": boot_mode, "config": config_mode, "clones": clones_mode}[mode](minnow, img, work)
    except Fail as e:
        print(f"FAIL: {e}", file=sys.stderr)
        for f in ("console.log",):
            p = os.path.join(work, f)
            if os.path.exists(p):
                with open(p, "rb") as fh:
                    print(f"--- the end of {f} ---\n" + fh.read()[-4000:].decode(errors="replace"), file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
