#!/usr/bin/env python3
"""The gdb stub (minnow run --gdb) against real clients: gdb-multiarch in
batch mode, and a raw remote-protocol client for what gdb never sends
(garbage, bad checksums, over-long packets, a hang-up mid-run) and for the
stub's own single step, which gdb does not use on RISC-V (it steps by
breakpoints). Every wait is on output or on a socket, with generous
timeouts.

usage: gdb_test.py CASE MINNOW GDB NM PROG_ELF SPIN_ELF [ENGINE [WATCH_ELF]]"""
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from minnow_proc import Fail, Minnow, free_port, run  # noqa: E402

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
TIMEOUT = 120


def wait_socket(path, vm):
    end = time.monotonic() + TIMEOUT
    while not os.path.exists(path):
        if vm.p.poll() is not None:
            raise Fail(f"minnow ended (status {vm.p.returncode}) before it listened on {path}: {vm.text()}")
        if time.monotonic() > end:
            raise Fail(f"minnow did not listen on {path} within {TIMEOUT} s")
        time.sleep(0.05)


def gdb(gdb_exe, elf, sock, cmds):
    args = [gdb_exe, "-batch", "-nx"] + ([elf] if elf else []) + ["-ex", f"target remote {sock}"]
    for c in cmds:
        args += ["-ex", c]
    r = run(args, timeout=TIMEOUT)
    return r.stdout


def expect_in_order(text, patterns, what):
    pos = 0
    for p in patterns:
        m = re.compile(p, re.M).search(text, pos)
        if not m:
            raise Fail(f"{what}: no /{p}/ after offset {pos} in:\n{text}")
        pos = m.end()


def wait_ticks(vm, n):
    """Waits until the spin program printed its n-th tick."""
    vm.wait_for(r"(?:tick\n[\s\S]*?){%d}" % n)


def symbols(nm, elf):
    out = run([nm, elf], check=True).stdout
    return {f[2]: int(f[0], 16) for f in (ln.split() for ln in out.splitlines()) if len(f) == 3}


class Stub:
    """A raw remote-protocol client."""

    def __init__(self, sock):
        if isinstance(sock, tuple):
            self.s = socket.create_connection(sock, TIMEOUT)
        else:
            self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.s.settimeout(TIMEOUT)
            self.s.connect(sock)
        self.buf = b""
        self.no_ack = False

    def send_raw(self, b):
        self.s.sendall(b)

    def byte(self):
        while not self.buf:
            b = self.s.recv(4096)
            if not b:
                raise Fail("the stub closed the connection")
            self.buf += b
        c, self.buf = self.buf[:1], self.buf[1:]
        return c

    def packet(self):
        """The next packet's body (acks before it are skipped and returned)."""
        acks = b""
        while (c := self.byte()) != b"$":
            acks += c
        body = b""
        while (c := self.byte()) != b"#":
            body += c
        cs = self.byte() + self.byte()
        if int(cs, 16) != sum(body) % 256:
            raise Fail(f"bad checksum from the stub on {body!r}")
        if not self.no_ack:
            self.send_raw(b"+")
        return acks, body.decode()

    def cmd(self, body):
        self.send_raw(b"$" + body.encode() + b"#%02x" % (sum(body.encode()) % 256))
        acks, reply = self.packet()
        if not self.no_ack and b"+" not in acks:
            raise Fail(f"no ack for {body!r} (got {acks!r})")
        return reply

    def reg(self, n):
        v = self.cmd(f"p{n:x}")
        if not re.fullmatch(r"[0-9a-f]{16}", v):
            raise Fail(f"register {n}: reply {v!r}")
        return int.from_bytes(bytes.fromhex(v), "little")

    def close(self):
        self.s.close()


def start(a, elf, work, extra=(), wait=True):
    sock = os.path.join(work, "gdb.sock")
    args = [a.minnow, "run", "--bios", elf, "--engine", a.engine, "--gdb", f"unix:{sock}"] + list(extra)
    if wait:
        args.append("--gdb-wait")
    vm = Minnow(args, os.path.join(work, "console.log"), timeout=TIMEOUT)
    wait_socket(sock, vm)
    return vm, sock


def case_break(a, work):
    vm, sock = start(a, a.prog, work)
    out = gdb(a.gdb, a.prog, sock, [
        "break *add_one", "continue", "continue", "continue", "p/d $s0", "info registers pc", "x/4i $pc",
        "p $priv", "p $fcsr", "info threads", "delete",
        "break *trap", "break *at_ecall", "break *at_illegal",
        "continue", "stepi", "p $pc == trap",
        "continue", "stepi", "p $pc == trap", "delete", "detach"])
    expect_in_order(out, [
        r"Breakpoint 1, 0x0*80000[0-9a-f]+ in add_one", r"Breakpoint 1, .* in add_one",
        r"Breakpoint 1, .* in add_one", r"^\$1 = 2$", r"^pc +0x[0-9a-f]+\s+0x[0-9a-f]+ <add_one>",
        r"=> 0x[0-9a-f]+ <add_one>:\s+addi?\s+s0,s0,1", r"ret",
        r"^\$2 = 3$", r"^\$3 = 0$", r"\* 1 +Thread 1 \(hart 0\)",
        r"Breakpoint 3, .* in at_ecall",
        r"Breakpoint 2, .* in trap", r"^\$4 = 1$",
        r"Breakpoint 4, .* in at_illegal",
        r"Breakpoint 2, .* in trap", r"^\$5 = 1$",
        r"detached"], "gdb")
    vm.expect_exit(0)


def case_set_reg(a, work):
    vm, sock = start(a, a.prog, work)
    out = gdb(a.gdb, a.prog, sock, ["break *after_traps", "continue", "p/d $s0", "set var $s0 = 50", "p/d $s0",
                                    "detach"])
    expect_in_order(out, [r"Breakpoint 1, .* in after_traps", r"^\$1 = 10$", r"^\$2 = 50$", "detached"], "gdb")
    vm.expect_exit(7)
    vm.wait_for("reported failure: code 7")


def case_set_mem(a, work):
    vm, sock = start(a, a.prog, work)
    out = gdb(a.gdb, a.prog, sock, ["break *after_traps", "continue", "x/wx &value", "set var *(int *)&value = 5",
                                    "x/wx &value", "continue"])
    expect_in_order(out, [r"Breakpoint 1, .* in after_traps", r":\s+0x00001234$", r":\s+0x00000005$",
                          r"Remote target\) exited with code 010\]"], "gdb")
    vm.expect_exit(8)


def case_raw(a, work):
    """Hostile input, Ctrl-C, a hang-up while running, the next connection,
    and kill, against a program that never ends."""
    vm, sock = start(a, a.spin, work, wait=False)
    c = Stub(sock)
    c.send_raw(b"hello, this is not a packet\r\n+++---")
    c.send_raw(b"$qSupported#00")                       # bad checksum
    if c.byte() != b"-":
        raise Fail("a bad checksum was not refused with '-'")
    body = b"m" + b"0" * 5000
    c.send_raw(b"$" + body + b"#%02x" % (sum(body) % 256))  # longer than PacketSize
    if c.byte() != b"-":
        raise Fail("an over-long packet was not refused with '-'")
    sup = c.cmd("qSupported:multiprocess+;swbreak+")
    if "PacketSize=1000" not in sup:
        raise Fail(f"qSupported: {sup!r}")
    if not re.fullmatch(r"T05thread:1;", c.cmd("?")):
        raise Fail("no stop reply on connect")
    if c.cmd("m0,4") != "E14":
        raise Fail("reading unmapped memory did not give an error")
    if c.cmd("Hg5") != "E01":
        raise Fail("a thread that does not exist was accepted")
    v1 = c.reg(10)
    ticks = vm.text().count("tick\n")
    c.send_raw(b"$c#63")
    while c.byte() != b"+":
        pass
    wait_ticks(vm, ticks + 1)                         # it runs
    c.send_raw(b"\x03")
    _, stop = c.packet()
    if not stop.startswith("T02"):
        raise Fail(f"Ctrl-C: reply {stop!r}")
    v2 = c.reg(10)
    if v2 <= v1:
        raise Fail(f"a0 did not count on between the stops: {v1} then {v2}")
    c.send_raw(b"$c#63")
    while c.byte() != b"+":
        pass
    c.close()                                         # hang up while it runs
    wait_ticks(vm, vm.text().count("tick\n") + 2)    # the guest runs on alone
    c = Stub(sock)
    if not c.cmd("?").startswith("T05"):
        raise Fail("the next connection got no stop reply")
    v3 = c.reg(10)
    if v3 <= v2:
        raise Fail(f"a0 did not count on after the client went: {v2} then {v3}")
    c.send_raw(b"$k#6b")
    vm.expect_exit(124)
    vm.wait_for("the debugger ended the run")


def case_step(a, work):
    """The stub's own single step (vCont;s) over a trapping instruction
    lands on the trap handler's first instruction."""
    sym = symbols(a.nm, a.prog)
    vm, sock = start(a, a.prog, work)
    c = Stub(sock)
    c.cmd("QStartNoAckMode")
    c.no_ack = True
    c.send_raw(b"$?#3f")
    _, r = c.packet()
    for at in ("at_ecall", "at_illegal"):
        if c.cmd(f"Z0,{sym[at]:x},4") != "OK":
            raise Fail("Z0 refused")
        c.send_raw(b"$vCont;c#a8")
        _, stop = c.packet()
        if not stop.startswith("T05") or c.reg(32) != sym[at]:
            raise Fail(f"continue to {at}: {stop!r}, pc {c.reg(32):#x}")
        c.cmd(f"z0,{sym[at]:x},4")
        c.send_raw(b"$vCont;s:1#23")
        _, stop = c.packet()
        if not stop.startswith("T05thread:1;") or c.reg(32) != sym["trap"]:
            raise Fail(f"step over {at}: {stop!r}, pc {c.reg(32):#x}, trap at {sym['trap']:#x}")
        if c.reg(0x45) != 3:
            raise Fail("priv is not M in the handler")
    c.send_raw(b"$D#44")
    vm.expect_exit(0)


def case_stepi_trap(a, work):
    """gdb's own stepi and nexti (it steps RISC-V code with a breakpoint
    after the instruction) over an ecall and an illegal instruction land
    on the trap handler's first instruction ($pc == $mtvec, mcause the
    trap's), as a hardware step would; x/8i there; then the handler and
    the program run on to pass."""
    vm, sock = start(a, a.prog, work)
    out = gdb(a.gdb, a.prog, sock, [
        "break *at_ecall", "continue", "delete", "stepi", "p $pc == $mtvec", "p $mcause", "p $mepc == at_ecall",
        "x/8i $pc",
        "break *at_illegal", "continue", "delete", "nexti", "p $pc == $mtvec", "p $mcause",
        "p $mepc == at_illegal", "stepi", "p $pc == trap + 4", "continue"])
    expect_in_order(out, [
        r"Breakpoint 1, .* in at_ecall", r"^0x0*8[0-9a-f]+ in trap \(\)$", r"^\$1 = 1$", r"^\$2 = 11$", r"^\$3 = 1$",
        r"^=> 0x[0-9a-f]+ <trap>:\s+csrr\s+t5,mepc$", r"^   0x[0-9a-f]+ <trap\+4>:\s+addi?\s+t5,t5,4$",
        r"^   0x[0-9a-f]+ <trap\+6>:\s+csrw\s+mepc,t5$", r"^   0x[0-9a-f]+ <trap\+10>:\s+mret$",
        r"^   0x[0-9a-f]+", r"^   0x[0-9a-f]+", r"^   0x[0-9a-f]+", r"^   0x[0-9a-f]+",
        r"Breakpoint 2, .* in at_illegal", r"^0x0*8[0-9a-f]+ in trap \(\)$", r"^\$4 = 1$", r"^\$5 = 2$", r"^\$6 = 1$",
        r"^0x0*8[0-9a-f]+ in trap \(\)$", r"^\$7 = 1$",
        r"\[Inferior 1 \(Remote target\) exited normally\]"], "gdb")
    vm.expect_exit(0)


def case_tcp(a, work):
    """--gdb tcp:: the stub listens before the program starts."""
    port = free_port()
    vm = Minnow([a.minnow, "run", "--bios", a.prog, "--engine", a.engine, "--gdb", f"tcp:127.0.0.1:{port}",
                 "--gdb-wait"], os.path.join(work, "console.log"), timeout=TIMEOUT)
    end = time.monotonic() + TIMEOUT
    while True:
        try:
            c = Stub(("127.0.0.1", port))
            break
        except ConnectionRefusedError:
            if vm.p.poll() is not None or time.monotonic() > end:
                raise Fail(f"no listener on 127.0.0.1:{port} (minnow status {vm.p.poll()})")
            time.sleep(0.05)
    if not c.cmd("?").startswith("T05thread:1;"):
        raise Fail("no stop reply")
    if c.reg(32) != 0x80000000:
        raise Fail(f"--gdb-wait: pc {c.reg(32):#x}, not the reset pc")
    if c.cmd("vCont?") != "vCont;c;C;s;S":
        raise Fail("vCont? reply")
    xml = c.cmd("qXfer:features:read:target.xml:0,fff")
    for f in ("org.gnu.gdb.riscv.cpu", "org.gnu.gdb.riscv.fpu", "org.gnu.gdb.riscv.virtual"):
        if f not in xml:
            raise Fail(f"the target description has no {f}")
    c.send_raw(b"$D#44")
    vm.expect_exit(0)


def case_watch(a, work):
    """gdb's watch, rwatch and awatch (Z2, Z3, Z4) on a bare-metal program:
    each stops where the access is, with the old and new value (watch) or
    the value (rwatch, awatch), and the program still passes after."""
    vm, sock = start(a, a.watch, work)
    out = gdb(a.gdb, a.watch, sock, [
        "watch *(int *)&counter", "continue", "continue", "p/d $s0", "delete",
        "rwatch *(int *)&limit", "continue", "p/d $s0", "delete",
        "awatch *(int *)&shared", "continue", "continue", "p/x *(int *)&shared", "delete",
        "continue"])
    expect_in_order(out, [
        r"Hardware watchpoint 1: \*\(int \*\)&counter",
        r"Old value = 0\s+New value = 1", r"Old value = 1\s+New value = 2", r"^\$1 = 2$",
        r"Hardware read watchpoint 2: \*\(int \*\)&limit", r"Value = 3", r"^\$2 = 2$",
        r"Hardware access \(read/write\) watchpoint 3: \*\(int \*\)&shared", r"Value = 66",
        r"Hardware access \(read/write\) watchpoint 3: \*\(int \*\)&shared", r"(?:Old value = 66\s+New value = 82|Value = 82)",
        r"^\$3 = 0x52$",
        r"\[Inferior 1 \(Remote target\) exited normally\]"], "gdb")
    vm.expect_exit(0)


def case_watch_raw(a, work):
    """Z2 at the protocol level: the stop reply names the watchpoint and
    the address, the hart stopped before the store (pc at it, memory
    unchanged), stepping over it with the watchpoint removed (as gdb does)
    stores, the next pass stops again, a watchpoint on part of a word
    catches the word's store, Z3 stops at the load; bad Z2 packets are
    refused."""
    sym = symbols(a.nm, a.watch)
    vm, sock = start(a, a.watch, work)
    c = Stub(sock)
    c.cmd("QStartNoAckMode")
    c.no_ack = True
    if not c.cmd("?").startswith("T05"):
        raise Fail("no stop reply")
    counter = sym["counter"]
    if c.cmd(f"Z2,{counter:x},0") != "E01" or c.cmd(f"Z2,{(1 << 64) - 2:x},8") != "E01":
        raise Fail("a watchpoint of length 0 or one that wraps was accepted")
    if c.cmd(f"Z2,{counter + 2:x},2") != "OK":
        raise Fail("Z2 refused")
    c.send_raw(b"$vCont;c#a8")
    _, stop = c.packet()
    if stop != f"T05watch:{counter + 2:x};thread:1;":
        raise Fail(f"stop reply {stop!r}")
    pc = c.reg(32)
    if pc != sym["at_store"]:
        raise Fail(f"stopped at {pc:#x}, not at the store {sym['at_store']:#x}")
    if c.cmd(f"m{counter:x},4") != "00000000" or c.reg(8) != 1:
        raise Fail("the store happened before the stop, or s0 is wrong")
    # As gdb does for RISC-V: step over the store with the watchpoint out,
    # then put it back; the next pass stops at the store again.
    c.cmd(f"z2,{counter + 2:x},2")
    c.send_raw(b"$vCont;s:1#23")
    _, stop = c.packet()
    if not stop.startswith("T05thread:1;") or c.cmd(f"m{counter:x},4") != "01000000":
        raise Fail(f"step over the store: {stop!r}, counter {c.cmd(f'm{counter:x},4')}")
    c.cmd(f"Z2,{counter + 2:x},2")
    c.send_raw(b"$vCont;c#a8")
    _, stop = c.packet()
    if not stop.startswith("T05watch:") or c.reg(32) != pc or c.cmd(f"m{counter:x},4") != "01000000":
        raise Fail(f"second pass: {stop!r}, pc {c.reg(32):#x}, counter {c.cmd(f'm{counter:x},4')}")
    c.cmd(f"z2,{counter + 2:x},2")
    if c.cmd(f"Z3,{sym['limit']:x},4") != "OK":
        raise Fail("Z3 refused")
    c.send_raw(b"$vCont;c#a8")
    _, stop = c.packet()
    if stop != f"T05rwatch:{sym['limit']:x};thread:1;" or c.reg(32) != sym["at_load"]:
        raise Fail(f"rwatch: {stop!r}, pc {c.reg(32):#x}")
    c.cmd(f"z3,{sym['limit']:x},4")
    c.send_raw(b"$D#44")
    vm.expect_exit(0)


def case_csr(a, work):
    """The CSR feature (read and written as M-mode through the hart's WARL
    rules; the trigger CSRs too) and the monitor commands, on a bare-metal
    program held at reset."""
    vm, sock = start(a, a.spin, work)
    out = gdb(a.gdb, a.spin, sock, [
        "p $satp", "p/x $misa", "info registers mstatus mhartid pmpaddr0 mcause",
        "set $mscratch = 5", "p $mscratch", "info registers csr",
        "set $mtvec = 0x80000101", "p/x $mtvec", "set $mtvec = 0x80000003", "p/x $mtvec",
        "set $mstatus = 0x1800", "p/x $mstatus", "set $mstatus = 0x1000", "p/x $mstatus",
        "set $minstret = 100", "p $minstret", "set $mhartid = 3",
        "p $tselect", "set $tselect = 2", "p $tselect", "set $tselect = 9", "p $tselect",
        "monitor help", "monitor info harts", "monitor translate 0x80000000", "monitor info mem",
        "monitor frobnicate", "monitor translate xyz", "monitor phys maybe",
        "monitor phys on", "x/2xw 0x80000000", "monitor phys off", "x/2xw 0x80000000", "kill"])
    expect_in_order(out, [
        r"^\$1 = 0$", r"^\$2 = 0x800000000014112d$",  # RV64 ACDFIMSU
        r"^mstatus +0xa00000000\s", r"^mhartid +0x0\s", r"^pmpaddr0 +0x0\s", r"^mcause +0x0\s",
        r"^\$3 = 5$", r"^satp +0x0\s", r"^mstatus +0xa00000000\s", r"^misa +0x800000000014112d\s",
        r"^mscratch +0x5\s", r"^pmpcfg0 +0x0\s", r"^mhartid +0x0\s", r"^\$4 = 0x80000101$",
        r"^\$5 = 0x80000101$",          # mode 3 is reserved: the write is ignored
        r"^\$6 = 0xa00001800$",         # MPP = M
        r"^\$7 = 0xa00001800$",         # MPP = 2 is reserved: MPP keeps its value
        r"^\$8 = 100$",
        r'Could not write register "mhartid"',
        r"^\$9 = 0$", r"^\$10 = 2$", r"^\$11 = 2$",   # the Sdtrig triggers: 4, a larger tselect is ignored
        r"^  translate VADDR +the page walk", r"^\* hart 0 \(thread 1\): pc 0+80000000 priv 3 satp 0+ \(bare\)$",
        r"^satp 0+: mode bare", r"no translation \(satp is bare\): 0x80000000 is physical 0x80000000",
        r"^satp 0+: mode bare, root table 0$", r"^no page tables: addresses are physical$",
        r"^unknown monitor command 'frobnicate' \(monitor help lists the commands\)$",
        r"^monitor translate: 'xyz' is not an address", r"^monitor phys: expected on or off, not 'maybe'$",
        r"^memory accesses are by physical address$", r"^0x80000000 <_start>:\s+0x[0-9a-f]{8}\s+0x[0-9a-f]{8}$",
        r"^memory accesses are by virtual \(the hart.s MMU\) address$",
        r"^0x80000000 <_start>:\s+0x[0-9a-f]{8}\s+0x[0-9a-f]{8}$"],
        "gdb")
    words = re.findall(r"^0x80000000 <_start>:\s+(0x[0-9a-f]{8}\s+0x[0-9a-f]{8})$", out, re.M)
    if len(words) != 2 or words[0] != words[1]:
        raise Fail(f"physical and virtual reads of 0x80000000 differ in M-mode: {words}")
    vm.expect_exit(124)


def case_monitor_raw(a, work):
    """qRcmd at the protocol level: the output in an O packet (hex) then
    OK, bad commands (odd or non-hex digits, a NUL, over-long) refused with
    E01 and the stub answering on."""
    vm, sock = start(a, a.spin, work)
    c = Stub(sock)
    c.cmd("QStartNoAckMode")
    c.no_ack = True

    def monitor(cmd):
        body = b"qRcmd," + cmd.encode().hex().encode()
        c.send_raw(b"$" + body + b"#%02x" % (sum(body) % 256))
        text, n = "", 0
        while True:
            _, p = c.packet()
            if not p.startswith("O") or p == "OK":
                return text, n, p
            text += bytes.fromhex(p[1:]).decode()
            n += 1

    text, n, end = monitor("info harts")
    if end != "OK" or n != 1 or not text.startswith("* hart 0 (thread 1): pc 0000000080000000 priv 3"):
        raise Fail(f"monitor info harts: {text!r} in {n} packets, then {end!r}")
    text, n, end = monitor("info regs")
    if end != "OK" or "mhartid  0000000000000000" not in text:
        raise Fail(f"monitor info regs: {text!r}, then {end!r}")
    for bad in ["qRcmd,6", "qRcmd,zz", "qRcmd,00", "qRcmd," + "61" * 600]:
        if c.cmd(bad) != "E01":
            raise Fail(f"{bad[:20]}... was not refused")
    if not c.cmd("?").startswith("T05"):
        raise Fail("the stub does not answer after bad qRcmd packets")
    c.send_raw(b"$k#6b")
    vm.expect_exit(124)


def case_linux(a, work):
    """The default guest on 4 harts: held at reset, every hart a thread,
    then detach and it boots to its command."""
    guest = run([os.path.join(TOP, "guest", "build"), "-q"], check=True).stdout.strip().split("\n")[-1]
    sock = os.path.join(work, "gdb.sock")
    vm = Minnow([a.minnow, "run", "--kernel", os.path.join(guest, "Image"), "--initrd",
                 os.path.join(guest, "initramfs.cpio.gz"), "--cpus", "4", "--engine", a.engine,
                 "--gdb", f"unix:{sock}", "--gdb-wait",
                 "--append", 'console=ttyS0 minnow.cmd="echo GDB-GUEST-UP"'],
                os.path.join(work, "console.log"), timeout=600)
    wait_socket(sock, vm)
    mode = os.stat(sock).st_mode & 0o777
    if mode != 0o600:
        raise Fail(f"the gdb socket is mode {mode:o}: anyone could drive the guest (expected 600)")
    out = gdb(a.gdb, None, sock, ["set architecture riscv:rv64", "info threads", "thread 3", "p/x $pc",
                                  "p $priv", "thread 1", "p/x $a0", "stepi", "p/x $pc", "detach"])
    expect_in_order(out, [r"\* 1 +Thread 1 \(hart 0\)", r"2 +Thread 2 \(hart 1\)", r"3 +Thread 3 \(hart 2\)",
                          r"4 +Thread 4 \(hart 3\)", r"Switching to thread 3", r"^\$1 = 0x[0-9a-f]+$",
                          r"^\$2 = [0-3]$", r"Switching to thread 1", r"^\$3 = 0x0$", r"^\$4 = 0x[0-9a-f]+$",
                          r"detached"], "gdb")
    vm.wait_for(r"^GDB-GUEST-UP$", 600)
    vm.expect_exit(0, 600)


def case_kernel(a, work):
    """The default guest's kernel under gdb with its symbols (guest/build
    keeps vmlinux): held at reset, break start_kernel, a backtrace and the
    code there through the MMU, a watchpoint on jiffies that the timer
    tick hits twice, then detach and it boots to its command."""
    guest = run([os.path.join(TOP, "guest", "build"), "-q"], check=True).stdout.strip().split("\n")[-1]
    vmlinux = os.path.join(guest, "vmlinux")
    if not os.path.exists(vmlinux):
        raise Fail(f"{vmlinux} is missing: guest/build keeps it beside the Image")
    # The Image built with this vmlinux (the links in guest/build's
    # directory are shared by every checkout that runs it).
    image = os.path.join(os.path.dirname(os.path.realpath(vmlinux)), "Image")
    sock = os.path.join(work, "gdb.sock")
    vm = Minnow([a.minnow, "run", "--kernel", image, "--initrd",
                 os.path.join(guest, "initramfs.cpio.gz"), "--engine", a.engine,
                 "--gdb", f"unix:{sock}", "--gdb-wait",
                 "--append", 'console=ttyS0 minnow.cmd="echo GDB-KERNEL-UP"'],
                os.path.join(work, "console.log"), timeout=600)
    wait_socket(sock, vm)
    out = gdb(a.gdb, vmlinux, sock, ["break start_kernel", "continue", "bt 1", "p $priv", "x/2i $pc",
                                     "p/x $sp", "x/gx $sp", "delete",
                                     "watch *(unsigned long *)&jiffies", "continue", "continue", "delete",
                                     "detach"])
    expect_in_order(out, [r"Breakpoint 1 at 0xffffffff8", r"Breakpoint 1, 0xffffffff8[0-9a-f]+ in start_kernel",
                          r"#0 +0xffffffff8[0-9a-f]+ in start_kernel", r"^\$1 = 1$",
                          r"=> 0xffffffff8[0-9a-f]+ <start_kernel(?:\+\d+)?>:", r"^\$2 = 0xffffffff8[0-9a-f]+$",
                          r"^0xffffffff8[0-9a-f]+(?: <[^>]*>)?:\s+0x[0-9a-f]+$",
                          r"Hardware watchpoint 2: \*\(unsigned long \*\)&jiffies",
                          r"Old value = \d+\s+New value = \d+", r"Old value = \d+\s+New value = \d+",
                          r"detached"], "gdb")
    # The timer tick moves jiffies on: each stop saw it grow.
    for old, new in re.findall(r"Old value = (\d+)\s+New value = (\d+)", out):
        if int(new) <= int(old) or int(new) - int(old) > 1000:
            raise Fail(f"jiffies went from {old} to {new}:\n{out}")
    vm.wait_for(r"^GDB-KERNEL-UP$", 600)
    vm.expect_exit(0, 600)


def main():
    if len(sys.argv) < 7:
        print(__doc__, file=sys.stderr)
        return 2

    class A:
        pass
    a = A()
    case, a.minnow, a.gdb, a.nm, a.prog, a.spin = sys.argv[1:7]
    a.engine = sys.argv[7] if len(sys.argv) > 7 else "jit"
    a.watch = sys.argv[8] if len(sys.argv) > 8 else None
    fn = globals().get("case_" + case)
    if not fn:
        print(f"gdb_test.py: unknown case {case!r}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="minnow-gdb-") as work:
        try:
            fn(a, work)
        except (Fail, subprocess.TimeoutExpired) as e:
            print(f"FAIL {case}: {e}", file=sys.stderr)
            log = os.path.join(work, "console.log")
            if os.path.exists(log):
                sys.stderr.write(open(log, errors="replace").read()[-3000:])
            return 1
    print(f"ok {case}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
