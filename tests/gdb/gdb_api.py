#!/usr/bin/env python3
"""gdb and guest inspection through the API, against the default guest:
machine-config gdb_socket_path (the harts wait at reset for gdb), PUT /gdb
and `minnow gdb` on a VM that runs, and on one restored from a snapshot,
`minnow inspect` regs/mem/translate/stack (also while gdb holds the harts),
and the API's answers to bad input. The guest's command waits for a line
on its console, so every wait is on output, never on time.

usage: gdb_api.py CASE MINNOW GDB NM"""
import json
import os
import re
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
from minnow_proc import Fail, Minnow, free_port, run  # noqa: E402
from gdb_test import Stub, expect_in_order, gdb, symbols, wait_socket  # noqa: E402

TOP = os.path.join(HERE, "..", "..")
TIMEOUT = 600
KERNEL_VA = 0xffffffff80000000   # where the kernel maps its Image
CMD = 'echo WAITING; read x; echo GOT-$x'


class A:
    pass


def guest_files():
    guest = run([os.path.join(TOP, "guest", "build"), "-q"], check=True).stdout.strip().split("\n")[-1]
    vmlinux = os.path.join(guest, "vmlinux")
    if not os.path.exists(vmlinux):
        raise Fail(f"{vmlinux} is missing: guest/build keeps it beside the Image")
    # The Image built with this vmlinux (guest/build's links are shared).
    image = os.path.join(os.path.dirname(os.path.realpath(vmlinux)), "Image")
    return image, os.path.join(guest, "initramfs.cpio.gz"), vmlinux


def load_address(image):
    """RAM's base plus the Image header's text_offset (the board puts the
    Image there)."""
    with open(image, "rb") as f:
        hdr = f.read(64)
    if hdr[0x30:0x38] != b"RISCV\0\0\0":
        raise Fail(f"{image} has no RISC-V Image header")
    return 0x80000000 + struct.unpack_from("<Q", hdr, 8)[0]


def curl(sock, method, path, body=None):
    args = ["curl", "-s", "--max-time", "120", "--unix-socket", sock, "-X", method, "-w", "\n%{http_code}"]
    if body is not None:
        args += ["-H", "Content-Type: application/json", "--data-binary", json.dumps(body)]
    out = run(args + ["http://localhost" + path], timeout=180).stdout
    text, _, code = out.rpartition("\n")
    return int(code), text


def expect_api(sock, method, path, body, code, text=None):
    got, reply = curl(sock, method, path, body)
    if got != code:
        raise Fail(f"{method} {path} {body}: status {got}, expected {code}: {reply}")
    if text:
        msg = json.loads(reply).get("fault_message", "")
        if not re.search(text, msg):
            raise Fail(f"{method} {path} {body}: the message {msg!r} has no /{text}/")
    return reply


def config(a, cpus=2, **machine):
    m = {"vcpu_count": cpus, "mem_size_mib": 256, "engine": "jit"}
    m.update(machine)
    return {"boot-source": {"kernel_image_path": a.image, "initrd_path": a.initrd,
                            "boot_args": f'console=ttyS0 minnow.cmd="{CMD}"'},
            "machine-config": m}


def start_api(a, work, name="api", config_file=None):
    sock = os.path.join(work, name + ".sock")
    args = [a.minnow, "--api-sock", sock]
    if config_file:
        path = os.path.join(work, name + ".json")
        with open(path, "w") as f:
            json.dump(config_file, f)
        args += ["--config-file", path]
    vm = Minnow(args, os.path.join(work, name + ".log"), stdin=subprocess.PIPE, timeout=TIMEOUT)
    wait_socket(sock, vm)
    return vm, sock


def finish(vm, word):
    """The guest reads a line and prints it, then powers off: it ran on."""
    vm.p.stdin.write(word.encode() + b"\n")
    vm.p.stdin.flush()
    vm.wait_for(rf"^GOT-{word}$")
    vm.expect_exit(0, TIMEOUT)


def inspect(a, sock, *args, want=0):
    r = run([a.minnow, "inspect", "--api-sock", sock] + list(args), timeout=180)
    if r.returncode != want:
        raise Fail(f"minnow inspect {' '.join(args)}: status {r.returncode}, expected {want}: {r.stdout}")
    return r.stdout


def case_config(a, work):
    """PUT /machine-config gdb_socket_path before InstanceStart: the harts
    wait at the kernel's entry for gdb; gdb then breaks at start_kernel,
    reads CSRs, walks the kernel's page tables with monitor translate and
    reads the Image header by physical address; after detach the guest
    runs its command. The same field in a --config-file holds the harts
    too."""
    vm, sock = start_api(a, work)
    gsock = os.path.join(work, "gdb.sock")
    cfg = config(a)
    expect_api(sock, "PUT", "/boot-source", cfg["boot-source"], 204)
    expect_api(sock, "PUT", "/machine-config", dict(cfg["machine-config"], gdb_socket_path=""), 400,
               r"^machine-config: gdb_socket_path: a Unix socket path of 1 to 107 bytes")
    expect_api(sock, "PUT", "/machine-config", dict(cfg["machine-config"], gdb_socket_path=5), 400,
               r"^machine-config: gdb_socket_path: expected a string")
    expect_api(sock, "PUT", "/machine-config", dict(cfg["machine-config"], gdb_socket_path="/x" * 60), 400,
               r"gdb_socket_path: a Unix socket path of 1 to 107 bytes")
    expect_api(sock, "PUT", "/gdb", {"socket_path": gsock}, 400, r"^gdb: the microVM is not started yet")
    expect_api(sock, "PUT", "/machine-config", dict(cfg["machine-config"], gdb_socket_path=gsock), 204)
    if json.loads(expect_api(sock, "GET", "/vm/config", None, 200))["machine-config"].get("gdb_socket_path") != gsock:
        raise Fail("GET /vm/config does not show gdb_socket_path")
    expect_api(sock, "PUT", "/actions", {"action_type": "InstanceStart"}, 204)
    wait_socket(gsock, vm)
    start = symbols(a.nm, a.vmlinux)["start_kernel"]
    load = load_address(a.image)
    # Held at the kernel's entry: not one instruction ran (gdb sees the
    # entry pc below), so the guest printed nothing.
    if "Linux version" in vm.text() or "WAITING" in vm.text():
        raise Fail(f"the guest ran before gdb attached:\n{vm.text()}")
    out = gdb(a.gdb, a.vmlinux, gsock, [
        "p/x $pc", "p $priv", "break start_kernel", "continue", "bt", "p $satp != 0", "p $priv",
        f"monitor translate {start:#x}", "monitor info mem", "monitor phys on", f"x/8xb {load + 0x30:#x}",
        "monitor phys off", f"x/8xb {KERNEL_VA + 0x30:#x}", "info registers sstatus satp", "delete", "detach"])
    expect_in_order(out, [
        # held at the kernel's entry, in S-mode (minnow is the SBI)
        rf"^\$1 = {load:#x}$", r"^\$2 = 1$",
        r"Breakpoint 1, 0xffffffff8[0-9a-f]+ in start_kernel", r"^#0 +0xffffffff8[0-9a-f]+ in start_kernel",
        r"^\$3 = 1$", r"^\$4 = 1$",
        r"^satp [0-9a-f]{16}: mode sv(39|48|57), root table 0x[0-9a-f]+, hart in S-mode$",
        r"^  level \d: pte at 0x[0-9a-f]+ = [0-9a-f]{16} \[[DAGUXWRV-]{8}\] ppn 0x[0-9a-f]+$",
        rf"^{start:#x} -> physical {start - KERNEL_VA + load:#x} \(\d+ KiB page\)$",
        # the kernel's own mapping among the ranges
        r"^satp [0-9a-f]{16}: mode sv(39|48|57), root table 0x[0-9a-f]+$",
        rf"^ffffffff80000000-ffffffff8[0-9a-f]{{7}} -> {load:016x} +\d+ KiB r[w-]x-[g-]$",
        r"^memory accesses are by physical address$",
        r":\s+0x52\s+0x49\s+0x53\s+0x43\s+0x56\s+0x00\s+0x00\s+0x00$",
        r"^memory accesses are by virtual",
        r":\s+0x52\s+0x49\s+0x53\s+0x43\s+0x56\s+0x00\s+0x00\s+0x00$",
        r"^sstatus +0x[0-9a-f]+", r"^satp +0x[89a][0-9a-f]{15}\s",
        r"detached"], "gdb")
    vm.wait_for(r"^WAITING$")
    finish(vm, "config")
    # The same field in a --config-file.
    gsock2 = os.path.join(work, "gdb2.sock")
    vm2, _ = start_api(a, work, name="file", config_file=config(a, cpus=1, gdb_socket_path=gsock2))
    wait_socket(gsock2, vm2)
    out = gdb(a.gdb, a.vmlinux, gsock2, ["p/x $pc", "p $priv", "detach"])
    expect_in_order(out, [rf"^\$1 = {load:#x}$", r"^\$2 = 1$", r"detached"], "gdb (config file)")
    vm2.wait_for(r"^WAITING$")
    finish(vm2, "file")


def case_held(a, work):
    """A VM held at reset for gdb (machine-config gdb_socket_path): an
    inspection and a pause do not wait for gdb; gdb then attaches to the
    paused VM, which stays paused after detach until resumed. Once the
    guest idles (its harts in wfi), gdb's continue and Ctrl-C stop it each
    time, and after detach a pause still parks it (the clock stopped)."""
    gsock = os.path.join(work, "gdb.sock")
    vm, sock = start_api(a, work, config_file=config(a, gdb_socket_path=gsock))
    wait_socket(gsock, vm)
    load = load_address(a.image)
    entry = rf"^pc +{load:016x} +priv S \(1\)$"
    if not re.search(entry, inspect(a, sock, "regs"), re.M):
        raise Fail("inspect regs of the held VM: not at the kernel's entry")
    expect_api(sock, "PATCH", "/vm", {"state": "Paused"}, 204)
    out = gdb(a.gdb, a.vmlinux, gsock, ["info threads", "p/x $pc", "detach"])
    expect_in_order(out, [r"\* 1 +Thread 1 \(hart 0\)", r"2 +Thread 2 \(hart 1\)", rf"^\$1 = {load:#x}$",
                          r"detached"], "gdb")
    if not re.search(entry, inspect(a, sock, "regs"), re.M) or "Linux version" in vm.text():
        raise Fail(f"the paused VM ran when gdb detached:\n{vm.text()}")
    expect_api(sock, "PATCH", "/vm", {"state": "Resumed"}, 204)
    vm.wait_for(r"^WAITING$")
    c = Stub(gsock)
    c.cmd("QStartNoAckMode")
    c.no_ack = True
    if not c.cmd("?").startswith("T05"):
        raise Fail("no stop reply")
    for n in range(4):
        c.send_raw(b"$vCont;c#a8")
        c.send_raw(b"\x03")
        _, stop = c.packet()
        if not stop.startswith("T02thread:"):
            raise Fail(f"Ctrl-C {n} on the idle guest: {stop!r}")
    c.send_raw(b"$D#44")
    c.close()
    expect_api(sock, "PATCH", "/vm", {"state": "Paused"}, 204)
    counts = [re.search(r"minstret +([0-9a-f]+) +time +([0-9a-f]+)$", inspect(a, sock, "regs"), re.M)
              for _ in range(2)]
    if not all(counts) or counts[0].groups() != counts[1].groups():
        raise Fail(f"the VM ran on while paused after gdb detached: {[m and m.groups() for m in counts]}")
    expect_api(sock, "PATCH", "/vm", {"state": "Resumed"}, 204)
    finish(vm, "held")


def case_attach(a, work):
    """A VM booted from --config-file without gdb: `minnow gdb` attaches a
    stub while it runs, gdb sees it, detaches, and the guest runs on."""
    vm, sock = start_api(a, work, config_file=config(a))
    vm.wait_for(r"^WAITING$")
    gsock = os.path.join(work, "gdb.sock")
    for body, msg in [({}, r"^gdb: give one of socket_path .* or tcp_address"),
                      ({"socket_path": gsock, "tcp_address": "127.0.0.1:1"}, r"^gdb: give one of"),
                      ({"tcp_address": "localhost:1234"}, r"^gdb: tcp_address 'localhost:1234' is not valid: "
                                                          r".*not a numeric IP address"),
                      ({"tcp_address": 1234}, r"^gdb: tcp_address: expected a string"),
                      ({"socket_path": "/nonexistent/dir/g.sock"}, r"^gdb: .*cannot listen there"),
                      ({"port": 1}, r"^gdb: .*port"),
                      # no authentication: loopback only, unless allowed
                      ({"tcp_address": "0.0.0.0:1234"}, r"^gdb: tcp_address '0.0.0.0:1234' is not valid: .*not a "
                                                        r"loopback one .*allow_remote"),
                      ({"tcp_address": "192.0.2.1:1234", "allow_remote": True}, r"^gdb: .*cannot listen there"),
                      ({"socket_path": gsock, "allow_remote": 1}, r"^gdb: allow_remote: expected")]:
        expect_api(sock, "PUT", "/gdb", body, 400, msg)
    for opt, text in [([], "not a loopback one"), (["--allow-remote"], "cannot listen there")]:
        r = run([a.minnow, "gdb", "--api-sock", sock] + opt + ["tcp:192.0.2.1:1234"], timeout=180)
        if r.returncode != 123 or text not in r.stdout:
            raise Fail(f"minnow gdb {opt} tcp:192.0.2.1:1234: status {r.returncode}: {r.stdout}")
    r = run([a.minnow, "gdb", "--api-sock", sock, "unix:" + gsock], timeout=180)
    if r.returncode or f"gdb stub listening on unix:{gsock}" not in r.stdout:
        raise Fail(f"minnow gdb: status {r.returncode}: {r.stdout}")
    expect_api(sock, "PUT", "/gdb", {"socket_path": gsock + "2"}, 400, r"^gdb: a gdb stub already listens on unix:")
    out = gdb(a.gdb, a.vmlinux, gsock, ["info threads", "p $priv", "p/x $satp", "monitor info harts",
                                        "x/s (char *)&linux_banner", "detach"])
    expect_in_order(out, [r"\* 1 +Thread 1 \(hart 0\)", r"2 +Thread 2 \(hart 1\)", r"^\$1 = [01]$",
                          r"^\$2 = 0x[89a][0-9a-f]{15}$", r"^\* hart 0 \(thread 1\): pc f+[0-9a-f]+ priv [01] satp",
                          r"^  hart 1 \(thread 2\)", r'<linux_banner>:\s+"Linux version ', r"detached"], "gdb")
    finish(vm, "attach")


def case_restore(a, work):
    """A VM restored from a snapshot (paused): PUT /gdb on TCP, gdb reads
    it and detaches; resumed, it runs its command on."""
    vm, sock = start_api(a, work, config_file=config(a, cpus=1))
    vm.wait_for(r"^WAITING$")
    snap, mem = os.path.join(work, "vm.snap"), os.path.join(work, "vm.mem")
    expect_api(sock, "PATCH", "/vm", {"state": "Paused"}, 204)
    expect_api(sock, "PUT", "/snapshot/create", {"snapshot_path": snap, "mem_file_path": mem}, 204)
    vm.kill()
    vm2, sock2 = start_api(a, work, name="restored")
    expect_api(sock2, "PUT", "/snapshot/load", {"snapshot_path": snap, "mem_backend": {
        "backend_type": "File", "backend_path": mem}, "resume_vm": False}, 204)
    port = free_port()
    expect_api(sock2, "PUT", "/gdb", {"tcp_address": f"127.0.0.1:{port}"}, 204)
    regs = inspect(a, sock2, "regs")
    pc = re.search(r"^pc +([0-9a-f]{16}) +priv S", regs, re.M)
    if not pc:
        raise Fail(f"minnow inspect regs of the paused restored VM:\n{regs}")
    out = gdb(a.gdb, a.vmlinux, f"127.0.0.1:{port}",
              ["p/x $pc", "p $priv", "x/s (char *)&linux_banner", "detach"])
    expect_in_order(out, [rf"^\$1 = 0x{int(pc.group(1), 16):x}$", r"^\$2 = 1$",
                          r'<linux_banner>:\s+"Linux version ', r"detached"], "gdb")
    # Still paused: the same pc.
    if not re.search(rf"^pc +{pc.group(1)} ", inspect(a, sock2, "regs"), re.M):
        raise Fail("the restored VM ran while paused (gdb's detach let it go)")
    expect_api(sock2, "PATCH", "/vm", {"state": "Resumed"}, 204)
    finish(vm2, "restored")


def case_restore_run(a, work):
    """The default guest snapshotted and restored (running) in a new
    process: `minnow gdb` attaches, gdb reads every register, breaks in
    the timer interrupt (the clock ticks on in the restored guest), steps
    there and detaches; the guest then answers on its console."""
    vm, sock = start_api(a, work, config_file=config(a))
    vm.wait_for(r"^WAITING$")
    snap, mem = os.path.join(work, "vm.snap"), os.path.join(work, "vm.mem")
    expect_api(sock, "PATCH", "/vm", {"state": "Paused"}, 204)
    expect_api(sock, "PUT", "/snapshot/create", {"snapshot_path": snap, "mem_file_path": mem}, 204)
    vm.kill()
    vm2, sock2 = start_api(a, work, name="restored")
    expect_api(sock2, "PUT", "/snapshot/load", {"snapshot_path": snap, "mem_backend": {
        "backend_type": "File", "backend_path": mem}, "resume_vm": True}, 204)
    gsock = os.path.join(work, "gdb.sock")
    r = run([a.minnow, "gdb", "--api-sock", sock2, "unix:" + gsock], timeout=180)
    if r.returncode or f"gdb stub listening on unix:{gsock}" not in r.stdout:
        raise Fail(f"minnow gdb on the restored VM: status {r.returncode}: {r.stdout}")
    out = gdb(a.gdb, a.vmlinux, gsock, [
        "info threads", "info registers", "p $priv", "break riscv_timer_interrupt", "continue", "bt 2",
        "p $priv", "delete", "stepi", "p $pc > riscv_timer_interrupt", "info registers pc", "detach"])
    expect_in_order(out, [r"\* 1 +Thread 1 \(hart 0\)", r"2 +Thread 2 \(hart 1\)",
                          r"^ra +0x[0-9a-f]+", r"^sp +0x[0-9a-f]+", r"^t6 +0x[0-9a-f]+", r"^pc +0x[0-9a-f]+",
                          r"^\$1 = [01]$", r"Breakpoint 1 at 0x[0-9a-f]+",
                          r"Thread \d+ hit Breakpoint 1, 0x[0-9a-f]+ in riscv_timer_interrupt",
                          r"^#0 +0x[0-9a-f]+ in riscv_timer_interrupt", r"^#1 +0x[0-9a-f]+ in ",
                          r"^\$2 = 1$", r"^\$3 = 1$", r"^pc +0x[0-9a-f]+\s+0x[0-9a-f]+ <riscv_timer_interrupt\+\d+>",
                          r"detached"], "gdb")
    finish(vm2, "restored")


def case_inspect(a, work):
    """minnow inspect against the running default guest: registers, the
    Image header through the MMU and by physical address, the page walk
    of linux_banner matching what gdb reads there, the stack; the same
    while a debugger holds the harts; and its errors."""
    vm, sock = start_api(a, work, config_file=config(a))
    vm.wait_for(r"^WAITING$")
    load = load_address(a.image)
    regs = inspect(a, sock, "regs")
    expect_in_order(regs, [r"^pc +f+[0-9a-f]+ +priv [SU] \([01]\)$", r"^ra +[0-9a-f]{16} +sp +([0-9a-f]{16})",
                           r"^t4 +[0-9a-f]{16} +t5 +[0-9a-f]{16} +t6 +[0-9a-f]{16}$", r"^sstatus +[0-9a-f]{16}",
                           r"satp +[89a][0-9a-f]{15}"], "regs")
    hart1 = inspect(a, sock, "--hart", "1", "regs")
    if not re.search(r"mhartid +0000000000000001$", hart1, re.M):
        raise Fail(f"inspect --hart 1 regs shows another hart:\n{hart1}")
    header = f"{KERNEL_VA + 0x30:016x}: 52 49 53 43 56 00 00 00"
    mem = inspect(a, sock, "mem", hex(KERNEL_VA), "64")
    if header not in mem or len(mem.strip().split("\n")) != 4 or "|RISCV...RSC" not in mem:
        raise Fail(f"inspect mem at the kernel's start has no Image header at 0x30:\n{mem}")
    pmem = inspect(a, sock, "--phys", "mem", hex(load + 0x30), "8")
    if not pmem.startswith(f"{load + 0x30:016x}: 52 49 53 43 56 00 00 00"):
        raise Fail(f"inspect --phys mem at the load address + 0x30:\n{pmem}")
    banner = symbols(a.nm, a.vmlinux)["linux_banner"]
    tr = inspect(a, sock, "translate", hex(banner))
    m = re.search(rf"^{banner:#x} -> physical (0x[0-9a-f]+) \(\d+ KiB page\)$", tr, re.M)
    if not m or not re.search(r"^satp [0-9a-f]{16}: mode sv(39|48|57)", tr, re.M):
        raise Fail(f"inspect translate {banner:#x}:\n{tr}")
    pa = int(m.group(1), 16)
    if pa != banner - KERNEL_VA + load:
        raise Fail(f"linux_banner {banner:#x} translates to {pa:#x}, not {banner - KERNEL_VA + load:#x}")
    reply = json.loads(expect_api(sock, "PUT", "/inspect", {"request": "translate", "address": hex(banner),
                                                            "hart": 1}, 200))
    if reply.get("physical_address") != hex(pa) or reply.get("satp_mode") not in ("sv39", "sv48", "sv57") \
            or reply.get("priv") not in (0, 1) or reply.get("hart") != 1:
        raise Fail(f"PUT /inspect translate on hart 1: {reply}")
    if "|Linux version " not in inspect(a, sock, "--phys", "mem", hex(pa), "16"):
        raise Fail("the physical address inspect translate gave does not hold linux_banner")
    maps = inspect(a, sock, "mappings")
    if not re.search(rf"^ffffffff80000000-ffffffff8[0-9a-f]{{7}} -> {load:016x} +\d+ KiB r[w-]x-[g-]$", maps, re.M):
        raise Fail(f"inspect mappings has no range for the kernel's image:\n{maps}")
    stack = inspect(a, sock, "stack")
    expect_in_order(stack, [r"^pc f+[0-9a-f]+  ra [0-9a-f]{16}  sp ([0-9a-f]{16})", r"^frame-pointer chain",
                            r"^  #0  f+[0-9a-f]+$", r"^stack words at sp:$", r"^  [0-9a-f]{16}: [0-9a-f]{16}$"],
                    "stack")
    sp = re.search(r"  sp ([0-9a-f]{16})", stack).group(1)
    if not re.search(rf"^  {sp}: ", stack, re.M):
        raise Fail(f"the stack words do not start at sp {sp}:\n{stack}")
    # While gdb holds the harts: inspect reads under its hold.
    gsock = os.path.join(work, "gdb.sock")
    expect_api(sock, "PUT", "/gdb", {"socket_path": gsock}, 204)
    c = Stub(gsock)
    if not c.cmd("?").startswith("T"):
        raise Fail("no stop reply from the stub")
    pc = c.reg(32)
    held = inspect(a, sock, "regs")
    if not re.search(rf"^pc +{pc:016x} ", held, re.M):
        raise Fail(f"inspect regs while gdb holds the harts: pc is not gdb's {pc:#x}:\n{held}")
    # A pause while gdb holds the harts (they stay in the guest, held):
    # gdb's detach then leaves them paused, the clock stopped.
    expect_api(sock, "PATCH", "/vm", {"state": "Paused"}, 204)
    c.send_raw(b"$D#44")
    c.close()
    counts = [re.search(r"minstret +([0-9a-f]+) +time +([0-9a-f]+)$", inspect(a, sock, "regs"), re.M)
              for _ in range(2)]
    if not all(counts) or counts[0].groups() != counts[1].groups():
        raise Fail(f"the paused VM ran after gdb detached: minstret, time {[m and m.groups() for m in counts]}")
    expect_api(sock, "PATCH", "/vm", {"state": "Resumed"}, 204)
    # Errors.
    out = inspect(a, sock, "mem", "0x10", "16", want=123)
    if "nothing at 0x10 can be read: it is not mapped" not in out:
        raise Fail(f"inspect mem 0x10: {out}")
    out = inspect(a, sock, "translate", "0x1000", want=123)
    if not re.search(r"0x1000 is not mapped: ", out):
        raise Fail(f"inspect translate 0x1000: {out}")
    out = inspect(a, sock, "translate", "0x8000000000000000", want=123)
    if "not canonical" not in out:
        raise Fail(f"inspect translate of a non-canonical address: {out}")
    for args, text in [(["mem", "xyz", "4"], "ADDR 'xyz' is not a number"),
                       (["mem", "0x80000000"], "mem takes an address and a length"),
                       (["frob"], "expected regs, stack, mappings, translate VADDR or mem ADDR LEN, not 'frob'"),
                       (["mappings", "1"], "mappings takes no argument"),
                       (["--phys", "regs"], "--phys applies to mem only")]:
        out = inspect(a, sock, *args, want=122)
        if text not in out:
            raise Fail(f"inspect {args}: {out!r} lacks {text!r}")
    for args, text in [(["mem", "0x80000000", "5000"], "length: expected an integer from 1 to 4096"),
                       (["--hart", "7", "regs"], "hart: expected an integer from 0 to 1")]:
        out = inspect(a, sock, *args, want=123)
        if text not in out:
            raise Fail(f"inspect {args}: {out!r} lacks {text!r}")
    expect_api(sock, "PUT", "/inspect", {"request": "mem", "address": "0x80000000"}, 400,
               r"^inspect: missing required field 'length'")
    expect_api(sock, "PUT", "/inspect", {"request": "regs", "address": 5}, 400,
               r"address applies to requests \"mem\" and \"translate\" only")
    expect_api(sock, "PUT", "/inspect", {"request": "translate", "address": "-5"}, 400, r"^inspect: address: expected")
    expect_api(sock, "PUT", "/inspect", {"request": "what"}, 400, r"^inspect: request: expected")
    out = inspect(a, os.path.join(work, "none.sock"), "regs", want=123)
    if "is a minnow serving it?" not in out:
        raise Fail(f"inspect with no API socket: {out}")
    finish(vm, "inspected")


def main():
    if len(sys.argv) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    a = A()
    case, a.minnow, a.gdb, a.nm = sys.argv[1:5]
    fn = globals().get("case_" + case)
    if not fn:
        print(f"gdb_api.py: unknown case {case!r}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="minnow-gdbapi-") as work:
        try:
            a.image, a.initrd, a.vmlinux = guest_files()
            fn(a, work)
        except (Fail, subprocess.TimeoutExpired) as e:
            print(f"FAIL {case}: {e}", file=sys.stderr)
            for log in sorted(os.listdir(work)):
                if log.endswith(".log"):
                    sys.stderr.write(f"--- {log}\n" + open(os.path.join(work, log), errors="replace").read()[-3000:])
            return 1
    print(f"ok {case}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
