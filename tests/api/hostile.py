#!/usr/bin/env python3
"""Hostile inputs to the API, the vsock host socket and the migration
target: none may hang minnow, starve other clients or make it obey a peer
it should not.
Usage: hostile.py MINNOW MODE [VSOCK_ECHO]
  fifo          a kernel, initrd, serial output and drive that are FIFOs
                with no writer/reader: InstanceStart answers 400 naming the
                path, GET / answers all along, SIGTERM ends minnow (124)
  http          malformed requests (bad framing, bad version, NUL and other
                control bytes in the request line or a header, chunked
                bodies, heads and bodies too large, unknown paths) each get
                an HTTP error with Firecracker's JSON {"fault_message"};
                a good request still works after them
  slow-clients  100 clients connected to the API socket, each sending one
                byte a second: another client's GET / and PUT/GET
                /machine-config are answered meanwhile
  modes         with umask 022, the API, vsock, console and migration
                sockets minnow creates are all mode 0600
  fd            a descriptor the parent left open (fd 7) is not open in
                minnow (/proc/PID/fd)
  vsock-idle    200 clients connect to the vsock socket and never send
                CONNECT; then a real client connects to the guest's
                listener and its data echoes back
  migrate-connect  PUT /migrate to a socket that never accepts: answered at
                once, GET / answers meanwhile, GET /migrate ends Failed ("did
                not accept") and the VM runs on
  migrate-token a target with --token: a peer with a wrong proof is
                refused (logged) and the target keeps listening; a peer
                with the right token whose configuration names a drive
                outside --allow-path is refused with a message naming the
                path; --incoming on 0.0.0.0 without a token is refused
  migrate-stall a source that sends valid page records and then nothing,
                one that sends a byte every half second, are each given up
                with a clear message (exit 123); SIGTERM while a source is
                connected ends the target with 124
"""
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
from minnow_proc import Fail, Minnow, free_port, recv_upto, run, vsock_connect  # noqa: E402

TIMEOUT = 180   # seconds: a safety net only; every wait is on a condition
MODE = "?"


def raw(sock_path, data, timeout=60):
    """Sends data on a fresh connection; returns (status, body) of the answer."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path)
    try:
        s.sendall(data)
    except OSError:
        pass
    out = b""
    try:
        while True:
            m = re.match(rb"HTTP/1\.1 (\d{3}) [^\r]*\r\n(.*?)\r\n\r\n", out, re.S)
            if m:
                cl = re.search(rb"(?im)^content-length:\s*(\d+)", m.group(2))
                n = int(cl.group(1)) if cl else 0
                if len(out) >= m.end() + n:
                    return int(m.group(1)), out[m.end():m.end() + n]
            b = s.recv(65536)
            if not b:
                break
            out += b
    except socket.timeout:
        raise Fail(f"no complete answer to {data[:60]!r} within {timeout} s (got {out[:200]!r})")
    finally:
        s.close()
    raise Fail(f"the connection closed without a complete answer to {data[:60]!r}: {out[:200]!r}")


def request(sock_path, method, path, body=None, timeout=60):
    b = json.dumps(body).encode() if body is not None else b""
    head = f"{method} {path} HTTP/1.1\r\nHost: localhost\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(b)}\r\n"
    return raw(sock_path, head.encode() + b"\r\n" + b, timeout)


def expect(sock_path, method, path, body, code, contains=None):
    got, text = request(sock_path, method, path, body)
    text = text.decode(errors="replace")
    if got != code:
        raise Fail(f"{method} {path} {body}: status {got}, expected {code} ({text})")
    if contains is not None:
        if contains not in text:
            raise Fail(f"{method} {path} {body}: '{text}' does not contain '{contains}'")
        if "fault_message" not in json.loads(text):
            raise Fail(f"{method} {path}: the error has no fault_message: {text}")
    return text


class Test:
    def __init__(self, minnow, work, extra):
        self.minnow, self.work, self.extra = minnow, work, extra
        self.procs = []
        self.cleanups = []

    def path(self, name):
        return os.path.join(self.work, name)

    def guest(self):
        d = run([os.path.join(TOP, "guest", "build"), "-q"], check=True).stdout.strip().split("\n")[-1]
        return os.path.join(d, "Image"), os.path.join(d, "initramfs.cpio.gz")

    def api_minnow(self, name="api", extra=()):
        sock = self.path(name + ".sock")
        m = Minnow([self.minnow, "--api-sock", sock] + list(extra), self.path(name + ".log"),
                   err_path=self.path(name + ".err"), timeout=TIMEOUT)
        self.procs.append(m)
        for _ in range(400):
            if os.path.exists(sock):
                try:
                    if request(sock, "GET", "/")[0] == 200:
                        return m, sock
                except (OSError, Fail):
                    pass
            if m.p.poll() is not None:
                raise Fail(f"minnow exited ({m.p.returncode}): {m.err.decode()}")
            time.sleep(0.05)
        raise Fail("the API socket did not answer within 20 s")

    def stop(self, m, want=124):
        m.p.send_signal(signal.SIGTERM)
        st = m.wait_exit(60)
        if st != want:
            raise Fail(f"minnow exited {st} after SIGTERM, expected {want}: {m.err.decode()}")

    # ---- modes ----

    def fifo(self):
        kernel, _ = self.guest()
        m, sock = self.api_minnow()
        fifos = {}
        for name in ("kernel", "initrd", "serial", "drive", "log"):
            fifos[name] = self.path(name + ".fifo")
            os.mkfifo(fifos[name])
        mc = {"vcpu_count": 1, "mem_size_mib": 64}
        expect(sock, "PUT", "/machine-config", mc, 204)

        def start_refused(what):
            got = expect(sock, "PUT", "/actions", {"action_type": "InstanceStart"}, 400, fifos[what])
            if "FIFO" not in got:
                raise Fail(f"the refusal of the {what} FIFO does not say it is a FIFO: {got}")
            if '"Not started"' not in expect(sock, "GET", "/", None, 200):
                raise Fail("GET / after the refused start does not say Not started")
            print(f"{what}: {json.loads(got)['fault_message']}")

        expect(sock, "PUT", "/boot-source", {"kernel_image_path": fifos["kernel"]}, 204)
        start_refused("kernel")
        expect(sock, "PUT", "/boot-source", {"kernel_image_path": kernel, "initrd_path": fifos["initrd"]}, 204)
        start_refused("initrd")
        expect(sock, "PUT", "/boot-source", {"kernel_image_path": kernel}, 204)
        expect(sock, "PUT", "/drives/d", {"drive_id": "d", "path_on_host": fifos["drive"], "is_root_device": False},
               204)
        start_refused("drive")
        disk = self.path("disk.img")
        with open(disk, "wb") as f:
            f.truncate(1 << 20)
        expect(sock, "PUT", "/drives/d", {"drive_id": "d", "path_on_host": disk, "is_root_device": False}, 204)
        expect(sock, "PUT", "/serial", {"serial_out_path": fifos["serial"]}, 204)
        start_refused("serial")
        got = expect(sock, "PUT", "/logger", {"log_path": fifos["log"]}, 400, fifos["log"])
        print(f"logger: {json.loads(got)['fault_message']}")
        self.stop(m)
        print("GET / answered after every refusal; SIGTERM: exit 124")

    def http(self):
        m, sock = self.api_minnow()
        cases = [
            ("NUL in the request line", b"GET /\x00x HTTP/1.1\r\nHost: l\r\n\r\n", 400, "control byte 0x00"),
            ("NUL in a header", b"GET / HTTP/1.1\r\nHost: l\r\nX-A: a\x00b\r\n\r\n", 400, "control byte 0x00"),
            ("a control byte in the path", b"GET /\x01 HTTP/1.1\r\nHost: l\r\n\r\n", 400, "control byte 0x01"),
            ("DEL in a header", b"GET / HTTP/1.1\r\nHost: l\r\nX: \x7f\r\n\r\n", 400, "control byte 0x7f"),
            ("HTTP/3.7", b"GET / HTTP/3.7\r\nHost: l\r\n\r\n", 505, "version"),
            ("garbage", b"hello there\r\n\r\n", 400, "request line"),
            ("no path", b"GET  HTTP/1.1\r\n\r\n", 400, "request line"),
            ("a header without a colon", b"GET / HTTP/1.1\r\nHost l\r\n\r\n", 400, "header"),
            ("a folded header", b"GET / HTTP/1.1\r\nHost: l\r\n x\r\n\r\n", 400, "header"),
            ("a bad Content-Length", b"PUT /vm HTTP/1.1\r\nHost: l\r\nContent-Length: zz\r\n\r\n", 400,
             "Content-Length"),
            ("two Content-Lengths", b"PUT /vm HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400,
             "Content-Length"),
            ("chunked", b"PUT /vm HTTP/1.1\r\nHost: l\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400,
             "Transfer-Encoding"),
            ("a huge head", b"GET / HTTP/1.1\r\nHost: l\r\nX: " + b"a" * 70000 + b"\r\n\r\n", 431, "larger"),
            ("a huge body", b"PUT /boot-source HTTP/1.1\r\nHost: l\r\nContent-Length: 60000\r\n\r\n" + b"a" * 60000,
             400, "Request payload with size 60000 is larger than the limit of 51200 allowed by server."),
            ("an unknown path", b"GET /nowhere HTTP/1.1\r\nHost: l\r\n\r\n", 400, "Invalid request"),
            ("an unknown method", b"BREW / HTTP/1.1\r\nHost: l\r\n\r\n", 400, "Invalid request"),
        ]
        for what, data, code, text in cases:
            st, body = raw(sock, data)
            try:
                j = json.loads(body)
            except ValueError:
                raise Fail(f"{what}: the {st} answer is not JSON: {body[:200]!r}")
            if st != code or text not in j.get("fault_message", ""):
                raise Fail(f"{what}: {st} {j}, expected {code} with a fault_message containing '{text}'")
            print(f"{what}: {st} {j['fault_message']}")
        # The same, after the bad ones: the server is fine.
        expect(sock, "PUT", "/machine-config", {"vcpu_count": 2, "mem_size_mib": 96}, 204)
        if '"mem_size_mib":96' not in expect(sock, "GET", "/machine-config", None, 200).replace(" ", ""):
            raise Fail("GET /machine-config does not show the PUT")
        self.stop(m)

    def slow_clients(self):
        m, sock = self.api_minnow()
        n = 100
        head = b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"s" * 400
        started = threading.Semaphore(0)
        quit_ev = threading.Event()
        errors = []

        def slow():
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                # Blocking: a full backlog makes connect wait for minnow to
                # accept (with a timeout set first it would fail at once).
                s.connect(sock)
                s.settimeout(TIMEOUT)
                s.sendall(head[:1])
                started.release()
                for b in head[1:]:
                    if quit_ev.wait(1.0):
                        break
                    s.sendall(bytes([b]))
                s.close()
            except OSError as e:
                errors.append(str(e))
                started.release()

        ts = [threading.Thread(target=slow, daemon=True) for _ in range(n)]
        for t in ts:
            t.start()
        for _ in range(n):
            if not started.acquire(timeout=TIMEOUT):
                raise Fail("the slow clients did not all connect")
        if errors:
            raise Fail(f"slow clients could not connect: {errors[:3]}")
        print(f"{n} slow clients connected, each sending a byte a second")
        t0 = time.monotonic()
        expect(sock, "GET", "/", None, 200)
        expect(sock, "PUT", "/machine-config", {"vcpu_count": 2, "mem_size_mib": 200}, 204)
        if '"mem_size_mib":200' not in expect(sock, "GET", "/machine-config", None, 200).replace(" ", ""):
            raise Fail("GET /machine-config does not show the PUT")
        expect(sock, "PUT", "/boot-source", {"kernel_image_path": 5}, 400, "kernel_image_path")
        print(f"meanwhile another client's GET /, PUT and GET /machine-config and a bad PUT were answered "
              f"({time.monotonic() - t0:.2f} s for all four)")
        quit_ev.set()
        for t in ts:
            t.join(30)
        self.stop(m)

    def modes(self):
        kernel, initrd = self.guest()
        os.umask(0o022)
        cfg = {"boot-source": {"kernel_image_path": kernel, "initrd_path": initrd,
                               "boot_args": 'console=ttyS0 minnow.cmd="sleep 600"'},
               "machine-config": {"vcpu_count": 1, "mem_size_mib": 64},
               "vsock": {"guest_cid": 3, "uds_path": self.path("v.sock")},
               "minnow-console2": {"uds_path": self.path("c2.sock")}}
        with open(self.path("cfg.json"), "w") as f:
            json.dump(cfg, f)
        m, sock = self.api_minnow(extra=["--config-file", self.path("cfg.json")])
        socks = {"API": sock, "vsock": self.path("v.sock"), "console": self.path("c2.sock")}
        port = free_port()
        t = Minnow([self.minnow, "--incoming", "unix:" + self.path("mig.sock")], self.path("t.log"),
                   err_path=self.path("t.err"), timeout=TIMEOUT)
        self.procs.append(t)
        socks["migration"] = self.path("mig.sock")
        for what, p in socks.items():
            for _ in range(400):
                if os.path.exists(p) or t.p.poll() is not None:
                    break
                time.sleep(0.05)
            st = os.lstat(p)
            if not stat.S_ISSOCK(st.st_mode) or stat.S_IMODE(st.st_mode) != 0o600:
                raise Fail(f"the {what} socket {p} has mode {stat.S_IMODE(st.st_mode):o}, expected 600")
            print(f"{what} socket: mode 600")
        del port
        self.stop(m)
        self.stop(t)

    def fd(self):
        f = open(self.path("inherited"), "w")
        os.dup2(f.fileno(), 7)
        os.set_inheritable(7, True)
        sock = self.path("api.sock")
        p = subprocess.Popen([self.minnow, "--api-sock", sock], pass_fds=(7,), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        self.cleanups.append(lambda: p.poll() is None and p.kill())
        os.close(7)
        for _ in range(400):
            if os.path.exists(sock) and request(sock, "GET", "/")[0] == 200:
                break
            if p.poll() is not None:
                raise Fail(f"minnow exited {p.returncode}")
            time.sleep(0.05)
        fds = os.listdir(f"/proc/{p.pid}/fd")
        target = os.path.realpath(self.path("inherited"))
        held = [d for d in fds if os.path.realpath(f"/proc/{p.pid}/fd/{d}") == target]
        if held:
            raise Fail(f"minnow holds the file its parent left open as fd 7, as fd(s) {held}")
        print(f"minnow's fds: {sorted(fds, key=int)}; none is the file its parent left open as fd 7")
        p.send_signal(signal.SIGTERM)
        if p.wait(60) != 124:
            raise Fail(f"minnow exited {p.returncode} after SIGTERM")
        f.close()

    def vsock_idle(self):
        kernel, initrd0 = self.guest()
        echo = self.extra or os.path.join(TOP, "build", "tests", "guest", "vsock_echo")
        initrd = self.path("initramfs")
        subprocess.run(["bash", "-c", f'. "{TOP}/tests/guest/lib.sh"; extend_initramfs "$@"', "-",
                        initrd0, initrd, echo], check=True)
        uds = self.path("v.sock")
        vm = Minnow([self.minnow, "run", "--kernel", kernel, "--initrd", initrd, "--vsock", f"cid=7,uds={uds}",
                     "--append", 'console=ttyS0 minnow.cmd="vsock_echo listen 6000 1"'],
                    self.path("console.log"), timeout=TIMEOUT)
        self.procs.append(vm)
        vm.wait_for(r"^vsock_echo: listening 6000$")
        idle = []
        for i in range(200):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            # Blocking: a full backlog makes connect wait for minnow to accept.
            s.connect(uds)
            s.settimeout(TIMEOUT)
            idle.append(s)
        print("200 idle clients connected to the vsock socket, none sent CONNECT")
        data = os.urandom(32768)
        got = b""
        try:
            s = vsock_connect(uds, 6000, "the real client after 200 idle ones", timeout=TIMEOUT)
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            got = recv_upto(s, len(data))
            s.close()
        except OSError as e:
            raise Fail(f"the real client after 200 idle ones: {e}")
        if got != data:
            raise Fail(f"the real client's echo: {len(got)} of {len(data)} bytes came back right")
        print("then a real client connected to the guest's listener; 32 KiB echoed")
        # The idle ones were closed by minnow (their CONNECT is overdue).
        closed = 0
        for c in idle:
            try:
                if c.recv(1) == b"":
                    closed += 1
            except OSError:
                closed += 1
            c.close()
        if closed != len(idle):
            raise Fail(f"only {closed} of {len(idle)} idle clients were closed by minnow")
        print(f"minnow closed all {closed} idle clients")
        vm.expect_exit(0)

    # ---- migration ----

    def migrate_connect(self):
        kernel, initrd = self.guest()
        cfg = {"boot-source": {"kernel_image_path": kernel, "initrd_path": initrd,
                               "boot_args": 'console=ttyS0 minnow.cmd="sleep 600"'},
               "machine-config": {"vcpu_count": 1, "mem_size_mib": 64}}
        with open(self.path("cfg.json"), "w") as f:
            json.dump(cfg, f)
        m, sock = self.api_minnow(extra=["--config-file", self.path("cfg.json")])
        # A destination that never accepts: its backlog is full.
        dest = self.path("dest.sock")
        lst = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        lst.bind(dest)
        lst.listen(0)
        fillers = []
        for _ in range(4):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.setblocking(False)
            try:
                c.connect(dest)
                fillers.append(c)
            except BlockingIOError:
                c.close()
                break
        self.cleanups.append(lst.close)
        t0 = time.monotonic()
        expect(sock, "PUT", "/migrate", {"destination": "unix:" + dest}, 204)
        expect(sock, "GET", "/", None, 200)
        print(f"PUT /migrate to a socket that never accepts: 204, and GET / answered "
              f"({time.monotonic() - t0:.2f} s for both)")
        for _ in range(int(TIMEOUT / 0.1)):
            p = json.loads(expect(sock, "GET", "/migrate", None, 200))
            if p["state"] != "Active":
                break
            time.sleep(0.1)
        if p["state"] != "Failed" or "did not accept" not in p.get("error", ""):
            raise Fail(f"GET /migrate: {p}, expected Failed: did not accept")
        print(f"GET /migrate: Failed, {p['error']}")
        if '"Running"' not in expect(sock, "GET", "/", None, 200):
            raise Fail("the VM is not running on after the failed migration")
        for c in fillers:
            c.close()
        self.stop(m)

    def token_file(self):
        p = self.path("token")
        with open(p, "w") as f:
            f.write("correct horse battery staple 1234\n")
        return p, b"correct horse battery staple 1234"

    def target(self, extra, name="t"):
        port = free_port()
        addr = f"tcp:127.0.0.1:{port}"
        t = Minnow([self.minnow, "--incoming", addr, "--log-path", self.path(name + "-log.txt")] + list(extra),
                   self.path(name + ".log"), err_path=self.path(name + ".err"), timeout=TIMEOUT)
        self.procs.append(t)
        for _ in range(400):
            if b"waiting on" in t.err:
                return t, port
            if t.p.poll() is not None:
                raise Fail(f"the target exited ({t.p.returncode}): {t.err.decode()}")
            time.sleep(0.05)
        raise Fail("the target did not start listening")

    def wait_err(self, t, text):
        for _ in range(int(TIMEOUT / 0.05)):
            if text.encode() in t.err:
                return
            if t.p.poll() is not None and text.encode() not in t.err:
                raise Fail(f"the target exited ({t.p.returncode}) without saying '{text}': {t.err.decode()}")
            time.sleep(0.05)
        raise Fail(f"the target did not say '{text}': {t.err.decode()}")

    @staticmethod
    def handshake(port, key=None, wrong=False):
        """A source's handshake; returns the connected socket."""
        s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        ns = os.urandom(32)
        s.sendall(b"MINNOWMG" + struct.pack("<I", 2) + ns)
        reply = b""
        while len(reply) < 12 + 64:
            b = s.recv(12 + 64 - len(reply))
            if not b:
                raise Fail("the target closed during the handshake")
            reply += b
        if reply[:8] != b"MINNOWMT":
            raise Fail(f"the target's answer {reply[:12]!r} is not a handshake")
        auth = struct.unpack("<I", reply[8:12])[0]
        nt, proof = reply[12:44], reply[44:76]

        def mac(role):
            return hmac.new(key, role.encode().ljust(16, b"\0") + ns + nt, hashlib.sha256).digest()
        if key and auth:
            if not hmac.compare_digest(mac("target"), proof):
                raise Fail("the target's proof of the token does not verify")
            s.sendall(os.urandom(32) if wrong else mac("source"))
        else:
            s.sendall(bytes(32))
        return s

    @staticmethod
    def record(rtype, payload):
        return struct.pack("<IIQ", rtype, 0, len(payload)) + payload

    def config_record(self, mem_mib, drive=None):
        cfg = {"boot-source": {"kernel_image_path": "/nonexistent/Image"},
               "machine-config": {"vcpu_count": 1, "mem_size_mib": mem_mib}}
        if drive:
            cfg["drives"] = [{"drive_id": "d", "path_on_host": drive, "is_root_device": False}]
        return self.record(1, struct.pack("<Q", mem_mib << 20) + json.dumps(cfg).encode())

    def pages_record(self, first, n):
        """n pages from page `first`, as one zstd frame of raw blocks."""
        data = b"".join(bytes([(first + i) & 0xff]) * 4096 for i in range(n))
        frame = struct.pack("<I", 0xFD2FB528) + bytes([0xA0]) + struct.pack("<I", len(data))
        for off in range(0, len(data), 65536):
            block = data[off:off + 65536]
            last = off + 65536 >= len(data)
            hdr = (int(last)) | (0 << 1) | (len(block) << 3)
            frame += struct.pack("<I", hdr)[:3] + block
        head = struct.pack("<II", n, len(frame)) + b"".join(struct.pack("<Q", first + i) for i in range(n))
        return self.record(2, head + frame)

    def migrate_token(self):
        try:
            r = run([self.minnow, "--incoming", f"tcp:0.0.0.0:{free_port()}"], timeout=60)
        except subprocess.TimeoutExpired:
            raise Fail("--incoming on 0.0.0.0 without a token was not refused (still listening after 60 s)")
        if r.returncode != 122 or "needs --token" not in r.stdout:
            raise Fail(f"--incoming on 0.0.0.0 without a token: exit {r.returncode}: {r.stdout}")
        print(f"0.0.0.0 without --token: {r.stdout.strip()}")
        tok, key = self.token_file()
        allowed = self.path("allowed")
        os.mkdir(allowed)
        secret = self.path("secret.img")
        with open(secret, "wb") as f:
            f.write(b"host secret".ljust(4096, b"\0"))
        t, port = self.target(["--token", tok, "--allow-path", allowed])
        # No token at all, then a wrong proof: both refused, the target waits on.
        s = self.handshake(port)
        s.sendall(self.config_record(16))
        self.wait_err(t, "refused")
        s.close()
        s = self.handshake(port, key, wrong=True)
        s.sendall(self.config_record(16))
        for _ in range(400):
            if t.err.count(b"refused") >= 2:
                break
            time.sleep(0.05)
        if t.err.count(b"refused") < 2 or t.p.poll() is not None:
            raise Fail(f"the target did not refuse both peers and wait on: {t.err.decode()}")
        s.close()
        print("a peer without the token and one with a wrong proof: refused, the target still listens")
        # The right token, but a drive outside --allow-path.
        s = self.handshake(port, key)
        s.sendall(self.config_record(16, drive=secret))
        st = t.wait_exit(TIMEOUT)
        s.close()
        err = t.err.decode()
        if st != 123 or secret not in err or "allow-path" not in err:
            raise Fail(f"the target exited {st}; expected 123 naming {secret} and --allow-path: {err}")
        with open(secret, "rb") as f:
            if not f.read().startswith(b"host secret"):
                raise Fail("the host file was changed")
        print("the right token, a drive outside --allow-path: " + [l for l in err.split("\n") if secret in l][0])

    def migrate_stall(self):
        # Valid pages, then nothing.
        t, port = self.target(["--incoming-timeout", "2"], "t1")
        s = self.handshake(port)
        s.sendall(self.config_record(16) + self.pages_record(0, 8) + self.pages_record(100, 64))
        st = t.wait_exit(TIMEOUT)
        s.close()
        if st != 123 or b"stalled" not in t.err:
            raise Fail(f"the stalled source: the target exited {st}: {t.err.decode()}")
        print("stalled source: " + t.err.decode().strip().split("\n")[-1])
        # One byte every half second.
        t, port = self.target(["--incoming-timeout", "2"], "t2")
        s = self.handshake(port)
        s.sendall(self.config_record(16) + self.pages_record(0, 4))
        rec = self.pages_record(8, 4)
        for b in rec:
            try:
                s.sendall(bytes([b]))
            except OSError:
                break
            if t.p.poll() is not None:
                break
            time.sleep(0.5)
        st = t.wait_exit(TIMEOUT)
        s.close()
        if st != 123 or b"stalled" not in t.err:
            raise Fail(f"the trickling source: the target exited {st}: {t.err.decode()}")
        print("a byte every 0.5 s: " + t.err.decode().strip().split("\n")[-1])
        # SIGTERM once the target has the configuration and some pages.
        t, port = self.target([], "t3")
        s = self.handshake(port)
        s.sendall(self.config_record(16) + self.pages_record(0, 4))
        with open(self.path("t3-log.txt")) as f:
            for _ in range(400):
                if "the configuration arrived" in f.read():
                    break
                time.sleep(0.05)
                f.seek(0)
        t.p.send_signal(signal.SIGTERM)
        st = t.wait_exit(60)
        s.close()
        if st != 124 or b"signal" not in t.err:
            raise Fail(f"SIGTERM mid-stream: the target exited {st}: {t.err.decode()}")
        print("SIGTERM mid-stream: exit 124: " + t.err.decode().strip().split("\n")[-1])

    def run(self, mode):
        getattr(self, mode.replace("-", "_"))()

    def close(self):
        for c in self.cleanups:
            c()
        for p in self.procs:
            p.kill()


def main():
    global MODE
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    minnow, MODE = os.path.abspath(sys.argv[1]), sys.argv[2]
    extra = sys.argv[3] if len(sys.argv) > 3 else None
    with tempfile.TemporaryDirectory(prefix="minnow-hostile-") as work:
        t = Test(minnow, work, extra)
        try:
            t.run(MODE)
        except Fail as e:
            print(f"FAIL ({MODE}): {e}")
            return 1
        finally:
            t.close()
    print(f"ok ({MODE})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
