"""HTTP over minnow's API socket (a Unix socket), as a Firecracker client
talks to it: one connection per request, JSON in and out."""
import http.client
import json
import socket

from minnow_proc import Fail


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path, timeout=60):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def request(sock, method, path, body=None, timeout=60):
    """(status, raw body bytes, Content-Type) of one request; body: bytes,
    None (no body) or anything else (sent as JSON)."""
    c = UnixHTTP(sock, timeout)
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if data is not None else {}
    try:
        c.request(method, path, body=data, headers=headers)
        r = c.getresponse()
        raw = r.read()
        return r.status, raw, r.getheader("Content-Type")
    except (OSError, http.client.HTTPException) as e:
        raise Fail(f"{method} {path}: {e}")
    finally:
        c.close()


def api(sock, method, path, body=None):
    """(status, parsed JSON body or None) of one API request."""
    status, raw, _ = request(sock, method, path, body)
    return status, (json.loads(raw) if raw else None)


def expect(sock, method, path, body, status, fault=None):
    """The parsed answer of a request that must get `status` (and, if
    given, a fault_message containing `fault`); else Fail."""
    st, got = api(sock, method, path, body)
    if st != status:
        raise Fail(f"{method} {path} {body}: status {st}, expected {status} ({got})")
    if fault is not None:
        msg = (got or {}).get("fault_message", "")
        if fault not in msg:
            raise Fail(f"{method} {path}: fault_message {msg!r} does not contain {fault!r}")
    return got
