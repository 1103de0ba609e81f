#!/usr/bin/env python3
"""The virt board's virtio devices under a real Linux guest (the default
guest booted by minnow), each checked from both sides.
Usage: devices.py MINNOW MODE [VSOCK_ECHO]
  blk        a fresh ext4 image on /dev/vda (with serial=): the guest mounts
             it, writes a file and 1 MiB of random data, unmounts; the host
             finds the file system clean (e2fsck -fn) and reads both back
             (debugfs), the data matching the guest's md5sum; the guest read
             the serial from sysfs
  blk-sync   the same with engine=sync
  blk-ro     a drive with ,ro: the guest sees a read-only disk, its ext4
             mounts read-only and refuses a new file, a write to the device
             itself fails, and the image's bytes are unchanged
  blk-many   20 drives, each a raw image starting with a marker of its own:
             the guest reads every marker from /dev/vda../dev/vdt; the last
             drive is the board's 20th device, in the slot at 0x10015000
             (sysfs names its virtio_mmio node), its interrupt PLIC source
             23 (/proc/interrupts)
  blk-kill   root=/dev/vda rw: the guest writes, syncs and prints a marker;
             the host kills minnow with SIGKILL at the marker; after journal
             replay the image is clean and holds what the guest synced
  net-user   slirp: udhcpc gets 10.0.2.15, the route and DNS by DHCP; busybox
             wget fetches a page from a host HTTP server on 127.0.0.1 via
             10.0.2.2; the host fetches a page from the guest's httpd through
             hostfwd; mac= is what the guest sees
  net-frag   the lone IPv4 fragment of issue 13 (tests/guest/ipfrag) 16 times,
             then a wget to the host still works; the slirp helper process
             has Seccomp 2 and NoNewPrivs 1; killing it gives one line on
             minnow's stderr and the guest runs on
  net-tap    in a network namespace made for the test: a tap device with
             192.168.77.1, minnow on it with --net tap=; the guest (static
             192.168.77.2) pings and fetches from the namespace, which pings
             and fetches from the guest
  vsock      4 guest connections at once to host port 5000 (a host echo on
             UDS_5000) and 4 host connections at once to the guest's port
             6000 (CONNECT 6000), 256 KiB each way on each, echoed intact
  rng        /dev/hwrng is the virtio one (rng_current) and gives random bytes
  console2   bytes the guest writes to the virtio console (hvc1: hvc0 is
             the SBI console) arrive on the host socket in order; a line the
             host writes is read in the guest
  balloon    --mem 256M --balloon=target=128M: with the driver unbound the
             guest dirties all but 24 MiB of its free memory (a file in
             tmpfs, deleted); rebinding inflates the balloon again and
             minnow's RSS drops by at least 60% of the target
Exit status 0 on success, 77 (skip) when the host cannot run the mode."""
import hashlib, os, random, re, shutil, signal, socket, subprocess, sys, tempfile, threading, time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
from minnow_proc import Fail, Minnow, free_port, run, vsock_connect  # noqa: E402
BOOT_TIMEOUT = 180   # seconds; an ASan build boots a few times slower
MODE = "?"


class Test:
    def __init__(self, minnow, work, extra):
        self.minnow, self.work, self.extra = minnow, work, extra
        guest = run([os.path.join(TOP, "guest", "build"), "-q"], check=True).stdout.strip().split("\n")[-1]
        self.kernel = os.path.join(guest, "Image")
        self.initrd = os.path.join(guest, "initramfs.cpio.gz")
        self.rootfs = os.path.join(guest, "rootfs.ext4")
        self.vm = None
        self.cleanups = []

    def boot(self, cmd, devices, initrd=None, root=None, mem=None, prefix=()):
        args = [self.minnow, "run", "--kernel", self.kernel]
        append = "console=ttyS0"
        if root:
            append += f" root={root} rw"
        else:
            args += ["--initrd", initrd or self.initrd]
        if mem:
            args += ["--mem", mem]
        args += devices + ["--append", f'{append} minnow.cmd="{cmd}"']
        self.vm = Minnow(args, os.path.join(self.work, "console.log"), prefix, timeout=BOOT_TIMEOUT)
        return self.vm

    def initramfs_with(self, *files):
        out = os.path.join(self.work, "initramfs")
        subprocess.run(["bash", "-c", f'. "{TOP}/tests/guest/lib.sh"; extend_initramfs "$@"', "-",
                        self.initrd, out] + list(files), check=True)
        return out

    def fresh_ext4(self, name, size="32M", root_dir=None):
        path = os.path.join(self.work, name)
        cmd = ["mkfs.ext4", "-q", "-F", "-L", "minnow-test"] + (["-d", root_dir] if root_dir else []) + [path, size]
        r = run(cmd)
        if r.returncode:
            raise Fail(f"mkfs.ext4 failed: {r.stdout}")
        return path

    # ---- host-side checks on an image ----

    def fsck_clean(self, img):
        r = run(["e2fsck", "-fn", img])
        if r.returncode != 0:
            raise Fail(f"e2fsck -fn {img} exited {r.returncode}:\n{r.stdout}")

    def debugfs_cat(self, img, path):
        r = subprocess.run(["debugfs", "-R", f"cat {path}", img], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if r.returncode != 0 or not r.stdout and b"not found" in r.stderr:
            raise Fail(f"debugfs cannot read {path} from {img}: {r.stderr.decode()}")
        return r.stdout

    # ---- modes ----

    def blk(self, engine=None):
        img = self.fresh_ext4("data.ext4")
        token = f"blk-token-{random.getrandbits(48):x}"
        spec = f"path={img},serial=minnow-disk-7" + (f",engine={engine}" if engine else "")
        cmd = ("cat /sys/block/vda/serial; echo; mount -t ext4 /dev/vda /mnt && mkdir /mnt/d && "
               f"echo {token} > /mnt/d/hello.txt && "
               "head -c 1048576 /dev/urandom > /mnt/d/rand.bin && "
               "md5sum /mnt/d/rand.bin && umount /mnt && echo blk-done")
        vm = self.boot(cmd, ["--drive", spec])
        vm.expect_exit(0)
        vm.expect_line("minnow-disk-7")
        vm.expect_line("blk-done")
        md5 = vm.wait_for(r"^([0-9a-f]{32})  /mnt/d/rand.bin$", 1).group(1)
        self.fsck_clean(img)
        got = self.debugfs_cat(img, "/d/hello.txt").decode()
        if got != token + "\n":
            raise Fail(f"/d/hello.txt on the image holds {got!r}, expected {token!r}")
        data = self.debugfs_cat(img, "/d/rand.bin")
        if len(data) != 1 << 20 or hashlib.md5(data).hexdigest() != md5:
            raise Fail(f"/d/rand.bin on the image: {len(data)} bytes, md5 {hashlib.md5(data).hexdigest()}, "
                       f"the guest wrote 1048576 bytes with md5 {md5}")

    def blk_many(self, n=20):
        token = f"{random.getrandbits(32):08x}"
        devices = []
        for i in range(n):
            img = os.path.join(self.work, f"d{i}.img")
            with open(img, "wb") as f:
                f.write(f"marker-{i:02d}-{token}".encode())
                f.truncate(64 << 10)
            devices += ["--drive", f"path={img},ro"]
        letters = "".join(chr(ord("a") + i) for i in range(n))
        last = f"vd{letters[-1]}"
        cmd = (f"for d in $(echo {letters} | sed 's/./& /g'); do echo vd$d=$(head -c 18 /dev/vd$d); done; "
               f"v=$(basename $(readlink -f /sys/block/{last}/device)); echo last-node=$(readlink -f "
               f"/sys/block/{last}/device/..); grep -w $v /proc/interrupts; echo many-done")
        vm = self.boot(cmd, devices)
        vm.expect_exit(0)
        vm.expect_line("many-done")
        for i in range(n):
            vm.expect_line(f"vd{letters[i]}=marker-{i:02d}-{token}")
        out = vm.text()
        # The last drive: in slot fdt_virtio_user_slot(19) = 20, at 0x10001000 + 20 * 0x1000 = 0x10015000,
        # PLIC source 12 + (20 - 9) = 23.
        if not re.search(r"^last-node=/sys/devices/platform/soc/10015000\.virtio_mmio$", out, re.M):
            raise Fail(f"/sys/block/{last} is not the virtio_mmio node at 0x10015000: "
                       + str(re.findall(r"^last-node=.*$", out, re.M)))
        if not re.search(r"^\s*\d+:(?:\s+\d+)+\s+SiFive PLIC\s+23\s+\S+\s+virtio\d+$", out, re.M):
            raise Fail(f"/proc/interrupts has no line for {last}'s virtio device on PLIC source 23")

    def blk_ro(self):
        src = os.path.join(self.work, "src")
        os.makedirs(src)
        with open(os.path.join(src, "hello.txt"), "w") as f:
            f.write("read-only-content\n")
        img = self.fresh_ext4("ro.ext4", root_dir=src)
        before = hashlib.sha256(open(img, "rb").read()).hexdigest()
        cmd = ("echo ro=$(cat /sys/block/vda/ro); mount -t ext4 /dev/vda /mnt; grep ' /mnt ' /proc/mounts; "
               "cat /mnt/hello.txt; if touch /mnt/new; then echo WROTE-FILE; else echo FILE-REFUSED; fi; "
               "umount /mnt; head -c 4096 /dev/zero > /tmp/z; "
               "if cat /tmp/z > /dev/vda && fsync /dev/vda; then echo WROTE-DEV; else echo DEV-REFUSED; fi; "
               "echo ro-done")
        vm = self.boot(cmd, ["--drive", f"path={img},ro"])
        vm.expect_exit(0)
        vm.expect_line("ro=1")
        vm.expect_line("read-only-content")
        vm.expect_line("FILE-REFUSED")
        vm.expect_line("DEV-REFUSED")
        vm.expect_line("ro-done")
        out = vm.text()
        if not re.search(r"^/dev/vda /mnt ext4 ro[,\s]", out, re.M):
            raise Fail("the ext4 on the read-only drive is not mounted read-only")
        lines = out.split("\n")   # (the command line itself is on the console too)
        if "WROTE-FILE" in lines:
            raise Fail("the guest created a file on the read-only drive")
        if "WROTE-DEV" in lines:
            raise Fail("a direct write to the read-only drive succeeded")
        after = hashlib.sha256(open(img, "rb").read()).hexdigest()
        if after != before:
            raise Fail("the read-only image changed")

    def blk_kill(self):
        img = os.path.join(self.work, "root.ext4")
        subprocess.run(["cp", "--sparse=always", self.rootfs, img], check=True)
        token = f"kill-token-{random.getrandbits(48):x}"
        cmd = (f"echo {token} > /kill.txt && head -c 1048576 /dev/urandom > /kill.bin && "
               "md5sum /kill.bin && sync && echo SYNCED-MARKER; sleep 600")
        vm = self.boot(cmd, ["--drive", f"path={img}"], root="/dev/vda")
        md5 = vm.wait_for(r"^([0-9a-f]{32})  /kill.bin$").group(1)
        vm.wait_for(r"^SYNCED-MARKER$")
        vm.p.send_signal(signal.SIGKILL)
        st = vm.wait_exit(30)
        if st != -signal.SIGKILL:
            raise Fail(f"minnow ended with {st} before the SIGKILL")
        # The guest never unmounted: replay the journal (what a mount would
        # do), then the file system must be clean and hold the synced data.
        r = run(["e2fsck", "-fy", "-E", "journal_only", img])
        if r.returncode not in (0, 1):
            raise Fail(f"journal replay failed ({r.returncode}):\n{r.stdout}")
        self.fsck_clean(img)
        got = self.debugfs_cat(img, "/kill.txt").decode()
        if got != token + "\n":
            raise Fail(f"/kill.txt holds {got!r} after the kill, expected {token!r}")
        data = self.debugfs_cat(img, "/kill.bin")
        if hashlib.md5(data).hexdigest() != md5:
            raise Fail(f"/kill.bin after the kill: {len(data)} bytes, md5 {hashlib.md5(data).hexdigest()}, "
                       f"the guest synced md5 {md5}")

    def http_server(self, directory, bind, port, prefix=()):
        p = subprocess.Popen(list(prefix) + [sys.executable, "-m", "http.server", str(port), "--bind", bind,
                                             "--directory", directory],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.cleanups.append(lambda: (p.kill(), p.wait()))
        # wait until it accepts (from inside the namespace if there is one)
        probe = list(prefix) + [sys.executable, "-c",
                                "import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 1)",
                                bind, str(port)]
        for _ in range(100):
            if subprocess.run(probe, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
                return
            time.sleep(0.1)
        raise Fail(f"the host HTTP server on {bind}:{port} did not start")

    def net_pages(self, host_ip, port, www):
        token = f"host-page-{random.getrandbits(48):x}"
        with open(os.path.join(www, "token.txt"), "w") as f:
            f.write(token + "\n")
        guest_token = f"guest-page-{random.getrandbits(48):x}"
        guest_part = (f"wget -q -T 20 -O - http://{host_ip}:{port}/token.txt; "
                      f"mkdir -p /www && echo {guest_token} > /www/index.html && httpd -p 8080 -h /www && "
                      "echo HTTPD-UP && i=0 && "
                      f"until wget -q -T 5 -O /dev/null http://{host_ip}:{port}/done; do "
                      "i=$((i+1)); [ $i -lt 240 ] || exit 9; sleep 0.5; done; echo net-done")
        return token, guest_token, guest_part

    def net_user(self, mtu=None):
        """User networking: DHCP, DNS settings, a page each way (through
        hostfwd to the guest), and 3 MiB each way checked by md5, in frames
        of the MTU the guest was offered: 65520 by default, or mtu=."""
        www = os.path.join(self.work, "www")
        os.makedirs(www)
        port, fwd = free_port(), free_port()
        self.http_server(www, "127.0.0.1", port)
        big = random.randbytes(3 << 20)
        with open(os.path.join(www, "big.bin"), "wb") as f:
            f.write(big)
        token, guest_token, guest_part = self.net_pages("10.0.2.2", port, www)
        cmd = ("cat /sys/class/net/eth0/address; echo mtu=$(cat /sys/class/net/eth0/mtu); "
               "udhcpc -i eth0 -f -q -n -t 10 -T 3 2>&1; ip -4 addr show dev eth0; ip route; cat /etc/resolv.conf; "
               f"wget -q -T 60 -O /tmp/big.bin http://10.0.2.2:{port}/big.bin && md5sum /tmp/big.bin; "
               "mkdir -p /www && dd if=/dev/urandom of=/www/up.bin bs=1M count=3 2>/dev/null && md5sum /www/up.bin; "
               + guest_part)
        spec = f"user,hostfwd=tcp:127.0.0.1:{fwd}-:8080,mac=52:54:00:12:34:99" + (f",mtu={mtu}" if mtu else "")
        vm = self.boot(cmd, ["--net", spec])
        vm.wait_for(r"^HTTPD-UP$")
        import urllib.request
        page = urllib.request.urlopen(f"http://127.0.0.1:{fwd}/", timeout=60).read().decode()
        up = urllib.request.urlopen(f"http://127.0.0.1:{fwd}/up.bin", timeout=120).read()
        open(os.path.join(www, "done"), "w").close()
        vm.expect_exit(0)
        if page.strip() != guest_token:
            raise Fail(f"the guest page through hostfwd was {page!r}, expected {guest_token!r}")
        vm.expect_line("52:54:00:12:34:99")
        vm.expect_line(f"mtu={mtu or 65520}")
        out = vm.text()
        for rx, what in [(r"inet 10\.0\.2\.15/24", "the DHCP address 10.0.2.15/24"),
                         (r"^default via 10\.0\.2\.2 dev eth0", "the DHCP default route via 10.0.2.2"),
                         (r"^nameserver 10\.0\.2\.3$", "the DHCP name server 10.0.2.3")]:
            if not re.search(rx, out, re.M):
                raise Fail(f"the guest did not configure {what}")
        vm.expect_line(token)
        vm.expect_line("net-done")
        vm.expect_line(f"{hashlib.md5(big).hexdigest()}  /tmp/big.bin")
        if len(up) != 3 << 20:
            raise Fail(f"the host fetched {len(up)} bytes of the guest's up.bin, expected {3 << 20}")
        vm.expect_line(f"{hashlib.md5(up).hexdigest()}  /www/up.bin")

    def net_frag(self):
        """Issue 13: the guest sends lone IPv4 fragments through virtio-net
        into user networking; minnow survives and the network still works.
        slirp runs in a helper process under seccomp with no new
        privileges; killing it is one clear line on stderr and the VM runs
        on."""
        www = os.path.join(self.work, "www")
        os.makedirs(www)
        port = free_port()
        self.http_server(www, "127.0.0.1", port)
        token = f"frag-page-{random.getrandbits(48):x}"
        with open(os.path.join(www, "token.txt"), "w") as f:
            f.write(token + "\n")
        prog = self.extra or os.path.join(TOP, "build", "tests", "guest", "ipfrag")
        initrd = self.initramfs_with(prog)
        cmd = ("udhcpc -i eth0 -f -q -n -t 10 -T 3 >/dev/null 2>&1; ipfrag eth0 16 && "
               f"wget -q -T 20 -O - http://10.0.2.2:{port}/token.txt; echo FETCHED; i=0; "
               "while [ $i -lt 1200 ]; do echo alive-$i; i=$((i+1)); sleep 0.5; done")
        err = os.path.join(self.work, "stderr.log")
        self.vm = vm = Minnow([self.minnow, "run", "--kernel", self.kernel, "--initrd", initrd, "--net", "user",
                               "--append", f'console=ttyS0 minnow.cmd="{cmd}"'],
                              os.path.join(self.work, "console.log"), err_path=err, timeout=BOOT_TIMEOUT)
        vm.wait_for(r"^ipfrag: sent 16$")
        vm.wait_for(r"^FETCHED$")
        vm.expect_line(token)
        if vm.p.poll() is not None:
            raise Fail(f"minnow exited with {vm.p.poll()} after the fragments")
        # the helper: minnow's one child
        kids = []
        for tid in os.listdir(f"/proc/{vm.p.pid}/task"):
            with open(f"/proc/{vm.p.pid}/task/{tid}/children") as f:
                kids += [int(x) for x in f.read().split()]
        if len(kids) != 1:
            raise Fail(f"minnow has children {kids}, expected one network helper")
        helper = kids[0]
        with open(f"/proc/{helper}/status") as f:
            status = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
        with open(f"/proc/{helper}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
        if argv[1:2] != [b"net-helper"]:
            raise Fail(f"minnow's child is {argv}, expected minnow net-helper")
        if status.get("Seccomp", "").strip() != "2" or status.get("NoNewPrivs", "").strip() != "1":
            raise Fail(f"the helper has Seccomp {status.get('Seccomp')!r} NoNewPrivs {status.get('NoNewPrivs')!r}, "
                       "expected 2 and 1")
        os.kill(helper, signal.SIGKILL)
        want = f"the network helper (pid {helper}) was killed by signal 9"
        end = time.monotonic() + 60
        while want not in vm.err.decode(errors="replace"):
            if vm.p.poll() is not None or time.monotonic() > end:
                raise Fail(f"no '{want}' on minnow's stderr (status {vm.p.poll()}): {vm.err!r}")
            time.sleep(0.1)
        # the guest runs on: a new line after the report
        last = int(re.findall(r"^alive-(\d+)$", vm.text(), re.M)[-1])
        vm.wait_for(rf"^alive-{last + 2}$", 60)
        if vm.p.poll() is not None:
            raise Fail(f"minnow exited with {vm.p.poll()} after its helper died")

    def net_tap(self):
        if os.geteuid() != 0:
            print("SKIP: the tap test needs root (ip netns, ip tuntap)")
            sys.exit(77)
        ns = f"minnow-test-{os.getpid()}"
        r = run(["ip", "netns", "add", ns])
        if r.returncode:
            print(f"SKIP: cannot create a network namespace: {r.stdout}")
            sys.exit(77)
        self.cleanups.append(lambda: run(["ip", "netns", "del", ns]))
        inns = ["ip", "netns", "exec", ns]
        for c in (["ip", "link", "set", "lo", "up"], ["ip", "tuntap", "add", "dev", "mtap0", "mode", "tap"],
                  ["ip", "addr", "add", "192.168.77.1/24", "dev", "mtap0"], ["ip", "link", "set", "mtap0", "up"]):
            r = run(inns + c)
            if r.returncode:
                raise Fail(f"{' '.join(c)} in the namespace failed: {r.stdout}")
        www = os.path.join(self.work, "www")
        os.makedirs(www)
        port = 8000
        self.http_server(www, "192.168.77.1", port, prefix=inns)
        token, guest_token, guest_part = self.net_pages("192.168.77.1", port, www)
        cmd = ("cat /sys/class/net/eth0/address; ip link set eth0 up && ip addr add 192.168.77.2/24 dev eth0 && "
               "ping -c 3 -W 20 192.168.77.1 && echo GUEST-PING-OK; " + guest_part)
        vm = self.boot(cmd, ["--net", "tap=mtap0,mac=52:54:00:ab:cd:ef"], prefix=inns)
        vm.wait_for(r"^HTTPD-UP$")
        ping = run(inns + [sys.executable, os.path.abspath(__file__), "--ping", "192.168.77.2"], timeout=120)
        page = run(inns + [sys.executable, "-c", "import urllib.request; "
                           "print(urllib.request.urlopen('http://192.168.77.2:8080/', timeout=60).read().decode())"],
                   timeout=120)
        open(os.path.join(www, "done"), "w").close()
        vm.expect_exit(0)
        vm.expect_line("52:54:00:ab:cd:ef")
        vm.expect_line("GUEST-PING-OK")
        vm.expect_line(token)
        vm.expect_line("net-done")
        if ping.returncode != 0:
            raise Fail(f"the namespace could not ping the guest:\n{ping.stdout}")
        print(ping.stdout.strip())
        if page.returncode != 0 or page.stdout.strip() != guest_token:
            raise Fail(f"the namespace fetched {page.stdout!r} from the guest, expected {guest_token!r}")

    def vsock(self):
        echo_prog = self.extra or os.path.join(TOP, "build", "tests", "guest", "vsock_echo")
        initrd = self.initramfs_with(echo_prog)
        uds = os.path.join(self.work, "v.sock")
        n, size = 4, 256 * 1024
        # host echo on UDS_5000 for the guest's connections
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(uds + "_5000")
        srv.listen(16)
        state = {"open": 0, "max": 0, "accepted": 0, "bytes": 0}
        lock = threading.Lock()

        def serve(c):
            with lock:
                state["open"] += 1
                state["accepted"] += 1
                state["max"] = max(state["max"], state["open"])
            try:
                while True:
                    d = c.recv(65536)
                    if not d:
                        break
                    with lock:
                        state["bytes"] += len(d)
                    c.sendall(d)
            finally:
                c.close()
                with lock:
                    state["open"] -= 1

        def accept_loop():
            while True:
                try:
                    c, _ = srv.accept()
                except OSError:
                    return
                threading.Thread(target=serve, args=(c,), daemon=True).start()

        threading.Thread(target=accept_loop, daemon=True).start()
        self.cleanups.append(srv.close)
        cmd = f"vsock_echo connect 2 5000 {n} {size} && vsock_echo listen 6000 {n}"
        vm = self.boot(cmd, ["--vsock", f"cid=7,uds={uds}"], initrd=initrd)
        vm.wait_for(r"^vsock_echo: listening 6000$")
        # host to guest: open all n first, then stream on all at once
        conns = []
        for k in range(n):
            conns.append(vsock_connect(uds, 6000, f"host connection {k}"))
        errors = []

        def stream(k, s):
            data = random.Random(k).randbytes(size)
            def send():
                try:
                    s.sendall(data)
                    s.shutdown(socket.SHUT_WR)
                except OSError as e:
                    errors.append(f"host connection {k}: send: {e}")
            t = threading.Thread(target=send)
            t.start()
            got = bytearray()
            try:
                while True:
                    d = s.recv(65536)
                    if not d:
                        break
                    got += d
            except OSError as e:
                errors.append(f"host connection {k}: receive: {e}")
            t.join()
            if bytes(got) != data:
                errors.append(f"host connection {k}: echo of {len(got)} bytes differs from the {size} sent")
            s.close()

        ts = [threading.Thread(target=stream, args=(k, s)) for k, s in enumerate(conns)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(BOOT_TIMEOUT)
        vm.expect_exit(0)
        if errors:
            raise Fail("; ".join(errors))
        vm.expect_line(f"vsock_echo: connect ok {n} {size}")
        vm.expect_line(f"vsock_echo: served {n}")
        if state["accepted"] != n or state["max"] != n or state["bytes"] != n * size:
            raise Fail(f"host echo saw {state['accepted']} connections ({state['max']} at once) and "
                       f"{state['bytes']} bytes, expected {n} at once and {n * size}")

    def rng(self):
        cmd = ("cat /sys/class/misc/hw_random/rng_current; "
               "head -c 512 /dev/hwrng | od -An -v -tx1 | tr -s ' \\n' '  '; echo; "
               "echo rng-done")
        vm = self.boot(cmd, ["--rng"])
        vm.expect_exit(0)
        out = vm.text()
        if not re.search(r"^virtio_rng\.\d+$", out, re.M):
            raise Fail("rng_current does not name virtio_rng")
        m = re.search(r"^((?: [0-9a-f]{2}){512}) ?$", out, re.M)
        if not m:
            raise Fail("the guest did not read 512 bytes from /dev/hwrng")
        values = m.group(1).split()
        if len(set(values)) < 150:   # 512 random bytes have about 222 distinct values
            raise Fail(f"512 bytes from /dev/hwrng hold only {len(set(values))} distinct values")

    def console2(self):
        sock = os.path.join(self.work, "c2.sock")
        token = f"from-host-{random.getrandbits(48):x}"
        # hvc0 is the SBI console when the kernel has HVC_RISCV_SBI (ours
        # does): the virtio console is the last hvc registered.
        cmd = ("for i in 7 6 5 4 3 2 1 0; do (: </dev/hvc$i) 2>/dev/null && break; done; echo console2-dev hvc$i; "
               "exec 3<>/dev/hvc$i; stty raw -echo <&3; seq 1 3000 >&3; echo END-SEQ >&3; "
               "read -r line <&3; echo console2-got: $line")
        vm = self.boot(cmd, ["--console2", sock])
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        for _ in range(600):
            try:
                c.connect(sock)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if vm.p.poll() is not None:
                    raise Fail(f"minnow ended (status {vm.p.poll()}) before its console2 socket accepted")
                time.sleep(0.05)
        else:
            raise Fail(f"nothing listens on {sock}")
        c.settimeout(BOOT_TIMEOUT)
        got = b""
        while not got.endswith(b"END-SEQ\n"):
            d = c.recv(65536)
            if not d:
                raise Fail(f"console2 closed after {len(got)} bytes")
            got += d
        want = "".join(f"{i}\n" for i in range(1, 3001)).encode() + b"END-SEQ\n"
        if got != want:
            raise Fail(f"console2 got {len(got)} bytes, not the guest's {len(want)} (first difference at "
                       f"{next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))})")
        c.sendall(token.encode() + b"\n")
        vm.expect_exit(0)
        vm.expect_line(f"console2-got: {token}")
        c.close()

    def balloon(self):
        target = 128 << 20
        cmd = ("B=/sys/bus/virtio/drivers/virtio_balloon; d=$(cd $B && ls -d virtio*); echo balloon-dev $d; "
               "mt() { awk '/^MemTotal/ { print $2 }' /proc/meminfo; }; echo memtotal-inflated $(mt); "
               "echo $d > $B/unbind; t0=$(mt); echo memtotal-deflated $t0; "
               "f=$(awk '/^MemFree/ { print int($2 / 1024) - 24 }' /proc/meminfo); echo dirty-mib $f; "
               "mount -o remount,size=240M /tmp && head -c $((f << 20)) /dev/zero > /tmp/fill && rm /tmp/fill && "
               "echo BALLOON-DIRTIED; sleep 5; "
               "echo $d > $B/bind; i=0; "
               "while [ $(mt) -gt $((t0 - 120000)) ] && [ $i -lt 600 ]; do i=$((i+1)); sleep 0.1; done; "
               "sleep 1; echo memtotal-reinflated $(mt); echo BALLOON-INFLATED; sleep 5")
        vm = self.boot(cmd, ["--balloon=target=128M"], mem="256M")
        # an ASan build takes minutes to fill ~200 MiB
        vm.wait_for(r"^BALLOON-DIRTIED$", 480)
        r1 = rss(vm.p.pid)
        vm.wait_for(r"^BALLOON-INFLATED$", 240)
        r2 = rss(vm.p.pid)
        vm.expect_exit(0)
        print(f"minnow RSS: {r1 >> 20} MiB after the guest dirtied memory, {r2 >> 20} MiB after re-inflating "
              f"{target >> 20} MiB (drop {(r1 - r2) >> 20} MiB)")
        m = re.findall(r"^memtotal-(\w+) (\d+)$", vm.text(), re.M)
        tot = {k: int(v) for k, v in m}
        if len(tot) != 3 or tot["deflated"] - tot["reinflated"] < 120000:
            raise Fail(f"the guest's MemTotal did not drop by the balloon's target on re-inflation: {tot}")
        if r1 - r2 < 0.6 * target:
            raise Fail(f"minnow's RSS dropped by {(r1 - r2) >> 20} MiB, less than 60% of the {target >> 20} MiB "
                       "balloon")


def icmp_ping(addr, count=3, timeout=10.0):
    """ICMP echo to addr with a raw socket (root; the host may have no ping
    program). Returns how many of count requests were answered."""
    def csum(b):
        if len(b) % 2:
            b += b"\0"
        t = sum(int.from_bytes(b[i:i + 2], "big") for i in range(0, len(b), 2))
        while t >> 16:
            t = (t & 0xffff) + (t >> 16)
        return ~t & 0xffff
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    ident, answered = os.getpid() & 0xffff, 0
    for seq in range(count):
        payload = b"minnow-ping-%d" % seq
        hdr = bytes([8, 0, 0, 0]) + ident.to_bytes(2, "big") + seq.to_bytes(2, "big")
        c = csum(hdr + payload)
        s.sendto(hdr[:2] + c.to_bytes(2, "big") + hdr[4:] + payload, (addr, 0))
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            s.settimeout(end - time.monotonic())
            try:
                pkt, src = s.recvfrom(2048)
            except socket.timeout:
                break
            icmp = pkt[(pkt[0] & 15) * 4:]
            if (src[0] == addr and icmp[0] == 0 and int.from_bytes(icmp[4:6], "big") == ident
                    and int.from_bytes(icmp[6:8], "big") == seq and icmp[8:] == payload):
                answered += 1
                break
    return answered


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise Fail("no VmRSS")


def main():
    global MODE
    if len(sys.argv) == 3 and sys.argv[1] == "--ping":   # run inside the namespace by net-tap
        n = icmp_ping(sys.argv[2])
        print(f"{n} of 3 ICMP echo requests to {sys.argv[2]} answered")
        sys.exit(0 if n == 3 else 1)
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    minnow, MODE = os.path.abspath(sys.argv[1]), sys.argv[2]
    extra = sys.argv[3] if len(sys.argv) > 3 else None
    modes = {"blk": lambda t: t.blk(), "blk-sync": lambda t: t.blk("sync"), "blk-ro": Test.blk_ro, "blk-many": Test.blk_many,
             "blk-kill": Test.blk_kill, "net-user": Test.net_user,
             "net-mtu": lambda t: t.net_user(1500), "net-frag": Test.net_frag, "net-tap": Test.net_tap,
             "vsock": Test.vsock, "rng": Test.rng, "console2": Test.console2, "balloon": Test.balloon}
    if MODE not in modes:
        sys.exit(f"devices.py: unknown mode '{MODE}'")
    work = tempfile.mkdtemp(prefix="minnow-devices-")
    t = Test(minnow, work, extra)
    ok = False
    try:
        modes[MODE](t)
        ok = True
    except (Fail, subprocess.TimeoutExpired, OSError) as e:
        print(f"FAIL ({MODE}): {e}", file=sys.stderr)
    finally:
        if t.vm:
            t.vm.kill()
            if not ok:
                print("--- console ---\n" + t.vm.text(), file=sys.stderr)
        for c in reversed(t.cleanups):
            try:
                c()
            except Exception:
                pass
        shutil.rmtree(work, ignore_errors=True)
    if not ok:
        sys.exit(1)
    print(f"ok ({MODE})")


if __name__ == "__main__":
    main()
