#!/usr/bin/env python3
"""Tools that drive Firecracker, driving minnow: their command lines and
files as their source writes them.
Usage: fcseq.py MINNOW MODE [VSOCK_ECHO]
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
  kata       Kata's Firecracker driver (src/runtime/virtcontainers/fc.go,
             not jailed), step by step: `--version`'s first line parsed as
             fcInit does (second word, less its "v", a semver of at least
             its fcMinSupportedVersion 0.21.1); logs.fifo and metrics.fifo
             made and opened O_RDONLY|O_NONBLOCK before the launch, read
             line by line; a config file as fcInitConfiguration writes it
             (machine-config with smt false, boot-source with Kata's kernel
             parameters and console=ttyS0 (its debug mode), the rootfs drive
             read-only and not the root device, a pool of 8 empty
             placeholder files drive_0..drive_7 (fcDiskPoolSize), the logger at Debug and the metrics on the
             FIFOs, vsock "root" with guest CID 3); `--api-sock S
             --config-file F`; GET / every 10 ms until "Running"; chmod 0640
             of the hybrid vsock socket; each of the 8 placeholders swapped
             in turn by PATCH /drives/drive_N {drive_id, path_on_host}
             (fcUpdateBlockDrive, a container's disk each), and the guest
             reads each one's own marker from /dev/vdb../dev/vdi (drive_7 is
             the board's 9th device: a slot above the keyboard's, PLIC
             source 12); the agent's way in: "CONNECT 1024"
             on the hybrid socket, "OK N", bytes echoed by the guest; the
             end: SIGTERM (fcEnd). The log FIFO must carry minnow's log and
             the metrics FIFO JSON lines counting the 8 PATCHes.
             Kata's image is partitioned
             (root=/dev/vda1); the default guest's is not (root=/dev/vda).
VSOCK_ECHO (tests/guest/vsock_echo) is needed by kata only.
Exit status 0 on success."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
from api_client import api, expect  # noqa: E402
from minnow_proc import Fail, Minnow, recv_upto, run, vsock_connect  # noqa: E402

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
        m.wait_for(r"^== end\n")
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


class FifoReader:
    """Kata's fcListenToFifo: the FIFO made and opened O_RDONLY|O_NONBLOCK
    before Firecracker starts, then read until the writer is gone."""

    def __init__(self, path):
        os.mkfifo(path, 0o600)
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self.data, self.done = b"", False
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        while not self.done:
            try:
                b = os.read(self.fd, 65536)
            except BlockingIOError:
                b = None
            if b:
                self.data += b
            else:
                time.sleep(0.05)   # no writer yet (EOF) or nothing to read

    def lines(self):
        self.done = True
        self.t.join(5)
        os.close(self.fd)
        return self.data.decode(errors="replace").splitlines()


def kata(minnow, work, vsock_echo):
    # fcInit: getVersionNumber and checkVersion.
    first = run([minnow, "--version"], check=True).stdout.split("\n")[0]
    fields = first.split(" ")
    ver = fields[1].strip().lstrip("v") if len(fields) > 1 else ""
    m = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?", ver)
    if not m or tuple(map(int, m.groups()[:3])) < (0, 21, 1):
        raise Fail(f"Kata reads the version {ver!r} from --version's first line {first!r}: not a semver of at "
                   f"least 0.21.1")
    guest = guest_dir()
    vm = os.path.join(work, "vm")
    os.makedirs(vm)
    rootfs = os.path.join(vm, "rootfs")
    shutil.copyfile(os.path.join(guest, "rootfs.ext4"), rootfs)
    # The guest's agent stand-in: vsock_echo, written into the image.
    for req in (f"write {vsock_echo} /bin/vsock_echo", "sif /bin/vsock_echo mode 0100755"):
        run(["debugfs", "-w", "-R", req, rootfs], check=True)
    logs, metrics = FifoReader(os.path.join(vm, "logs.fifo")), FifoReader(os.path.join(vm, "metrics.fifo"))
    pool = 8                                                        # fcDiskPoolSize
    drives = [{"drive_id": "rootfs", "is_read_only": True, "is_root_device": False, "path_on_host": rootfs}]
    for i in range(pool):
        open(os.path.join(vm, f"drive_{i}"), "w").close()          # createJailedDrive
        drives.append({"drive_id": f"drive_{i}", "is_read_only": False, "is_root_device": False,
                       "path_on_host": os.path.join(vm, f"drive_{i}")})
    # drive_N is /dev/vd(b+N); the guest waits for each to get a size.
    cmd = ("vsock_echo listen 1024 1 & echo kata-waiting; for d in b c d e f g h i; do "
           "while [ $(cat /sys/block/vd$d/size) = 0 ]; do sleep 0.1; done; "
           "echo kata-read vd$d $(head -c 24 /dev/vd$d); done; wait; echo kata-done; sleep 600")
    params = ("root=/dev/vda rootflags=data=ordered,errors=remount-ro ro rootfstype=ext4 pci=off reboot=k panic=1 "
              "iommu=off net.ifnames=0 random.trust_cpu=on acpi=off console=ttyS0 minnow.cmd=\"" + cmd + "\"")
    hvsock = os.path.join(vm, "kata.hvsock")
    config = {
        "boot-source": {"kernel_image_path": os.path.join(guest, "Image"), "boot_args": params},
        "drives": drives,
        "logger": {"level": "Debug", "log_path": os.path.join(vm, "logs.fifo")},
        "machine-config": {"mem_size_mib": 256, "smt": False, "vcpu_count": 1},
        "metrics": {"metrics_path": os.path.join(vm, "metrics.fifo")},
        "vsock": {"guest_cid": 3, "uds_path": hvsock, "vsock_id": "root"},
    }
    cfg = os.path.join(vm, "fcConfig.json")
    with open(cfg, "w") as f:
        json.dump(config, f, indent="\t")
    sock = os.path.join(vm, "firecracker.socket")
    fc = Minnow([minnow, "--api-sock", sock, "--config-file", cfg], os.path.join(work, "console.log"),
                err_path=os.path.join(work, "stderr"), timeout=BOOT_TIMEOUT)
    try:
        # waitVMMRunning: DescribeInstance every 10 ms until "Running".
        polls, end = 0, time.monotonic() + BOOT_TIMEOUT
        while True:
            polls += 1
            try:
                st, body = api(sock, "GET", "/")
                if st == 200 and (body or {}).get("state") == "Running":
                    break
            except (Fail, OSError, ValueError):
                pass
            if fc.p.poll() is not None:
                raise Fail(f"minnow exited ({fc.p.returncode}) before it was Running: {fc.err.decode()}")
            if time.monotonic() > end:
                raise Fail("GET / never said Running")
            time.sleep(0.01)
        os.chmod(hvsock, 0o640)
        fc.wait_for(r"^kata-waiting$")
        fc.wait_for(r"^vsock_echo: listening 1024")
        for i in range(pool):
            disk = os.path.join(vm, f"container-disk-{i}")
            with open(disk, "wb") as f:
                f.write(f"kata-disk-marker-{i}".encode().ljust(24, b"."))
                f.truncate(4 << 20)
            expect(sock, "PATCH", f"/drives/drive_{i}", {"drive_id": f"drive_{i}", "path_on_host": disk}, 204)
            fc.wait_for(rf"^kata-read vd{chr(ord('b') + i)} kata-disk-marker-{i}\.+$")
        conn = vsock_connect(hvsock, 1024, "the agent's hybrid vsock")
        msg = b"kata-agent-ttrpc-stand-in" * 40
        conn.sendall(msg)
        got = recv_upto(conn, len(msg))
        conn.close()
        if got != msg:
            raise Fail(f"the guest echoed {len(got)} of {len(msg)} bytes over the hybrid vsock")
        fc.wait_for(r"^kata-done$")
        fc.p.send_signal(signal.SIGTERM)            # fcEnd
        st = fc.wait_exit(120)
    finally:
        fc.kill()
    log_lines, metric_lines = logs.lines(), metrics.lines()
    for want in ["the microVM started"] + [f"PATCH /drives/drive_{i}: 204" for i in range(pool)]:
        if not any(want in x for x in log_lines):
            raise Fail(f"the log FIFO has no line with {want!r}: {log_lines}")
    parsed = [json.loads(x) for x in metric_lines if x.strip()]
    patches = sum(x.get("patch_api_requests", {}).get("drive_count", 0) for x in parsed)
    if not parsed or patches != pool:
        raise Fail(f"the metrics FIFO had {len(parsed)} JSON lines counting {patches} drive PATCHes, expected "
                   f"{pool}")
    print(f"kata: --version {ver}; Running after {polls} GET / polls; PATCH of drive_0..drive_{pool - 1} each read by the guest; "
          f"vsock CONNECT/OK and {len(msg)} bytes echoed; SIGTERM → status {st}; FIFOs: {len(log_lines)} log lines, "
          f"{len(parsed)} metrics lines")


def main():
    minnow, mode = os.path.abspath(sys.argv[1]), sys.argv[2]
    if mode == "kata":
        with tempfile.TemporaryDirectory(prefix="minnow-fcseq-") as work:
            kata(minnow, work, os.path.abspath(sys.argv[3]))
        return
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
