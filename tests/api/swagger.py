#!/usr/bin/env python3
"""The whole of Firecracker's API against minnow, from tests/api/fc_api.json
(our fixture: every path and method of Firecracker's swagger, a valid body
for each, the status Firecracker answers, and JSON Schemas of the GET
answers transcribed from the swagger's definitions).
Usage: swagger.py MINNOW
The source minnow runs the fixture's "source" steps: the pre-boot
operations, InstanceStart of the default guest (its console in a file
through PUT /serial), the post-boot ones (PATCH drives, network and
balloon, balloon statistics asked until the guest holds the balloon,
MMDS, FlushMetrics, Pause, a full snapshot, Resume). A second minnow runs
the "restored" steps: PUT /snapshot/load with network and vsock
overrides; the restored guest keeps counting on its console, and
the restored minnow writes a periodic metrics line (its timer thread,
sandboxed, 60 s after PUT /metrics) and lives on; SendCtrlAltDel reaches
its init. Every body the fixture sends must
validate against its swagger definition first (Firecracker's keys only).
Checked for every answer: the status
(and, for 204, no body); every 4xx carries {"fault_message": string};
every GET 200 validates (python3-jsonschema, draft 7) against the
fixture's schema, made strict (keys the swagger does not name are refused
unless the fixture lists them as minnow's extensions), and holds the
values the step expects. Operations the fixture marks not_applicable must
get a 400 whose fault_message says why; not_yet ones must get a 400 for
an unknown route (when minnow answers one, the test fails and says to
move it out of not_yet). Every operation of the fixture must have been
exercised, and the fixture must list as many as the swagger it names.
Each minnow and its TAP device (swtap0, swtap1) run in a network
namespace of their own (unshare -rn); exit 77 (skip) when the host
cannot make one. Prints a table: path, method, status, validated."""
import copy
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import jsonschema

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
from api_client import Fail as HttpFail, request  # noqa: E402
from minnow_proc import Fail, Minnow, run  # noqa: E402

BOOT_TIMEOUT = 300   # seconds; an ASan build on a busy machine boots a few times slower
UNKNOWN_ROUTE = "Invalid request method and/or path"
FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fc_api.json")


def strict(schema, defs, extensions, name=None):
    """schema with additionalProperties false on every object that names
    properties, but for the keys extensions[definition] allows."""
    s = copy.deepcopy(schema)
    if isinstance(s, dict):
        if "$ref" in s:
            return s
        if "properties" in s:
            s["properties"] = {p: strict(v, defs, extensions) for p, v in s["properties"].items()}
        if "items" in s:
            s["items"] = strict(s["items"], defs, extensions)
        if s.get("type") == "object" and "properties" in s:
            for extra in extensions.get(name, []):
                s["properties"].setdefault(extra, {})
            s["additionalProperties"] = False
    return s


def holds(got, want, where=""):
    """'' when got holds want (a dict's keys, a list's items in order,
    equal scalars), else where it does not."""
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return f"{where or '/'}: {got!r} is not an object"
        for k, v in want.items():
            if k not in got:
                return f"{where}/{k}: missing"
            r = holds(got[k], v, f"{where}/{k}")
            if r:
                return r
        return ""
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return f"{where}: {got!r} is not a list of {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            r = holds(g, w, f"{where}/{i}")
            if r:
                return r
        return ""
    return "" if got == want else f"{where}: {got!r}, expected {want!r}"


class Test:
    def __init__(self, minnow, work):
        self.minnow, self.work = minnow, work
        with open(FIXTURE) as f:
            self.fx = json.load(f)
        guest = run([os.path.join(TOP, "guest", "build"), "-q"], check=True).stdout.strip().split("\n")[-1]
        self.subst = {"@KERNEL@": os.path.join(guest, "Image"), "@INITRD@": os.path.join(guest, "initramfs.cpio.gz"),
                      "@WORK@": work}
        defs = self.fx["definitions"]
        ext = self.fx["minnow_extensions"]
        sdefs = {n: strict(d, defs, ext, n) for n, d in defs.items()}
        self.validators = {n: jsonschema.Draft7Validator({"$ref": f"#/definitions/{n}", "definitions": sdefs})
                           for n in defs}
        # The bodies the fixture sends: Firecracker's keys only.
        rdefs = {n: strict(d, defs, {}, n) for n, d in defs.items()}
        self.req_validators = {n: jsonschema.Draft7Validator({"$ref": f"#/definitions/{n}", "definitions": rdefs})
                               for n in defs}
        for v in list(self.validators.values()) + list(self.req_validators.values()):
            jsonschema.Draft7Validator.check_schema(v.schema)
        self.ops = self.fx["operations"]
        self.exercised = {}   # op -> list of rows
        self.rows = []
        self.procs = []

    def fill(self, v):
        if isinstance(v, str):
            for k, r in self.subst.items():
                v = v.replace(k, r)
            return v
        if isinstance(v, list):
            return [self.fill(x) for x in v]
        if isinstance(v, dict):
            return {k: self.fill(x) for k, x in v.items()}
        return v

    def start(self, name, tap):
        """A minnow in a network namespace of its own that has the TAP tap."""
        sock = os.path.join(self.work, f"{name}.sock")
        sh = f"ip link set lo up && ip tuntap add dev {tap} mode tap && ip link set {tap} up && exec \"$@\""
        m = Minnow(["unshare", "-rn", "sh", "-c", sh, "sh", self.minnow, "--api-sock", sock],
                   os.path.join(self.work, f"{name}.console"), err_path=os.path.join(self.work, f"{name}.err"),
                   timeout=BOOT_TIMEOUT)
        self.procs.append(m)
        m.sock, m.name = sock, name
        end = time.monotonic() + 60
        while time.monotonic() < end:
            if m.p.poll() is not None:
                raise Fail(f"{name}: minnow exited ({m.p.returncode}) before its API answered: {m.err.decode()}")
            if os.path.exists(sock):
                try:
                    request(sock, "GET", "/version")
                    return m
                except HttpFail:
                    pass
            subprocess.run(["sleep", "0.05"])
        raise Fail(f"{name}: the API socket did not answer within 60 s")

    def serial_text(self, name):
        try:
            with open(os.path.join(self.work, f"{name}-serial.out"), "rb") as f:
                return f.read().decode(errors="replace").replace("\r", "")
        except FileNotFoundError:
            return ""

    def wait_text(self, what, get, pattern, timeout=BOOT_TIMEOUT, proc=None):
        """Waits until get() matches pattern; the matches."""
        rx = re.compile(pattern, re.M)
        end = time.monotonic() + timeout
        while True:
            found = rx.findall(get())
            if found:
                return found
            if proc is not None and proc.p.poll() is not None:
                raise Fail(f"minnow ended ({proc.p.returncode}) before {what} showed /{pattern}/")
            if time.monotonic() > end:
                raise Fail(f"no /{pattern}/ in {what} within {timeout} s")
            subprocess.run(["sleep", "0.1"])

    def console(self, m):
        """The guest's console: the serial file that the source's PUT
        /serial named (a restored VM may write there too: it is in the
        snapshot), and minnow's stdout."""
        return self.serial_text("source") + m.text()

    def step(self, m, s):
        op = s["op"]
        if op not in self.ops:
            raise Fail(f"step {s}: {op!r} is not among the fixture's operations")
        info = self.ops[op]
        method, tmpl = op.split(" ", 1)
        path = s.get("path", tmpl)
        if "{" in path:
            raise Fail(f"step {op}: no path with the id filled in")
        body = self.fill(s["body"]) if "body" in s else None
        if body is not None:
            if "request" not in info:
                raise Fail(f"step {op}: a body, but the fixture names no request definition for it")
            errs = list(self.req_validators[info["request"]].iter_errors(body))
            if errs:
                raise Fail(f"step {op}: the fixture's body is not a valid {info['request']}: " + "; ".join(
                    f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errs[:5]))
        if "wait_console" in s:
            self.wait_text(f"{m.name}'s console", lambda: self.console(m), s["wait_console"], proc=m)
        if s.get("wait_tick"):
            # The restored guest goes on counting past the source's last
            # tick (the source is gone: a higher one is the restored guest's).
            self.wait_text(f"{m.name}'s console", lambda: self.console(m), rf"^swagger-tick-({self.last_tick + 1})$",
                           proc=m)
        if "wait_periodic" in s:
            # The metrics timer's own line (every 60 s), written by its
            # sandboxed thread while the VM runs.
            mpath = self.fill(s["wait_periodic"])

            def metrics():
                try:
                    with open(mpath) as f:
                        return f.read()
                except FileNotFoundError:
                    return ""
            self.wait_text(mpath, metrics, r'"reason": ?"periodic"', timeout=180, proc=m)
        grow = self.fill(s.get("metrics_grow", ""))
        before = os.path.getsize(grow) if grow and os.path.exists(grow) else 0
        want = s["status"]
        if "not_applicable" in info or "not_yet" in info:
            want = 400
        what = f"{m.name}: {method} {path}"
        deadline = time.monotonic() + BOOT_TIMEOUT
        while True:
            st, raw, ctype = request(m.sock, method, path, body)
            got = None
            if raw:
                try:
                    got = json.loads(raw)
                except ValueError:
                    raise Fail(f"{what}: status {st}, body is not JSON: {raw[:200]!r}")
            if "until" in s and st == want and not holds(got, s["until"]):
                break
            if "until" not in s or time.monotonic() > deadline:
                break
            subprocess.run(["sleep", "0.5"])
        fault = got.get("fault_message") if isinstance(got, dict) else None
        if "not_yet" in info and 200 <= st < 300:
            raise Fail(f"{what}: answered {st}: minnow implements it now; move {op!r} out of not_yet in "
                       f"tests/api/fc_api.json (its steps, body and schema are there already)")
        if st != want:
            raise Fail(f"{what}: status {st}, expected {want}: {raw[:300]!r}")
        if 400 <= st < 500:
            try:
                self.validators["Error"].validate(got)
            except jsonschema.ValidationError as e:
                raise Fail(f"{what}: the {st} answer is not {{\"fault_message\": string}}: {raw[:300]!r} "
                           f"({e.message})")
        if "not_yet" in info and UNKNOWN_ROUTE not in fault:
            raise Fail(f"{what}: minnow has a route for it now ({fault!r}); move {op!r} out of not_yet in "
                       f"tests/api/fc_api.json (its steps, body and schema are there already)")
        if "not_applicable" in info and info["fault_contains"] not in fault:
            raise Fail(f"{what}: the 400's fault_message {fault!r} does not say {info['fault_contains']!r}")
        if st == 204 and raw:
            raise Fail(f"{what}: 204 with a body: {raw[:200]!r}")
        validated = "-"
        if st == 200 and method == "GET":
            name = info.get("response")
            if not name:
                raise Fail(f"{op}: the fixture gives no response schema")
            errs = sorted(self.validators[name].iter_errors(got), key=lambda e: list(e.absolute_path))
            if errs:
                raise Fail(f"{what}: the answer does not validate against {name}: " + "; ".join(
                    f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errs[:5]) + f"\n{raw[:1500]!r}")
            validated = name
            if "expect" in s:
                r = holds(got, self.fill(s["expect"]))
                if r:
                    raise Fail(f"{what}: {r}\n{raw[:1500]!r}")
        if grow:
            after = os.path.getsize(grow) if os.path.exists(grow) else 0
            if after <= before:
                raise Fail(f"{what}: the metrics file {grow} did not grow ({before} -> {after} bytes)")
        if "exits" in s:
            m.wait_exit(BOOT_TIMEOUT)
            if not re.search(s["exits"], self.console(m), re.M):
                raise Fail(f"{what}: minnow exited but the guest's console has no /{s['exits']}/")
        note = ("not applicable (RISC-V)" if "not_applicable" in info else f"not yet ({info['not_yet']})"
                if "not_yet" in info else s.get("note", ""))
        row = (m.name, tmpl, method, st, validated, note)
        self.rows.append(row)
        self.exercised.setdefault(op, []).append(row)

    def run(self):
        sw = self.fx["swagger"]
        if len(self.ops) != sw["operations"]:
            raise Fail(f"the fixture lists {len(self.ops)} operations, the swagger {sw['version']} has "
                       f"{sw['operations']}")
        for op, info in self.ops.items():
            if op.startswith("GET ") and "response" not in info:
                raise Fail(f"{op}: a GET without a response schema in the fixture")
            if "not_applicable" in info and not info.get("fault_contains"):
                raise Fail(f"{op}: not_applicable without the fault_contains to check")
        for n in ("data0", "data1", "pmem0"):
            with open(os.path.join(self.work, f"{n}.img"), "wb") as f:
                f.truncate(4 << 20)
        self.source = self.start("source", "swtap0")
        for s in self.fx["steps"]["source"]:
            self.step(self.source, s)
        self.source.kill()
        ticks = re.findall(r"^swagger-tick-(\d+)$", self.console(self.source), re.M)
        if not ticks:
            raise Fail("the source guest printed no swagger-tick line")
        self.last_tick = max(map(int, ticks))
        restored = self.start("restored", "swtap1")
        for s in self.fx["steps"]["restored"]:
            self.step(restored, s)
        missing = [op for op in self.ops if op not in self.exercised]
        print(f"{'minnow':<9} {'path':<34} {'method':<6} {'status':<6} {'validated':<21} note")
        for r in self.rows:
            print(f"{r[0]:<9} {r[1]:<34} {r[2]:<6} {r[3]:<6} {r[4]:<21} {r[5]}")
        if missing:
            raise Fail(f"operations in the fixture that no step exercised: {missing}")
        na = sum("not_applicable" in i for i in self.ops.values())
        ny = sum("not_yet" in i for i in self.ops.values())
        print(f"swagger {sw['version']}: {len(self.ops)} operations: {len(self.ops) - na - ny} exercised, "
              f"{na} not applicable, {ny} not yet; {len(self.rows)} requests, "
              f"{sum(r[4] != '-' for r in self.rows)} answers validated")


def main():
    if len(sys.argv) != 2:
        print("usage: swagger.py MINNOW", file=sys.stderr)
        return 2
    minnow = os.path.abspath(sys.argv[1])
    probe = run(["unshare", "-rn", "sh", "-c", "ip tuntap add dev swprobe mode tap"])
    if probe.returncode:
        print(f"SKIP: cannot make a network namespace with a TAP device (unshare -rn): {probe.stdout.strip()}")
        return 77
    with tempfile.TemporaryDirectory(prefix="minnow-swagger-") as work:
        t = Test(minnow, work)
        try:
            t.run()
        except Fail as e:
            print(f"FAIL: {e}", file=sys.stderr)
            for m in t.procs:
                print(f"--- {m.name} stderr ---\n{m.err.decode(errors='replace')[-3000:]}", file=sys.stderr)
                print(f"--- {m.name} console ---\n{t.console(m)[-3000:]}", file=sys.stderr)
            return 1
        finally:
            for m in t.procs:
                m.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
