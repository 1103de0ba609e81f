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
  guest-v1   the default guest on user networking (slirp) with a route to
             169.254.169.254 via eth0 reads V1 metadata with busybox wget:
             an object's keys (IMDS text, dicts with '/'), a string leaf,
             JSON with Accept: application/json, 404 for a missing path;
             its ARP entry for the address is the MMDS MAC; a token from
             PUT /latest/api/token, and a wrong one, are taken by V1; a
             PATCH after start is what the guest reads next
  guest-v2   V2 on user networking: a GET without a token, with a wrong one
             and with an expired one (TTL 1 s) gets 401; a token from PUT
             /latest/api/token (tests/guest/mmds_client) works with wget
             --header; a TTL of 0 and X-Forwarded-For get 400; 100 GETs
             timed in the guest (the client, and busybox wget in a loop)
  snapshot   a V2 guest on user networking is paused, snapshotted and
             restored by PUT /snapshot/load in a new minnow: GET /vm/config
             there has the source's mmds-config, and the restored guest
             (a GET without a token still gets 401) gets a new token and
             reads what the new process PUT /mmds (the data store is not
             in the snapshot, as in Firecracker)
  guest-tap  V2 over a TAP device in a network namespace made for the test
             (needs root): the same token and 401 checks; then V1 over the
             same TAP with guest-v1's checks; the namespace has no address
             169.254.169.254, so the answers are the MMDS's, and a capture
             on the TAP's host side sees the guest's ping of the host but no
             frame to or from 169.254.169.254
Exit status 0 on success, 77 (skip) when the host cannot run the mode."""
import json
import os
import re
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
from api_client import api, expect, request  # noqa: E402
from minnow_proc import Fail, Minnow, run  # noqa: E402

BOOT_TIMEOUT = 300   # seconds; an ASan build boots a few times slower
MODE = "?"



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

    def boot_guest(self, net, version, script, setup, name="g"):
        """Configures through the API (net: the interface's body; MMDS on
        it with version), PUTs METADATA, starts; the guest runs script."""
        path = os.path.join(self.work, f"{name}-test", "mmds_test.sh")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(setup + script.replace("BENCH", BENCH) + "echo mmds-test-done\n")
        initrd = os.path.join(self.work, f"{name}-initramfs")
        subprocess.run(["bash", "-c", f'. "{TOP}/tests/guest/lib.sh"; extend_initramfs "$@"', "-",
                        self.initrd, initrd, self.extra, path], check=True)
        prefix = net.pop("prefix", [])
        sock = os.path.join(self.work, f"{name}.sock")
        m = Minnow(list(prefix) + [self.minnow, "--api-sock", sock], os.path.join(self.work, f"{name}.log"),
                   err_path=os.path.join(self.work, f"{name}.err"), timeout=BOOT_TIMEOUT)
        self.procs.append(m)
        for _ in range(400):
            if os.path.exists(sock):
                break
            subprocess.run(["sleep", "0.05"])
        expect(sock, "PUT", "/boot-source", {"kernel_image_path": self.kernel, "initrd_path": initrd,
                                             "boot_args": "console=ttyS0 minnow.cmd=\"sh /bin/mmds_test.sh\""}, 204)
        expect(sock, "PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 256}, 204)
        expect(sock, "PUT", "/network-interfaces/eth0", dict(net, iface_id="eth0"), 204)
        expect(sock, "PUT", "/mmds/config", {"network_interfaces": ["eth0"], "version": version}, 204)
        expect(sock, "PUT", "/mmds", METADATA, 204)
        m.metrics = os.path.join(self.work, f"{name}-metrics.json")
        expect(sock, "PUT", "/metrics", {"metrics_path": m.metrics}, 204)
        expect(sock, "PUT", "/actions", {"action_type": "InstanceStart"}, 204)
        m.sock = sock
        return m

    def v2_checks(self, m):
        m.wait_for(r"^mmds-test-done$")
        out = m.text()
        contains_section(out, "notoken", "401")
        contains_section(out, "client-notoken", "status 401", "No MMDS token provided")
        n = int(re.search(r"^token-length (\d+)$", out, re.M).group(1))
        if n != 64:
            raise Fail(f"the token the guest got is {n} characters, expected 64")
        expect_section(out, "withtoken", "ami-87654321")
        expect_section(out, "aws-header", "ami-id\nnetwork/\nreservation-id")
        contains_section(out, "wrongtoken", "status 401", "MMDS token not valid.")
        contains_section(out, "badttl", "status 400", "Invalid time to live value provided for token: 0.")
        contains_section(out, "forwarded", "status 400", "X-Forwarded-For")
        expect_section(out, "fresh", "status 200\nami-87654321")
        contains_section(out, "expired", "status 401", "MMDS token not valid.")
        return out

    # ---- modes ----

    def v1_checks(self, m):
        m.wait_for(r"^READY-FOR-PATCH$")
        expect(m.sock, "PATCH", "/mmds", {"latest": {"meta-data": {"ami-id": "ami-patched"}}}, 204)
        m.wait_for(r"^mmds-test-done$")
        out = m.text()
        expect_section(out, "listing", "ami-id\nnetwork/\nreservation-id")
        expect_section(out, "leaf", "ami-87654321")
        want = json.dumps(METADATA["latest"]["meta-data"], separators=(",", ":"), sort_keys=True)
        expect_section(out, "json", want)
        expect_section(out, "root", "latest/")
        contains_section(out, "missing", "404")
        expect_section(out, "client", "status 200\nami-87654321")
        contains_section(out, "neigh", "06:01:23:45:67:01")
        # V1 hands out tokens too, and takes a GET with a right or wrong one.
        n = int(re.search(r"^v1-token-length (\d+)$", out, re.M).group(1))
        if n != 64:
            raise Fail(f"the V1 token the guest got is {n} characters, expected 64")
        expect_section(out, "v1-withtoken", "status 200\nami-87654321")
        expect_section(out, "v1-wrongtoken", "status 200\nami-87654321")
        if not re.search(r"^after patch: ami-patched$", out, re.M):
            raise Fail("the guest did not read the value PATCHed after start")
        # Firecracker's metrics count the frames the MMDS took, and the
        # PUT /mmds and PATCH /mmds requests.
        expect(m.sock, "PUT", "/actions", {"action_type": "FlushMetrics"}, 204)
        with open(m.metrics) as f:
            lines = [json.loads(x) for x in f if x.strip()]
        took = sum(l.get("mmds", {}).get("rx_accepted", 0) for l in lines)
        puts = sum(l["put_api_requests"]["mmds_count"] for l in lines)
        patches = sum(l["patch_api_requests"]["mmds_count"] for l in lines)
        no_token, invalid = mmds_token_metrics(m.metrics)
        if no_token < 6 or invalid != 1:
            raise Fail(f"metrics: mmds rx_no_token {no_token} (at least 6 GETs had none), rx_invalid_token "
                       f"{invalid} (expected 1: v1-wrongtoken)")
        if took < 10 or puts != 2 or patches != 1:
            raise Fail(f"metrics: mmds.rx_accepted {took} (expected at least 10), put mmds_count {puts} "
                       f"(expected 2: /mmds/config and /mmds), patch mmds_count {patches} (expected 1)")
        m.expect_exit(0)

    def guest_v1_mode(self):
        setup = "ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && ip route add 169.254.169.254 dev eth0\n"
        m = self.boot_guest({"minnow_user": True}, "V1", V1_SCRIPT, setup)
        self.v1_checks(m)

    def guest_v2_mode(self):
        setup = "ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && ip route add 169.254.169.254 dev eth0\n"
        m = self.boot_guest({"minnow_user": True}, "V2", V2_SCRIPT, setup)
        out = self.v2_checks(m)
        bench = contains_section(out, "bench", "bench 100 requests")
        loop = contains_section(out, "wget-loop", "wget-loop-ok")
        print(f"guest-timed MMDS latency (user networking): {bench}")
        print(f"100 busybox wget runs in the guest: {' '.join(loop.split())}")
        m.expect_exit(0)
        # Firecracker's token metrics: notoken and client-notoken came
        # without a token, wrongtoken and expired with ones not valid.
        got = mmds_token_metrics(m.metrics)
        if got != (2, 2):
            raise Fail(f"metrics: mmds rx_no_token, rx_invalid_token are {got}, expected (2, 2)")

    def guest_tap_mode(self):
        if os.geteuid() != 0:
            print("SKIP: the tap test needs root (ip netns, ip tuntap)")
            sys.exit(77)
        ns = f"minnow-mmds-{os.getpid()}"
        if run(["ip", "netns", "add", ns]).returncode:
            print("SKIP: cannot create a network namespace")
            sys.exit(77)
        try:
            inns = ["ip", "netns", "exec", ns]
            for c in (["ip", "link", "set", "lo", "up"], ["ip", "tuntap", "add", "dev", "mtap0", "mode", "tap"],
                      ["ip", "addr", "add", "192.168.77.1/24", "dev", "mtap0"], ["ip", "link", "set", "mtap0", "up"]):
                r = run(inns + c)
                if r.returncode:
                    raise Fail(f"{' '.join(c)} in the namespace failed: {r.stdout}")
            # What reaches the TAP's host side, counted there: frames to or
            # from the MMDS address must not (the guest's ping of the host
            # shows the capture sees the guest's frames).
            stop = os.path.join(self.work, "capture.stop")
            cap = subprocess.Popen(inns + [sys.executable, "-c", CAPTURE, "mtap0", stop], stdout=subprocess.PIPE,
                                   text=True)
            setup = ("ip link set eth0 up && ip addr add 192.168.77.2/24 dev eth0 && "
                     "ip route add 169.254.169.254 dev eth0\n"
                     "ping -c 1 -W 10 192.168.77.1 >/dev/null 2>&1; echo host-ping-$?\n")
            m = self.boot_guest({"host_dev_name": "mtap0", "prefix": inns}, "V2", V2_SCRIPT, setup)
            out = self.v2_checks(m)
            print(f"guest-timed MMDS latency (TAP): {section(out, 'bench')}")
            m.expect_exit(0)
            m.kill()
            m = self.boot_guest({"host_dev_name": "mtap0", "prefix": inns}, "V1", V1_SCRIPT, setup, name="v1")
            self.v1_checks(m)
            open(stop, "w").close()
            got = cap.communicate(timeout=60)[0].split()
            if cap.returncode or len(got) != 2:
                raise Fail(f"the capture on mtap0 failed ({cap.returncode}): {got}")
            total, mmds = int(got[0]), int(got[1])
            if not re.search(r"^host-ping-0$", out, re.M) or total == 0:
                raise Fail(f"the capture on mtap0 saw {total} frames; the guest's ping of the host: "
                           f"{re.findall(r'^host-ping-.*$', out, re.M)}")
            if mmds:
                raise Fail(f"{mmds} of the {total} frames on the TAP's host side were to or from the MMDS address")
            print(f"TAP host side: {total} frames, none to or from 169.254.169.254")
        finally:
            for p in self.procs:
                p.kill()
            run(["ip", "netns", "del", ns])

    def snapshot_mode(self):
        setup = "ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && ip route add 169.254.169.254 dev eth0\n"
        m = self.boot_guest({"minnow_user": True}, "V2", SNAPSHOT_SCRIPT, setup)
        m.wait_for(r"^READY-FOR-SNAPSHOT$")
        expect_section(m.text(), "before", "status 200\nami-87654321")
        want = expect(m.sock, "GET", "/vm/config", None, 200).get("mmds-config")
        if not want or want.get("version") != "V2":
            raise Fail(f"GET /vm/config before the snapshot has mmds-config {want}")
        expect(m.sock, "PATCH", "/vm", {"state": "Paused"}, 204)
        state, mem = os.path.join(self.work, "s.state"), os.path.join(self.work, "s.mem")
        expect(m.sock, "PUT", "/snapshot/create", {"snapshot_path": state, "mem_file_path": mem}, 204)
        m.kill()
        r = self.start(name="r")
        expect(r.sock, "PUT", "/snapshot/load", {"snapshot_path": state, "mem_file_path": mem,
                                                 "resume_vm": True}, 204)
        got = expect(r.sock, "GET", "/vm/config", None, 200).get("mmds-config")
        if got != want:
            raise Fail(f"GET /vm/config after the restore has mmds-config {got}, expected {want}")
        expect(r.sock, "PUT", "/mmds", {"latest": {"meta-data": {"ami-id": "ami-restored"}}}, 204)
        r.wait_for(r"^mmds-test-done$")
        out = r.text()
        if not re.search(r"^after restore: ami-restored$", out, re.M):
            raise Fail(f"the restored guest did not read the new process's data: {out[-1500:]}")
        contains_section(out, "after-notoken", "status 401", "No MMDS token provided")
        print(f"after restore: mmds-config kept ({got}); the guest read the new data store with a new token")

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


def mmds_token_metrics(path):
    """The sums over the metrics lines of mmds.rx_no_token and rx_invalid_token."""
    with open(path) as f:
        lines = [json.loads(x) for x in f if x.strip()]
    return (sum(l.get("mmds", {}).get("rx_no_token", 0) for l in lines),
            sum(l.get("mmds", {}).get("rx_invalid_token", 0) for l in lines))


V1_SCRIPT = r"""
M=http://169.254.169.254
sect() { echo "== $1"; }
ende() { echo; echo "== end"; }
sect listing; wget -q -O - $M/latest/meta-data/; ende
sect leaf; wget -q -O - $M/latest/meta-data/ami-id; ende
sect json; wget -q -O - --header 'Accept: application/json' $M/latest/meta-data; ende
sect root; wget -q -O - $M/; ende
sect missing; wget -q -O - $M/latest/nothing 2>&1; ende
sect client; mmds_client 169.254.169.254 get //latest//meta-data/ami-id/; ende
sect neigh; ip neigh show 169.254.169.254; ende
T=$(mmds_client 169.254.169.254 token 60 | sed -n 2p)
echo "v1-token-length ${#T}"
sect v1-withtoken; mmds_client 169.254.169.254 get /latest/meta-data/ami-id "$T"; ende
sect v1-wrongtoken; mmds_client 169.254.169.254 get /latest/meta-data/ami-id "x$T"; ende
echo READY-FOR-PATCH
i=0; v=
while [ $i -lt 600 ]; do
  v=$(wget -q -O - $M/latest/meta-data/ami-id); [ "$v" = ami-patched ] && break
  sleep 0.2; i=$((i+1))
done
echo "after patch: $v"
"""

V2_SCRIPT = r"""
M=http://169.254.169.254
C="mmds_client 169.254.169.254"
sect() { echo "== $1"; }
ende() { echo; echo "== end"; }
sect notoken; wget -q -O - $M/latest/meta-data/ami-id 2>&1; ende
sect client-notoken; $C get /latest/meta-data/ami-id; ende
T=$($C token 60 | sed -n 2p)
echo "token-length ${#T}"
sect withtoken; wget -q -O - --header "X-metadata-token: $T" $M/latest/meta-data/ami-id; ende
sect aws-header; wget -q -O - --header "X-aws-ec2-metadata-token: $T" $M/latest/meta-data/; ende
sect wrongtoken; $C get /latest/meta-data/ami-id "x$T"; ende
sect badttl; $C token 0; ende
sect forwarded; $C token 60 'X-Forwarded-For: 10.0.2.2'; ende
E=$($C token 1 | sed -n 2p)
sect fresh; $C get /latest/meta-data/ami-id "$E"; ende
sleep 2
sect expired; $C get /latest/meta-data/ami-id "$E"; ende
BENCH
"""

SNAPSHOT_SCRIPT = r"""
C="mmds_client 169.254.169.254"
sect() { echo "== $1"; }
ende() { echo; echo "== end"; }
T=$($C token 600 | sed -n 2p)
sect before; $C get /latest/meta-data/ami-id "$T"; ende
echo READY-FOR-SNAPSHOT
i=0; v=
while [ $i -lt 1200 ]; do
  T=$($C token 600 2>/dev/null | sed -n 2p)
  v=$($C get /latest/meta-data/ami-id "$T" 2>/dev/null | sed -n 2p); [ "$v" = ami-restored ] && break
  sleep 0.2; i=$((i+1))
done
echo "after restore: $v"
sect after-notoken; $C get /latest/meta-data/ami-id; ende
"""

BENCH = r"""
sect bench; $C bench 100 /latest/meta-data/ami-id "$T"; ende
sect wget-loop
time sh -c 'i=0; while [ $i -lt 100 ]; do wget -q -O /dev/null --header "X-metadata-token: '$T'" http://169.254.169.254/latest/meta-data/ami-id || exit 1; i=$((i+1)); done; echo wget-loop-ok' 2>&1
ende
"""

# Counts the frames on an interface until a file exists: "TOTAL MMDS",
# MMDS being those whose IPv4 source or destination or ARP address is
# 169.254.169.254.
CAPTURE = r"""
import os, socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((sys.argv[1], 0))
s.settimeout(0.2)
ip = bytes([169, 254, 169, 254])
total = mmds = 0
while not os.path.exists(sys.argv[2]):
    try:
        f = s.recv(65536)
    except socket.timeout:
        continue
    total += 1
    t = f[12:14]
    if (t == b"\x08\x00" and ip in (f[26:30], f[30:34])) or (t == b"\x08\x06" and ip in (f[28:32], f[38:42])):
        mmds += 1
print(total, mmds)
"""

METADATA = {"latest": {"meta-data": {"ami-id": "ami-87654321", "reservation-id": "r-79054aef",
                                     "network": {"interfaces": {"macs": {}}}},
                       "user-data": "1522850095"}}


def section(text, name):
    i = text.find(f"== {name}\n")
    if i < 0:
        raise Fail(f"the guest printed no section '{name}'")
    j = text.find("\n== end", i)
    if j < 0:
        raise Fail(f"the guest's section '{name}' has no end")
    return text[i + len(name) + 4:j].strip("\n")


def expect_section(text, name, want):
    got = section(text, name)
    if got != want:
        raise Fail(f"section '{name}': the guest printed {got!r}, expected {want!r}")


def contains_section(text, name, *wants):
    got = section(text, name)
    for w in wants:
        if w not in got:
            raise Fail(f"section '{name}': {got!r} does not contain {w!r}")
    return got


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
