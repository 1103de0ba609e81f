#!/usr/bin/env bash
# The logger and metrics (PUT /logger, PUT /metrics, FlushMetrics, the
# --log-path/--level/--metrics-path flags). Usage: observe.sh MINNOW MODE
#   logger    PUT /logger, then requests: the log has their lines with the
#             level and origin; bad bodies get 400 naming the field; the
#             CLI flags configure the same logger; a FIFO with no reader is
#             refused rather than blocking
#   metrics   PUT /metrics, InstanceStart, FlushMetrics: the metrics file
#             holds >= 2 lines of valid JSON; after the guest ran, hart 0
#             retired instructions, the SBI BASE/TIME counters moved, the
#             RSS is > 0 and the API requests were counted; the drive the
#             guest read and wrote counted its operations and bytes
#   logconfig the logger and metrics sections of --config-file: applied
#             as PUT /logger and PUT /metrics are (a booted guest leaves
#             log and metrics lines), shown by GET /vm/config (also after
#             PUT /logger), bad sections refused naming the field
set -euo pipefail
minnow=${1:?usage: observe.sh MINNOW MODE}
mode=${2:?usage: observe.sh MINNOW MODE}
work=$(mktemp -d)
sock=$work/api.sock
log=$work/console.log
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

fail() {
  echo "FAIL ($mode): $*" >&2
  echo "--- console ---" >&2; tr -d '\r' <"$log" >&2 2>/dev/null || true
  echo "--- stderr ---" >&2; cat "$work/err" >&2 2>/dev/null || true
  echo "--- log ---" >&2; cat "$work/minnow.log" >&2 2>/dev/null || true
  exit 1
}
. "$(dirname "$0")/lib.sh"
# has_line REGEX: the log file has a line matching REGEX.
has_line() { grep -qE -- "$1" "$work/minnow.log" || fail "the log has no line matching /$1/"; }

case $mode in
  logger)
    start_minnow --api-sock "$sock" --id obs1
    expect PUT /logger '{"log_path": 5}' 400 "logger: log_path: expected a string"
    expect PUT /logger '{"level": "Loud"}' 400 "logger: level: expected"
    expect PUT /logger '{"show_level": "yes"}' 400 "logger: show_level: expected a boolean"
    expect PUT /logger '{"show_log_origin": 1}' 400 "logger: show_log_origin: expected a boolean"
    expect PUT /logger '{"module": "api_server::request"}' 400 "logger: module"
    expect PUT /logger '{"colour": true}' 400 "logger: unknown field 'colour'"
    expect PUT /logger '{"log_path": "/nonexistent/dir/x.log"}' 400 "/nonexistent/dir/x.log"
    expect PUT /logger '{"log_path": ""}' 400 "logger: log_path"
    mkfifo "$work/fifo"
    expect PUT /logger '{"log_path": "'"$work"'/fifo"}' 400 "FIFO no process is reading"
    expect PUT /metrics '{}' 400 "metrics: missing required field 'metrics_path'"
    expect PUT /metrics '{"metrics_path": 1}' 400 "metrics_path: expected a string"
    expect PUT /metrics '{"metrics_path": "'"$work"'/m", "properties": {"a": "b"}}' 400 "metrics: properties"
    expect PUT /metrics '{"metrics_path": "'"$work"'/m", "emit_id": "no"}' 400 "emit_id: expected a boolean"
    expect PUT /metrics '{"metrics_path": "/nonexistent/dir/m"}' 400 "/nonexistent/dir/m"
    expect PUT /actions '{"action_type": "FlushMetrics"}' 400 "not started"
    # level case-insensitive, as Firecracker's.
    expect PUT /logger '{"log_path": "'"$work"'/minnow.log", "level": "info", "show_level": true, "show_log_origin": true}' 204
    expect PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64}' 204
    expect PUT /machine-config '{"vcpu_count": 99, "mem_size_mib": 64}' 400 "vcpu_count"
    expect GET /machine-config "" 200
    has_line '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z \[obs1:INFO:src/api/[a-z_]+\.c:[0-9]+\] API PUT /machine-config: 204'
    has_line '\[obs1:INFO:[^]]*\] API GET /machine-config: 200'
    has_line '\[obs1:WARN:[^]]*\] API PUT /machine-config: 400 .*vcpu_count'
    # At Warning only failures are written; without show_* the tag is the id alone.
    expect PUT /logger '{"level": "Warning"}' 204
    expect GET /version "" 200
    expect GET /nowhere "" 400
    grep -q 'GET /version' "$work/minnow.log" && fail "a request was logged at level Warning"
    has_line '^[0-9T:.Z-]+ \[obs1\] API GET /nowhere: 400'
    # Off: nothing more.
    expect PUT /logger '{"level": "Off"}' 204
    n=$(wc -l <"$work/minnow.log")
    expect GET /nowhere "" 400
    [ "$(wc -l <"$work/minnow.log")" = "$n" ] || fail "level Off still wrote lines"
    # emit_id puts the id on each metrics line.
    expect PUT /metrics '{"metrics_path": "'"$work"'/m", "emit_id": true}' 204
    expect PUT /metrics '{"metrics_path": "'"$work"'/m2"}' 400 "already configured"
    python3 -c 'import json,sys; l = [json.loads(x) for x in open(sys.argv[1])]; sys.exit(0 if l and l[0]["id"] == "obs1" else 1)' \
      "$work/m" || fail "the metrics line has no id: $(cat "$work/m")"
    kill -TERM "$pid"; wait_minnow 124
    # The same from the command line; a bad flag names itself.
    rm -f "$work/minnow.log"
    start_minnow --api-sock "$sock" --log-path "$work/minnow.log" --level Debug --show-level
    expect GET / "" 200
    has_line '^[0-9T:.Z-]+ \[minnow:INFO\] minnow .* starting: API on '
    has_line '\[minnow:INFO\] API GET /: 200'
    kill -TERM "$pid"; wait_minnow 124
    "$minnow" --api-sock "$sock" --log-path "$work/x.log" --level Loud </dev/null >/dev/null 2>"$work/err" && st=0 || st=$?
    [ "$st" = 122 ] || fail "--level Loud exited $st, expected 122"
    grep -qF -- "--level: expected" "$work/err" || fail "--level Loud: $(cat "$work/err")"
    "$minnow" --api-sock "$sock" --level Info </dev/null >/dev/null 2>"$work/err" && st=0 || st=$?
    [ "$st" = 122 ] || fail "--level without --log-path exited $st, expected 122"
    "$minnow" --api-sock "$sock" --metrics-path /nonexistent/m </dev/null >/dev/null 2>"$work/err" && st=0 || st=$?
    [ "$st" = 122 ] || fail "a bad --metrics-path exited $st, expected 122"
    grep -qF -- "--metrics-path" "$work/err" || fail "bad --metrics-path: $(cat "$work/err")"
    [ -e "$sock" ] && fail "the socket was left behind"
    ;;
  metrics)
    guest=$("$(cd "$(dirname "$0")/../.." && pwd)/guest/build" -q)
    start_minnow --api-sock "$sock"
    expect PUT /logger '{"log_path": "'"$work"'/minnow.log", "show_level": true}' 204
    expect PUT /metrics '{"metrics_path": "'"$work"'/metrics.json"}' 204
    boot=$(python3 -c 'import json,sys; print(json.dumps({"kernel_image_path": sys.argv[1] + "/Image",
      "initrd_path": sys.argv[1] + "/initramfs.cpio.gz",
      "boot_args": "console=ttyS0 minnow.cmd=\"dd if=/dev/vda of=/dev/null bs=4k count=16 iflag=direct; dd if=/dev/zero of=/dev/vda bs=4k count=4 oflag=direct; sync; echo metrics-ready; sleep 1; echo metrics-done\""}))' "$guest")
    expect PUT /boot-source "$boot" 204
    expect PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 128}' 204
    expect PUT /network-interfaces/eth0 '{"iface_id": "eth0", "minnow_user": true}' 204
    truncate -s 1M "$work/disk.img"
    expect PUT /drives/d0 '{"drive_id": "d0", "path_on_host": "'"$work"'/disk.img", "is_root_device": false}' 204
    expect PUT /actions '{"action_type": "InstanceStart"}' 204
    for _ in $(seq 1200); do grep -qx metrics-ready <(tr -d '\r' <"$log") && break; sleep 0.1; done
    grep -qx metrics-ready <(tr -d '\r' <"$log") || fail "the guest did not start its command"
    expect PATCH /vm '{"state": "Paused"}' 204
    expect PATCH /vm '{"state": "Resumed"}' 204
    expect PUT /actions '{"action_type": "FlushMetrics"}' 204
    expect PUT /metrics '{"metrics_path": "'"$work"'/other.json"}' 400 "pre-boot only"
    wait_minnow 0
    python3 - "$work/metrics.json" <<'PY' || fail "bad metrics: $(cat "$work/metrics.json")"
import json, sys
lines = [json.loads(x) for x in open(sys.argv[1])]
assert len(lines) >= 2, f"{len(lines)} lines"
own = [l["minnow"] for l in lines]
reasons = [o["reason"] for o in own]
assert "start" in reasons and "FlushMetrics" in reasons and reasons[-1] == "exit", reasons
f = next(o for o in own if o["reason"] == "FlushMetrics")
assert f["harts"][0]["instret"] > 0, f["harts"]
x = f["harts"][0]["exits"]
assert x["mmio"] > 0 and x["sbi"] > 0 and x["wfi"] > 0, x
assert f["sbi"]["base"] > 0 or f["sbi"]["time"] > 0, f["sbi"]
assert f["monitor"]["rss_bytes"] > 0, f["monitor"]
assert f["api"]["requests"] >= 6 and f["api"]["latency_us"]["max"] >= f["api"]["latency_us"]["p50"], f["api"]
assert f["vm"]["state"] == "Running", f["vm"]
net = [d for d in f["devices"] if d["kind"] == "net"]
assert net and "rx_frames" in net[0] and "tx_bytes" in net[0], f["devices"]
blk = [d for d in f["devices"] if d["kind"] == "drive"]
assert blk, f["devices"]
b = blk[0]
# The guest read 16 x 4 KiB with O_DIRECT (the kernel reads more on its own, e.g. the partition table)
# and wrote 4 x 4 KiB.
assert b["read_ops"] > 0 and b["read_bytes"] >= 16 * 4096, b
assert b["write_ops"] > 0 and b["write_bytes"] >= 4 * 4096, b
assert b["errors"] == 0, b
assert own[-1]["vm"]["state"] == "Ended", own[-1]["vm"]

# Firecracker's keys: each line says what happened since the one before,
# so the lines add up to minnow's cumulative counts at the end.
def total(section, key):
    return sum(l.get(section, {}).get(key, 0) for l in lines)
end = {d["kind"]: d for d in own[-1]["devices"]}
for fc, mine in (("read_count", "read_ops"), ("read_bytes", "read_bytes"), ("write_count", "write_ops"),
                 ("write_bytes", "write_bytes"), ("flush_count", "flush_ops"), ("execute_fails", "errors")):
    assert total("block_d0", fc) == end["drive"][mine], (fc, total("block_d0", fc), end["drive"])
    assert total("block", fc) == total("block_d0", fc), fc
for fc, mine in (("rx_packets_count", "rx_frames"), ("rx_bytes_count", "rx_bytes"),
                 ("tx_packets_count", "tx_frames"), ("tx_bytes_count", "tx_bytes")):
    assert total("net_eth0", fc) == end["net"][mine], (fc, total("net_eth0", fc), end["net"])
# A request is counted once answered: the line written at InstanceStart has
# the PUTs before it, the later lines only what came after.
start = lines[reasons.index("start")]["put_api_requests"]
assert start["drive_count"] == 1 and start["drive_fails"] == 0 and start["boot_source_count"] == 1, start
assert start["actions_count"] == 0, start
assert total("put_api_requests", "drive_count") == 1, "a counter was not reset by its flush"
assert total("put_api_requests", "actions_count") == 2, total("put_api_requests", "actions_count")
assert total("put_api_requests", "metrics_fails") == 1, "the PUT /metrics after start was not counted as failed"
mmio = total("vcpu", "exit_mmio_read") + total("vcpu", "exit_mmio_write")
assert mmio == own[-1]["harts"][0]["exits"]["mmio"], (mmio, own[-1]["harts"])
# The pause and resume durations: stored values, kept from line to line.
for l in lines[reasons.index("FlushMetrics"):]:
    t = l["latencies_us"]
    assert 0 < t["vmm_pause_vm"] <= t["pause_vm"] and 0 < t["vmm_resume_vm"] <= t["resume_vm"], t
    assert t["full_create_snapshot"] == 0 and t["load_snapshot"] == 0, t
assert all(l["seccomp"]["num_faults"] == 0 and "utc_timestamp_ms" in l for l in lines), lines[-1]
assert "process_startup_time_us" in lines[-1]["api_server"], lines[-1]
print(f"{len(lines)} metrics lines; hart 0 retired {f['harts'][0]['instret']}; sbi {f['sbi']}; rss {f['monitor']['rss_bytes']}; drive {b}")
PY
    has_line '\[minnow:INFO\] the microVM started: 1 vCPUs, 128 MiB'
    has_line '\[minnow:INFO\] API PUT /actions: 204'
    has_line '\[minnow:INFO\] the microVM ended: the guest powered off'
    ;;
  logconfig)
    guest=$("$(cd "$(dirname "$0")/../.." && pwd)/guest/build" -q)
    python3 - "$guest" "$work" >"$work/vm.json" <<'PY'
import json, sys
g, w = sys.argv[1], sys.argv[2]
print(json.dumps({
  "boot-source": {"kernel_image_path": g + "/Image", "initrd_path": g + "/initramfs.cpio.gz",
                  "boot_args": "console=ttyS0 minnow.cmd=\"echo config-obs\""},
  "machine-config": {"vcpu_count": 1, "mem_size_mib": 64},
  "logger": {"log_path": w + "/minnow.log", "level": "Info", "show_level": True, "show_log_origin": False},
  "metrics": {"metrics_path": w + "/metrics.json"}}))
PY
    "$minnow" --no-api --config-file "$work/vm.json" --id cfg1 </dev/null >"$log" 2>"$work/err" && st=0 || st=$?
    [ "$st" = 0 ] || fail "--no-api --config-file exited $st"
    grep -qx config-obs <(tr -d '\r' <"$log") || fail "the guest did not run its command"
    has_line '\[cfg1:INFO\] the microVM started: 1 vCPUs, 64 MiB'
    has_line '\[cfg1:INFO\] the microVM ended: the guest powered off'
    python3 - "$work/metrics.json" <<'PY' || fail "bad metrics: $(cat "$work/metrics.json")"
import json, sys
lines = [json.loads(x)["minnow"] for x in open(sys.argv[1])]
reasons = [l["reason"] for l in lines]
assert "start" in reasons and reasons[-1] == "exit", reasons
assert lines[-1]["harts"][0]["instret"] > 0, lines[-1]
PY
    # The API shows the sections it was given, and what PUT /logger changed.
    python3 - "$work/vm.json" "$work" >"$work/vm2.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["boot-source"]["boot_args"] = "console=ttyS0 minnow.cmd=\"sleep 30\""
c["metrics"] = {"metrics_path": sys.argv[2] + "/metrics2.json", "emit_id": True}
print(json.dumps(c))
PY
    rm -f "$work/minnow.log"
    start_minnow --api-sock "$sock" --config-file "$work/vm2.json" --id cfg2
    expect GET /vm/config "" 200
    python3 -c 'import json,sys; c = json.loads(sys.argv[1]); w = sys.argv[2]
assert c["logger"] == {"log_path": w + "/minnow.log", "level": "Info", "show_level": True, "show_log_origin": False}, c
assert c["metrics"] == {"metrics_path": w + "/metrics2.json", "emit_id": True}, c' "$body" "$work" \
      || fail "GET /vm/config: $body"
    python3 -c 'import json,sys; l = [json.loads(x) for x in open(sys.argv[1])]; sys.exit(0 if l and l[0]["id"] == "cfg2" else 1)' \
      "$work/metrics2.json" || fail "the metrics line has no id: $(cat "$work/metrics2.json")"
    kill -TERM "$pid"; wait_minnow 124
    # Before start, PUT /logger and PUT /metrics show in GET /vm/config.
    start_minnow --api-sock "$sock"
    expect PUT /logger '{"log_path": "'"$work"'/minnow.log", "level": "Warning", "show_log_origin": true}' 204
    expect PUT /logger '{"level": "Debug"}' 204
    expect PUT /metrics '{"metrics_path": "'"$work"'/metrics3.json"}' 204
    expect GET /vm/config "" 200
    python3 -c 'import json,sys; c = json.loads(sys.argv[1]); w = sys.argv[2]
assert c["logger"] == {"log_path": w + "/minnow.log", "level": "Debug", "show_level": False, "show_log_origin": False}, c
assert c["metrics"] == {"metrics_path": w + "/metrics3.json", "emit_id": False}, c' \
      "$body" "$work" || fail "GET /vm/config after PUT /logger: $body"
    kill -TERM "$pid"; wait_minnow 124
    # Bad sections: refused before anything runs, naming the field.
    bad() {
      echo "$1" >"$work/bad.json"
      "$minnow" --no-api --config-file "$work/bad.json" </dev/null >/dev/null 2>"$work/err" && st=0 || st=$?
      [ "$st" = 122 ] || fail "config $1: exited $st, expected 122"
      grep -qF -- "$2" "$work/err" || fail "config $1: $(cat "$work/err")"
    }
    bad '{"logger": {"level": "Loud"}}' "logger: level: expected"
    bad '{"logger": {"log_path": 5}}' "logger: log_path: expected a string"
    bad '{"logger": {"colour": true}}' "logger: unknown field 'colour'"
    bad '{"metrics": {"emit_id": true}}' "metrics: missing required field 'metrics_path'"
    bad '{"metrics": {"metrics_path": "/nonexistent/dir/m"}}' "/nonexistent/dir/m"
    bad '{"logger": {"log_path": "/nonexistent/dir/l"}}' "/nonexistent/dir/l"
    # Given twice (flag and file): refused as a second PUT /metrics is.
    "$minnow" --no-api --config-file "$work/vm.json" --metrics-path "$work/m3" </dev/null >/dev/null 2>"$work/err" && st=0 || st=$?
    [ "$st" = 122 ] || fail "--metrics-path and a metrics section: exited $st, expected 122"
    grep -qF "already configured" "$work/err" || fail "metrics twice: $(cat "$work/err")"
    # minnow run has no logger: it says so.
    "$minnow" run --config-file "$work/vm.json" </dev/null >/dev/null 2>"$work/err" && st=0 || st=$?
    [ "$st" = 122 ] || fail "minnow run with a logger section exited $st, expected 122"
    grep -qF "the logger section needs the API front end" "$work/err" || fail "minnow run: $(cat "$work/err")"
    ;;
  *) echo "observe.sh: unknown mode $mode" >&2; exit 2 ;;
esac
echo "ok ($mode)"
