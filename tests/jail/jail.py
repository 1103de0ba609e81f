#!/usr/bin/env python3
"""The jailer, `minnow jail` (src/vmm/jailer.h), checked from the host: what
the jailed processes are, what the jail holds, and what is left after a
failure or a cleanup. The cgroup limit is pids.max, in the cgroup v2
hierarchy if it has the pids controller, else in the v1 pids hierarchy.
Usage: jail.py MINNOW MODE
  boot       the default guest, jailed as uid 65534 in new pid and mount
             namespaces with a drive and user networking: minnow's
             /proc/PID/root is the jail, its uid, gid, groups, no_new_privs,
             empty environment, rlimits and cgroup (pids.max read back) are
             the ones asked for, and so are its network helper's; the guest
             reads the drive, gets DHCP and a page from a host server, reads
             a line from the console and writes the drive; cleanup removes
             the jail and the cgroup
  outside    a drive path outside the jail is refused, naming the path
  daemonize  --daemonize --netns: the jailer returns, minnow runs on in a
             session of its own with stdio on /dev/null, in the namespace,
             without a descriptor the jailer had,
             found by its pid file and its cgroup.procs; the guest booted
             through the jailed API socket writes its serial file in the
             jail; cleanup is refused while it runs, works once it stopped
  tap        TAP networking from the jail (/dev/net/tun): a tap device for
             the jail's uid in a namespace the jail joins; the guest pings
             the namespace's end
  signals    the foreground jailer passes SIGTERM on (minnow's status 124 is
             its own); killed with SIGKILL, minnow ends with it
  version    a jail that runs `minnow version`: the copied binary (not a
             link), libraries, device nodes and their owners, pid file,
             /proc only for a sanitizer build; a 64-character id; rlimits;
             --allow-root; cleanup removes everything, a second one fails
  bad-*      one bad input each (see BAD): the message names it, and no jail
             directory, no cgroup and no base directory made for it is left
Needs root (exit 77, skip, otherwise)."""
import json, os, random, re, select, shutil, signal, stat, subprocess, sys, tempfile, time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
from minnow_proc import Fail, Minnow, free_port, run  # noqa: E402

BOOT_TIMEOUT = 240   # seconds; an ASan build boots a few times slower
UID = GID = 65534    # nobody/nogroup: no file of the host belongs to it


def status_fields(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def cgroup_choice():
    """(version, mount point) of a hierarchy with the pids controller."""
    with open("/proc/self/mounts") as f:
        mounts = [line.split() for line in f]
    for m in mounts:
        if m[2] == "cgroup2":
            with open(os.path.join(m[1], "cgroup.controllers")) as f:
                if "pids" in f.read().split():
                    return 2, m[1]
            break
    for m in mounts:
        if m[2] == "cgroup" and "pids" in m[3].split(","):
            return 1, m[1]
    raise Fail("the pids cgroup controller is in neither the cgroup v2 hierarchy nor a v1 one (/proc/self/mounts): "
               "no cgroup limit can be tested")


def cgroup_mounts():
    with open("/proc/self/mounts") as f:
        return [line.split()[1] for line in f if line.split()[2] in ("cgroup", "cgroup2")]


def work_dir():
    """A directory on a file system where device nodes and executables work."""
    for d in (tempfile.gettempdir(), "/var/tmp"):
        st = os.statvfs(d)
        if not st.f_flag & (os.ST_NODEV | os.ST_NOEXEC | os.ST_RDONLY):
            return tempfile.mkdtemp(prefix="minnow-jail-", dir=d)
    raise Fail("no temporary directory on a file system without nodev/noexec for the jails")


def api(sock, method, path, body=None):
    cmd = ["curl", "-s", "--max-time", "60", "--unix-socket", sock, "-X", method, "-w", "\n%{http_code}"]
    if body is not None:
        cmd += ["-H", "Content-Type: application/json", "--data-binary", json.dumps(body)]
    r = subprocess.run(cmd + ["http://localhost" + path], stdout=subprocess.PIPE, text=True)
    text, _, code = r.stdout.rpartition("\n")
    return (int(code) if code.isdigit() else 0), text


def wait_until(what, cond, timeout):
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise Fail(f"{what} within {timeout} s")
        time.sleep(0.05)


def wait_gone(pid, timeout):
    """Waits for a process that is not our child to end (its pidfd)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        if not select.select([fd], [], [], timeout)[0]:
            raise Fail(f"pid {pid} did not end within {timeout} s")
    finally:
        os.close(fd)


class Test:
    def __init__(self, minnow):
        self.minnow = minnow
        self.name = os.path.basename(minnow)
        self.work = work_dir()
        self.base = os.path.join(self.work, "base")
        self.parent = f"minnow-test-{os.getpid()}"
        self.cg_version, self.cg_mount = cgroup_choice()
        self.ids = []
        self.vm = None
        self.cleanups = []
        self.restore = []    # (cgroup file, text) to write once the test's cgroups are gone

    def path(self, name):
        return os.path.join(self.work, name)

    def new_id(self, what):
        i = f"{what}-{random.getrandbits(32):08x}"
        self.ids.append(i)
        return i

    def root(self, jid, base=None):
        return os.path.join(base or self.base, self.name, jid, "root")

    def cgroup_dir(self, jid):
        return os.path.join(self.cg_mount, self.parent, jid)

    def jail(self, jid, opts=(), args=("version",), uid=UID, gid=GID, base=None, cg_version=None):
        return ([self.minnow, "jail", "--id", jid, "--uid", str(uid), "--gid", str(gid),
                 "--chroot-base-dir", base or self.base, "--parent-cgroup", self.parent,
                 "--cgroup-version", str(cg_version or self.cg_version)] + list(opts) + ["--"] + list(args))

    def cleanup_cmd(self, jid, base=None):
        return [self.minnow, "jail", "--cleanup", "--id", jid, "--chroot-base-dir", base or self.base,
                "--parent-cgroup", self.parent]

    def guest(self):
        """The default guest's kernel and initramfs, copied next to the jails
        (a --file is a hard link: it must be on the jail's file system)."""
        d = run([os.path.join(TOP, "guest", "build"), "-q"], check=True).stdout.strip().split("\n")[-1]
        kernel, initrd = self.path("Image"), self.path("initramfs.cpio.gz")
        if not os.path.exists(kernel):
            shutil.copyfile(os.path.join(d, "Image"), kernel)
            shutil.copyfile(os.path.join(d, "initramfs.cpio.gz"), initrd)
        return kernel, initrd

    def http_server(self, directory, port):
        p = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                              "--directory", directory], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.cleanups.append(lambda: (p.kill(), p.wait()))
        import socket

        def up():
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                return True
            except OSError:
                return False
        wait_until("the host HTTP server did not start", up, 30)

    # ---- what is left ----

    def assert_gone(self, jid, base=None):
        d = os.path.dirname(self.root(jid, base))
        if os.path.lexists(d):
            raise Fail(f"the jail directory {d} is left: {os.listdir(d)}")
        for m in cgroup_mounts():
            c = os.path.join(m, self.parent, jid)
            if os.path.exists(c):
                raise Fail(f"the cgroup {c} is left")

    def clean(self, jid, base=None):
        r = run(self.cleanup_cmd(jid, base))
        if r.returncode:
            raise Fail(f"minnow jail --cleanup --id {jid} exited {r.returncode}: {r.stdout}")
        self.assert_gone(jid, base)

    def finish(self):
        if self.vm:
            self.vm.kill()
        for c in reversed(self.cleanups):
            try:
                c()
            except Exception:
                pass
        for jid in self.ids:
            # whatever a failed test left running: by its pid file (if it
            # runs in the jail) and in the jail's cgroups
            try:
                with open(os.path.join(self.root(jid), self.name + ".pid")) as f:
                    pid = int(f.read())
                a, b = os.stat(f"/proc/{pid}/root"), os.stat(self.root(jid))
                if (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino):
                    os.kill(pid, signal.SIGKILL)
                    wait_gone(pid, 30)
            except (OSError, ValueError, Fail):
                pass
            for m in cgroup_mounts():
                procs = os.path.join(m, self.parent, jid, "cgroup.procs")
                if os.path.exists(procs):
                    for pid in open(procs).read().split():
                        try:
                            os.kill(int(pid), signal.SIGKILL)
                            wait_gone(int(pid), 30)
                        except (OSError, Fail):
                            pass
            run(self.cleanup_cmd(jid))
        for m in cgroup_mounts():
            try:
                os.rmdir(os.path.join(m, self.parent))
            except OSError:
                pass
        for path, text in self.restore:
            try:
                with open(path, "w") as f:
                    f.write(text)
            except OSError as e:
                print(f"cannot put {path} back ({text}): {e}", file=sys.stderr)
        shutil.rmtree(self.work, ignore_errors=True)

    # ---- what a jailed process is ----

    def check_jailed(self, jid, pid, what, new_pid_ns, limits=True):
        root = self.root(jid)
        st = status_fields(pid)
        want_ids = f"{UID}\t{UID}\t{UID}\t{UID}"
        if st["Uid"] != want_ids or st["Gid"] != f"{GID}\t{GID}\t{GID}\t{GID}":
            raise Fail(f"{what} runs as Uid {st['Uid']!r} Gid {st['Gid']!r}, expected {UID} and {GID}")
        if st.get("Groups", "").strip():
            raise Fail(f"{what} has the supplementary groups {st['Groups']!r}")
        if st.get("NoNewPrivs") != "1":
            raise Fail(f"{what} has NoNewPrivs {st.get('NoNewPrivs')!r}")
        if st.get("CapEff") != "0000000000000000" or st.get("CapPrm") != "0000000000000000":
            raise Fail(f"{what} has capabilities: CapEff {st.get('CapEff')} CapPrm {st.get('CapPrm')}")
        nspid = st["NSpid"].split()
        if new_pid_ns and (len(nspid) != 2 or nspid[0] != str(pid)):
            raise Fail(f"{what} has NSpid {nspid}: not in a pid namespace of its own")
        if not new_pid_ns and nspid != [str(pid)]:
            raise Fail(f"{what} has NSpid {nspid}, expected the host's pid namespace only")
        for ns, must in (("mnt", True), ("pid", new_pid_ns)):
            differs = os.readlink(f"/proc/{pid}/ns/{ns}") != os.readlink(f"/proc/self/ns/{ns}")
            if differs != must:
                raise Fail(f"{what}: its {ns} namespace is {'the host' if must else 'not the host'}'s")
        a, b = os.stat(f"/proc/{pid}/root"), os.stat(root)
        if (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino):
            raise Fail(f"{what}: /proc/{pid}/root is not the jail {root}")
        # what it sees as / is the jail: no host path is there
        seen = set(os.listdir(f"/proc/{pid}/root"))
        if self.name not in seen or "dev" not in seen or seen & {"etc", "home", "root", "srv", "tmp", "var", "sys"}:
            raise Fail(f"{what} sees {sorted(seen)} at /, expected the jail's contents")
        if os.path.exists(f"/proc/{pid}/root{self.work}"):
            raise Fail(f"{what} can reach the host's {self.work}")
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = f.read()
        if env:
            raise Fail(f"{what} has an environment: {env[:200]!r}")
        if limits:
            with open(f"/proc/{pid}/limits") as f:
                lim = f.read()
            for name, value in (("Max open files", "2048"), ("Max file size", str(1 << 30))):
                if not re.search(rf"^{name}\s+{value}\s+{value}\b", lim, re.M):
                    raise Fail(f"{what}: /proc/{pid}/limits has no '{name} {value} {value}':\n{lim}")
        # its cgroup, and the limit there
        with open(f"/proc/{pid}/cgroup") as f:
            cg = f.read()
        want = f"/{self.parent}/{jid}"
        line = rf"^0::{want}$" if self.cg_version == 2 else rf"^\d+:pids:{want}$"
        if not re.search(line, cg, re.M):
            raise Fail(f"{what} is not in the cgroup {want} ({'v2' if self.cg_version == 2 else 'v1 pids'}):\n{cg}")
        with open(os.path.join(self.cgroup_dir(jid), "pids.max")) as f:
            got = f.read().strip()
        if got != "128":
            raise Fail(f"pids.max of the jail's cgroup reads {got!r}, expected 128")
        with open(os.path.join(self.cgroup_dir(jid), "pids.current")) as f:
            cur = int(f.read())
        if not 1 <= cur <= 128:
            raise Fail(f"pids.current of the jail's cgroup is {cur}")

    def children(self, pid):
        kids = []
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids += [int(x) for x in f.read().split()]
        return kids

    # ---- modes ----

    def boot(self):
        kernel, initrd = self.guest()
        www = self.path("www")
        os.makedirs(www)
        port = free_port()
        self.http_server(www, port)
        page = f"host-page-{random.getrandbits(48):x}"
        with open(os.path.join(www, "token.txt"), "w") as f:
            f.write(page + "\n")
        content = self.path("content")
        os.makedirs(content)
        disk_token = f"disk-token-{random.getrandbits(48):x}"
        with open(os.path.join(content, "hello.txt"), "w") as f:
            f.write(disk_token + "\n")
        data = self.path("data.ext4")
        r = run(["mkfs.ext4", "-q", "-F", "-d", content, data, "32M"])
        if r.returncode:
            raise Fail(f"mkfs.ext4: {r.stdout}")
        os.chown(data, UID, GID)   # the jailed minnow writes it
        cmd = ("mount -t ext4 /dev/vda /mnt && cat /mnt/hello.txt && echo from-the-jail > /mnt/guest.txt && "
               "umount /mnt && echo DISK-OK; udhcpc -i eth0 -f -q -n -t 10 -T 3 >/dev/null 2>&1; "
               f"wget -q -T 20 -O - http://10.0.2.2:{port}/token.txt; echo JAIL-READY; read line; echo got-$line")
        jid = self.new_id("boot")
        args = self.jail(jid, ["--new-pid-ns", "--cgroup", "pids.max=128", "--resource-limit", f"fsize={1 << 30}",
                               "--file", kernel, "--file", initrd, "--file", data],
                         ["run", "--kernel", "/Image", "--initrd", "/initramfs.cpio.gz", "--drive", "path=/data.ext4",
                          "--net", "user", "--append", f'console=ttyS0 minnow.cmd="{cmd}"'])
        self.vm = vm = Minnow(args, self.path("console.log"), stdin=subprocess.PIPE, err_path=self.path("err.log"),
                              timeout=BOOT_TIMEOUT)
        vm.wait_for(r"^JAIL-READY$")
        with open(os.path.join(self.root(jid), self.name + ".pid")) as f:
            pid = int(f.read())
        if pid == vm.p.pid:
            raise Fail("the pid file names the jailer itself, not minnow")
        self.check_jailed(jid, pid, "minnow", new_pid_ns=True)
        helpers = [k for k in self.children(pid)
                   if open(f"/proc/{k}/cmdline", "rb").read().split(b"\0")[1:2] == [b"net-helper"]]
        if len(helpers) != 1:
            raise Fail(f"minnow's children are {self.children(pid)}, expected one network helper")
        self.check_jailed(jid, helpers[0], "the network helper", new_pid_ns=True)
        vm.p.stdin.write(b"go\n")
        vm.p.stdin.flush()
        vm.expect_exit(0)
        for line in (disk_token, "DISK-OK", page, "got-go"):
            vm.expect_line(line)
        got = subprocess.run(["debugfs", "-R", "cat /guest.txt", data], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL).stdout
        if got != b"from-the-jail\n":
            raise Fail(f"the drive holds {got!r} in /guest.txt, expected what the guest wrote")
        self.clean(jid)

    def outside(self):
        kernel, initrd = self.guest()
        host_disk = self.path("outside.img")
        with open(host_disk, "wb") as f:
            f.truncate(1 << 20)
        os.chown(host_disk, UID, GID)
        jid = self.new_id("outside")
        r = run(self.jail(jid, ["--file", kernel, "--file", initrd],
                          ["run", "--kernel", "/Image", "--initrd", "/initramfs.cpio.gz", "--drive",
                           f"path={host_disk}", "--append", "console=ttyS0"]), timeout=120)
        if r.returncode != 123 or f"drive image '{host_disk}' does not exist" not in r.stdout:
            raise Fail(f"a drive outside the jail: status {r.returncode}, output {r.stdout!r}; expected 123 and "
                       f"a message naming {host_disk}")
        self.clean(jid)

    def daemonize(self):
        kernel, initrd = self.guest()
        ns = f"minnow-jail-{os.getpid()}"
        r = run(["ip", "netns", "add", ns])
        if r.returncode:
            raise Fail(f"ip netns add {ns}: {r.stdout}")
        self.cleanups.append(lambda: run(["ip", "netns", "del", ns]))
        netns = f"/var/run/netns/{ns}"
        jid = self.new_id("daemon")
        # a descriptor the jailer keeps (the command line names it: the
        # file is linked into the jail as /N) must not reach minnow (the
        # jailer closes it at the exec, and minnow what it inherits)
        marker = self.path("marker.txt")
        with open(marker, "w") as f:
            f.write("marker\n")
        mfd = os.open(marker, os.O_RDONLY)
        jailer = subprocess.Popen(self.jail(jid, ["--daemonize", "--netns", netns, "--cgroup", "pids.max=128",
                                                  "--resource-limit", f"fsize={1 << 30}", "--file", kernel,
                                                  "--file", initrd, "--file", f"/dev/fd/{mfd}"],
                                            ["--api-sock", "/api.sock"]),
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, pass_fds=[mfd])
        os.close(mfd)
        out = jailer.communicate(timeout=120)[0]
        if jailer.returncode != 0 or out:
            raise Fail(f"the daemonizing jailer exited {jailer.returncode} with output {out!r}")
        root = self.root(jid)
        with open(os.path.join(root, self.name + ".pid")) as f:
            pid = int(f.read())
        with open(os.path.join(self.cgroup_dir(jid), "cgroup.procs")) as f:
            procs = [int(x) for x in f.read().split()]
        if pid not in procs:
            raise Fail(f"the pid file says {pid}, the jail's cgroup.procs {procs}")
        self.check_jailed(jid, pid, "minnow", new_pid_ns=False)
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ppid, session = int(fields[1]), int(fields[3])
        if session != pid or ppid == jailer.pid:
            raise Fail(f"minnow has session {session} and parent {ppid}: not detached")
        for fd in (0, 1, 2):
            if os.readlink(f"/proc/{pid}/fd/{fd}") != "/dev/null":
                raise Fail(f"minnow's fd {fd} is {os.readlink(f'/proc/{pid}/fd/{fd}')}, expected /dev/null")
        mst = os.stat(marker)
        if os.stat(os.path.join(root, str(mfd))).st_ino != mst.st_ino:
            raise Fail("--file /dev/fd/N did not link the file it names into the jail")
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                st = os.stat(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == (mst.st_dev, mst.st_ino):
                raise Fail(f"minnow has the jailer's descriptor of {marker} as its fd {fd}")
        if os.stat(f"/proc/{pid}/ns/net").st_ino != os.stat(netns).st_ino:
            raise Fail(f"minnow is not in the network namespace {netns}")
        sock = os.path.join(root, "api.sock")
        wait_until("the jailed API socket did not answer",
                   lambda: os.path.exists(sock) and api(sock, "GET", "/")[0] == 200, 60)
        cmd = "echo DAEMON-UP; while :; do sleep 1; done"
        for method, path, body in (
                ("PUT", "/serial", {"serial_out_path": "/serial.out"}),
                ("PUT", "/boot-source", {"kernel_image_path": "/Image", "initrd_path": "/initramfs.cpio.gz",
                                         "boot_args": f'console=ttyS0 minnow.cmd="{cmd}"'}),
                ("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 128}),
                ("PUT", "/actions", {"action_type": "InstanceStart"})):
            code, text = api(sock, method, path, body)
            if code != 204:
                raise Fail(f"{method} {path} through the jailed API: {code} {text}")
        serial = os.path.join(root, "serial.out")

        def up():
            return os.path.exists(serial) and "DAEMON-UP" in open(serial, errors="replace").read()
        wait_until("the guest booted through the jailed API wrote no DAEMON-UP to /serial.out", up, BOOT_TIMEOUT)
        r = run(self.cleanup_cmd(jid))
        if r.returncode != 123 or f"still runs: pid {pid}" not in r.stdout:
            raise Fail(f"cleanup of a running jail: status {r.returncode}, {r.stdout!r}; expected a refusal "
                       f"naming pid {pid}")
        if not os.path.exists(root):
            raise Fail("the refused cleanup removed the jail")
        os.kill(pid, signal.SIGTERM)
        wait_gone(pid, 60)
        self.clean(jid)

    def tap(self):
        """TAP networking from the jail: a tap device the jail's uid may
        attach to, in a network namespace the jail joins; the guest pings
        the namespace's end."""
        kernel, initrd = self.guest()
        ns = f"minnow-jail-{os.getpid()}"
        r = run(["ip", "netns", "add", ns])
        if r.returncode:
            raise Fail(f"ip netns add {ns}: {r.stdout}")
        self.cleanups.append(lambda: run(["ip", "netns", "del", ns]))
        inns = ["ip", "netns", "exec", ns]
        for c in (["ip", "link", "set", "lo", "up"],
                  ["ip", "tuntap", "add", "dev", "jtap0", "mode", "tap", "user", str(UID), "group", str(GID)],
                  ["ip", "addr", "add", "192.168.78.1/24", "dev", "jtap0"], ["ip", "link", "set", "jtap0", "up"]):
            r = run(inns + c)
            if r.returncode:
                raise Fail(f"{' '.join(c)} in the namespace failed: {r.stdout}")
        jid = self.new_id("tap")
        cmd = ("ip link set eth0 up && ip addr add 192.168.78.2/24 dev eth0 && ping -c 3 -W 20 192.168.78.1 && "
               "echo TAP-PING-OK")
        args = self.jail(jid, ["--netns", f"/var/run/netns/{ns}", "--new-pid-ns", "--file", kernel, "--file", initrd],
                         ["run", "--kernel", "/Image", "--initrd", "/initramfs.cpio.gz", "--net", "tap=jtap0",
                          "--append", f'console=ttyS0 minnow.cmd="{cmd}"'])
        self.vm = vm = Minnow(args, self.path("console.log"), err_path=self.path("err.log"), timeout=BOOT_TIMEOUT)
        vm.expect_exit(0)
        vm.expect_line("TAP-PING-OK")
        self.clean(jid)

    def signals(self):
        """The foreground jailer passes SIGTERM on and exits with minnow's
        status; killed with SIGKILL, it takes minnow with it."""
        for sig, want in ((signal.SIGTERM, 124), (signal.SIGKILL, -signal.SIGKILL)):
            jid = self.new_id("signal")
            root = self.root(jid)
            jailer = subprocess.Popen(self.jail(jid, ["--new-pid-ns"], ["--api-sock", "/api.sock"]),
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            sock = os.path.join(root, "api.sock")
            wait_until("the jailed API socket did not answer",
                       lambda: jailer.poll() is None and os.path.exists(sock) and api(sock, "GET", "/")[0] == 200,
                       60)
            with open(os.path.join(root, self.name + ".pid")) as f:
                pid = int(f.read())
            jailer.send_signal(sig)
            st = jailer.wait(60)
            if st != want:
                raise Fail(f"the jailer sent {signal.Signals(sig).name} exited {st}, expected {want} "
                           f"({jailer.stdout.read()!r})")
            wait_gone(pid, 60)
            self.clean(jid)

    def v2_controller(self, v2):
        """A controller of the cgroup v2 hierarchy at v2 with a limit file
        and a value for it, or Nones; the root's subtree_control is put
        back as it is now when the test ends."""
        with open(os.path.join(v2, "cgroup.controllers")) as f:
            avail = f.read().split()
        ctrl = next((c for c in ("pids", "memory", "hugetlb") if c in avail), None)
        if not ctrl:
            return None, None, None
        with open(os.path.join(v2, "cgroup.subtree_control")) as f:
            if ctrl not in f.read().split():
                self.restore.append((os.path.join(v2, "cgroup.subtree_control"), "-" + ctrl))
        if ctrl == "pids":
            return ctrl, "pids.max", "64"
        if ctrl == "memory":
            return ctrl, "memory.max", str(512 << 20)
        kb = int(re.search(r"(\d+)kB", sorted(os.listdir("/sys/kernel/mm/hugepages"))[0]).group(1))
        size = f"{kb >> 20}GB" if kb >= 1 << 20 else f"{kb >> 10}MB" if kb >= 1 << 10 else f"{kb}KB"
        return ctrl, f"hugetlb.{size}.max", "0"

    def version(self):
        jid = "v" * 64
        self.ids.append(jid)
        r = run(self.jail(jid, ["--new-pid-ns", "--cgroup", "pids.max=50", "--resource-limit", "no-file=512",
                                "--resource-limit", "fsize=1000000"]), timeout=120)
        if r.returncode != 0 or not re.search(r"^minnow \S+$", r.stdout, re.M):
            raise Fail(f"a jailed 'minnow version': status {r.returncode}, output {r.stdout!r}")
        root = self.root(jid)
        st = os.lstat(root)
        if (st.st_uid, st.st_gid) != (UID, GID):
            raise Fail(f"the jail's root belongs to {st.st_uid}:{st.st_gid}, expected {UID}:{GID}")
        copy, orig = os.lstat(os.path.join(root, self.name)), os.stat(self.minnow)
        if not stat.S_ISREG(copy.st_mode) or copy.st_ino == orig.st_ino or copy.st_nlink != 1 or \
                copy.st_uid != 0 or stat.S_IMODE(copy.st_mode) != 0o755 or copy.st_size != orig.st_size:
            raise Fail("the jail's minnow is not a private root-owned 0755 copy of the exec file")
        with open(os.path.join(root, self.name), "rb") as a, open(self.minnow, "rb") as b:
            if a.read() != b.read():
                raise Fail("the jail's minnow differs from the exec file")
        for path, major, minor, mode, owner in (("dev/net/tun", 10, 200, 0o600, UID), ("dev/null", 1, 3, 0o666, 0),
                                                ("dev/urandom", 1, 9, 0o444, 0)):
            s = os.lstat(os.path.join(root, path))
            if not stat.S_ISCHR(s.st_mode) or (os.major(s.st_rdev), os.minor(s.st_rdev)) != (major, minor) or \
                    stat.S_IMODE(s.st_mode) != mode or s.st_uid != owner:
                raise Fail(f"/{path} in the jail is not the device {major}:{minor} mode {mode:o} of uid {owner}")
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+)\]", run(["readelf", "-d", self.minnow]).stdout)
        interp = re.search(r"Requesting program interpreter: (\S+)\]", run(["readelf", "-l", self.minnow]).stdout)
        if not needed or not interp:
            raise Fail("readelf finds no libraries or interpreter in minnow")
        have = {f for _, _, fs in os.walk(root) for f in fs}
        missing = [n for n in needed + [os.path.basename(interp.group(1))] if n not in have]
        if missing:
            raise Fail(f"the jail lacks {missing}")
        with open(os.path.join(root, self.name + ".pid")) as f:
            if not f.read().strip().isdigit():
                raise Fail("the pid file holds no pid")
        sanitized = any(n.startswith(("libasan", "libtsan")) for n in needed)
        if os.path.isdir(os.path.join(root, "proc")) != sanitized:
            raise Fail(f"the jail {'lacks' if sanitized else 'has'} a /proc (sanitizer build: {sanitized})")
        with open(os.path.join(self.cgroup_dir(jid), "pids.max")) as f:
            if f.read().strip() != "50":
                raise Fail("pids.max of the jail's cgroup is not 50")
        self.clean(jid)
        r = run(self.cleanup_cmd(jid))
        if r.returncode != 123 or f"no jail '{jid}'" not in r.stdout:
            raise Fail(f"a second cleanup: status {r.returncode}, {r.stdout!r}")
        # cgroup v2 with a core file only (no controller needed): on a host
        # whose controllers are all bound to v1 hierarchies, v2 still works
        v2 = next((m for m in cgroup_mounts() if os.path.exists(os.path.join(m, "cgroup.controllers"))), None)
        if v2 is None:
            raise Fail("no cgroup2 hierarchy is mounted (/proc/self/mounts)")
        # and a controller's file, with the controller enabled on the way
        # down (the root's setting is put back afterwards)
        settings = [("cgroup.max.descendants", "3")]
        ctrl, file, value = self.v2_controller(v2)
        if ctrl:
            settings.append((file, value))
        jid = self.new_id("v2")
        r = run(self.jail(jid, [a for f, v in settings for a in ("--cgroup", f"{f}={v}")], cg_version=2),
                timeout=120)
        cg = os.path.join(v2, self.parent, jid)
        if r.returncode != 0 or not os.path.isdir(cg):
            raise Fail(f"--cgroup-version 2: status {r.returncode}, {r.stdout!r}; the cgroup {cg} "
                       f"{'exists' if os.path.isdir(cg) else 'is missing'}")
        for f, v in settings:
            with open(os.path.join(cg, f)) as fh:
                if fh.read().strip() != v:
                    raise Fail(f"{cg}/{f} does not read {v}")
        for d in (v2, os.path.dirname(cg)):
            with open(os.path.join(d, "cgroup.subtree_control")) as fh:
                if ctrl and ctrl not in fh.read().split():
                    raise Fail(f"the {ctrl} controller is not enabled in {d}/cgroup.subtree_control")
        print(f"cgroup v2: {', '.join(f'{f}={v}' for f, v in settings)} in {cg}")
        self.clean(jid)
        # uid 0 only when allowed
        jid = self.new_id("root")
        r = run(self.jail(jid, ["--allow-root"], uid=0, gid=0), timeout=120)
        if r.returncode != 0 or not re.search(r"^minnow \S+$", r.stdout, re.M):
            raise Fail(f"--allow-root --uid 0: status {r.returncode}, output {r.stdout!r}")
        self.clean(jid)

    # ---- bad input ----

    def refused(self, jid, cmd, status, pattern, base=None):
        r = run(cmd, timeout=120)
        if r.returncode != status or not re.search(pattern, r.stdout, re.M):
            raise Fail(f"{' '.join(cmd[1:])}\n  status {r.returncode}, output {r.stdout!r}\n"
                       f"  expected status {status} and /{pattern}/")
        self.assert_gone(jid, base)
        print(r.stdout.strip())

    def bad(self, case):
        jid = self.new_id("bad")
        fresh = self.path("fresh")           # a base that does not exist yet
        fresh_base = os.path.join(fresh, "a", "b")

        def refused(opts=(), status=123, pattern="", args=("version",), uid=UID, gid=GID, base=None, cg_version=None):
            self.refused(jid, self.jail(jid, opts, args, uid, gid, base, cg_version), status, pattern, base)
        if case == "id-chars":
            self.refused("a_b", self.jail("a_b"), 122, r"--id 'a_b': only letters, digits and '-' are allowed")
        elif case == "id-long":
            self.refused("x" * 65, self.jail("x" * 65), 122, r"--id: expected 1 to 64 characters, got 65")
        elif case == "uid-0":
            refused(uid=0, pattern=r"--uid 0: the jailer does not run minnow as root.*--allow-root")
        elif case == "gid-0":
            refused(gid=0, pattern=r"--gid 0: the jailer does not run minnow as root.*--allow-root")
        elif case == "base-file":
            with open(fresh, "w") as f:
                f.write("a file\n")
            refused(base=fresh, pattern=rf"--chroot-base-dir '{fresh}' is not a directory")
            refused(base=os.path.join(fresh, "sub"), pattern=rf"'{fresh}' is not a directory")
            if open(fresh).read() != "a file\n":
                raise Fail("the file given as the base was changed")
        elif case == "cgroup-file":
            refused(["--cgroup", "pids.maxx=5"], base=fresh_base,
                    pattern=r"the cgroup file pids.maxx does not exist in \S+/" + jid)
        elif case == "cgroup-value":
            refused(["--cgroup", "pids.max=lots"], base=fresh_base, pattern=r"cannot write 'lots' to \S+/pids.max")
        elif case == "cgroup-controller":
            refused(["--cgroup", "nosuch.max=1"], base=fresh_base, pattern=r"nosuch controller")
        elif case == "cgroup-syntax":
            refused(["--cgroup", "pids.max"], 122, r"--cgroup 'pids.max': expected FILE=VALUE")
            refused(["--cgroup", "../pids.max=1"], 123, r"--cgroup '\.\./pids\.max': expected FILE=VALUE with a "
                                                         r"cgroup file name")
            refused(["--cgroup", "pids/../x.max=1"], 123, r"a cgroup file name has letters, digits")
            refused(["--cgroup-version", "3"], 122, r"--cgroup-version '3': expected 1 or 2")
            refused(["--parent-cgroup", "../x"], 123, r"--parent-cgroup '../x': empty, '.' and '..' components")
        elif case == "twice":
            r = run(self.jail(jid), timeout=120)
            if r.returncode != 0:
                raise Fail(f"the first jail: status {r.returncode}, {r.stdout!r}")
            again = run(self.jail(jid), timeout=120)
            if again.returncode != 123 or f"a jail with id '{jid}' exists already" not in again.stdout:
                raise Fail(f"a second jail with the same id: status {again.returncode}, {again.stdout!r}")
            print(again.stdout.strip())
            for left in (self.name, self.name + ".pid", "dev/null"):
                if not os.path.lexists(os.path.join(self.root(jid), left)):
                    raise Fail(f"the refused second jail took /{left} from the first")
            self.clean(jid)
        elif case == "netns":
            refused(["--netns", "/etc/hostname"], pattern=r"--netns /etc/hostname is not a network namespace")
            refused(["--netns", self.path("nonexistent")], pattern=r"--netns \S+nonexistent: No such file")
        elif case == "exec-file":
            refused(["--exec-file", self.path("nonexistent")], pattern=r"--exec-file \S+nonexistent: No such file")
            script = self.path("not-elf")
            with open(script, "w") as f:
                f.write("#!/bin/sh\n")
            os.chmod(script, 0o755)
            self.refused(jid, self.jail(jid, ["--exec-file", script]), 123, r"is not an ELF executable")
            os.chmod(script, 0o644)
            self.refused(jid, self.jail(jid, ["--exec-file", script]), 123, r"is not executable")
        elif case == "rlimit":
            refused(["--resource-limit", "nproc=5"], 122, r"--resource-limit 'nproc=5': expected fsize=BYTES or "
                                                          r"no-file=N")
            refused(["--resource-limit", "no-file=many"], 122, r"--resource-limit 'many': expected a number")
        elif case == "file":
            refused(["--file", self.path("nonexistent")], base=fresh_base, pattern=r"--file \S+: No such file")
            refused(["--file", self.work], base=fresh_base, pattern=r"is a directory")
            f = self.path("f.txt")
            open(f, "w").close()
            refused(["--file", f + ":/../f.txt"], base=fresh_base, pattern=r"'\.\.' components are not allowed")
            refused(["--file", "/dev/null:/null"], base=fresh_base, pattern=r"they are on different file systems")
        elif case == "cgroup-v2":
            # cgroup v2: a file that does not exist after the controller was
            # enabled on the way down: the enabling is undone too
            v2 = next((m for m in cgroup_mounts() if os.path.exists(os.path.join(m, "cgroup.controllers"))), None)
            if v2 is None:
                raise Fail("no cgroup2 hierarchy is mounted (/proc/self/mounts)")
            ctrl, file, value = self.v2_controller(v2)
            if not ctrl:
                raise Fail(f"the cgroup v2 hierarchy at {v2} has none of the pids, memory and hugetlb controllers")
            with open(os.path.join(v2, "cgroup.subtree_control")) as f:
                before = f.read()
            refused(["--cgroup", f"{file}={value}", "--cgroup", f"{ctrl}.nosuch=1"], base=fresh_base,
                    pattern=rf"the cgroup file {ctrl}.nosuch does not exist in {v2}/{self.parent}/{jid}", cg_version=2)
            with open(os.path.join(v2, "cgroup.subtree_control")) as f:
                if f.read() != before:
                    raise Fail(f"{v2}/cgroup.subtree_control was {before!r} before the failed jail, not now")
            if os.path.exists(os.path.join(v2, self.parent)):
                raise Fail(f"the parent cgroup {v2}/{self.parent} made for the failed jail is left")
        elif case == "child":
            # a step that fails inside the child, after the tree and the
            # cgroup were made: more open files than the kernel allows
            with open("/proc/sys/fs/nr_open") as f:
                too_many = int(f.read()) + 1
            refused(["--cgroup", "pids.max=10", "--resource-limit", f"no-file={too_many}"], base=fresh_base,
                    pattern=rf"--resource-limit no-file={too_many}: Operation not permitted")
        elif case == "args":
            refused([], 122, r"give minnow's arguments after '--'", args=())
        elif case == "cleanup-none":
            r = run(self.cleanup_cmd(jid))
            if r.returncode != 123 or f"no jail '{jid}'" not in r.stdout:
                raise Fail(f"cleanup of no jail: status {r.returncode}, {r.stdout!r}")
            print(r.stdout.strip())
        else:
            raise Fail(f"unknown bad case {case}")
        if os.path.lexists(fresh) and case != "base-file":
            raise Fail(f"the base directory made for the failed jail is left: {fresh}")


BAD = ["id-chars", "id-long", "uid-0", "gid-0", "base-file", "cgroup-file", "cgroup-value", "cgroup-controller",
       "cgroup-syntax", "cgroup-v2", "twice", "netns", "exec-file", "rlimit", "file", "child", "args", "cleanup-none"]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    minnow, mode = os.path.abspath(sys.argv[1]), sys.argv[2]
    if os.geteuid() != 0:
        print("SKIP: the jailer needs root")
        sys.exit(77)
    modes = {"boot": Test.boot, "outside": Test.outside, "daemonize": Test.daemonize, "version": Test.version,
             "signals": Test.signals, "tap": Test.tap}
    modes.update({"bad-" + c: (lambda t, c=c: t.bad(c)) for c in BAD})
    if mode not in modes:
        sys.exit(f"jail.py: unknown mode '{mode}'")
    t = None
    ok = False
    try:
        t = Test(minnow)
        modes[mode](t)
        ok = True
    except (Fail, subprocess.TimeoutExpired, OSError) as e:
        print(f"FAIL ({mode}): {e}", file=sys.stderr)
    finally:
        if t:
            if t.vm and not ok:
                print("--- console ---\n" + t.vm.text() + "\n--- stderr ---\n" +
                      t.vm.err.decode(errors="replace"), file=sys.stderr)
            t.finish()
    if not ok:
        sys.exit(1)
    print(f"ok ({mode})")


if __name__ == "__main__":
    main()
