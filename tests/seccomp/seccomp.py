#!/usr/bin/env python3
"""The monitor's seccomp filters (src/vmm/sandbox.c) under the default guest.
Usage: seccomp.py MINNOW MODE
  threads    direct boot with a drive, user networking, vsock, rng and a
             balloon: while the guest waits, every thread of minnow (and of
             its network helper) shows Seccomp 2 and NoNewPrivs 1
  api        the same for a VM booted with --api-sock and --config-file,
             with --metrics-path: the metrics line has seccomp.num_faults 0
  off        --no-seccomp: every thread shows Seccomp 0
  blocked    a filter file without epoll_wait for the io thread: minnow
             exits with 148 and one line naming the thread and the syscall;
             one without renameat for the vmm class: a snapshot create
             ends the VM naming libmicrohttpd's thread (it runs the
             handlers, started by the main thread) and its class
  roundtrip  'minnow seccomp print' parsed by --seccomp-filter prints the
             same text again, and a guest boots with that file
  bad        bad filter files (JSON, thread, syscall, op, action) are
             refused with 122 and a message naming the file and entry
  counts     the counts 'minnow seccomp count' gives are the README's
  restored   a VM with every device (drive, user networking, vsock, rng,
             balloon with statistics, second console) snapshotted and
             restored in a new process: every thread of the restored one
  migration  that VM live-migrated through a proxy in this test, which
             holds the stream after its first MiB: every thread of both
             sides while the migration is under way (the source's
             migration thread among them), then of the target running it
  gdb        --gdb with gdb-multiarch attached (the harts stopped by it):
             every thread, the stub's among them
Exit status 0 on success."""
import json, os, re, socket, subprocess, sys, tempfile, threading

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
from minnow_proc import Fail, Minnow, free_port, run  # noqa: E402
sys.path.insert(0, os.path.join(TOP, "tests", "snapshot"))
import snapshot  # noqa: E402  (its API client and its Minnow that waits for the API socket)
BOOT_TIMEOUT = 300


def status_fields(pid):
    """{tid: (name, Seccomp, NoNewPrivs)} of every thread of pid."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            text = open(f"/proc/{pid}/task/{tid}/status").read()
        except FileNotFoundError:
            continue
        f = dict(re.findall(r"^(\w+):\s*(.*)$", text, re.M))
        out[tid] = (f.get("Name"), f.get("Seccomp"), f.get("NoNewPrivs"))
    return out


def children(pid):
    kids = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            kids += [int(k) for k in open(f"/proc/{pid}/task/{tid}/children").read().split()]
        except FileNotFoundError:
            pass
    return kids


# What every running VM has; each name says its thread's class (sandbox.c).
VM_THREADS = ["main", "spawner", "signals", "io", "vcpu"]
# and a VM served by the API (its devices' threads and the API's)
API_THREADS = VM_THREADS + ["api-accept", "MHD-single", "balloon"]


def confined(pid, want_seccomp="2", want_nnp="1", with_helper=True, need=VM_THREADS, what="minnow"):
    """Every thread of pid (and of its network helper) has Seccomp
    want_seccomp and NoNewPrivs want_nnp, and threads of the names in need
    are there; returns the names."""
    pids = [pid] + (children(pid) if with_helper else [])
    if with_helper and len(pids) != 2:
        raise Fail(f"{what}'s children are {pids[1:]}, expected its network helper")
    names = []
    for p in pids:
        for tid, (name, sc, nnp) in sorted(status_fields(p).items()):
            names.append(name)
            if sc != want_seccomp or nnp != want_nnp:
                raise Fail(f"{what}: thread {tid} ('{name}') of {p}: Seccomp {sc}, NoNewPrivs {nnp}; "
                           f"expected {want_seccomp} and {want_nnp}")
    for n in need:
        if n not in names:
            raise Fail(f"{what}: no thread named '{n}' among {names}")
    return names


class HoldingProxy:
    """A TCP proxy from a free loopback port to target: forwards the first
    hold_after bytes from the source, then holds the rest until release()
    (both sides wait for each other in the middle of the stream)."""

    def __init__(self, target_port, hold_after):
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(1)
        self.port = self.srv.getsockname()[1]
        self.target_port, self.hold_after = target_port, hold_after
        self.held, self.go = threading.Event(), threading.Event()
        self.error = None
        threading.Thread(target=self._run, daemon=True).start()

    def _pump(self, a, b, hold):
        sent = 0
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                if hold and sent + len(data) > self.hold_after and not self.go.is_set():
                    k = max(self.hold_after - sent, 0)
                    b.sendall(data[:k])
                    sent += k
                    data = data[k:]
                    self.held.set()
                    self.go.wait()
                b.sendall(data)
                sent += len(data)
        except OSError as e:
            self.error = self.error or f"proxy: {e}"
        finally:
            self.held.set()
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_WR if s is b else socket.SHUT_RD)
                except OSError:
                    pass

    def _run(self):
        src, _ = self.srv.accept()
        dst = socket.create_connection(("127.0.0.1", self.target_port))
        threading.Thread(target=self._pump, args=(dst, src, False), daemon=True).start()
        self._pump(src, dst, True)

    def release(self):
        self.go.set()


class Test:
    def __init__(self, minnow, work):
        self.minnow, self.work = minnow, work
        guest = run([os.path.join(TOP, "guest", "build"), "-q"], check=True).stdout.strip().split("\n")[-1]
        self.kernel = os.path.join(guest, "Image")
        self.initrd = os.path.join(guest, "initramfs.cpio.gz")

    def path(self, name):
        return os.path.join(self.work, name)

    def boot(self, extra, cmd, api=None):
        args = [self.minnow, "run", "--kernel", self.kernel, "--initrd", self.initrd] + extra + \
               ["--append", f'console=ttyS0 minnow.cmd="{cmd}"']
        return Minnow(args, self.path("console.log"), stdin=subprocess.PIPE, err_path=self.path("stderr.log"),
                      timeout=BOOT_TIMEOUT)

    def devices(self):
        disk = self.path("disk.img")
        with open(disk, "wb") as f:
            f.truncate(16 << 20)
        return ["--drive", f"path={disk}", "--net", "user", "--vsock", f"cid=3,uds={self.path('v.sock')}",
                "--rng", "--balloon=stats", "--console2", self.path("console2.sock")]

    WAIT = "head -c 512 /dev/vda | wc -c; head -c 8 /dev/hwrng | wc -c; echo READY; read x; echo GOT-$x"

    def check_threads(self, vm, want_seccomp, want_nnp, with_helper, need=VM_THREADS):
        vm.wait_for(r"^READY$")
        names = confined(vm.p.pid, want_seccomp, want_nnp, with_helper, need + ["console"])
        vm.p.stdin.write(b"go\n")
        vm.p.stdin.flush()
        vm.wait_for(r"^GOT-go$")
        vm.expect_exit(0)
        return names

    def test_threads(self):
        self.check_threads(self.boot(self.devices(), self.WAIT), "2", "1", True)

    def test_off(self):
        # no filters, so no spawner thread either
        self.check_threads(self.boot(["--no-seccomp"] + self.devices(), self.WAIT), "0", "0", False,
                           [t for t in VM_THREADS if t != "spawner"])

    def test_api(self):
        cfg = {"boot-source": {"kernel_image_path": self.kernel, "initrd_path": self.initrd,
                               "boot_args": f'console=ttyS0 minnow.cmd="{self.WAIT}"'},
               "machine-config": {"vcpu_count": 2, "mem_size_mib": 256},
               "network-interfaces": [{"iface_id": "eth0", "minnow_user": True}],
               "entropy": {}}
        with open(self.path("vm.json"), "w") as f:
            json.dump(cfg, f)
        metrics = self.path("metrics.json")
        vm = Minnow([self.minnow, "--api-sock", self.path("api.sock"), "--config-file", self.path("vm.json"),
                     "--metrics-path", metrics], self.path("console.log"), stdin=subprocess.PIPE,
                    err_path=self.path("stderr.log"), timeout=BOOT_TIMEOUT)
        names = self.check_threads(vm, "2", "1", True)
        if "api-accept" not in names:
            raise Fail(f"no API thread among {names}")
        lines = [json.loads(l) for l in open(metrics) if l.strip()]
        if not lines or any(l.get("seccomp", {}).get("num_faults") != 0 for l in lines):
            raise Fail(f"metrics lines without seccomp.num_faults 0: {lines[:1]}")

    def config(self, cmd, migrating=False):
        """--config-file JSON of a VM with every device minnow has; for two
        processes of one host at once (a migration), a read-only drive and
        no vsock or second console (their socket paths are the source's)."""
        disk = self.path("disk.img")
        with open(disk, "wb") as f:
            f.truncate(16 << 20)
        cfg = {"boot-source": {"kernel_image_path": self.kernel, "initrd_path": self.initrd,
                                "boot_args": f'console=ttyS0 minnow.cmd="{cmd}"'},
                "machine-config": {"vcpu_count": 2, "mem_size_mib": 128},
                "drives": [{"drive_id": "d", "path_on_host": disk, "is_root_device": False, "is_read_only": migrating}],
                "network-interfaces": [{"iface_id": "eth0", "minnow_user": True}],
                "vsock": {"guest_cid": 3, "uds_path": self.path("v.sock")},
                "entropy": {},
                "balloon": {"amount_mib": 0, "deflate_on_oom": False, "stats_polling_interval_s": 1},
                "minnow-console2": {"uds_path": self.path("console2.sock")}}
        if migrating:
            del cfg["vsock"], cfg["minnow-console2"]
        return cfg

    def api_boot(self, name, cmd, stdin=subprocess.DEVNULL, migrating=False):
        cfg = self.path(name + ".json")
        with open(cfg, "w") as f:
            json.dump(self.config(cmd, migrating), f)
        sock = self.path(name + ".sock")
        return snapshot.Minnow([self.minnow, "--api-sock", sock, "--config-file", cfg], self.path(name + ".log"),
                               stdin=stdin, sock=sock)

    # Waits for a line on the console after READY, then powers off.
    READ = "head -c 512 /dev/vda | wc -c; head -c 8 /dev/hwrng | wc -c; echo READY; read x; echo GOT-$x"

    @staticmethod
    def answer(vm):
        vm.p.stdin.write(b"go\n")
        vm.p.stdin.flush()
        vm.wait_for(r"^GOT-go$")
        vm.expect_exit(0)

    def test_restored(self):
        src = self.api_boot("source", self.READ)
        try:
            src.wait_for(r"^READY$")
            confined(src.p.pid, need=API_THREADS, what="the source")
            snapshot.expect(src.sock, "PATCH", "/vm", {"state": "Paused"}, 204)
            st, mem = self.path("vm.state"), self.path("vm.mem")
            snapshot.expect(src.sock, "PUT", "/snapshot/create", {"snapshot_path": st, "mem_file_path": mem}, 204)
        finally:
            src.kill()
        for s in ("v.sock", "console2.sock"):  # the killed source left them behind
            os.unlink(self.path(s))
        sock = self.path("restored.sock")
        vm = snapshot.Minnow([self.minnow, "restore", "--snapshot", st, "--mem", mem, "--api-sock", sock],
                             self.path("restored.log"), stdin=subprocess.PIPE, sock=sock)
        try:
            names = confined(vm.p.pid, need=API_THREADS, what="the restored VM")
            print("restored VM's threads:", " ".join(sorted(set(names))))
            self.answer(vm)
        finally:
            vm.kill()

    def test_migration(self):
        tport = free_port()
        tsock = self.path("target.sock")
        t = snapshot.Minnow([self.minnow, "--incoming", f"tcp:127.0.0.1:{tport}", "--allow-path", self.work,
                             "--incoming-timeout", "600", "--api-sock", tsock], self.path("target.log"),
                            stdin=subprocess.PIPE)
        src = self.api_boot("source", self.READ, migrating=True)
        try:
            for _ in range(600):
                if b"waiting on" in t.err or t.p.poll() is not None:
                    break
                threading.Event().wait(0.05)
            if b"waiting on" not in t.err:
                raise Fail(f"the target is not waiting for a migration: {t.err.decode(errors='replace')}")
            confined(t.p.pid, with_helper=False, need=["main", "spawner"], what="the waiting target")
            src.wait_for(r"^READY$")
            proxy = HoldingProxy(tport, 1 << 20)
            snapshot.expect(src.sock, "PUT", "/migrate", {"destination": f"tcp:127.0.0.1:{proxy.port}"}, 204)
            proxy.held.wait(300)
            if proxy.error or not proxy.held.is_set():
                raise Fail(f"the stream was not held: {proxy.error}; target: {t.err.decode(errors='replace')}; "
                           f"source: {src.err.decode(errors='replace')}")
            state = json.loads(snapshot.expect(src.sock, "GET", "/migrate", None, 200))
            if state.get("state") != "Active":
                raise Fail(f"GET /migrate while the stream is held: {state}")
            names = confined(src.p.pid, need=VM_THREADS + ["migration"], what="the migrating source")
            if t.p.poll() is not None:
                raise Fail(f"the target exited ({t.p.returncode}) during the migration: {t.err.decode(errors='replace')}")
            tnames = confined(t.p.pid, with_helper=False, need=["main", "spawner"], what="the receiving target")
            print("migrating source:", " ".join(sorted(set(names))), "| receiving target:",
                  " ".join(sorted(set(tnames))))
            proxy.release()
            st = src.wait_exit(300)
            if st != 0 or b"migrated" not in src.err:
                raise Fail(f"the source exited {st}: {src.err.decode(errors='replace')}")
            confined(t.p.pid, need=VM_THREADS, what="the target running the VM")
            self.answer(t)
        finally:
            src.kill()
            t.kill()

    def test_gdb(self):
        gsock = self.path("gdb.sock")
        vm = self.boot(["--gdb", f"unix:{gsock}"] + self.devices(), self.WAIT)
        vm.wait_for(r"^READY$")
        attached, release = self.path("attached"), self.path("release")
        gdb = subprocess.Popen(["gdb-multiarch", "-nx", "-batch", "-ex", "set confirm off",
                                "-ex", "set architecture riscv:rv64", "-ex", f"target remote {gsock}",
                                "-ex", "info threads",
                                "-ex", f"shell touch {attached}; while [ ! -e {release} ]; do sleep 0.05; done",
                                "-ex", "detach"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            while not os.path.exists(attached):
                if gdb.poll() is not None:
                    raise Fail(f"gdb-multiarch ended ({gdb.returncode}) before it attached: {gdb.stdout.read()}")
                threading.Event().wait(0.05)
            names = confined(vm.p.pid, need=VM_THREADS + ["gdb"], what="minnow with gdb attached")
            print("threads with gdb attached:", " ".join(sorted(set(names))))
        finally:
            open(release, "w").close()
        out = gdb.communicate(timeout=BOOT_TIMEOUT)[0]
        if gdb.returncode or not re.search(r"Thread 1 ", out):
            raise Fail(f"gdb-multiarch: status {gdb.returncode}, output {out!r}")
        vm.p.stdin.write(b"go\n")
        vm.p.stdin.flush()
        vm.wait_for(r"^GOT-go$")
        vm.expect_exit(0)

    def printed(self, *extra):
        r = subprocess.run([self.minnow, "seccomp", "print", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
        if r.returncode:
            raise Fail(f"minnow seccomp print {' '.join(extra)}: status {r.returncode}: {r.stderr}")
        return r.stdout

    def test_roundtrip(self):
        text = self.printed()
        f = self.path("filters.json")
        open(f, "w").write(text)
        again = self.printed("--seccomp-filter", f)
        if again != text:
            raise Fail("print -> parse -> print differs")
        for c in ["vmm", "api", "vcpu", "io", "aux"]:
            if not json.loads(text)[c]["filter"]:
                raise Fail(f"the printed {c} filter is empty")
        vm = self.boot(["--seccomp-filter", f] + self.devices(), self.WAIT)
        self.check_threads(vm, "2", "1", True)

    def test_blocked(self):
        p = json.loads(self.printed())
        p["io"]["filter"] = [r for r in p["io"]["filter"] if r["syscall"] != "epoll_wait"]
        f = self.path("filters.json")
        json.dump(p, open(f, "w"))
        vm = self.boot(["--seccomp-filter", f], "echo should-not-run")
        vm.expect_exit(148)
        err = vm.err.decode(errors="replace")
        if not re.search(r"thread 'io' \(class io\) made the blocked syscall epoll_wait \(\d+\)", err):
            raise Fail(f"stderr does not name the thread and epoll_wait: {err!r}")
        if "should-not-run" in vm.text():
            raise Fail("the guest ran its command")
        p = json.loads(self.printed())
        p["vmm"]["filter"] = [r for r in p["vmm"]["filter"] if r["syscall"] != "renameat"]
        json.dump(p, open(f, "w"))
        cfg = self.path("vm.json")
        json.dump(self.config(self.READ), open(cfg, "w"))
        sock = self.path("api.sock")
        vm = snapshot.Minnow([self.minnow, "--api-sock", sock, "--config-file", cfg, "--seccomp-filter", f],
                             self.path("api.log"), sock=sock)
        vm.wait_for(r"^READY$")
        snapshot.expect(sock, "PATCH", "/vm", {"state": "Paused"}, 204)
        snapshot.api(sock, "PUT", "/snapshot/create", {"snapshot_path": self.path("s"), "mem_file_path":
                                                      self.path("m")}, check=False)
        vm.expect_exit(148)
        err = vm.err.decode(errors="replace")
        if not re.search(r"thread 'MHD-single' \(class vmm, a library's thread\) made the blocked syscall "
                         r"renameat \(\d+\)", err):
            raise Fail(f"stderr does not name libmicrohttpd's thread, its class and renameat: {err!r}")

    def test_bad(self):
        good = json.loads(self.printed())
        def variant(fn):
            p = json.loads(json.dumps(good))
            fn(p)
            return json.dumps(p)
        cases = [
            ("{ not json", r"line 1"),
            (variant(lambda p: p.update(gpu={"default_action": "trap", "filter_action": "allow", "filter": []})),
             r'unknown thread "gpu"'),
            (variant(lambda p: p["vcpu"]["filter"].insert(2, {"syscall": "no_such_call"})),
             r'thread "vcpu": filter entry 3: unknown syscall "no_such_call"'),
            (variant(lambda p: p["io"]["filter"].insert(0, {"syscall": "ioctl", "args": [
                {"index": 1, "type": "dword", "op": "about", "val": 1}]})),
             r'thread "io": filter entry 1 \(ioctl\), condition 1: "op" must be'),
            (variant(lambda p: p["api"].update(default_action="explode")), r'thread "api": default_action: expected'),
            (variant(lambda p: p.pop("aux")), r'no filter for thread "aux"'),
            (variant(lambda p: p["vmm"]["filter"].insert(0, {"syscall": "read", "args": [
                {"index": 7, "type": "dword", "op": "eq", "val": 1}]})), r'"index" must be an argument number'),
        ]
        for i, (text, want) in enumerate(cases):
            f = self.path(f"bad{i}.json")
            open(f, "w").write(text)
            r = run([self.minnow, "run", "--seccomp-filter", f, "--kernel", self.kernel])
            if r.returncode != 122 or f"seccomp filter '{f}'" not in r.stdout or not re.search(want, r.stdout):
                raise Fail(f"bad filter {i}: status {r.returncode}, output {r.stdout!r}; expected 122 and /{want}/")

    def test_counts(self):
        r = run([self.minnow, "seccomp", "count"])
        counts = dict(l.split() for l in r.stdout.strip().split("\n"))
        readme = open(os.path.join(TOP, "README.md")).read()
        m = re.search(r"^\| filter counts \|(.*)\|$", readme, re.M)
        if not m:
            raise Fail("README has no '| filter counts |' row")
        stated = dict(x.strip().split() for x in m.group(1).split("|") if x.strip())
        if stated != counts:
            raise Fail(f"README states {stated}, minnow seccomp count gives {counts}")


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    minnow, mode = os.path.abspath(sys.argv[1]), sys.argv[2]
    with tempfile.TemporaryDirectory(prefix="minnow-seccomp-") as work:
        t = Test(minnow, work)
        try:
            getattr(t, "test_" + mode)()
        except Fail as e:
            print(f"seccomp {mode}: FAIL: {e}", file=sys.stderr)
            for n in ["console.log", "stderr.log"]:
                p = os.path.join(work, n)
                if os.path.exists(p):
                    sys.stderr.write(f"--- {n} (end)\n" + open(p, errors="replace").read()[-3000:])
            return 1
    print(f"seccomp {mode}: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
