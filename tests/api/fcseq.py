#!/usr/bin/env python3
"""Tools that drive Firecracker, driving minnow: their command lines and
files as their source writes them.
Usage: fcseq.py MINNOW MODE
  flintlock  flintlock's Firecracker provider (infrastructure/microvm/
             firecracker/create.go, config.go, provider.go): `--id <UUID>
             --boot-timer --no-api --config-file F --metadata M`, stdin
             empty, stdout and stderr to files; the config has its
             machine-config (smt false), a root drive (cache_type Unsafe),
             mmds-config V1 on the interface (user networking here, where
             flintlock names a TAP: a test cannot make one without root),
             logger and metrics files, and its kernel command line (ds=
             nocloud-net pointing at the MMDS). The guest boots from the
             ext4 root, writes the boot timer, and reads meta-data and
             user-data from the MMDS with wget; they must be the metadata
             file's. Then flintlock's delete: SIGHUP, and the process must
             end as Firecracker's does: status 156, the log line
             "Shutting down VM after intercepting signal 1, code 0.", and
             signals.sighup 1 in the last metrics line.
Exit status 0 on success."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
from minnow_proc import Fail, Minnow, run  # noqa: E402

BOOT_TIMEOUT = 300   # seconds; an ASan build on a loaded host boots slowly
UUID = "2c5e4f5a-6b1d-4e8e-9d7a-0f3c1b2a4d5e"


def guest_dir():
    return run([os.path.join(TOP, "guest", "build"), "-q"], check=True).stdout.strip().split("\n")[-1]


def flintlock(minnow, work):
    guest = guest_dir()
    state = os.path.join(work, UUID)
    os.makedirs(state)
    root = os.path.join(state, "root.img")
    shutil.copyfile(os.path.join(guest, "rootfs.ext4"), root)
    meta = {"latest": {"meta-data": "instance_id: " + UUID + "\nlocal_hostname: mvm0\n",
                       "user-data": "#cloud-config\nfinal_message: flintlock-user-data\n"}}
    with open(os.path.join(state, "metadata.json"), "w") as f:
        json.dump(meta, f)
    # What the guest runs (no double quotes: it sits in minnow.cmd="...").
    cmd = ("ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && ip route add 169.254.169.254 dev eth0; "
           "devmem 0x40000000 8 123; echo == meta; wget -q -O - http://169.254.169.254/latest/meta-data; "
           "echo == user; wget -q -O - http://169.254.169.254/latest/user-data; echo == end; sleep 600")
    # flintlock's DefaultKernelCmdLine (a map: its order is Go's), then the guest's command.
    args = ("console=ttyS0 reboot=k panic=1 pci=off i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd "
            "ds=nocloud-net;s=http://169.254.169.254/latest/ minnow.cmd=\"" + cmd + "\"")
    log_path, metrics_path = os.path.join(state, "firecracker.log"), os.path.join(state, "firecracker.metrics")
    for p in (log_path, metrics_path):     # ensureState creates both
        open(p, "a").close()
    config = {
        "boot-source": {"kernel_image_path": os.path.join(guest, "Image"), "boot_args": args},
        "drives": [{"drive_id": "root", "path_on_host": root, "is_root_device": True, "is_read_only": False,
                    "cache_type": "Unsafe"}],
        "machine-config": {"vcpu_count": 1, "mem_size_mib": 256, "smt": False, "track_dirty_pages": False},
        "network-interfaces": [{"iface_id": "eth0", "guest_mac": "AA:FF:00:00:00:01",
                                "minnow_user": True}],
        "mmds-config": {"version": "V1", "network_interfaces": ["eth0"]},
        "logger": {"log_path": log_path, "level": "Debug", "show_level": True, "show_log_origin": True},
        "metrics": {"metrics_path": metrics_path},
    }
    with open(os.path.join(state, "firecracker.cfg"), "w") as f:
        json.dump(config, f, indent=2)
    m = Minnow([minnow, "--id", UUID, "--boot-timer", "--no-api", "--config-file",
                os.path.join(state, "firecracker.cfg"), "--metadata", os.path.join(state, "metadata.json")],
               os.path.join(state, "firecracker.stdout"), stdin=subprocess.DEVNULL,
               err_path=os.path.join(state, "firecracker.stderr"), timeout=BOOT_TIMEOUT)
    try:
        m.wait_for(r"^== end$")
        out = m.text()
        got_meta = out.split("== meta\n", 1)[1].split("== user\n", 1)[0]
        got_user = out.split("== user\n", 1)[1].split("== end\n", 1)[0]
        if got_meta.strip() != meta["latest"]["meta-data"].strip():
            raise Fail(f"the guest read meta-data {got_meta!r}, the metadata file has "
                       f"{meta['latest']['meta-data']!r}")
        if got_user.strip() != meta["latest"]["user-data"].strip():
            raise Fail(f"the guest read user-data {got_user!r}")
        if "EXT4-fs (vda)" not in out:
            raise Fail("the guest did not mount its root drive")
        m.p.send_signal(signal.SIGHUP)
        st = m.wait_exit(120)
    finally:
        m.kill()
    if st != 156:
        raise Fail(f"after SIGHUP minnow exited with {st}, Firecracker exits with 156; stderr: {m.err.decode()}")
    with open(log_path) as f:
        log = f.read()
    for want in ("Shutting down VM after intercepting signal 1, code 0.", "Guest-boot-time =", UUID):
        if want not in log:
            raise Fail(f"the log has no {want!r}:\n{log}")
    with open(metrics_path) as f:
        lines = [json.loads(x) for x in f if x.strip()]
    if not lines or lines[-1].get("signals", {}).get("sighup") != 1:
        raise Fail(f"the last metrics line has no signals.sighup 1: {lines[-1] if lines else 'no lines'}")
    if any(x.endswith(".sock") or x.endswith(".socket") for x in os.listdir(state)):
        raise Fail(f"--no-api made a socket: {os.listdir(state)}")
    print(f"flintlock: the guest read meta-data and user-data over MMDS V1; SIGHUP → 156, logged; "
          f"{len(lines)} metrics lines")


def main():
    minnow, mode = os.path.abspath(sys.argv[1]), sys.argv[2]
    modes = {"flintlock": flintlock}
    if mode not in modes:
        raise Fail(f"unknown mode {mode!r} (one of {', '.join(modes)})")
    with tempfile.TemporaryDirectory(prefix="minnow-fcseq-") as work:
        modes[mode](minnow, work)


if __name__ == "__main__":
    try:
        main()
    except Fail as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
