#!/usr/bin/env python3
"""Runs a command and checks its exit status and that its output (stdout
and stderr together) matches every given regular expression.
Usage: expect.py STATUS REGEX [REGEX...] -- COMMAND [ARGS...]"""
import re, subprocess, sys

args = sys.argv[1:]
sep = args.index('--')
status, patterns, cmd = int(args[0]), args[1:sep], args[sep + 1:]
p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
out = p.stdout.decode(errors='replace')
ok = p.returncode == status
if not ok:
    print(f"expected exit status {status}, got {p.returncode}")
for pat in patterns:
    if not re.search(pat, out, re.M):
        print(f"output does not match /{pat}/")
        ok = False
print("---- output ----")
print(out)
sys.exit(0 if ok else 1)
