#!/usr/bin/env python3
"""Snapshots and restore of the default guest, driven through the REST API
(curl --unix-socket) and `minnow restore`.
Usage: snapshot.py MINNOW MODE [MEMCHECK]
  continuity  root=/dev/vda: a guest loop counts, printing each number and
              appending it to /count on its disk. Pause, Full snapshot,
              kill -9, restore: the loop carries on from the next number
              (no gap, no repeat, on the console and in the file), the
              guest powers off, minnow exits 0 and the disk is clean
              (e2fsck -fn)
  clones      one snapshot of a guest that answers lines on its console;
              20 VMs restored from it at once all answer; their combined
              proportional set size (/proc/PID/smaps_rollup Pss) is far
              below 20 x guest RAM, since they share the memory file
  diff        Full snapshot A; run on; Diff snapshot B (with the CLI:
              minnow pause, minnow snapshot --diff) and Full snapshot C at
              the same moment. B's memory merged onto A's
              (snapshot-merge) equals C's byte for byte and restores: the
              guest carries on from where B was taken
  corrupt     truncated, bit-flipped, wrong-version, foreign, mismatched
              memory file and missing snapshots are each refused with a
              message naming the problem, before any guest code runs (by
              `minnow restore` and by PUT /snapshot/load, after which a good
              load still works); bad /snapshot/create and /snapshot/load
              bodies and wrong states get a 400 naming the field
  devices     a guest with 10 read-only drives, user-mode networking
              (slirp, DHCP done) and a vsock listener (the board's 11th and
              12th devices: slots above the keyboard's, PLIC sources 14 and
              15) is snapshotted and restored in a new process (with
              --vsock-override): the guest reads the last drive's marker,
              the guest fetches a page from a host HTTP server through the
              new slirp, and a host vsock connection reaches its listener
              and echoes
  crash       kill -9 during PUT /snapshot/create over an existing pair, 30
              times, at growing amounts of the new memory file written, while
              the new state file is written and once it is committed: each
              time the pair at the paths restores into a guest that answers
              and is the old or the new one; no temporary file outlives the
              next create
  bind        a state file with another snapshot's memory file, a format 1
              state file and a memory file without its trailer are refused
              naming the files (restore and PUT /snapshot/load); a create
              killed between its commit and its last rename restores the
              new pair (and the restore finishes the create)
  full-disk   a small tmpfs fills up while the memory file, then while the
              state file is written: 400 "No space left on device" naming
              the file, the old pair byte for byte intact and restorable, no
              temporary files
  destinations  snapshot_path / mem_file_path naming a FIFO, a character
              device, a symlink or the VM's API socket: 400 naming the path,
              the node (and the symlink's target) untouched
  mem-truncated  the memory file truncated under a VM restored from it: exit
              123 with a message naming the file (not a SIGBUS death)
  mem-written  the memory file written in place under a VM restored from
              it: exit 123 with a message naming the file (not a guest whose
              RAM silently changed)
  merge-live  snapshot-merge onto the memory file a running clone uses: data
              the clone only reads keeps its checksum (sha256sum in the
              guest); the merged file restores the Diff's data, and no longer
              pairs with the base's state file
  migrate     live migration (minnow migrate) on loopback of a guest running MEMCHECK (a
              buffer under constant random writes with a running checksum
              it verifies): the source exits 0, the target carries on
              (verifications go on from the next number, none fails) and
              exits 0 when the guest powers off
  engines     snapshots and a live migration change engine: a guest booted
              under the JIT counts on its console; its snapshot restores
              with `minnow restore --engine interp`, which counts on and is
              snapshotted again, and that one restores through PUT
              /snapshot/load {"engine": "jit"} and counts to the end: the
              count is 1..N once each and the guest exits 0. A guest running
              memcheck under the JIT migrates to `minnow --incoming --engine
              interp` and its checksums go on verifying from the next one. Each process says
              which engine ran it (MINNOW_JIT_STATS: only a JIT prints its
              statistics), and GET /vm/config names the engine chosen
  migrate-kill  the target is killed (kill -9) during the pre-copy rounds:
              GET /migrate says Failed, the source keeps running the guest,
              whose checksums keep verifying, to its end
"""
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
import minnow_proc  # noqa: E402
from minnow_proc import Fail, console_numbers, free_port, run  # noqa: E402
TIMEOUT = 180   # seconds; an ASan build boots a few times slower
MODE = "?"
MEM_TRAILER = 64  # bytes after guest RAM in a memory file (src/vmm/snapshot_mem.h)


class Minnow(minnow_proc.Minnow):
    """With stderr in LOG.err, and sock: wait until its API answers."""

    def __init__(self, args, log_path, stdin=subprocess.DEVNULL, sock=None):
        super().__init__(args, log_path, stdin=stdin, err_path=log_path + ".err", timeout=TIMEOUT)
        self.sock = sock
        if sock:
            self.wait_socket()

    def wait_socket(self):
        for _ in range(400):
            if os.path.exists(self.sock) and api(self.sock, "GET", "/", check=False)[0] == 200:
                return
            if self.p.poll() is not None:
                raise Fail(f"minnow exited ({self.p.returncode}) before its API answered: {self.err.decode()}")
            time.sleep(0.05)
        raise Fail("the API socket did not answer within 20 s")


def api(sock, method, path, body=None, check=True):
    cmd = ["curl", "-s", "--max-time", "120", "--unix-socket", sock, "-X", method, "-w", "\n%{http_code}"]
    if body is not None:
        cmd += ["-H", "Content-Type: application/json", "--data-binary", json.dumps(body)]
    r = subprocess.run(cmd + ["http://localhost" + path], stdout=subprocess.PIPE, text=True)
    if r.returncode and check:
        raise Fail(f"curl {method} {path} failed ({r.returncode})")
    text, _, code = r.stdout.rpartition("\n")
    return (int(code) if code.isdigit() else 0), text


def expect(sock, method, path, body, code, contains=None):
    got, text = api(sock, method, path, body)
    if got != code:
        raise Fail(f"{method} {path} {body}: status {got}, expected {code} (body: {text})")
    if contains:
        if contains not in text:
            raise Fail(f"{method} {path} {body}: '{text}' does not contain '{contains}'")
        if "fault_message" not in text:
            raise Fail(f"{method} {path}: the error has no fault_message: {text}")
    return text


class Test:
    def __init__(self, minnow, work, memcheck=None):
        self.minnow, self.work, self.memcheck = minnow, work, memcheck
        guest = run([os.path.join(TOP, "guest", "build"), "-q"], check=True).stdout.strip().split("\n")[-1]
        self.kernel = os.path.join(guest, "Image")
        self.initrd = os.path.join(guest, "initramfs.cpio.gz")
        self.rootfs = os.path.join(guest, "rootfs.ext4")
        self.procs = []
        self.mounts = []

    def path(self, name):
        return os.path.join(self.work, name)

    def config(self, cmd, root=None, mem_mib=128, vcpus=1, initrd=None):
        boot = {"kernel_image_path": self.kernel, "boot_args": f'console=ttyS0 minnow.cmd="{cmd}"'}
        cfg = {"boot-source": boot, "machine-config": {"vcpu_count": vcpus, "mem_size_mib": mem_mib}}
        if root:
            cfg["drives"] = [{"drive_id": "root", "path_on_host": root, "is_root_device": True,
                              "is_read_only": False}]
        else:
            boot["initrd_path"] = initrd or self.initrd
        return cfg

    def boot(self, name, cfg, stdin=subprocess.DEVNULL, extra=()):
        """minnow --api-sock with --config-file: the guest boots at once."""
        cfg_path = self.path(name + ".json")
        with open(cfg_path, "w") as f:
            json.dump(cfg, f)
        sock = self.path(name + ".sock")
        m = Minnow([self.minnow, "--api-sock", sock, "--config-file", cfg_path] + list(extra),
                   self.path(name + ".log"), stdin=stdin, sock=sock)
        self.procs.append(m)
        return m

    def restore(self, name, state, mem, extra=(), stdin=subprocess.DEVNULL, with_api=True):
        sock = self.path(name + ".sock") if with_api else None
        args = [self.minnow, "restore", "--snapshot", state, "--mem", mem] + list(extra)
        if sock:
            args += ["--api-sock", sock]
        m = Minnow(args, self.path(name + ".log"), stdin=stdin, sock=sock)
        self.procs.append(m)
        return m

    def snapshot(self, m, name, kind="Full"):
        state, mem = self.path(name + ".state"), self.path(name + ".mem")
        expect(m.sock, "PUT", "/snapshot/create",
               {"snapshot_path": state, "mem_file_path": mem, "snapshot_type": kind}, 204)
        return state, mem

    def cleanup(self):
        for m in self.procs:
            m.kill()
        for mnt in self.mounts:
            run(["umount", mnt])

    # ---- modes ----

    def continuity(self):
        img = self.path("root.ext4")
        shutil.copyfile(self.rootfs, img)
        n = 120
        loop = (f"i=0; while [ $i -lt {n} ]; do i=$((i+1)); echo $i >>/count; echo count $i; "
                "sleep 0.05; done; sync")
        m = self.boot("vm1", self.config(loop, root=img))
        m.wait_for(r"^count 30$")
        expect(m.sock, "PATCH", "/vm", {"state": "Paused"}, 204)
        state, mem = self.snapshot(m, "s")
        before = self.counts(m)
        os.kill(m.p.pid, signal.SIGKILL)
        m.wait_exit()
        print(f"snapshot taken after count {before[-1]}; minnow killed")
        r = self.restore("vm2", state, mem)
        st = r.wait_exit()
        if st != 0:
            raise Fail(f"the restored minnow exited {st}: {r.err.decode()}")
        after = self.counts(r)
        if self.counts(m, r) != list(range(1, n + 1)):
            raise Fail(f"the count across the restore is not 1..{n} once each: ...{before[-3:]} | {after[:3]}...")
        if "minnow-guest: exit 0" not in r.text():
            raise Fail("the restored guest did not finish its command")
        print(f"the restored guest counted on from {after[0]} to {after[-1]}")
        fsck = run(["e2fsck", "-fn", img])
        if fsck.returncode:
            raise Fail(f"e2fsck -fn after the restored run exited {fsck.returncode}:\n{fsck.stdout}")
        got = subprocess.run(["debugfs", "-R", "cat /count", img], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL).stdout.decode().split()
        if got != [str(i) for i in range(1, n + 1)]:
            raise Fail(f"/count on the disk is not 1..{n} once each: {got[:5]}...{got[-5:]} ({len(got)} lines)")
        print(f"/count on the disk holds 1..{n}; e2fsck clean")

    def clones(self):
        count, mem_mib = 20, 128
        m = self.boot("base", self.config("while read l; do echo answer-$l; done", mem_mib=mem_mib),
                      stdin=subprocess.PIPE)
        m.wait_for(r"minnow-guest: init ready")
        m.p.stdin.write(b"warm\n")
        m.p.stdin.flush()
        m.wait_for(r"^answer-warm$")
        expect(m.sock, "PATCH", "/vm", {"state": "Paused"}, 204)
        state, mem = self.snapshot(m, "base")
        m.kill()
        vms = []
        t0 = time.monotonic()
        for i in range(count):
            vms.append(self.restore(f"clone{i}", state, mem, stdin=subprocess.PIPE, with_api=False))
        for i, v in enumerate(vms):
            v.p.stdin.write(f"clone{i}\n".encode())
            v.p.stdin.flush()
        for i, v in enumerate(vms):
            v.wait_for(rf"^answer-clone{i}$", timeout=120)
        print(f"{count} restored VMs answered within {time.monotonic() - t0:.1f} s")
        pss = rss = 0
        for v in vms:
            with open(f"/proc/{v.p.pid}/smaps_rollup") as f:
                fields = dict(re.findall(r"^(\w+):\s+(\d+) kB", f.read(), re.M))
            pss += int(fields["Pss"])
            rss += int(fields["Rss"])
        guest_total = count * mem_mib * 1024
        print(f"combined PSS {pss // 1024} MiB, RSS {rss // 1024} MiB, guest RAM {guest_total // 1024} MiB "
              f"({count} x {mem_mib} MiB); {pss / count / 1024:.1f} MiB PSS per VM")
        if pss * 4 > guest_total:
            raise Fail(f"the clones use {pss // 1024} MiB (PSS), not far below {guest_total // 1024} MiB")
        for v in vms:
            v.kill()

    def diff(self):
        loop = "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.1; done"
        m = self.boot("vm", self.config(loop))
        m.wait_for(r"^tick 5$")
        expect(m.sock, "PATCH", "/vm", {"state": "Paused"}, 204)
        a_state, a_mem = self.snapshot(m, "a")
        expect(m.sock, "PATCH", "/vm", {"state": "Resumed"}, 204)
        last = int(re.findall(r"^tick (\d+)$", m.text(), re.M)[-1])
        m.wait_for(rf"^tick {last + 10}$")
        # The CLI this time: `minnow pause` and `minnow snapshot --diff`.
        r = run([self.minnow, "pause", "--api-sock", m.sock])
        if r.returncode:
            raise Fail(f"minnow pause failed: {r.stdout}")
        b_state, b_mem = self.path("b.state"), self.path("b.mem")
        r = run([self.minnow, "snapshot", "--api-sock", m.sock, "--snapshot", b_state, "--mem", b_mem, "--diff"])
        if r.returncode or "Diff" not in r.stdout:
            raise Fail(f"minnow snapshot --diff failed: {r.stdout}")
        c_state, c_mem = self.snapshot(m, "c", "Full")
        at_b = int(re.findall(r"^tick (\d+)$", m.text(), re.M)[-1])
        m.kill()
        du = lambda p: os.stat(p).st_blocks * 512 // 1024
        print(f"memory files on disk: Full A {du(a_mem)} KiB, Diff B {du(b_mem)} KiB, Full C {du(c_mem)} KiB")
        if du(b_mem) >= du(c_mem):
            raise Fail("the Diff memory file is not smaller than a Full one")
        merged = self.path("merged.mem")
        shutil.copyfile(a_mem, merged)
        r = run([self.minnow, "snapshot-merge", "--snapshot", b_state, "--mem", b_mem, "--base-mem", merged])
        if r.returncode:
            raise Fail(f"snapshot-merge failed: {r.stdout}")
        print(r.stdout.strip())
        ram = os.path.getsize(c_mem) - MEM_TRAILER  # the trailers carry different snapshot ids
        if run(["cmp", "-n", str(ram), merged, c_mem]).returncode:
            raise Fail("A's memory with B's Diff merged differs from the Full snapshot C taken at B's moment")
        r = run([self.minnow, "snapshot-merge", "--snapshot", c_state, "--mem", c_mem, "--base-mem", merged])
        if r.returncode == 0 or "Full" not in r.stdout:
            raise Fail(f"snapshot-merge of a Full snapshot was not refused: {r.stdout}")
        v = self.restore("restored", b_state, merged)
        v.wait_for(rf"^tick {at_b + 3}$")
        ticks = [int(x) for x in re.findall(r"^tick (\d+)$", v.text(), re.M)]
        if ticks[0] != at_b + 1:
            raise Fail(f"the Diff restore went on at tick {ticks[0]}, expected {at_b + 1}")
        print(f"restored from Diff B (merged): ticks went on from {ticks[0]}")
        v.kill()

    def corrupt(self):
        m = self.boot("vm", self.config("sleep 1000", mem_mib=64))
        expect(m.sock, "PUT", "/snapshot/create", {"snapshot_path": "/x", "mem_file_path": "/y"}, 400,
               "must be paused")
        m.wait_for(r"minnow-guest: init ready")
        expect(m.sock, "PATCH", "/vm", {"state": "Paused"}, 204)
        expect(m.sock, "PUT", "/snapshot/create", {"snapshot_path": self.path("s")}, 400, "mem_file_path")
        expect(m.sock, "PUT", "/snapshot/create", {"snapshot_path": "/a", "mem_file_path": "/b",
                                                   "snapshot_type": "Half"}, 400, "snapshot_type")
        expect(m.sock, "PUT", "/snapshot/create", {"snapshot_path": "/a", "mem_file_path": "/a"}, 400,
               "the same file")
        expect(m.sock, "PUT", "/snapshot/create", {"snapshot_path": "/a", "mem_file_path": "/b", "x": 1}, 400,
               "unknown field 'x'")
        expect(m.sock, "PUT", "/snapshot/create", {"snapshot_path": "/nonexistent/dir/s", "mem_file_path": "/b"},
               400, "/nonexistent/dir/s")
        expect(m.sock, "PUT", "/snapshot/load", {"snapshot_path": "/a", "mem_file_path": "/b"}, 400,
               "not supported after starting")
        state, mem = self.snapshot(m, "good")
        m.kill()
        leftovers = [f for f in os.listdir(self.work) if ".tmp-" in f]
        if leftovers:
            raise Fail(f"temporary files were left behind: {leftovers}")
        data = open(state, "rb").read()

        def variant(name, content):
            p = self.path(name)
            with open(p, "wb") as f:
                f.write(content)
            return p

        flipped = bytearray(data)
        flipped[len(data) // 2] ^= 0x40
        version = bytearray(data)
        version[8] = 99
        small_mem = self.path("small.mem")
        with open(small_mem, "wb") as f:
            f.truncate(32 << 20)
        cases = [
            ("truncated", variant("trunc.state", data[:len(data) // 2]), mem, "truncated"),
            ("header only", variant("head.state", data[:30]), mem, "not the size of a minnow snapshot"),
            ("bit flipped", variant("flip.state", bytes(flipped)), mem, "checksum mismatch"),
            ("wrong version", variant("ver.state", bytes(version)), mem, "format version 99"),
            ("foreign file", self.kernel, mem, "bad magic"),
            ("memory file of the wrong size", state, small_mem, "bytes of RAM"),
            ("missing memory file", state, self.path("nothing.mem"), "nothing.mem"),
            ("missing state file", self.path("nothing.state"), mem, "nothing.state"),
        ]
        for what, st, mf, msg in cases:
            r = Minnow([self.minnow, "restore", "--snapshot", st, "--mem", mf], self.path("bad.log"))
            code = r.wait_exit(60)
            err = r.err.decode()
            if code != 123 or msg not in err:
                raise Fail(f"{what}: exit {code}, stderr '{err.strip()}' (expected 123 and '{msg}')")
            if r.text().strip():
                raise Fail(f"{what}: the guest ran anyway: {r.text()[:200]}")
            print(f"refused, {what}: {err.strip()}")
        # The API: refused loads leave the instance fresh; a good one then works.
        sock = self.path("api.sock")
        a = Minnow([self.minnow, "--api-sock", sock], self.path("api.log"), sock=sock)
        self.procs.append(a)
        expect(sock, "PUT", "/snapshot/load", {"snapshot_path": self.path("flip.state"),
                                               "mem_backend": {"backend_type": "File", "backend_path": mem}},
               400, "checksum mismatch")
        expect(sock, "PUT", "/snapshot/load", {"snapshot_path": state, "mem_backend": {"backend_type": "Uffd",
                                                                                       "backend_path": mem}},
               400, "Uffd")
        expect(sock, "PUT", "/snapshot/load", {"snapshot_path": state}, 400, "mem_backend")
        expect(sock, "PUT", "/snapshot/load", {"snapshot_path": state, "mem_file_path": mem,
                                               "network_overrides": [{"iface_id": "eth0", "host_dev_name": "tap0"}]},
               400, "no network interface 'eth0'")
        expect(sock, "PUT", "/snapshot/load", {"snapshot_path": state, "mem_file_path": mem,
                                               "vsock_override": {"uds_path": "/tmp/v.sock"}}, 400, "no vsock")
        expect(sock, "PUT", "/snapshot/load", {"snapshot_path": state, "mem_backend": {"backend_type": "File",
                                                                                       "backend_path": mem},
                                               "resume_vm": False}, 204)
        body = expect(sock, "GET", "/", None, 200)
        if '"Paused"' not in body:
            raise Fail(f"a load without resume_vm should leave the VM paused: {body}")
        expect(sock, "PUT", "/snapshot/load", {"snapshot_path": state, "mem_file_path": mem}, 400,
               "not supported after starting")
        expect(sock, "PATCH", "/vm", {"state": "Resumed"}, 204)
        got, text = api(sock, "GET", "/vm/config")
        if got != 200 or self.kernel not in text:
            raise Fail(f"GET /vm/config after the load does not give the snapshot's configuration: {text}")
        a.kill()


    def devices(self):
        import http.server
        import socketserver
        echo = os.path.join(os.path.dirname(self.memcheck or ""), "vsock_echo")
        if not os.path.exists(echo):
            raise Fail(f"this mode needs the vsock_echo guest program next to memcheck ({echo})")
        initrd = self.path("initramfs-vsock")
        subprocess.run(["bash", "-c", f'. "{TOP}/tests/guest/lib.sh"; extend_initramfs "$@"', "-",
                        self.initrd, initrd, echo], check=True)
        www = self.path("www")
        os.makedirs(www)
        token = f"restored-page-{os.getpid()}"
        with open(os.path.join(www, "token.txt"), "w") as f:
            f.write(token + "\n")
        handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=www)
        httpd = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
        port = httpd.server_address[1]
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        uds = self.path("v.sock")
        cfg = self.config("udhcpc -i eth0 -f -q -n -t 10 -T 3 >/dev/null 2>&1; ip -4 addr show dev eth0; "
                          "vsock_echo listen 6000 1 & sleep 1; echo ready-for-snapshot; "
                          "while read l; do eval $l; done", initrd=initrd)
        ndrives = 10
        cfg["drives"] = []
        for i in range(ndrives):
            img = self.path(f"d{i}.img")
            with open(img, "wb") as f:
                f.write(f"snapdrive-{i}-{os.getpid()}".encode())
                f.truncate(64 << 10)
            cfg["drives"].append({"drive_id": f"d{i}", "path_on_host": img, "is_root_device": False,
                                  "is_read_only": True})
        cfg["network-interfaces"] = [{"iface_id": "eth0", "minnow_user": True}]
        cfg["vsock"] = {"guest_cid": 7, "uds_path": uds}
        m = self.boot("vm1", cfg)
        m.wait_for(r"^ready-for-snapshot$")
        if not re.search(r"inet 10\.0\.2\.15/24", m.text()):
            raise Fail("the guest got no DHCP address before the snapshot")
        expect(m.sock, "PATCH", "/vm", {"state": "Paused"}, 204)
        state, mem = self.snapshot(m, "s")
        m.kill()
        # The killed minnow left its vsock socket behind: the restored one
        # gets another path (as PUT /snapshot/load's vsock_override does).
        uds = self.path("v2.sock")
        r = self.restore("vm2", state, mem, extra=["--vsock-override", uds], stdin=subprocess.PIPE)
        r.p.stdin.write(f"wget -q -T 10 -O - http://10.0.2.2:{port}/token.txt; echo wget-done\n".encode())
        r.p.stdin.flush()
        r.wait_for(r"^wget-done$", timeout=60)
        last = f"vd{chr(ord('a') + ndrives - 1)}"
        want = f"snapdrive-{ndrives - 1}-{os.getpid()}"
        r.p.stdin.write(f"echo read=$(head -c {len(want)} /dev/{last})\n".encode())
        r.p.stdin.flush()
        r.wait_for(rf"^read={want}$", timeout=60)
        print(f"after restore: the guest read /dev/{last}'s marker (the {ndrives}th device, in slot {ndrives})")
        if token not in r.text():
            raise Fail(f"the restored guest did not fetch the page through slirp: {r.text()[-500:]}")
        print("after restore: the guest fetched a page from the host through the new slirp")
        s = minnow_proc.vsock_connect(uds, 6000, "vsock CONNECT after restore", timeout=30)
        data = os.urandom(64 * 1024)
        s.sendall(data)
        got = b""
        while len(got) < len(data):
            b = s.recv(65536)
            if not b:
                break
            got += b
        s.close()
        httpd.shutdown()
        if got != data:
            raise Fail(f"vsock echo after restore: {len(got)} of {len(data)} bytes came back right")
        print("after restore: a host vsock connection reached the guest's listener and echoed 64 KiB")
        r.kill()

    # ---- crash consistency, binding, destinations, memory files in use ----

    ANSWER = "last=none; while read l; do echo answer-$l-last-$last; last=$l; done"

    @staticmethod
    def ask(v, line, pattern, timeout=None):
        v.p.stdin.write((line + "\n").encode())
        v.p.stdin.flush()
        return v.wait_for(pattern, timeout=timeout)

    def leftovers(self, where=None):
        where = where or self.work
        return sorted(f for f in os.listdir(where) if ".tmp-" in f)

    def refused_restore(self, what, state, mem, wants):
        r = Minnow([self.minnow, "restore", "--snapshot", state, "--mem", mem], self.path("bad.log"))
        code = r.wait_exit(60)
        err = r.err.decode()
        if code != 123 or any(w not in err for w in wants):
            raise Fail(f"{what}: exit {code}, stderr '{err.strip()}' (expected 123 and {wants})")
        if r.text().strip():
            raise Fail(f"{what}: the guest ran anyway: {r.text()[:200]}")
        print(f"refused, {what}: {err.strip()}")

    def crash(self):
        """kill -9 during PUT /snapshot/create over an existing pair, at 30
        moments: the pair at the paths restores into the old or the new
        guest every time, and no temporary file outlives the next create."""
        trials = 30
        state, mem = self.path("pair.state"), self.path("pair.mem")
        m = self.boot("vm0", self.config(self.ANSWER, mem_mib=64), stdin=subprocess.PIPE)
        m.wait_for(r"minnow-guest: init ready")
        self.ask(m, "t0", r"^answer-t0-last-none$")
        expect(m.sock, "PATCH", "/vm", {"state": "Paused"}, 204)
        expect(m.sock, "PUT", "/snapshot/create", {"snapshot_path": state, "mem_file_path": mem}, 204)
        m.kill()
        full = os.stat(mem).st_blocks * 512
        pair_tag, outcomes = "t0", {}
        for i in range(1, trials + 1):
            v = self.restore(f"r{i}", state, mem, stdin=subprocess.PIPE)
            got = self.ask(v, f"p{i}", rf"^answer-p{i}-last-(\w+)\n", timeout=60).group(1)
            if got not in pair_tag.split("|"):
                raise Fail(f"trial {i}: the restored guest had last seen '{got}', but the pair at the paths "
                           f"was to be the one of '{pair_tag}' (old or new)")
            self.ask(v, f"t{i}", rf"^answer-t{i}-last-p{i}$")
            expect(v.sock, "PATCH", "/vm", {"state": "Paused"}, 204)
            # Where to kill: after a growing share of the new memory file is
            # written (trials 1-24), once the new state file exists (25-27),
            # once it has replaced the old one (28-30).
            old_ino, old_mem_ino = os.stat(state).st_ino, os.stat(mem).st_ino
            body = json.dumps({"snapshot_path": state, "mem_file_path": mem})
            curl = subprocess.Popen(["curl", "-s", "--max-time", "120", "--unix-socket", v.sock, "-X", "PUT",
                                     "-H", "Content-Type: application/json", "--data-binary", body,
                                     "-o", "/dev/null", "-w", "%{http_code}", "http://localhost/snapshot/create"],
                                    stdout=subprocess.PIPE, text=True)
            phase = None
            deadline = time.monotonic() + 120
            while phase is None and time.monotonic() < deadline:
                names = os.listdir(self.work)
                mem_tmp = [n for n in names if n.startswith("pair.mem.tmp-")]
                state_tmp = [n for n in names if n.startswith("pair.state.tmp-")]
                try:
                    committed = os.stat(state).st_ino != old_ino
                except FileNotFoundError:
                    committed = False
                if i <= 24 and mem_tmp:
                    try:
                        written = os.stat(self.path(mem_tmp[0])).st_blocks * 512
                    except FileNotFoundError:
                        written = full
                    if written >= full * (i - 1) // 24:
                        phase = f"memory file {100 * written // full}% written"
                elif 25 <= i <= 27 and (state_tmp or committed):
                    phase = "state file being written" if state_tmp and not committed else "state file committed"
                elif i >= 28 and committed:
                    phase = "state file committed"
                if phase is None and curl.poll() is not None:
                    phase = "create had finished"
                if phase is None:
                    time.sleep(0.0005)
            os.kill(v.p.pid, signal.SIGKILL)
            v.wait_exit()
            curl.wait()
            if phase is None:
                raise Fail(f"trial {i}: the create did not reach its {i}th moment within 120 s")
            # A state file that is still the old one must still have the old
            # memory file at its side (the guest may even run on a mixed
            # pair, its RAM from one moment and its harts from another).
            if os.stat(state).st_ino == old_ino and os.stat(mem).st_ino != old_mem_ino:
                raise Fail(f"trial {i} (killed when {phase}): the old state file is now beside a new memory file")
            key = " ".join(phase.split(" ")[:2])
            outcomes[key] = outcomes.get(key, 0) + 1
            print(f"trial {i}: killed when {phase}")
            pair_tag = f"t{i}" if phase == "create had finished" else f"{got}|t{i}"
        v = self.restore("last", state, mem, stdin=subprocess.PIPE)
        got = self.ask(v, "final", r"^answer-final-last-(\w+)\n", timeout=60).group(1)
        if got not in pair_tag.split("|"):
            raise Fail(f"after the last kill the pair restored to '{got}', expected one of {pair_tag}")
        expect(v.sock, "PATCH", "/vm", {"state": "Paused"}, 204)
        expect(v.sock, "PUT", "/snapshot/create", {"snapshot_path": state, "mem_file_path": mem}, 204)
        v.kill()
        if self.leftovers():
            raise Fail(f"temporary files outlived the next create: {self.leftovers()}")
        print(f"{trials} kills: every pair restored (old or new guest); {outcomes}; no temporary files left")

    def bind(self):
        """A state file with another snapshot's memory file is refused,
        naming both; so is a format 1 state file; a create killed between
        its commit and its last rename restores the new pair."""
        m = self.boot("vm", self.config(self.ANSWER, mem_mib=64), stdin=subprocess.PIPE)
        m.wait_for(r"minnow-guest: init ready")
        self.ask(m, "a", r"^answer-a-last-none$")
        expect(m.sock, "PATCH", "/vm", {"state": "Paused"}, 204)
        a_state, a_mem = self.snapshot(m, "a")
        expect(m.sock, "PATCH", "/vm", {"state": "Resumed"}, 204)
        self.ask(m, "b", r"^answer-b-last-a$")
        expect(m.sock, "PATCH", "/vm", {"state": "Paused"}, 204)
        b_state, b_mem = self.snapshot(m, "b")
        m.kill()
        self.refused_restore("A's state with B's memory", a_state, b_mem, [a_state, b_mem, "not a pair"])
        self.refused_restore("B's state with A's memory", b_state, a_mem, [b_state, a_mem, "not a pair"])
        v1 = bytearray(open(a_state, "rb").read())
        v1[8:12] = (1).to_bytes(4, "little")
        with open(self.path("v1.state"), "wb") as f:
            f.write(v1)
        self.refused_restore("a format 1 state file", self.path("v1.state"), a_mem,
                             ["format version 1", "older minnow", "v1.state"])
        with open(a_mem, "rb") as f, open(self.path("notrailer.mem"), "wb") as g:
            g.write(f.read()[:-MEM_TRAILER])
        self.refused_restore("a memory file without its trailer", a_state, self.path("notrailer.mem"),
                             ["notrailer.mem", "bytes of RAM"])
        sock = self.path("api.sock")
        api_vm = Minnow([self.minnow, "--api-sock", sock], self.path("api.log"), sock=sock)
        self.procs.append(api_vm)
        expect(sock, "PUT", "/snapshot/load", {"snapshot_path": a_state, "mem_backend": {
            "backend_type": "File", "backend_path": b_mem}}, 400, "not a pair")
        text = expect(sock, "PUT", "/snapshot/load", {"snapshot_path": a_state, "mem_backend": {
            "backend_type": "File", "backend_path": b_mem}}, 400, b_mem)
        if a_state not in text:
            raise Fail(f"PUT /snapshot/load of a mismatched pair does not name the state file: {text}")
        api_vm.kill()
        # Killed after the commit: the state file is B's, B's memory file
        # still under its temporary name, A's memory at the path.
        b_id = open(b_state, "rb").read()[40:56].hex()
        shutil.copyfile(b_state, a_state)
        os.rename(b_mem, f"{a_mem}.tmp-{b_id}")
        v = self.restore("rolled", a_state, a_mem, stdin=subprocess.PIPE)
        self.ask(v, "c", r"^answer-c-last-b$")
        v.kill()
        if self.leftovers():
            raise Fail(f"the restore did not finish the interrupted create: {self.leftovers()} left")
        print("a state file committed without its last rename restored the new guest (last-b), and finished "
              "the create")

    def full_disk(self):
        """A full file system while the memory file, then while the state
        file is written: a clear error, the old pair intact and restorable,
        no temporary files."""
        m = self.boot("vm", self.config(self.ANSWER, mem_mib=64), stdin=subprocess.PIPE)
        m.wait_for(r"minnow-guest: init ready")
        self.ask(m, "old", r"^answer-old-last-none$")
        expect(m.sock, "PATCH", "/vm", {"state": "Paused"}, 204)
        p_state, p_mem = self.snapshot(m, "probe")  # its sizes size the file system
        need = os.stat(p_mem).st_blocks * 512 + os.stat(p_state).st_blocks * 512
        mnt = self.path("small")
        os.mkdir(mnt)
        r = run(["mount", "-t", "tmpfs", "-o", f"size={2 * need + (4 << 20)},mode=0700", "tmpfs", mnt])
        if r.returncode:
            raise Fail(f"cannot mount a small tmpfs (this test needs root): {r.stdout}")
        self.mounts.append(mnt)
        state, mem = os.path.join(mnt, "s.state"), os.path.join(mnt, "s.mem")
        body = {"snapshot_path": state, "mem_file_path": mem}
        expect(m.sock, "PUT", "/snapshot/create", body, 204)
        digest = lambda: [run(["sha256sum", state]).stdout.split()[0], run(["sha256sum", mem]).stdout.split()[0]]
        old = digest()
        mem_bytes = os.stat(mem).st_blocks * 512
        state_pages = (os.stat(state).st_size + 4095) // 4096
        fill = os.path.join(mnt, "fill")

        def leave_free(n):
            if os.path.exists(fill):
                os.unlink(fill)
            st = os.statvfs(mnt)
            free = st.f_bavail * st.f_frsize
            if free - n > 0:
                fd = os.open(fill, os.O_CREAT | os.O_WRONLY, 0o600)
                os.posix_fallocate(fd, 0, free - n)
                os.close(fd)
            st = os.statvfs(mnt)
            return st.f_bavail * st.f_frsize

        cases = [("memory file", mem_bytes // 2 // 4096 * 4096, mem),
                 ("state file", mem_bytes + (state_pages - 1) * 4096, state)]
        for what, free, names in cases:
            left = leave_free(free)
            text = expect(m.sock, "PUT", "/snapshot/create", body, 400, "No space left on device")
            if names not in text:
                raise Fail(f"full disk during the {what}: the error does not name {names}: {text}")
            if digest() != old:
                raise Fail(f"full disk during the {what}: the old pair changed")
            if [f for f in os.listdir(mnt) if ".tmp-" in f]:
                raise Fail(f"full disk during the {what}: temporary files left: {os.listdir(mnt)}")
            print(f"full disk during the {what} ({left} bytes free): {json.loads(text)['fault_message']}")
        m.kill()
        os.unlink(fill)
        v = self.restore("restored", state, mem, stdin=subprocess.PIPE)
        self.ask(v, "again", r"^answer-again-last-old$")
        v.kill()
        print("the old pair restored after both failures")

    def destinations(self):
        """snapshot_path or mem_file_path naming a FIFO, a character
        device, a symlink or the VM's own API socket: 400 naming the path,
        the node left as it was."""
        m = self.boot("vm", self.config("sleep 1000", mem_mib=64))
        m.wait_for(r"minnow-guest: init ready")
        expect(m.sock, "PATCH", "/vm", {"state": "Paused"}, 204)
        fifo, dev, link, victim = self.path("fifo"), self.path("null"), self.path("link"), self.path("victim")
        os.mkfifo(fifo)
        os.mknod(dev, 0o600 | stat.S_IFCHR, os.makedev(1, 3))
        with open(victim, "w") as f:
            f.write("precious\n")
        os.symlink(victim, link)
        kinds = {fifo: stat.S_ISFIFO, dev: stat.S_ISCHR, link: stat.S_ISLNK, m.sock: stat.S_ISSOCK}
        for path, is_kind in kinds.items():
            for field, other in (("snapshot_path", "mem_file_path"), ("mem_file_path", "snapshot_path")):
                ok = self.path("ok." + other)
                text = expect(m.sock, "PUT", "/snapshot/create", {field: path, other: ok}, 400, path)
                if not is_kind(os.lstat(path).st_mode):
                    raise Fail(f"{field} {path}: the node was replaced")
                if os.path.exists(ok) or self.leftovers():
                    raise Fail(f"{field} {path}: files were written anyway: {os.listdir(self.work)}")
                print(f"refused: {json.loads(text)['fault_message']}")
        if open(victim).read() != "precious\n":
            raise Fail("the symlink's target was changed")
        expect(m.sock, "GET", "/", None, 200)
        self.snapshot(m, "fine")
        print("the API socket still answers and a snapshot to regular paths works")

    BLOB = ("dd if=/dev/urandom of=/tmp/blob bs=1M count=8 2>/dev/null; sha256sum /tmp/blob; echo blob-ready; "
            "while read l; do eval $l; done")

    def mem_truncated(self):
        """The memory file truncated under a VM restored from it: minnow
        stops the VM with a message naming the file, exit status 123."""
        m = self.boot("vm", self.config(self.BLOB, mem_mib=64), stdin=subprocess.PIPE)
        m.wait_for(r"^blob-ready$")
        expect(m.sock, "PATCH", "/vm", {"state": "Paused"}, 204)
        state, mem = self.snapshot(m, "s")
        m.kill()
        v = self.restore("restored", state, mem, stdin=subprocess.PIPE, with_api=False)
        self.ask(v, "echo up", r"^up$")
        os.truncate(mem, 0)
        try:  # the guest reads pages it has not touched since the restore
            v.p.stdin.write(b"sha256sum /tmp/blob; echo read-all\n")
            v.p.stdin.flush()
        except BrokenPipeError:
            pass  # the kernel itself touched one first
        code = v.wait_exit(120)
        err = v.err.decode()
        if code != 123 or mem not in err or "truncated" not in err:
            raise Fail(f"after truncating the memory file: exit {code}, stderr '{err.strip()}' (expected 123 "
                       f"and a message naming {mem})")
        print(f"exit {code}: {err.strip()}")

    def mem_written(self):
        """The memory file written in place under a VM restored from it
        (which would silently change the pages the VM has only read): minnow
        stops the VM with a message naming the file, exit status 123."""
        m = self.boot("vm", self.config(self.BLOB, mem_mib=64), stdin=subprocess.PIPE)
        m.wait_for(r"^blob-ready$")
        expect(m.sock, "PATCH", "/vm", {"state": "Paused"}, 204)
        state, mem = self.snapshot(m, "s")
        m.kill()
        v = self.restore("restored", state, mem, stdin=subprocess.PIPE, with_api=False)
        self.ask(v, "echo up", r"^up$")
        fd = os.open(mem, os.O_WRONLY)
        os.pwrite(fd, b"\xff" * 4096, 32 << 20)
        os.close(fd)
        code = v.wait_exit(120)
        err = v.err.decode()
        if code != 123 or mem not in err or "written" not in err:
            raise Fail(f"after writing into the memory file: exit {code}, stderr '{err.strip()}' (expected 123 "
                       f"and a message naming {mem})")
        print(f"exit {code}: {err.strip()}")

    def merge_live(self):
        """snapshot-merge onto the memory file a running clone was restored
        from: the clone's memory does not change (a checksum inside the
        guest of data it only reads), and the merged file restores the Diff."""
        m = self.boot("vm", self.config(self.BLOB, mem_mib=64), stdin=subprocess.PIPE)
        sum_a = m.wait_for(r"^([0-9a-f]{64})  /tmp/blob$").group(1)
        m.wait_for(r"^blob-ready$")
        expect(m.sock, "PATCH", "/vm", {"state": "Paused"}, 204)
        a_state, a_mem = self.snapshot(m, "a")
        expect(m.sock, "PATCH", "/vm", {"state": "Resumed"}, 204)
        sum_b = self.ask(m, "dd if=/dev/urandom of=/tmp/blob bs=1M count=8 conv=notrunc 2>/dev/null; "
                            "sha256sum /tmp/blob | sed s/^/new-/", r"^new-([0-9a-f]{64})  /tmp/blob$").group(1)
        expect(m.sock, "PATCH", "/vm", {"state": "Paused"}, 204)
        b_state, b_mem = self.snapshot(m, "b", "Diff")
        m.kill()
        clone = self.restore("clone", a_state, a_mem, stdin=subprocess.PIPE, with_api=False)
        self.ask(clone, "echo clone-up", r"^clone-up$")
        r = run([self.minnow, "snapshot-merge", "--snapshot", b_state, "--mem", b_mem, "--base-mem", a_mem])
        if r.returncode:
            raise Fail(f"snapshot-merge failed: {r.stdout}")
        got = self.ask(clone, "sha256sum /tmp/blob | sed s/^/clone-/", r"^clone-([0-9a-f]{64})  /tmp/blob$").group(1)
        if got != sum_a:
            raise Fail(f"the running clone's /tmp/blob changed under it: {got}, was {sum_a} (the Diff's is {sum_b})")
        print(f"the clone's data read the same after the merge ({got[:16]}...)")
        clone.kill()
        v = self.restore("merged", b_state, a_mem, stdin=subprocess.PIPE, with_api=False)
        got = self.ask(v, "sha256sum /tmp/blob | sed s/^/merged-/", r"^merged-([0-9a-f]{64})  /tmp/blob$").group(1)
        if got != sum_b:
            raise Fail(f"the Diff restored from the merged file reads {got}, expected {sum_b}")
        v.kill()
        self.refused_restore("the base's own state with the merged memory", a_state, a_mem, [a_state, "not a pair"])
        print("the merged memory file restores the Diff (its data as written), and no longer the base")

    # ---- live migration ----

    def memcheck_initrd(self):
        if not self.memcheck:
            raise Fail("this mode needs the memcheck guest program (third argument)")
        out = self.path("initramfs-memcheck")
        subprocess.run(["bash", "-c", f'. "{TOP}/tests/guest/lib.sh"; extend_initramfs "$@"', "-",
                        self.initrd, out, self.memcheck], check=True)
        return out

    def target(self, name, extra=()):
        """minnow --incoming on a free loopback port; returns it and the address."""
        addr = f"tcp:127.0.0.1:{free_port()}"
        t = Minnow([self.minnow, "--incoming", addr, "--api-sock", self.path(name + ".sock")] + list(extra),
                   self.path(name + ".log"))
        self.procs.append(t)
        for _ in range(200):
            if b"waiting on" in t.err:
                return t, addr
            if t.p.poll() is not None:
                raise Fail(f"the target exited ({t.p.returncode}): {t.err.decode()}")
            time.sleep(0.05)
        raise Fail("the target did not start listening")

    @staticmethod
    def verified(*ms):
        return console_numbers(r"^memcheck: verified (\d+)$", *ms)

    @staticmethod
    def counts(*ms):
        return console_numbers(r"^count (\d+)$", *ms)

    def migrate(self):
        checks = 40
        initrd = self.memcheck_initrd()
        t, addr = self.target("target")
        src = self.boot("source", self.config(f"memcheck 32 {checks}", mem_mib=256, initrd=initrd),
                        extra=["--log-path", self.path("source-log.txt")])
        src.wait_for(r"^memcheck: verified 3$")
        r = run([self.minnow, "migrate", "--api-sock", src.sock, "--to", addr])
        if r.returncode:
            raise Fail(f"minnow migrate failed: {r.stdout}")
        print(r.stdout.strip().split("\n")[-1])
        st = src.wait_exit(120)
        if st != 0 or b"migrated" not in src.err:
            raise Fail(f"the source exited {st}: {src.err.decode()}")
        with open(self.path("source-log.txt")) as f:
            line = [l for l in f if "migrated to " in l and "downtime" in l]
        print(line[-1].strip() if line else "(no migration line in the source log)")
        st = t.wait_exit(300)
        if st != 0:
            raise Fail(f"the target exited {st}: {t.err.decode()}")
        a, both = self.verified(src), self.verified(src, t)
        if "MISMATCH" in src.text() + t.text():
            raise Fail("a memory checksum failed")
        if both != list(range(1, checks + 1)):
            raise Fail(f"the verifications are not 1..{checks} once each: source ...{a[-3:]}, source and target "
                       f"together {both}")
        print(f"source verified 1..{a[-1]}, the target went on to {both[-1]}; guest exit 0 at the target")

    def engines(self):
        os.environ["MINNOW_JIT_STATS"] = "1"   # a JIT prints its statistics to stderr when its hart ends

        def ran(m, engine):
            jit = re.search(rb"^jit: (\d+) units", m.err, re.M)
            if engine == "jit" and not (jit and int(jit.group(1)) > 0):
                raise Fail(f"the JIT did not run this VM (no statistics): {m.err.decode()[-500:]}")
            if engine == "interp" and jit:
                raise Fail(f"a JIT ran this VM, not the interpreter: {jit.group(0).decode()}")

        def config_engine(m):
            return json.loads(expect(m.sock, "GET", "/vm/config", None, 200))["machine-config"].get("engine")

        def stop(m):
            """SIGTERM: minnow ends the VM and its harts (a JIT prints its statistics)."""
            m.p.send_signal(signal.SIGTERM)
            if m.wait_exit() != 124:
                raise Fail(f"minnow did not stop from the host (exit {m.p.returncode}): {m.err.decode()[-500:]}")

        def snapshot_and_stop(m, name, engine):
            """Pause, snapshot, stop; the snapshot's files and what was counted."""
            expect(m.sock, "PATCH", "/vm", {"state": "Paused"}, 204)
            snap = self.snapshot(m, name)
            seen = self.counts(m)
            stop(m)
            ran(m, engine)
            return snap, seen

        n = 60
        loop = f"i=0; while [ $i -lt {n} ]; do i=$((i+1)); echo count $i; sleep 0.05; done"
        cfg = self.config(loop)
        cfg["machine-config"]["engine"] = "jit"
        m = self.boot("jit1", cfg)
        m.wait_for(r"^count 15$")
        s1, first = snapshot_and_stop(m, "s1", "jit")
        # JIT -> interpreter, with the CLI.
        r = self.restore("interp2", *s1, extra=["--engine", "interp"])
        if config_engine(r) != "interp":
            raise Fail(f"GET /vm/config after restore --engine interp: engine {config_engine(r)}")
        r.wait_for(rf"^count {first[-1] + 15}$")
        s2, second = snapshot_and_stop(r, "s2", "interp")
        # Interpreter -> JIT, with PUT /snapshot/load.
        sock = self.path("jit3.sock")
        j = Minnow([self.minnow, "--api-sock", sock], self.path("jit3.log"), sock=sock)
        self.procs.append(j)
        expect(sock, "PUT", "/snapshot/load", {"snapshot_path": s2[0], "mem_file_path": s2[1], "engine": "fast"},
               400, "engine 'fast'")
        expect(sock, "PUT", "/snapshot/load", {"snapshot_path": s2[0], "mem_file_path": s2[1], "engine": "jit",
                                               "resume_vm": True}, 204)
        if config_engine(j) != "jit":
            raise Fail(f"GET /vm/config after a load with engine jit: engine {config_engine(j)}")
        st = j.wait_exit()
        if st != 0 or "minnow-guest: exit 0" not in j.text():
            raise Fail(f"the VM restored under the JIT exited {st} or its guest did not finish")
        ran(j, "jit")
        third, whole = self.counts(j), self.counts(m, r, j)
        if whole != list(range(1, n + 1)):
            raise Fail(f"the count across jit -> interp -> jit is not 1..{n} once each: ...{first[-2:]} | "
                       f"{second[:2]}...{second[-2:]} | {third[:2]}...")
        print(f"counted 1..{first[-1]} under the JIT, {second[0]}..{second[-1]} restored into the interpreter, "
              f"{third[0]}..{n} restored into the JIT")
        # A live migration from the JIT to the interpreter, of a guest that
        # verifies for as long as it runs (it cannot finish first).
        t, addr = self.target("target", extra=["--engine", "interp"])
        cfg = self.config("memcheck 32 1000000", mem_mib=256, initrd=self.memcheck_initrd())
        cfg["machine-config"]["engine"] = "jit"
        src = self.boot("source", cfg)
        src.wait_for(r"^memcheck: verified 2$")
        res = run([self.minnow, "migrate", "--api-sock", src.sock, "--to", addr])
        if res.returncode:
            raise Fail(f"minnow migrate failed: {res.stdout}")
        if src.wait_exit(120) != 0 or b"migrated" not in src.err:
            raise Fail(f"the source exited {src.p.returncode} without migrating: {src.err.decode()[-500:]}")
        ran(src, "jit")
        a = self.verified(src)
        t.wait_for(rf"^memcheck: verified {a[-1] + 3}$")
        stop(t)
        ran(t, "interp")
        both = self.verified(src, t)
        if "MISMATCH" in src.text() + t.text() or both != list(range(1, len(both) + 1)):
            raise Fail(f"the verifications across the migration: source ...{a[-3:]}, source and target together "
                       f"{both} (not consecutive, or a mismatch)")
        print(f"migrated from the JIT (verified 1..{a[-1]}) to the interpreter (verified on to {both[-1]})")

    def migrate_kill(self):
        checks = 30
        initrd = self.memcheck_initrd()
        t, addr = self.target("target")
        src = self.boot("source", self.config(f"memcheck 32 {checks}", mem_mib=256, initrd=initrd))
        src.wait_for(r"^memcheck: verified 2$")
        expect(src.sock, "PUT", "/migrate", {"destination": addr}, 204)
        for _ in range(400):
            p = json.loads(expect(src.sock, "GET", "/migrate", None, 200))
            if p["state"] != "Active" or p["round"] >= 2:
                break
            time.sleep(0.02)
        if p["state"] != "Active":
            raise Fail(f"the migration was no longer running when the target was to be killed: {p}")
        t.kill()
        print(f"target killed during round {p['round']} ({p['pages_sent']} pages sent)")
        for _ in range(600):
            p = json.loads(expect(src.sock, "GET", "/migrate", None, 200))
            if p["state"] != "Active":
                break
            time.sleep(0.05)
        if p["state"] != "Failed" or not p.get("error"):
            raise Fail(f"GET /migrate after the target died: {p}")
        print(f"GET /migrate: Failed, {p['error']}")
        if b"keeps running here" not in src.err:
            raise Fail(f"the source did not say the VM keeps running: {src.err.decode()}")
        n = self.verified(src)[-1]
        src.wait_for(rf"^memcheck: verified {n + 2}$", timeout=120)
        st = src.wait_exit(300)
        if st != 0 or "MISMATCH" in src.text():
            raise Fail(f"the source's guest did not finish cleanly (exit {st})")
        if self.verified(src) != list(range(1, checks + 1)):
            raise Fail("the source's verifications are not 1..{checks}")
        print(f"the source ran on: verifications {n + 1}..{checks} after the failure, guest exit 0")


def main():
    global MODE
    if len(sys.argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    minnow, MODE = os.path.abspath(sys.argv[1]), sys.argv[2]
    work = tempfile.mkdtemp(prefix="minnow-snapshot-")
    t = Test(minnow, work, os.path.abspath(sys.argv[3]) if len(sys.argv) == 4 else None)
    try:
        getattr(t, MODE.replace("-", "_"))()
    except Fail as e:
        print(f"FAIL ({MODE}): {e}", file=sys.stderr)
        for name in sorted(os.listdir(work)):
            if name.endswith(".log"):
                print(f"--- {name} (tail) ---", file=sys.stderr)
                with open(os.path.join(work, name), errors="replace") as f:
                    print(f.read()[-1500:], file=sys.stderr)
        return 1
    finally:
        t.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    print(f"PASS ({MODE})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
