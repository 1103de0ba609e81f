"""A minnow process for the Python integration tests: its console (stdout)
collected in memory and written to a log as it comes, with waits on what
the guest prints. Shared by tests/devices and tests/snapshot."""
import re
import socket
import subprocess
import threading
import time


class Fail(Exception):
    pass


def run(cmd, **kw):
    """cmd's exit status and output (stdout and stderr together, as text)."""
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def console_numbers(pattern, *procs):
    """The numbers that pattern (a regex with one group, matched per line)
    finds on the consoles of procs, read one after another: the
    incarnations of one VM (before and after a snapshot, a restore, a
    migration), which may have stopped in the middle of a line that the
    next one finishes."""
    return [int(x) for x in re.findall(pattern, "".join(p.text() for p in procs), re.M)]


def vsock_connect(uds, port, what, timeout=60):
    """A host connection to the guest's vsock port through minnow's Unix
    socket uds (Firecracker's "CONNECT PORT" / "OK N" handshake)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # Blocking connect: with a timeout set, a Unix socket whose backlog is
    # full fails at once with EAGAIN instead of waiting for minnow's accept.
    s.connect(uds)
    s.settimeout(timeout)
    s.sendall(f"CONNECT {port}\n".encode())
    line = b""
    while not line.endswith(b"\n"):
        b = s.recv(1)
        if not b:
            raise Fail(f"{what}: closed before OK (line so far {line!r})")
        line += b
    if not re.fullmatch(rb"OK \d+\n", line):
        raise Fail(f"{what}: answer {line!r}, expected 'OK <port>'")
    return s


def recv_upto(s, n):
    """Up to n bytes from socket s: fewer only if the peer closed first."""
    got = b""
    while len(got) < n:
        b = s.recv(65536)
        if not b:
            break
        got += b
    return got


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Minnow:
    """Runs args (prefix first, e.g. `ip netns exec NS`). stderr goes to
    err_path when given (read it with .err), else into the console."""

    def __init__(self, args, log_path, prefix=(), stdin=subprocess.DEVNULL, err_path=None, timeout=180):
        self.log = open(log_path, "wb")
        self.buf = b""
        self.timeout = timeout
        self.err_path = err_path
        self.cond = threading.Condition()
        err = open(err_path, "wb") if err_path else subprocess.STDOUT
        self.p = subprocess.Popen(list(prefix) + list(args), stdin=stdin, stdout=subprocess.PIPE, stderr=err)
        if err_path:
            err.close()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        while True:
            chunk = self.p.stdout.read1(65536)
            with self.cond:
                if not chunk:
                    self.cond.notify_all()
                    return
                self.buf += chunk
                self.log.write(chunk)
                self.log.flush()
                self.cond.notify_all()

    @property
    def err(self):
        if not self.err_path:
            return b""
        with open(self.err_path, "rb") as f:
            return f.read()

    def text(self):
        with self.cond:
            return self.buf.decode(errors="replace").replace("\r", "")

    def wait_for(self, pattern, timeout=None):
        """Waits for a regex on the console; returns the match."""
        timeout = timeout or self.timeout
        end = time.monotonic() + timeout
        rx = re.compile(pattern, re.M)
        with self.cond:
            while True:
                m = rx.search(self.buf.decode(errors="replace").replace("\r", ""))
                if m:
                    return m
                if not self.t.is_alive():
                    raise Fail(f"minnow ended (status {self.p.poll()}) before the guest printed /{pattern}/"
                               + (f"; stderr: {self.err.decode(errors='replace')}" if self.err_path else ""))
                left = end - time.monotonic()
                if left <= 0:
                    raise Fail(f"no /{pattern}/ on the console within {timeout} s")
                self.cond.wait(min(left, 1.0))

    def wait_exit(self, timeout=None):
        timeout = timeout or self.timeout
        try:
            st = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise Fail(f"minnow did not finish within {timeout} s")
        self.t.join(10)
        return st

    def expect_exit(self, want, timeout=None):
        st = self.wait_exit(timeout)
        if st != want:
            raise Fail(f"minnow exited with status {st}, expected {want}")

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()

    def expect_line(self, line):
        if line not in self.text().split("\n"):
            raise Fail(f"the guest did not print the line '{line}'")
