#!/usr/bin/env python3
"""Firecracker's MMDS (microVM metadata service) in minnow.
Usage: mmds.py MINNOW MODE [MMDS_CLIENT]
  api        the host side: --metadata FILE is the initial data store, PUT,
             PATCH (a JSON merge patch) and GET /mmds, a PUT over
             --mmds-size-limit answered 413 with a fault_message and the
             store unchanged, a 10 MiB PUT refused, PUT /mmds/config's
             checks (unknown interface, empty list, bad version, address not
             link-local), mmds-config in --config-file, bad --metadata and
             --mmds-size-limit refused at start (exit 122)
Exit status 0 on success, 77 (skip) when the host cannot run the mode."""
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
from minnow_proc import Fail, Minnow, run  # noqa: E402

BOOT_TIMEOUT = 300   # seconds; an ASan build boots a few times slower
MODE = "?"


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path, timeout=60):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def api(sock, method, path, body=None):
    """(status, parsed JSON body or None) of one API request."""
    c = UnixHTTP(sock)
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if data is not None else {}
    try:
        c.request(method, path, body=data, headers=headers)
        r = c.getresponse()
        raw = r.read()
    except (ConnectionError, http.client.HTTPException) as e:
        raise Fail(f"{method} {path}: {e}")
    finally:
        c.close()
    return r.status, (json.loads(raw) if raw else None)


def expect(sock, method, path, body, status, fault=None):
    st, got = api(sock, method, path, body)
    if st != status:
        raise Fail(f"{method} {path}: status {st}, expected {status} ({got})")
    if fault is not None:
        msg = (got or {}).get("fault_message", "")
        if fault not in msg:
            raise Fail(f"{method} {path}: fault_message {msg!r} does not contain {fault!r}")
    return got


class Test:
    def __init__(self, minnow, work, extra):
        self.minnow, self.work, self.extra = minnow, work, extra
        guest = run([os.path.join(TOP, "guest", "build"), "-q"], check=True).stdout.strip().split("\n")[-1]
        self.kernel = os.path.join(guest, "Image")
        self.initrd = os.path.join(guest, "initramfs.cpio.gz")
        self.procs = []

    def start(self, *extra, name="m"):
        sock = os.path.join(self.work, f"{name}.sock")
        m = Minnow([self.minnow, "--api-sock", sock] + list(extra), os.path.join(self.work, f"{name}.log"),
                   err_path=os.path.join(self.work, f"{name}.err"), timeout=BOOT_TIMEOUT)
        self.procs.append(m)
        for _ in range(400):
            if os.path.exists(sock):
                try:
                    api(sock, "GET", "/")
                    m.sock = sock
                    return m
                except (Fail, OSError):
                    pass
            if m.p.poll() is not None:
                raise Fail(f"minnow exited ({m.p.returncode}) before its API answered: {m.err.decode()}")
            subprocess.run(["sleep", "0.05"])
        raise Fail("the API socket did not answer")

    def stop(self, m):
        m.kill()

    def refused_at_start(self, args, text):
        r = run([self.minnow, "--api-sock", os.path.join(self.work, "bad.sock")] + args, timeout=60)
        if r.returncode != 122:
            raise Fail(f"minnow {' '.join(args)}: exit {r.returncode}, expected 122: {r.stdout}")
        if text not in r.stdout:
            raise Fail(f"minnow {' '.join(args)}: the message {r.stdout!r} does not say {text!r}")

    # ---- modes ----

    def api_mode(self):
        meta = os.path.join(self.work, "meta.json")
        with open(meta, "w") as f:
            json.dump({"latest": {"meta-data": {"ami-id": "ami-12345678", "reservation-id": "r-fea54097"}}}, f)
        m = self.start("--mmds-size-limit", "1000", "--metadata", meta)
        s = m.sock
        got = expect(s, "GET", "/mmds", None, 200)
        if got != {"latest": {"meta-data": {"ami-id": "ami-12345678", "reservation-id": "r-fea54097"}}}:
            raise Fail(f"GET /mmds after --metadata: {got}")
        # The user guide's PATCH example.
        expect(s, "PATCH", "/mmds", {"latest": {"meta-data": {"ami-id": "ami-87654321",
                                                             "reservation-id": "r-79054aef"}}}, 204)
        expect(s, "PATCH", "/mmds", {"latest": {"user-data": "hello", "meta-data": {"reservation-id": None}}}, 204)
        got = expect(s, "GET", "/mmds", None, 200)
        if got != {"latest": {"meta-data": {"ami-id": "ami-87654321"}, "user-data": "hello"}}:
            raise Fail(f"GET /mmds after the patches: {got}")
        # Over --mmds-size-limit: 413 with a fault_message; nothing changes.
        expect(s, "PUT", "/mmds", {"big": "x" * 1200}, 413, "exceeds the limit of 1000 bytes")
        expect(s, "PATCH", "/mmds", {"big": "x" * 1200}, 413, "exceeds the limit of 1000 bytes")
        if expect(s, "GET", "/mmds", None, 200) != got:
            raise Fail("a refused PUT or PATCH changed the data store")
        # 10 MiB: far over every limit, refused without taking it in.
        st, body = api(s, "PUT", "/mmds", json.dumps({"big": "y" * (10 << 20)}).encode())
        if st < 400 or "fault_message" not in (body or {}):
            raise Fail(f"a 10 MiB PUT /mmds got {st} {body}")
        print(f"10 MiB PUT /mmds: {st} {body['fault_message']}")
        expect(s, "PUT", "/mmds", b"{not json", 400, "malformed JSON")
        expect(s, "PUT", "/mmds", {"replaced": "yes"}, 204)
        if expect(s, "GET", "/mmds", None, 200) != {"replaced": "yes"}:
            raise Fail("PUT /mmds did not replace the data store")
        # /mmds/config
        expect(s, "PUT", "/mmds/config", {"network_interfaces": ["eth0"]}, 400,
               "does not correspond to any existing network interface")
        expect(s, "PUT", "/network-interfaces/eth0", {"iface_id": "eth0", "minnow_user": True}, 204)
        expect(s, "PUT", "/mmds/config", {"network_interfaces": []}, 400, "is empty")
        expect(s, "PUT", "/mmds/config", {"version": "V2"}, 400, "network_interfaces: required")
        expect(s, "PUT", "/mmds/config", {"network_interfaces": ["eth0"], "version": "V9"}, 400,
               "version: expected \"V1\" or \"V2\"")
        expect(s, "PUT", "/mmds/config", {"network_interfaces": ["eth0"], "ipv4_address": "10.1.2.3"}, 400,
               "not link local")
        expect(s, "PUT", "/mmds/config", {"network_interfaces": ["eth0"], "version": "V2",
                                          "ipv4_address": "169.254.170.2", "imds_compat": True}, 204)
        cfg = expect(s, "GET", "/vm/config", None, 200)
        want = {"version": "V2", "network_interfaces": ["eth0"], "ipv4_address": "169.254.170.2",
                "imds_compat": True}
        if cfg.get("mmds-config") != want:
            raise Fail(f"GET /vm/config has mmds-config {cfg.get('mmds-config')}, expected {want}")
        self.stop(m)
        # mmds-config in a configuration file (Firecracker's key) is taken.
        conf = os.path.join(self.work, "vm.json")
        with open(conf, "w") as f:
            json.dump({"boot-source": {"kernel_image_path": self.kernel, "initrd_path": self.initrd,
                                       "boot_args": "console=ttyS0 minnow.cmd=\"sleep 600\""},
                       "network-interfaces": [{"iface_id": "net1", "minnow_user": True}],
                       "mmds-config": {"network_interfaces": ["net1"], "version": "V1"}}, f)
        m = self.start("--config-file", conf, "--metadata", meta, name="c")
        cfg = expect(m.sock, "GET", "/vm/config", None, 200)
        if cfg.get("mmds-config", {}).get("network_interfaces") != ["net1"]:
            raise Fail(f"the config file's mmds-config is not in GET /vm/config: {cfg}")
        # After start: /mmds still takes data, /mmds/config is pre-boot only.
        expect(m.sock, "PATCH", "/mmds", {"late": "ok"}, 204)
        expect(m.sock, "PUT", "/mmds/config", {"network_interfaces": ["net1"]}, 400, "pre-boot only")
        self.stop(m)
        with open(os.path.join(self.work, "bad.json"), "w") as f:
            f.write("{\"a\": ")
        self.refused_at_start(["--metadata", os.path.join(self.work, "bad.json")], "not valid JSON")
        self.refused_at_start(["--metadata", os.path.join(self.work, "none.json")], "No such file")
        self.refused_at_start(["--mmds-size-limit", "10", "--metadata", meta], "exceeds the limit of 10 bytes")
        self.refused_at_start(["--mmds-size-limit", "lots"], "--mmds-size-limit: expected a number of bytes")


def main():
    global MODE
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    minnow, MODE = os.path.abspath(sys.argv[1]), sys.argv[2]
    extra = sys.argv[3] if len(sys.argv) > 3 else None
    with tempfile.TemporaryDirectory(prefix="minnow-mmds-") as work:
        t = Test(minnow, work, extra)
        try:
            getattr(t, MODE.replace("-", "_") + "_mode")()
        except Fail as e:
            print(f"FAIL ({MODE}): {e}")
            for p in t.procs:
                print(f"--- minnow stderr ---\n{p.err.decode(errors='replace')[-4000:]}")
                print(f"--- console (last 3000) ---\n{p.text()[-3000:]}")
            return 1
        finally:
            for p in t.procs:
                p.kill()
    print(f"PASS ({MODE})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
