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
             exits with 148 and one line naming the thread and the syscall
  roundtrip  'minnow seccomp print' parsed by --seccomp-filter prints the
             same text again, and a guest boots with that file
  bad        bad filter files (JSON, thread, syscall, op, action) are
             refused with 122 and a message naming the file and entry
  counts     the counts 'minnow seccomp count' gives are the README's
Exit status 0 on success."""
import json, os, re, subprocess, sys, tempfile

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
from minnow_proc import Fail, Minnow, run  # noqa: E402
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
                "--rng", "--balloon=stats"]

    WAIT = "head -c 512 /dev/vda | wc -c; head -c 8 /dev/hwrng | wc -c; echo READY; read x; echo GOT-$x"

    def check_threads(self, vm, want_seccomp, want_nnp, with_helper):
        vm.wait_for(r"^READY$")
        pids = [vm.p.pid] + (children(vm.p.pid) if with_helper else [])
        if with_helper and len(pids) != 2:
            raise Fail(f"minnow's children are {pids[1:]}, expected its network helper")
        names = []
        for pid in pids:
            for tid, (name, sc, nnp) in sorted(status_fields(pid).items()):
                names.append(name)
                if sc != want_seccomp or nnp != want_nnp:
                    raise Fail(f"thread {tid} ('{name}') of {pid}: Seccomp {sc}, NoNewPrivs {nnp}; "
                               f"expected {want_seccomp} and {want_nnp}")
        for need in ["main", "io", "vcpu", "console", "signals"]:
            if need not in names:
                raise Fail(f"no thread named '{need}' among {names}")
        vm.p.stdin.write(b"go\n")
        vm.p.stdin.flush()
        vm.wait_for(r"^GOT-go$")
        vm.expect_exit(0)
        return names

    def test_threads(self):
        self.check_threads(self.boot(self.devices(), self.WAIT), "2", "1", True)

    def test_off(self):
        self.check_threads(self.boot(["--no-seccomp"] + self.devices(), self.WAIT), "0", "0", False)

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
