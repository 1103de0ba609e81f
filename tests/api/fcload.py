#!/usr/bin/env python3
"""Firecracker's machine-config huge_pages and PUT /snapshot/load's
clock_realtime, and the logger's module filter, in minnow (src/firecracker/swagger/firecracker.yaml in
Firecracker's repository names both).
Usage: fcload.py MINNOW
  huge_pages "None" and "2M" are taken by PUT /machine-config and reported
  by GET /machine-config and GET /vm/config (minnow's anonymous guest RAM
  is always advised to transparent huge pages); any other size is a 400
  naming the field; clock_realtime true is a 400 saying why (it advances
  x86's kvmclock), false gets past that check to the snapshot file's;
  PUT /logger's module: the lines of four API requests (all from
  src/api/api_vmm.c) are all written with the module "api/api_v" (a
  prefix) and none with "vmm", the same with --module; GET /vm/config reports the module; an empty
  or over-long module is a 400.
Exit status 0 on success."""
import json
import os
import re
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
from api_client import api, expect, request  # noqa: E402
from minnow_proc import Fail, Minnow  # noqa: E402



def start(minnow, work, name, *extra):
    sock = os.path.join(work, f"{name}.sock")
    m = Minnow([minnow, "--api-sock", sock] + list(extra), os.path.join(work, f"{name}.log"),
               err_path=os.path.join(work, f"{name}.err"), timeout=120)
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


def main():
    minnow = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory(prefix="minnow-fcload-") as work:
        m = start(minnow, work, "m")
        try:
            s = m.sock
            for hp in ("2M", "None"):
                expect(s, "PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 128, "huge_pages": hp}, 204)
                got = expect(s, "GET", "/machine-config", None, 200).get("huge_pages")
                if got != hp:
                    raise Fail(f"GET /machine-config: huge_pages {got!r} after a PUT of {hp!r}")
            expect(s, "PATCH", "/machine-config", {"huge_pages": "2M"}, 204)
            got = expect(s, "GET", "/vm/config", None, 200)["machine-config"].get("huge_pages")
            if got != "2M":
                raise Fail(f"GET /vm/config: huge_pages {got!r} after a PATCH of '2M'")
            for bad in ("1G", "2m", ""):
                expect(s, "PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 128, "huge_pages": bad}, 400,
                       "huge_pages")
            expect(s, "PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 128, "huge_pages": 2}, 400,
                   "huge_pages")
            got = expect(s, "GET", "/machine-config", None, 200).get("huge_pages")
            if got != "2M":
                raise Fail(f"a refused PUT changed huge_pages to {got!r}")
            print("huge_pages: None and 2M taken and reported, 1G/2m/''/2 refused")

            logs = {}
            for name, module in (("all", None), ("api", "api/api_v"), ("none", "vmm")):
                lm = start(minnow, work, "log-" + name)
                path = os.path.join(work, f"{name}.log-out")
                body = {"log_path": path, "level": "Debug", "show_log_origin": True}
                if module:
                    body["module"] = module
                expect(lm.sock, "PUT", "/logger", body, 204)
                if module:
                    got = expect(lm.sock, "GET", "/vm/config", None, 200)["logger"].get("module")
                    if got != module:
                        raise Fail(f"GET /vm/config: logger module {got!r}, expected {module!r}")
                expect(lm.sock, "PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 64}, 204)
                expect(lm.sock, "PUT", "/boot-source", {"kernel_image_path": "/nonexistent"}, 400)
                expect(lm.sock, "PUT", "/actions", {"action_type": "InstanceStart"}, 400)
                lm.kill()
                with open(path) as f:
                    logs[name] = [x for x in f.read().splitlines() if x]
            # Without a guest every line is the API's (src/api/api_vmm.c):
            # a prefix of that path keeps them all, "vmm" none.
            def reqs(lines):
                return [m.group(1) for m in map(lambda x: re.search(r"API (PUT \S+: \d+)", x), lines) if m]
            strip = reqs(logs["all"])
            if len(logs["all"]) < 4 or not all("src/api/api_vmm.c" in x for x in logs["all"]):
                raise Fail(f"without a module: expected the 4 requests from src/api/api_vmm.c: {logs['all']}")
            if reqs(logs["api"]) != strip or len(strip) != 4:
                raise Fail(f"module 'api/api_v': not the same lines as without a module: {logs['api']}")
            if logs["none"]:
                raise Fail(f"module 'vmm': lines from src/api written: {logs['none']}")
            expect(s, "PUT", "/logger", {"log_path": os.path.join(work, "x"), "module": ""}, 400, "module")
            expect(s, "PUT", "/logger", {"log_path": os.path.join(work, "x"), "module": "a" * 64}, 400, "module")
            expect(s, "PUT", "/logger", {"log_path": os.path.join(work, "x"), "module": "vmm::devices"}, 400,
                   "Rust module path")
            for module, want in (("api/api_vmm.c", 1), ("vmm", 0)):
                path = os.path.join(work, f"cli-{want}.log-out")
                cm = start(minnow, work, f"cli-{want}", "--log-path", path, "--module", module)
                expect(cm.sock, "PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 64}, 204)
                cm.kill()
                with open(path) as f:
                    n = len(re.findall(r"API PUT /machine-config: 204", f.read()))
                if n != want:
                    raise Fail(f"--module {module}: {n} lines of the PUT, expected {want}")
            print(f"logger module: {len(logs['all'])} lines without, {len(logs['api'])} with 'api/api_v', "
                  f"{len(logs['none'])} with a module nothing is in")

            r = start(minnow, work, "r")
            missing = os.path.join(work, "no-such.state")
            load = {"snapshot_path": missing, "mem_backend": {"backend_type": "File",
                                                              "backend_path": os.path.join(work, "no.mem")}}
            expect(r.sock, "PUT", "/snapshot/load", dict(load, clock_realtime=True), 400, "kvmclock")
            got = expect(r.sock, "PUT", "/snapshot/load", dict(load, clock_realtime=False), 400)
            if "clock_realtime" in got.get("fault_message", "") or "no-such.state" not in got["fault_message"]:
                raise Fail(f"clock_realtime false was not taken: {got}")
            expect(r.sock, "PUT", "/snapshot/load", dict(load, clock_realtime="yes"), 400, "clock_realtime")
            print("clock_realtime: true refused with the reason, false taken")
            r.kill()
        except Fail as e:
            print(f"FAIL: {e}\n--- stderr ---\n{m.err.decode(errors='replace')[-3000:]}")
            return 1
        finally:
            m.kill()
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
