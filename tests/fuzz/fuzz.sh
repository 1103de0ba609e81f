#!/usr/bin/env bash
# Runs a libFuzzer binary for a bounded time on a copy of its seed corpus
# (the checked-in corpus is never written); CORPUS "-" means the fuzzer
# writes its own seed (MINNOW_FUZZ_SEED=FILE, see fuzz_snapshot.c).
# Usage: fuzz.sh FUZZER CORPUS SECONDS [MAX_LEN (default 4096)]
# Fails on any crash, leak or sanitizer report (libFuzzer's exit status).
set -euo pipefail
fuzzer=${1:?usage: fuzz.sh FUZZER CORPUS SECONDS}
corpus=${2:?usage: fuzz.sh FUZZER CORPUS SECONDS}
secs=${3:?usage: fuzz.sh FUZZER CORPUS SECONDS}
max_len=${4:-4096}
fuzzer=$(realpath "$fuzzer")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ "$corpus" = - ]; then
  mkdir "$work/corpus"
  MINNOW_FUZZ_SEED="$work/corpus/seed" "$fuzzer" || { echo "FAIL: $fuzzer could not write its seed" >&2; exit 1; }
else
  cp -r "$(realpath "$corpus")" "$work/corpus"
fi
cd "$work"   # crash-* files land here, reported below
st=0
"$fuzzer" -max_total_time="$secs" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  "$work/corpus" 2>"$work/log" || st=$?
tail -n 20 "$work/log"
if [ "$st" != 0 ]; then
  echo "FAIL: the fuzzer exited $st" >&2
  grep -A40 -m1 -E "ERROR: |runtime error|deadly signal" "$work/log" >&2 || true
  # What the harness itself said (fuzz_jit: where the engines differ).
  grep -E "^fuzz_[a-z]+: " "$work/log" >&2 || true
  for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-*; do
    [ -e "$f" ] && { echo "--- input $f:" >&2; od -c "$f" | head -20 >&2; }
  done
  exit 1
fi
echo "ok (fuzz: $(grep -cE '^#[0-9]+' "$work/log") status lines, corpus $(ls "$work/corpus" | wc -l) inputs)"
