#!/usr/bin/env python3
"""Pausing, snapshotting and migrating SMP guests while their harts wait
for each other, driven through the REST API (see snapshot.py for the
helpers). Usage: harts.py MINNOW MODE FENCER
  pause-fence2  2 harts running FENCER (threads flipping page protections,
  pause-fence4  so the kernel fences the other harts' TLBs through the SBI
                all the time): 60 (2 harts) or 40 (4 harts) rounds of
                PATCH /vm Paused, GET / says Paused, PATCH /vm Resumed,
                and the guest makes 20 more SBI remote fences (FlushMetrics)
                before the next pause. Every pause returns (the curl
                timeout is only a safety net), the guest goes on to its
                next round and ends when told to (SIGTERM: exit 124)
  pause-storm2  the same with FENCE_STORM (bare metal, S-mode under
  pause-storm4  minnow's SBI: every hart asks every hart for remote
                fences in a tight loop, so nearly every pause catches a
                hart waiting in one): 100 rounds each, 1000 more fences
                between pauses
  pause-storm8  the same on 8 harts (more than the host's cores)
  resume-migrate  a migration to a target that accepted but reads nothing
                (it stays under way): PATCH /vm Resumed is refused with 400
                and a fault_message naming the migration, PATCH Paused and
                snapshots answer (pause 204, snapshot/create 400), the VM
                is paused or running as the API last asked; when the target
                hangs up, GET /migrate says Failed (the migration thread
                ended), a resume works and the guest runs on. Done once
                with the VM running and once paused when the migration starts
  opensbi       2 harts booted under Debian's OpenSBI (fw_dynamic, which
                sets mcountinhibit to 0xfffffff8) count on the console;
                paused, snapshotted, killed, restored in a new process: the
                count goes on from the next number to the end and the
                guest's exit status comes back through OpenSBI
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import snapshot  # noqa: E402
from snapshot import Fail, api, expect  # noqa: E402

OPENSBI = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"


class HartsTest(snapshot.Test):
    def __init__(self, minnow, work, fencer, storm):
        super().__init__(minnow, work)
        self.fencer, self.storm = fencer, storm

    def fencer_initrd(self):
        out = self.path("initramfs-fencer")
        subprocess.run(["bash", "-c", f'. "{snapshot.TOP}/tests/guest/lib.sh"; extend_initramfs "$@"', "-",
                        self.initrd, out, self.fencer], check=True)
        return out

    def rounds(self, m):
        return [int(x) for x in re.findall(r"^fencer: round (\d+)$", m.text(), re.M)]

    def flush_metrics(self, m, path):
        expect(m.sock, "PUT", "/actions", {"action_type": "FlushMetrics"}, 204)
        with open(path) as f:
            lines = [json.loads(x) for x in f if x.strip()]
        flushes = [l["minnow"] for l in lines if l["minnow"]["reason"] == "FlushMetrics"]
        if not flushes:
            raise Fail(f"no FlushMetrics line in {path}")
        return flushes[-1]   # minnow's own, cumulative counts

    def state(self, m):
        return json.loads(expect(m.sock, "GET", "/", None, 200))["state"]

    # ---- pause during remote fences ----

    def pause_trials(self, m, metrics, harts, trials, more):
        """trials rounds of pause, check, resume, and `more` SBI remote
        fences before the next pause; returns the fences made meanwhile."""
        before = self.flush_metrics(m, metrics)["sbi"]["rfence"]
        for t in range(trials):
            # The pause must come back whatever the harts are doing; curl's
            # own limit (120 s) is only there so a hang ends the test.
            got, text = api(m.sock, "PATCH", "/vm", {"state": "Paused"}, check=False)
            if got != 204:
                raise Fail(f"trial {t + 1}: PATCH /vm Paused did not return 204 (status {got}, {text!r}): "
                           "the pause hung")
            if self.state(m) != "Paused":
                raise Fail(f"trial {t + 1}: GET / does not say Paused")
            paused_at = self.flush_metrics(m, metrics)["sbi"]["rfence"]
            expect(m.sock, "PATCH", "/vm", {"state": "Resumed"}, 204)
            # Fences again before the next pause, so it lands among them.
            self.wait_fences(m, metrics, paused_at + more, f"trial {t + 1}")
        return self.flush_metrics(m, metrics)["sbi"]["rfence"] - before

    def pause_fence(self, harts, trials):
        metrics = self.path("metrics.json")
        m = self.boot("vm", self.config(f"fencer {harts} 50", vcpus=harts, initrd=self.fencer_initrd()),
                      extra=["--metrics-path", metrics])
        m.wait_for(rf"^fencer: {harts} threads started$")
        m.wait_for(r"^fencer: round 2$")
        n = self.pause_trials(m, metrics, harts, trials, 20)
        last = self.rounds(m)[-1]
        m.wait_for(rf"^fencer: round {last + 1}$")
        if "MISMATCH" in m.text():
            raise Fail("the guest saw a write of its own go missing")
        os.kill(m.p.pid, signal.SIGTERM)
        m.expect_exit(124)
        print(f"{trials} pauses on {harts} harts each returned; {n} SBI remote fences meanwhile; "
              f"the guest reached round {self.rounds(m)[-1]}")

    def pause_storm(self, harts, trials):
        metrics = self.path("metrics.json")
        cfg = {"boot-source": {"kernel_image_path": self.storm, "boot_args": ""},
               "machine-config": {"vcpu_count": harts, "mem_size_mib": 64}}
        m = self.boot("vm", cfg, extra=["--metrics-path", metrics])
        m.wait_for(r"^fence-storm: running$")
        n = self.pause_trials(m, metrics, harts, trials, 1000)
        os.kill(m.p.pid, signal.SIGTERM)
        m.expect_exit(124)
        print(f"{trials} pauses of {harts} harts in a fence storm each returned; {n} SBI remote fences meanwhile")

    def wait_fences(self, m, metrics, want, what):
        end = time.monotonic() + snapshot.TIMEOUT
        while True:
            n = self.flush_metrics(m, metrics)["sbi"]["rfence"]
            if n >= want:
                return n
            if time.monotonic() > end:
                raise Fail(f"{what}: the guest made {n} SBI remote fences, no more, after the resume")
            time.sleep(0.02)

    def pause_fence2(self):
        self.pause_fence(2, 60)

    def pause_fence4(self):
        self.pause_fence(4, 40)

    def pause_storm2(self):
        self.pause_storm(2, 100)

    def pause_storm4(self):
        self.pause_storm(4, 100)

    def pause_storm8(self):
        # More harts than host cores: hart threads are descheduled in the
        # middle of their fences all the time, as on a loaded host.
        self.pause_storm(8, 100)

    # ---- resume during a migration ----

    def stalled_target(self, name):
        """A Unix socket that accepts one connection and never reads from
        it, until .hang_up(): a migration to it stays under way."""
        path = self.path(name + ".mig")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        srv.listen(1)
        conns = []
        accepted = threading.Event()

        def accept():
            c, _ = srv.accept()
            conns.append(c)
            accepted.set()
        threading.Thread(target=accept, daemon=True).start()

        def hang_up():
            if not accepted.wait(60):
                raise Fail("the source never connected to the target")
            conns[0].close()
            srv.close()
        return "unix:" + path, hang_up

    def migrate_state(self, m):
        return json.loads(expect(m.sock, "GET", "/migrate", None, 200))

    def resume_during_migration(self, m, paused_first):
        what = "paused" if paused_first else "running"
        if paused_first:
            expect(m.sock, "PATCH", "/vm", {"state": "Paused"}, 204)
        dest, hang_up = self.stalled_target("t-" + what)
        expect(m.sock, "PUT", "/migrate", {"destination": dest}, 204)
        p = self.migrate_state(m)
        if p["state"] != "Active":
            raise Fail(f"the migration to a target that reads nothing is not under way: {p}")
        text = expect(m.sock, "PATCH", "/vm", {"state": "Resumed"}, 400, contains="migration")
        print(f"VM {what}: PATCH Resumed during the migration: 400 {text}")
        # A pause is not refused: it answers, and holds after the migration.
        expect(m.sock, "PATCH", "/vm", {"state": "Paused"}, 204)
        if self.state(m) != "Paused":
            raise Fail("GET / does not say Paused after a pause during the migration")
        expect(m.sock, "PUT", "/snapshot/create", {"snapshot_path": self.path("x.state"),
                                                  "mem_file_path": self.path("x.mem")}, 400, contains="migration")
        if self.migrate_state(m)["state"] != "Active":
            raise Fail("the migration ended before its target hung up")
        hang_up()
        for _ in range(1200):
            p = self.migrate_state(m)
            if p["state"] != "Active":
                break
            time.sleep(0.05)
        if p["state"] != "Failed":
            raise Fail(f"the migration did not end when its target hung up: {p}")
        print(f"the target hung up: GET /migrate says Failed ({p.get('error')})")
        if self.state(m) != "Paused":
            raise Fail("the VM is not paused after the failed migration although the API paused it last")
        n = self.counts(m)[-1]
        expect(m.sock, "PATCH", "/vm", {"state": "Resumed"}, 204)
        m.wait_for(rf"^count {n + 2}$")
        if self.state(m) != "Running":
            raise Fail("GET / does not say Running after the resume")

    def resume_migrate(self):
        loop = "i=0; while true; do i=$((i+1)); echo count $i; sleep 0.05; done"
        m = self.boot("vm", self.config(loop, vcpus=2, mem_mib=256))
        m.wait_for(r"^count 5$")
        self.resume_during_migration(m, paused_first=False)
        self.resume_during_migration(m, paused_first=True)
        seq = self.counts(m)
        if seq != list(range(1, len(seq) + 1)):
            raise Fail("the guest's count skipped or repeated a number")
        os.kill(m.p.pid, signal.SIGTERM)
        m.expect_exit(124)
        print(f"the guest ran on to count {seq[-1]}")

    # ---- OpenSBI ----

    def opensbi(self):
        if not os.path.exists(OPENSBI):
            raise Fail(f"{OPENSBI} is missing (scripts/setup installs opensbi)")
        n = 60
        loop = f"i=0; while [ $i -lt {n} ]; do i=$((i+1)); echo count $i; sleep 0.05; done; exit 7"
        cfg = self.config(loop, vcpus=2)
        cfg["boot-source"]["firmware_path"] = OPENSBI
        m = self.boot("vm1", cfg)
        m.wait_for(r"^count 10$")
        if "OpenSBI v" not in m.text():
            raise Fail("the guest did not boot through OpenSBI")
        expect(m.sock, "PATCH", "/vm", {"state": "Paused"}, 204)
        state, mem = self.snapshot(m, "s")
        before = self.counts(m)
        os.kill(m.p.pid, signal.SIGKILL)
        m.wait_exit()
        r = self.restore("vm2", state, mem)
        st = r.wait_exit()
        if st != 7:
            raise Fail(f"the restored minnow exited {st}, expected the guest's 7: {r.err.decode()}")
        after = self.counts(r)
        if self.counts(m, r) != list(range(1, n + 1)):
            raise Fail(f"the count across the restore is not 1..{n} once each: ...{before[-3:]} | {after[:3]}...")
        print(f"snapshot after count {before[-1]}; the restored guest counted on from {after[0]} to {after[-1]} "
              "and exited 7 through OpenSBI")


def main():
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    minnow, mode = os.path.abspath(sys.argv[1]), sys.argv[2]
    work = tempfile.mkdtemp(prefix="minnow-harts-")
    t = HartsTest(minnow, work, os.path.abspath(sys.argv[3]), os.path.abspath(sys.argv[4]))
    try:
        getattr(t, mode.replace("-", "_"))()
    except Fail as e:
        print(f"FAIL ({mode}): {e}", file=sys.stderr)
        for name in sorted(os.listdir(work)):
            if name.endswith(".log") or name.endswith(".err"):
                print(f"--- {name} (tail) ---", file=sys.stderr)
                with open(os.path.join(work, name), errors="replace") as f:
                    print(f.read()[-1500:], file=sys.stderr)
        return 1
    finally:
        t.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    print(f"PASS ({mode})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
