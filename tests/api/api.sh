#!/usr/bin/env bash
# The REST API on its Unix socket, driven with curl --unix-socket, and
# --config-file. Usage: api.sh MINNOW MODE
#   lifecycle   configure, InstanceStart, the guest prints /proc/uptime,
#               Pause for 3 s (GET / says Paused), Resume: the guest's
#               clock advanced less than 2 s of those 3; the guest powers
#               off and minnow exits 0, removing its socket
#   bad         bad bodies and wrong states get the right 4xx and a
#               fault_message naming the field; minnow keeps serving; a
#               33rd device gets a 400 naming the count and the 32 slots
#   config      --config-file (and --no-api) boot the same guest, and
#               GET /vm/config returns what the file said (round trip)
#   ratelimit   a drive limited to 4 MiB/s: a guest dd reads at that rate
#               (within 10%, timed by the guest's clock); PATCH lifts the
#               limit while a dd runs, and the next dd is much faster
#   driveswap   Kata's disk hot-plug: a placeholder drive (an empty file)
#               at boot, its backing file swapped by PATCH path_on_host
#               while the guest runs; the guest sees the new size, reads
#               the new file and writes to it, the host reads that back;
#               a missing file or one of the wrong kind is refused (400)
#               and the drive stays as it was
#   entropy     an entropy device limited to 4 KiB/s (bucket 4 KiB): the
#               guest reads 16 KiB of /dev/hwrng, which takes it at least
#               the 3 s the limit allows (the guest's clock; only the lower
#               bound is checked, a busy host may take longer); GET
#               /vm/config shows the limiter
#   balloon     a balloon with statistics every second: GET
#               /balloon/statistics gives the guest's memory figures
#               (non-zero total and free memory); PATCH changes the
#               interval but cannot turn statistics off after start
#   freepage    a balloon with free page reporting and hinting: the guest
#               fills 64 MiB of tmpfs and removes it, and minnow's RSS
#               (/proc/PID/status) falls by at least half of that, waited
#               for up to 120 s; a hinting run with acknowledge_on_stop
#               ends DONE once the guest said STOP, one without it stays
#               until PATCH /balloon/hinting/stop; bad requests get a 400
#   socket      the socket is mode 0600; a live socket is refused, a stale
#               one replaced; a non-socket file is left alone
#   serial      PUT /serial sends the guest console to a file: the guest's
#               output lands there and not on stdout; GET /vm/config shows
#               it; bad bodies and a PUT after start get a 400
#   seriallimit Firecracker's serial rate limiter (PUT /serial rate_limiter,
#               one token bucket of bytes) at 1 KiB/s with a 4 KiB one-time
#               burst: the guest writes 200000 bytes to its console; the
#               file gets at most the bucket plus the rate times the whole
#               run's length (measured around it), the rest is counted in
#               uart.rate_limiter_dropped_bytes, and file plus dropped hold
#               all the guest wrote; the boot log's start gets through;
#               bad limiter bodies get a 400
#   ctrlaltdel  SendCtrlAltDel is refused before InstanceStart; sent while
#               the guest's command runs (and again while its shell waits
#               for input), the guest's init says so and reboots: minnow
#               exits 0, as Firecracker does
#   fcflags     Firecracker's flags and HTTP details without a guest:
#               --version, --snapshot-version, --describe-snapshot of a bad
#               file, --enable-pci refused, --http-api-max-payload-size, a
#               GET with a body, trailing slashes, GET /version, PUTs
#               naming missing files and TAPs, unknown config keys
#   boottimer   without --boot-timer a guest store to 0x40000000 faults;
#               with it, the guest's write of 123 to 0x40000000 is
#               logged as Firecracker logs it; --start-time-us and friends
#               reach the metrics; a snapshot of the VM is described as v2;
#               a guest reboot exits 0 with the reason in log and metrics
set -euo pipefail
minnow=${1:?usage: api.sh MINNOW MODE}
mode=${2:?usage: api.sh MINNOW MODE}
guest=$("$(cd "$(dirname "$0")/../.." && pwd)/guest/build" -q)
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
  exit 1
}
. "$(dirname "$0")/lib.sh"
wait_console() {
  for _ in $(seq 1200); do grep -qE "$1" <(tr -d '\r' <"$log") && return; sleep 0.1; done
  fail "the guest did not print /$1/"
}

boot_json() {
  local cmd=$1
  python3 -c 'import json,sys; print(json.dumps({"kernel_image_path": sys.argv[1] + "/Image",
    "initrd_path": sys.argv[1] + "/initramfs.cpio.gz",
    "boot_args": "console=ttyS0 minnow.cmd=\"" + sys.argv[2] + "\""}))' "$guest" "$cmd"
}

case $mode in
  lifecycle)
    # A UUID, as Firecracker's tools and its jailer give --id.
    start_minnow --api-sock "$sock" --id 3fa85f64-5717-4562-b3fc-2c963f66afa6
    [ "$(stat -c %a "$sock")" = 600 ] || fail "the socket's mode is $(stat -c %a "$sock"), not 600"
    expect GET / "" 200
    grep -q '"state":"Not started"' <<<"$body" || fail "GET / before start: $body"
    grep -q '"id":"3fa85f64-5717-4562-b3fc-2c963f66afa6"' <<<"$body" || fail "GET / does not give the --id: $body"
    expect PUT /boot-source "$(boot_json 'cat /proc/uptime; sleep 4; cat /proc/uptime; echo lifecycle-done')" 204
    expect PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 256, "track_dirty_pages": true}' 204
    expect PATCH /machine-config '{"vcpu_count": 1}' 204
    expect GET /machine-config "" 200
    grep -q '"track_dirty_pages":true' <<<"$body" || fail "GET /machine-config lost track_dirty_pages: $body"
    expect PUT /entropy '{}' 204
    expect PUT /actions '{"action_type": "InstanceStart"}' 204
    expect GET / "" 200
    grep -q '"state":"Running"' <<<"$body" || fail "GET / after start: $body"
    wait_console '^[0-9]+\.[0-9]+ [0-9]+\.[0-9]+$'
    expect PATCH /vm '{"state": "Paused"}' 204
    expect GET / "" 200
    grep -q '"state":"Paused"' <<<"$body" || fail "GET / while paused: $body"
    sleep 3
    expect PATCH /vm '{"state": "Resumed"}' 204
    expect PUT /drives/rootfs '{"drive_id": "rootfs", "path_on_host": "/dev/null", "is_root_device": false}' 400 \
      "not supported after starting"
    wait_minnow 0
    grep -qxF "lifecycle-done" <(tr -d '\r' <"$log") || fail "the guest did not finish its command"
    mapfile -t up < <(tr -d '\r' <"$log" | grep -E '^[0-9]+\.[0-9]+ [0-9]+\.[0-9]+$' | cut -d' ' -f1)
    [ "${#up[@]}" = 2 ] || fail "expected two /proc/uptime lines, got ${#up[@]}"
    python3 -c 'import sys; d = float(sys.argv[2]) - float(sys.argv[1]); print(f"guest time across sleep 4 + 3 s pause: {d:.2f} s"); sys.exit(0 if d < 4 + 2 else 1)' \
      "${up[0]}" "${up[1]}" || fail "the guest's clock ran on while paused"
    [ -e "$sock" ] && fail "the socket $sock was not removed"
    ;;
  bad)
    start_minnow --api-sock "$sock"
    expect PUT /machine-config '{"vcpu_count": 2, ' 400 "malformed JSON"
    expect PUT /machine-config '' 400 "needs a JSON body"
    expect PUT /machine-config '[1]' 400 "machine-config: expected an object"
    expect PUT /machine-config '{"vcpu_count": "2", "mem_size_mib": 256}' 400 "vcpu_count: expected an integer"
    expect PUT /machine-config '{"vcpu_count": 2.5, "mem_size_mib": 256}' 400 "vcpu_count: expected an integer"
    expect PUT /machine-config '{"vcpu_count": 0, "mem_size_mib": 256}' 400 "vcpu_count: expected an integer from 1 to 16, got 0"
    expect PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": -5}' 400 "mem_size_mib"
    expect PUT /machine-config '{"vcpu_count": 1}' 400 "missing required field 'mem_size_mib'"
    expect PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64, "turbo": true}' 400 "unknown field 'turbo'"
    expect PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64, "smt": true}' 400 "smt: true is not supported"
    expect PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64, "cpu_template": "T2"}' 400 "cpu_template"
    expect PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64, "huge_pages": "1G"}' 400 "huge_pages"
    expect PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64, "vcpu_count": 2}' 400 "duplicate"
    expect PUT /boot-source '{"initrd_path": "/x"}' 400 "kernel_image_path"
    expect PUT /boot-source '{"kernel_image_path": 7}' 400 "kernel_image_path: expected a string"
    expect PUT /drives/a '{"drive_id": "b", "path_on_host": "/dev/null", "is_root_device": false}' 400 "does not match"
    expect PUT /drives/a-b '{"drive_id": "a-b", "path_on_host": "/dev/null", "is_root_device": false}' 400 "drive_id"
    expect PUT /drives/a '{"drive_id": "a", "path_on_host": "/dev/null"}' 400 "is_root_device"
    expect PUT /drives/a '{"drive_id": "a", "path_on_host": "/dev/null", "is_root_device": false, "io_engine": "Fast"}' 400 "io_engine"
    expect PUT /drives/a '{"drive_id": "a", "path_on_host": "/dev/null", "is_root_device": false, "rate_limiter": {"ops": {"size": 1}}}' 400 "drives: rate_limiter: ops: missing required field 'refill_time'"
    expect PUT /drives/a '{"drive_id": "a", "path_on_host": "/dev/null", "is_root_device": false, "rate_limiter": {"bandwidth": {"size": -1, "refill_time": 1}}}' 400 "drives: rate_limiter: bandwidth: size"
    expect PUT /drives/a '{"drive_id": "a", "path_on_host": "/dev/null", "is_root_device": false, "rate_limiter": {"iops": {}}}' 400 "unknown field 'iops'"
    expect PUT /drives/a '{"drive_id": "a", "path_on_host": "/dev/null", "is_root_device": false, "rate_limiter": 5}' 400 "rate_limiter"
    expect PUT /network-interfaces/n '{"iface_id": "n", "minnow_user": true, "tx_rate_limiter": {"ops": {"size": 1, "refill_time": "1"}}}' 400 "network-interfaces: tx_rate_limiter: ops: refill_time"
    expect PUT /entropy '{"rate_limiter": {"ops": {"size": 1, "refill_time": "1"}}}' 400 "entropy: rate_limiter: ops: refill_time"
    expect PATCH /drives/a '{"drive_id": "a", "rate_limiter": {}}' 400 "only supported after starting"
    expect PATCH /network-interfaces/n '{"iface_id": "n"}' 400 "only supported after starting"
    truncate -s 1M "$work/disk.img"
    expect PUT /drives/a '{"drive_id": "a", "path_on_host": "'"$work"'/disk.img", "is_root_device": true}' 204
    expect PUT /drives/b '{"drive_id": "b", "path_on_host": "/dev/null", "is_root_device": true}' 400 "already the root device"
    expect PUT /network-interfaces/n '{"iface_id": "n"}' 400 "host_dev_name"
    expect PUT /network-interfaces/n '{"iface_id": "n", "host_dev_name": "tap0", "guest_mac": "zz"}' 400 "MAC"
    expect PUT /network-interfaces/n '{"iface_id": "n", "minnow_user": true, "minnow_hostfwd": ["tcp::99999-:80"]}' 400 "99999"
    expect PUT /network-interfaces/n '{"iface_id": "n", "minnow_user": true, "minnow_hostfwd": ["tcp::8080-:80"]}' 204
    expect PUT /vsock '{"guest_cid": 2, "uds_path": "/tmp/x.sock"}' 400 "guest_cid: expected an integer from 3"
    # The board has 32 virtio slots: drive a and interface n take two, 30
    # more drives fill them, a 33rd device is refused naming both numbers;
    # replacing a drive in place still works.
    # (each drive its own file: InstanceStart locks them one by one)
    for i in $(seq 31); do truncate -s 64K "$work/p$i.img"; done
    for i in $(seq 30); do
      expect PUT /drives/p$i '{"drive_id": "p'$i'", "path_on_host": "'"$work"'/p'$i'.img", "is_root_device": false}' 204
    done
    expect PUT /drives/p31 '{"drive_id": "p31", "path_on_host": "'"$work"'/p31.img", "is_root_device": false}' 400 \
      "drives: too many devices: it would be device 33 and the board has 32 virtio slots"
    expect PUT /vsock '{"guest_cid": 3, "uds_path": "/tmp/x.sock"}' 400 "it would be device 33 and the board has 32 virtio slots"
    expect PUT /drives/p30 '{"drive_id": "p30", "path_on_host": "'"$work"'/p31.img", "is_root_device": false, "is_read_only": true}' 204
    expect PUT /balloon '{"amount_mib": 16}' 400 "deflate_on_oom"
    expect PUT /balloon '{"amount_mib": 16, "deflate_on_oom": "yes"}' 400 "deflate_on_oom: expected a boolean"
    expect GET /balloon "" 400 "no balloon"
    expect PUT /actions '{"action_type": "Reboot"}' 400 "action_type"
    expect PUT /actions '{}' 400 "action_type"
    expect PATCH /vm '{"state": "Paused"}' 400 "not started"
    expect PATCH /vm '{"state": "Sleeping"}' 400 "state"
    expect GET /nowhere "" 400 "Invalid request method and/or path"
    expect DELETE /machine-config "" 400 "Invalid request method and/or path"
    big=$(python3 -c 'print("{\"boot_args\": \"" + "x" * 60000 + "\"}")')
    expect PUT /boot-source "$big" 400 "Request payload with size 60017 is larger than the limit of 51200 allowed by server."
    # No kernel: InstanceStart refuses, and the API keeps serving.
    expect PUT /actions '{"action_type": "InstanceStart"}' 400 "kernel_image_path is not set"
    # A kernel that is not there is refused at the PUT, as in Firecracker.
    expect PUT /boot-source '{"kernel_image_path": "/nonexistent/Image"}' 400 \
      "boot-source: kernel_image_path '/nonexistent/Image': cannot be opened: No such file or directory"
    # One that goes away after the PUT is found at InstanceStart.
    touch "$work/Image"
    expect PUT /boot-source '{"kernel_image_path": "'"$work"'/Image"}' 204
    rm "$work/Image"
    expect PUT /actions '{"action_type": "InstanceStart"}' 400 "$work/Image"
    expect GET / "" 200
    grep -q '"state":"Not started"' <<<"$body" || fail "GET / after failed starts: $body"
    kill -TERM "$pid"
    wait_minnow 124
    [ -e "$sock" ] && fail "the socket $sock was not removed"
    # A config file with 33 drives: refused before anything boots.
    python3 - "$work" "$guest/Image" <<'PY'
import json, sys
work, kernel = sys.argv[1], sys.argv[2]
drives = []
for i in range(33):
    open(f"{work}/c{i}.img", "wb").truncate(65536)
    drives.append({"drive_id": f"c{i}", "path_on_host": f"{work}/c{i}.img", "is_root_device": False})
json.dump({"boot-source": {"kernel_image_path": kernel}, "machine-config": {"vcpu_count": 1, "mem_size_mib": 128},
           "drives": drives}, open(f"{work}/many.json", "w"))
PY
    st=0; "$minnow" --no-api --config-file "$work/many.json" </dev/null >"$log" 2>"$work/err" || st=$?
    [ "$st" = 122 ] || fail "a config file with 33 drives: status $st, expected 122"
    grep -qF "drives[32]: drives: too many devices: it would be device 33 and the board has 32 virtio slots" "$work/err" \
      || fail "a config file with 33 drives: stderr says: $(cat "$work/err")"
    ;;
  config)
    # Configure through the API, read it back, boot it with --config-file.
    start_minnow --api-sock "$sock"
    expect PUT /boot-source "$(boot_json 'echo config-$((6*7)); grep -c ^processor /proc/cpuinfo; exit 5')" 204
    expect PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 192}' 204
    expect PUT /drives/disk0 '{"drive_id": "disk0", "path_on_host": "'"$guest"'/rootfs.ext4", "is_root_device": false, "is_read_only": true, "minnow_serial": "serial-9", "rate_limiter": {"bandwidth": {"size": 10485760, "refill_time": 100}, "ops": {"size": 1000, "one_time_burst": 50, "refill_time": 100}}}' 204
    expect PUT /network-interfaces/eth0 '{"iface_id": "eth0", "minnow_user": true, "guest_mac": "52:54:00:12:34:77", "rx_rate_limiter": {"bandwidth": {"size": 1048576, "refill_time": 100}}, "tx_rate_limiter": {"ops": {"size": 100, "refill_time": 10}}}' 204
    expect PUT /entropy '{}' 204
    expect PUT /balloon '{"amount_mib": 0, "deflate_on_oom": true}' 204
    expect GET /vm/config "" 200
    printf '%s\n' "$body" >"$work/vm.json"
    kill -TERM "$pid"; wait_minnow 124
    "$minnow" run --config-file "$work/vm.json" </dev/null >"$log" 2>"$work/err" && st=0 || st=$?
    [ "$st" = 5 ] || fail "minnow run --config-file exited with $st, expected 5"
    grep -qxF "config-42" <(tr -d '\r' <"$log") || fail "the guest did not run its command"
    grep -qxF "2" <(tr -d '\r' <"$log") || fail "the guest did not see 2 harts"
    "$minnow" --no-api --config-file "$work/vm.json" </dev/null >"$log" 2>"$work/err" && st=0 || st=$?
    [ "$st" = 5 ] || fail "minnow --no-api --config-file exited with $st, expected 5"
    grep -qxF "config-42" <(tr -d '\r' <"$log") || fail "--no-api: the guest did not run its command"
    # --config-file with the API: GET /vm/config gives the file back.
    python3 - "$work/vm.json" "$work/vm2.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["boot-source"]["boot_args"] = "console=ttyS0 minnow.cmd=\"sleep 30\""
json.dump(c, open(sys.argv[2], "w"))
PY
    start_minnow --api-sock "$sock" --config-file "$work/vm2.json"
    expect GET /vm/config "" 200
    python3 -c 'import json,sys; a = json.load(open(sys.argv[1])); b = json.loads(sys.argv[2]); sys.exit(0 if a == b else 1)' \
      "$work/vm2.json" "$body" || fail "GET /vm/config differs from the config file: $body"
    expect GET / "" 200
    grep -q '"state":"Running"' <<<"$body" || fail "GET / after --config-file: $body"
    kill -TERM "$pid"; wait_minnow 124
    # Bad files name the field.
    echo '{"machine-config": {"vcpu_count": 1, "mem_size_mib": 64, "smt": 1}}' >"$work/bad.json"
    "$minnow" run --config-file "$work/bad.json" </dev/null >"$log" 2>"$work/err" && st=0 || st=$?
    [ "$st" = 122 ] || fail "a bad config file gave status $st, expected 122"
    grep -qF "machine-config: smt: expected a boolean" "$work/err" || fail "bad config file: $(cat "$work/err")"
    echo '{"drives": [{"drive_id": "x", "is_root_device": false, "path_on_host": "/dev/null", "speed": 1}]}' >"$work/bad.json"
    "$minnow" --no-api --config-file "$work/bad.json" </dev/null >"$log" 2>"$work/err" && st=0 || st=$?
    [ "$st" = 122 ] || fail "a bad config file gave status $st, expected 122"
    grep -qF "drives[0]: drives: unknown field 'speed'" "$work/err" || fail "bad config file: $(cat "$work/err")"
    ;;
  ratelimit)
    # A read-only drive limited to 4 MiB/s; the guest times its own dd
    # reads (O_DIRECT, so every byte crosses the device) with its clock.
    truncate -s 64M "$work/disk.img"
    # (no double quotes: the command sits in minnow.cmd="..." on the kernel command line)
    dd='dd if=/dev/vda of=/dev/null bs=1M iflag=direct 2>/dev/null'
    cmd="$dd count=1; read a x </proc/uptime"
    cmd+="; $dd count=8 skip=1; read b x </proc/uptime; echo RL1 \$a \$b"
    cmd+="; read a x </proc/uptime; echo RL2-start; $dd count=24 skip=9; read b x </proc/uptime; echo RL2 \$a \$b"
    cmd+="; read a x </proc/uptime; $dd count=8 skip=33; read b x </proc/uptime; echo RL3 \$a \$b"
    start_minnow --api-sock "$sock"
    expect PUT /boot-source "$(boot_json "$cmd")" 204
    expect PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 128}' 204
    expect PUT /drives/slow '{"drive_id": "slow", "path_on_host": "'"$work"'/disk.img", "is_root_device": false, "is_read_only": true, "rate_limiter": {"bandwidth": {"size": 524288, "refill_time": 125}}}' 204
    expect PUT /actions '{"action_type": "InstanceStart"}' 204
    expect PATCH /drives/slow '{"drive_id": "slow", "is_read_only": false}' 400 "unknown field 'is_read_only'"
    expect PATCH /drives/slow '{"drive_id": "slow", "path_on_host": "/elsewhere"}' 400 "path_on_host"
    expect PATCH /drives/fast '{"drive_id": "fast", "rate_limiter": {}}' 400 "no drive 'fast'"
    expect PATCH /drives/slow '{"drive_id": "slow", "rate_limiter": {"bandwidth": {"size": "x", "refill_time": 1}}}' 400 "drives: rate_limiter: bandwidth: size"
    # 24 MiB at 4 MiB/s would take 6 s: lift the limit 1 s into it.
    wait_console '^RL2-start'
    sleep 1
    expect PATCH /drives/slow '{"drive_id": "slow", "path_on_host": "'"$work"'/disk.img", "rate_limiter": {"bandwidth": {"size": 0, "refill_time": 0}}}' 204
    expect GET /vm/config "" 200
    grep -qF '"rate_limiter":{"bandwidth":{"size":0' <<<"$body" || fail "GET /vm/config after PATCH: $body"
    wait_minnow 0
    rl() { tr -d '\r' <"$log" | awk -v k="$1" '$1 == k { printf "%.2f", $3 - $2 }'; }
    d1=$(rl RL1) d2=$(rl RL2) d3=$(rl RL3)
    [ -n "$d1" ] && [ -n "$d2" ] && [ -n "$d3" ] || fail "the guest did not print its timings"
    python3 - "$d1" "$d2" "$d3" <<'PY' || fail "rates off"
import sys
d1, d2, d3 = map(float, sys.argv[1:])
r1 = 8 / d1
print(f"limited: 8 MiB in {d1:.2f} s = {r1:.2f} MiB/s (limit 4); 24 MiB with the limit lifted after 1 s: {d2:.2f} s "
      f"(6 s limited); unlimited: 8 MiB in {d3:.2f} s = {8 / d3 if d3 else 0:.1f} MiB/s")
ok = abs(r1 - 4) <= 0.4 and d2 < 4.5 and d3 < 1.0
sys.exit(0 if ok else 1)
PY
    ;;
  entropy)
    # (no double quotes: the command sits in minnow.cmd="..." on the kernel command line)
    cmd='cat /sys/class/misc/hw_random/rng_current; read a x </proc/uptime'
    cmd+='; dd if=/dev/hwrng of=/dev/null bs=1024 count=16 2>/dev/null; read b x </proc/uptime; echo RNG $a $b'
    start_minnow --api-sock "$sock"
    expect PUT /boot-source "$(boot_json "$cmd")" 204
    expect PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 128}' 204
    expect PUT /entropy '{"rate_limiter": {"bandwidth": {"size": 4096, "refill_time": 1000}}}' 204
    expect GET /vm/config "" 200
    grep -qF '"entropy":{"rate_limiter":{"bandwidth":{"size":4096' <<<"$body" || fail "GET /vm/config: $body"
    expect PUT /metrics '{"metrics_path": "'"$work"'/metrics.json"}' 204
    expect PUT /actions '{"action_type": "InstanceStart"}' 204
    wait_minnow 0
    python3 - "$work/metrics.json" <<'PY' || fail "entropy metrics: $(cat "$work/metrics.json")"
import json, sys
lines = [json.loads(x) for x in open(sys.argv[1])]
given = sum(l.get("entropy", {}).get("entropy_bytes", 0) for l in lines)
waits = sum(l.get("entropy", {}).get("entropy_rate_limiter_throttled", 0) for l in lines)
assert given >= 16384 and waits > 0, (given, waits)
PY
    tr -d '\r' <"$log" | grep -q '^virtio_rng' || fail "the guest's hw_random is not virtio-rng"
    took=$(tr -d '\r' <"$log" | awk '$1 == "RNG" { printf "%.2f", $3 - $2 }')
    [ -n "$took" ] || fail "the guest did not time its read"
    python3 -c 'import sys; t = float(sys.argv[1]); print(f"16 KiB of /dev/hwrng at 4 KiB/s: {t:.2f} s (at least 3 s)"); sys.exit(0 if t >= 2.9 else 1)' "$took" \
      || fail "16 KiB at 4 KiB/s took only $took s"
    ;;
  driveswap)
    : >"$work/placeholder.img"
    printf 'swapped-in-disk-marker' >"$work/real.img"
    truncate -s 8M "$work/real.img"
    # (no double quotes: the command sits in minnow.cmd="..." on the kernel command line)
    cmd='echo size-before $(cat /sys/block/vdb/size); echo waiting-for-disk'
    cmd+='; while [ $(cat /sys/block/vdb/size) = 0 ]; do sleep 0.1; done'
    cmd+='; echo size-after $(cat /sys/block/vdb/size); echo read $(head -c 22 /dev/vdb)'
    cmd+='; echo guest-wrote-this | dd of=/dev/vdb bs=512 seek=8 conv=fsync 2>/dev/null; echo swap-done'
    start_minnow --api-sock "$sock"
    expect PUT /boot-source "$(boot_json "$cmd")" 204
    expect PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 128}' 204
    truncate -s 1M "$work/root.img"
    expect PUT /drives/rootfs '{"drive_id": "rootfs", "path_on_host": "'"$work"'/root.img", "is_root_device": false}' 204
    expect PUT /drives/hot '{"drive_id": "hot", "path_on_host": "'"$work"'/placeholder.img", "is_root_device": false}' 204
    expect PATCH /drives/hot '{"drive_id": "hot", "path_on_host": "'"$work"'/real.img"}' 400 "only supported after starting"
    expect PUT /actions '{"action_type": "InstanceStart"}' 204
    wait_console '^waiting-for-disk'
    expect PATCH /drives/hot '{"drive_id": "hot", "path_on_host": "'"$work"'/missing.img"}' 400 "missing.img"
    expect PATCH /drives/hot '{"drive_id": "hot", "path_on_host": "'"$work"'"}' 400 "path_on_host"
    expect PATCH /drives/hot '{"drive_id": "hot", "path_on_host": ""}' 400 "path_on_host: empty"
    expect GET /vm/config "" 200
    grep -qF "placeholder.img" <<<"$body" || fail "a refused PATCH changed the drive: $body"
    expect PATCH /drives/hot '{"drive_id": "hot", "path_on_host": "'"$work"'/real.img"}' 204
    wait_console '^swap-done'
    tr -d '\r' <"$log" | grep -qx 'size-before 0' || fail "the placeholder was not empty to the guest"
    tr -d '\r' <"$log" | grep -qx 'size-after 16384' || fail "the guest did not see the new file's 8 MiB"
    tr -d '\r' <"$log" | grep -qx 'read swapped-in-disk-marker' || fail "the guest did not read the new file"
    wait_minnow 0
    dd if="$work/real.img" bs=512 skip=8 count=1 2>/dev/null | grep -qa guest-wrote-this \
      || fail "the guest's write did not reach the new file"
    [ ! -s "$work/placeholder.img" ] || fail "the guest wrote to the placeholder after the swap"
    ;;
  balloon)
    start_minnow --api-sock "$sock"
    expect GET /balloon/statistics "" 400 "no balloon"
    expect PATCH /balloon/statistics '{"stats_polling_interval_s": 1}' 400 "no balloon"
    expect PUT /boot-source "$(boot_json 'echo balloon-ready; sleep 5; echo balloon-done')" 204
    expect PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 128}' 204
    expect PUT /balloon '{"amount_mib": 0, "deflate_on_oom": false}' 204
    expect GET /balloon/statistics "" 400 "not enabled"
    expect PATCH /balloon/statistics '{}' 400 "missing required field 'stats_polling_interval_s'"
    expect PATCH /balloon/statistics '{"stats_polling_interval_s": -1}' 400 "stats_polling_interval_s"
    expect PATCH /balloon/statistics '{"stats_polling_interval_s": "1"}' 400 "stats_polling_interval_s: expected an integer"
    expect PATCH /balloon/statistics '{"stats_polling_interval_s": 1, "x": 1}' 400 "unknown field 'x'"
    # Before start a PATCH may turn statistics on.
    expect PATCH /balloon/statistics '{"stats_polling_interval_s": 1}' 204
    expect GET /balloon "" 200
    grep -q '"stats_polling_interval_s":1' <<<"$body" || fail "GET /balloon after PATCH: $body"
    expect GET /balloon/statistics "" 400 "not started"
    expect PUT /actions '{"action_type": "InstanceStart"}' 204
    wait_console '^balloon-ready'
    ok=
    for _ in $(seq 50); do
      expect GET /balloon/statistics "" 200
      python3 -c 'import json,sys; s = json.loads(sys.argv[1]); sys.exit(0 if s.get("total_memory", 0) > 0 and s.get("free_memory", 0) > 0 else 1)' "$body" && { ok=1; break; }
      sleep 0.2
    done
    [ -n "$ok" ] || fail "no memory statistics from the guest: $body"
    python3 - "$body" <<'PY' || fail "bad statistics: $body"
import json, sys
s = json.loads(sys.argv[1])
assert s["target_pages"] == 0 and s["actual_pages"] == 0 and s["target_mib"] == 0 and s["actual_mib"] == 0, s
assert 64 << 20 < s["total_memory"] <= 128 << 20, s
assert 0 < s["free_memory"] <= s["total_memory"], s
assert s["available_memory"] > 0, s
print("balloon statistics:", s)
PY
    expect PATCH /balloon/statistics '{"stats_polling_interval_s": 0}' 400 "cannot be turned off after starting"
    expect PATCH /balloon/statistics '{"stats_polling_interval_s": 2}' 204
    expect GET /balloon "" 200
    grep -q '"stats_polling_interval_s":2' <<<"$body" || fail "GET /balloon after PATCH: $body"
    # A new report follows (the poller asks at once after a PATCH).
    expect PATCH /balloon '{"amount_mib": 8}' 204
    for _ in $(seq 50); do
      expect GET /balloon/statistics "" 200
      grep -q '"actual_mib":8' <<<"$body" && break
      sleep 0.2
    done
    grep -q '"target_mib":8,"actual_mib":8' <<<"$body" || fail "the balloon did not inflate to 8 MiB: $body"
    wait_minnow 0
    grep -qxF balloon-done <(tr -d '\r' <"$log") || fail "the guest did not finish its command"
    ;;
  freepage)
    start_minnow --api-sock "$sock"
    expect GET /balloon/hinting/status "" 400 "no balloon"
    expect PATCH /balloon/hinting/start "" 400 "no balloon"
    expect PUT /balloon '{"amount_mib": 0, "deflate_on_oom": false}' 204
    expect GET /balloon/hinting/status "" 400 "free page hinting was not enabled"
    expect PUT /balloon '{"amount_mib": 0, "deflate_on_oom": false, "free_page_hinting": 1}' 400 "free_page_hinting: expected a boolean"
    expect PUT /balloon '{"amount_mib": 0, "deflate_on_oom": false, "free_page_hinting": true, "free_page_reporting": true}' 204
    expect GET /balloon "" 200
    grep -q '"free_page_hinting":true,"free_page_reporting":true' <<<"$body" || fail "GET /balloon: $body"
    expect GET /balloon/hinting/status "" 400 "not started"
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
    # The guest reads its go-aheads from the console: minnow's stdin, a FIFO.
    mkfifo "$work/in"
    exec 7<>"$work/in"
    "$minnow" --api-sock "$sock" <"$work/in" >"$log" 2>"$work/err" &
    pid=$!
    for _ in $(seq 200); do
      [ -S "$sock" ] && curl -s -o /dev/null --unix-socket "$sock" http://localhost/ && break
      sleep 0.05
    done
    expect PUT /boot-source "$(boot_json 'mkdir /m; mount -t tmpfs -o size=160m m /m; dd if=/dev/zero of=/m/f bs=1M count=64 2>/dev/null; echo fp-filled; read a; rm /m/f; echo fp-freed; read b; echo fp-done')" 204
    expect PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 256}' 204
    expect PUT /balloon '{"amount_mib": 0, "deflate_on_oom": false, "free_page_hinting": true, "free_page_reporting": true}' 204
    expect PUT /metrics '{"metrics_path": "'"$work"'/metrics.json"}' 204
    expect PUT /actions '{"action_type": "InstanceStart"}' 204
    expect GET /vm/config "" 200
    grep -q '"free_page_hinting":true,"free_page_reporting":true' <<<"$body" || fail "GET /vm/config: $body"
    rss() { awk '/^VmRSS:/ {print $2}' "/proc/$pid/status"; }
    wait_console '^fp-filled'
    filled=$(rss)
    echo go >&7
    wait_console '^fp-freed'
    low=$filled
    for _ in $(seq 1200); do
      low=$(rss)
      [ $((filled - low)) -ge $((32 * 1024)) ] && break
      sleep 0.1
    done
    echo "free page reporting: minnow VmRSS ${filled} kB with 64 MiB in the guest's tmpfs, ${low} kB after rm"
    [ $((filled - low)) -ge $((32 * 1024)) ] || fail "RSS went from $filled kB to only $low kB after the guest freed 64 MiB"
    # Hinting: no run yet.
    expect GET /balloon/hinting/status "" 200
    [ "$body" = '{"host_cmd":0}' ] || fail "hinting status before any run: $body"
    expect PATCH /balloon/hinting/start '{"acknowledge_on_stop": "yes"}' 400 "acknowledge_on_stop: expected a boolean"
    expect PATCH /balloon/hinting/start '{"x": true}' 400 "unknown field 'x'"
    # Without acknowledge_on_stop: the guest answers cmd_id 2, hints, says
    # STOP (guest_cmd 0, where it had sent none), and the run's cmd_id stays.
    expect PATCH /balloon/hinting/start '{"acknowledge_on_stop": false}' 204
    for _ in $(seq 1200); do
      expect GET /balloon/hinting/status "" 200
      [ "$body" = '{"host_cmd":2,"guest_cmd":0}' ] && break
      sleep 0.1
    done
    [ "$body" = '{"host_cmd":2,"guest_cmd":0}' ] || fail "the hinting run (cmd_id 2) did not reach the guest's STOP: $body"
    expect PATCH /balloon/hinting/stop "" 204
    expect GET /balloon/hinting/status "" 200
    [ "$body" = '{"host_cmd":1,"guest_cmd":0}' ] || fail "hinting status after stop: $body"
    # acknowledge_on_stop (the default, empty body): cmd_id 3, and only the
    # guest's STOP for it makes the device write DONE.
    expect PATCH /balloon/hinting/start "" 204
    for _ in $(seq 1200); do
      expect GET /balloon/hinting/status "" 200
      [ "$body" = '{"host_cmd":1,"guest_cmd":0}' ] && break
      sleep 0.1
    done
    [ "$body" = '{"host_cmd":1,"guest_cmd":0}' ] || fail "the acknowledged hinting run did not end DONE: $body"
    echo go >&7
    wait_minnow 0
    grep -qxF fp-done <(tr -d '\r' <"$log") || fail "the guest did not finish its command"
    # Firecracker's balloon metrics: what was reported and hinted.
    python3 - "$work/metrics.json" "$filled" "$low" <<'PY' || fail "balloon metrics: see above"
import json, sys
lines = [json.loads(x) for x in open(sys.argv[1])]
tot = {}
for l in lines:
    for k, v in l.get("balloon", {}).items():
        tot[k] = tot.get(k, 0) + v
print("balloon metrics (sums of the lines):", tot)
rss_fell = (int(sys.argv[2]) - int(sys.argv[3])) * 1024
ok = (tot.get("free_page_report_count", 0) > 0 and tot.get("free_page_report_freed", 0) >= rss_fell
      and tot.get("free_page_hint_count", 0) > 0 and tot.get("free_page_hint_freed", 0) > 0
      and tot.get("free_page_report_fails") == 0 and tot.get("free_page_hint_fails") == 0)
if not ok:
    print(f"expected reports and hints, no fails, and at least the {rss_fell} bytes the RSS fell reported")
sys.exit(0 if ok else 1)
PY
    ;;
  socket)
    start_minnow --api-sock "$sock"
    [ "$(stat -c %a "$sock")" = 600 ] || fail "the socket's mode is $(stat -c %a "$sock"), not 600"
    "$minnow" --api-sock "$sock" </dev/null >/dev/null 2>"$work/err2" && st=0 || st=$?
    [ "$st" = 123 ] || fail "a second minnow on a live socket exited $st, expected 123"
    grep -qF "another process is serving this socket" "$work/err2" || fail "live socket: $(cat "$work/err2")"
    expect GET / "" 200
    # SIGKILL leaves a stale socket file: the next minnow replaces it.
    kill -KILL "$pid"; wait "$pid" 2>/dev/null || true; pid=
    [ -S "$sock" ] || fail "expected a stale socket after SIGKILL"
    start_minnow --api-sock "$sock"
    expect GET / "" 200
    kill -TERM "$pid"; wait_minnow 124
    echo precious >"$work/file"
    "$minnow" --api-sock "$work/file" </dev/null >/dev/null 2>"$work/err2" && st=0 || st=$?
    [ "$st" = 123 ] || fail "a socket path on a regular file exited $st, expected 123"
    grep -qxF precious "$work/file" || fail "the regular file was touched"
    "$minnow" --no-api </dev/null >/dev/null 2>"$work/err2" && st=0 || st=$?
    [ "$st" = 122 ] || fail "--no-api without --config-file exited $st, expected 122"
    ;;
  serial)
    start_minnow --api-sock "$sock"
    expect PUT /serial '{"serial_out_path": 5}' 400 "serial_out_path: expected a string"
    expect PUT /serial '{"serial_out_path": ""}' 400 "must not be empty"
    expect PUT /serial '{"path": "/x"}' 400 "unknown field 'path'"
    expect PUT /serial '{"serial_out_path": "'"$work"'/serial.out"}' 204
    expect PUT /boot-source "$(boot_json 'echo serial-marker-$((6*7))')" 204
    expect GET /vm/config "" 200
    grep -qF '"serial_out_path": "'"$work"'/serial.out"' <<<"$body" || grep -qF '"serial_out_path":"'"$work"'/serial.out"' <<<"$body" \
      || fail "GET /vm/config does not show the serial path: $body"
    expect PUT /actions '{"action_type": "InstanceStart"}' 204
    expect PUT /serial '{"serial_out_path": "/tmp/x"}' 400 "not supported after starting"
    wait_minnow 0
    grep -qx 'serial-marker-42' <(tr -d '\r' <"$work/serial.out") || fail "the guest output is not in the serial file"
    grep -q 'serial-marker-42' "$log" && fail "the guest output also went to stdout"
    ;;
  seriallimit)
    start_minnow --api-sock "$sock"
    expect PUT /serial '{"rate_limiter": {"bandwidth": {"size": 1024, "refill_time": 1000}}}' 400 \
      "serial: rate_limiter: unknown field 'bandwidth'"
    expect PUT /serial '{"rate_limiter": {"size": -1, "refill_time": 1000}}' 400 "serial: rate_limiter: size"
    expect PUT /serial '{"rate_limiter": {"size": 1024}}' 400 "serial: rate_limiter: missing required field 'refill_time'"
    t0=$(date +%s.%N)
    expect PUT /serial '{"serial_out_path": "'"$work"'/serial.out",
                         "rate_limiter": {"size": 1024, "one_time_burst": 4096, "refill_time": 1000}}' 204
    expect GET /vm/config "" 200
    grep -qF '"rate_limiter":{"size":1024,"one_time_burst":4096,"refill_time":1000}' <<<"${body// /}" \
      || fail "GET /vm/config does not show the serial rate limiter: $body"
    expect PUT /boot-source "$(boot_json 'yes 0123456789abcdef | head -c 200000')" 204
    expect PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 128}' 204
    expect PUT /metrics '{"metrics_path": "'"$work"'/metrics.json"}' 204
    expect PUT /actions '{"action_type": "InstanceStart"}' 204
    wait_minnow 0
    t1=$(date +%s.%N)
    python3 - "$work/serial.out" "$work/metrics.json" "$t0" "$t1" <<'PY' || fail "serial rate limiter: see above"
import json, sys
out = open(sys.argv[1], "rb").read()
lines = [json.loads(x) for x in open(sys.argv[2])]
dropped = sum(l.get("uart", {}).get("rate_limiter_dropped_bytes", 0) for l in lines)
elapsed = float(sys.argv[4]) - float(sys.argv[3])
# The bucket starts full (1024 + the 4096 burst) and refills 1024 bytes a
# second; the run lasted less than elapsed, so this is an upper bound.
bound = 1024 + 4096 + 1024 * elapsed
print(f"serial at 1 KiB/s: {len(out)} bytes written (bound {bound:.0f} for {elapsed:.1f} s), {dropped} dropped")
ok = True
if len(out) > bound:
    print(f"the file got {len(out)} bytes, more than {bound:.0f}"); ok = False
if len(out) < 1024 + 4096 or b"Linux version" not in out[:5120]:
    print("the first 5 KiB of console output (the full bucket) did not get through"); ok = False
if len(out) + dropped < 200000:
    print(f"written {len(out)} + dropped {dropped} is less than the 200000 bytes the guest wrote"); ok = False
sys.exit(0 if ok else 1)
PY
    ;;
  ctrlaltdel)
    start_minnow --api-sock "$sock"
    expect PUT /actions '{"action_type": "SendCtrlAltDel"}' 400 "not started yet"
    # init waits for a command that would run for 10 minutes
    expect PUT /boot-source "$(boot_json 'echo cad-waiting; sleep 600; echo cad-not-reached')" 204
    expect PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 128}' 204
    expect PUT /actions '{"action_type": "InstanceStart"}' 204
    wait_console '^minnow-guest: init ready'
    wait_console '^cad-waiting'
    expect PUT /actions '{"action_type": "SendCtrlAltDel"}' 204
    # The guest reboots: Firecracker's status, 0.
    wait_minnow 0
    grep -qF "the guest asked for a reboot" "$work/err" || fail "minnow did not say the guest rebooted"
    grep -qxF "minnow-guest: ctrl-alt-del" <(tr -d '\r' <"$log") || fail "the guest's init did not see Ctrl+Alt+Del"
    grep -qxF "cad-not-reached" <(tr -d '\r' <"$log") && fail "the command ran to its end"
    grep -q "^minnow-guest: exit" <(tr -d '\r' <"$log") && fail "init reported the command's end, not Ctrl+Alt+Del"
    [ -e "$sock" ] && fail "the socket $sock was not removed"
    # No command: init waits for the login shell, which waits for input.
    start_minnow --api-sock "$sock"
    python3 -c 'import json,sys; print(json.dumps({"kernel_image_path": sys.argv[1] + "/Image",
      "initrd_path": sys.argv[1] + "/initramfs.cpio.gz", "boot_args": "console=ttyS0"}))' "$guest" >"$work/boot.json"
    expect PUT /boot-source "$(cat "$work/boot.json")" 204
    expect PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 128}' 204
    expect PUT /actions '{"action_type": "InstanceStart"}' 204
    wait_console '^minnow-guest: init ready'
    sleep 1
    expect PUT /actions '{"action_type": "SendCtrlAltDel"}' 204
    wait_minnow 0
    # (the line starts after the shell's prompt)
    grep -q "minnow-guest: ctrl-alt-del$" <(tr -d '\r' <"$log") || fail "shell: the guest's init did not see Ctrl+Alt+Del"
    ;;
  fcflags)
    out=$("$minnow" --version)
    grep -qxE "minnow [0-9][^ ]*" <<<"$out" || fail "--version: $out"
    # Firecracker's line first, as Firecracker prints it: Kata reads the
    # first line's second word, less its "v", as a semver.
    fcv=$(head -n 1 <<<"$out" | sed -n 's/^Firecracker v\([^ ]*\) .*/\1/p')
    [ -n "$fcv" ] || fail "--version names no Firecracker API version: $out"
    [ "$("$minnow" version)" = "$out" ] || fail "minnow version differs from --version"
    [ "$("$minnow" --api-sock "$sock" --snapshot-version)" = v2 ] || fail "--snapshot-version"
    echo "a text file, not a snapshot state file" >"$work/text"
    "$minnow" --describe-snapshot "$work/text" >/dev/null 2>"$work/err" && st=0 || st=$?
    [ "$st" = 122 ] || fail "--describe-snapshot of a non-snapshot exited $st, expected 122"
    grep -qF "snapshot '$work/text': not a minnow snapshot state file (bad magic)" "$work/err" || fail "describe: $(cat "$work/err")"
    "$minnow" --describe-snapshot "$work/none" >/dev/null 2>"$work/err" && st=0 || st=$?
    [ "$st" = 122 ] && grep -qF "$work/none': No such file" "$work/err" || fail "describe a missing file: $st $(cat "$work/err")"
    "$minnow" --api-sock "$sock" --enable-pci </dev/null >/dev/null 2>"$work/err" && st=0 || st=$?
    [ "$st" = 122 ] && grep -qF "minnow has no PCI: its devices are virtio-mmio" "$work/err" || fail "--enable-pci: $st $(cat "$work/err")"
    for bad in 0 -1 x 1073741825; do
      "$minnow" --api-sock "$sock" --http-api-max-payload-size "$bad" </dev/null >/dev/null 2>"$work/err" && st=0 || st=$?
      [ "$st" = 122 ] && grep -qF -- "--http-api-max-payload-size" "$work/err" || fail "payload size $bad: $st"
    done
    "$minnow" --api-sock "$sock" --start-time-us 12x </dev/null >/dev/null 2>"$work/err" && st=0 || st=$?
    [ "$st" = 122 ] && grep -qF -- "--start-time-us: expected a whole number" "$work/err" || fail "--start-time-us 12x: $st"
    "$minnow" --help | grep -qF -- "--http-api-max-payload-size" || fail "minnow --help does not name the Firecracker flags"
    # Options in any order, as Firecracker takes them.
    start_minnow --http-api-max-payload-size 100 --api-sock "$sock" --id fc1
    expect GET /version "" 200
    python3 - "$body" "$fcv" "$(grep "^minnow " <<<"$out")" <<'PY' || fail "GET /version: $body"
import json, sys
v = json.loads(sys.argv[1])
assert v["firecracker_version"] == sys.argv[2], v
assert "minnow " + v["minnow_version"] == sys.argv[3], v
PY
    # the swagger's info.version this minnow follows
    grep -qE '^1\.[0-9]+\.[0-9]+' <<<"$fcv" || fail "Firecracker API version '$fcv'"
    # bodies of 101 and 100 bytes (JSON padded with spaces)
    expect PUT /machine-config "$(printf '%-101s' '{"vcpu_count": 1, "mem_size_mib": 64}')" 400 \
      "Request payload with size 101 is larger than the limit of 100 allowed by server."
    expect PUT /machine-config "$(printf '%-100s' '{"vcpu_count": 1, "mem_size_mib": 64}')" 204
    expect GET /machine-config/ "" 200
    grep -q '"mem_size_mib":64' <<<"$body" || fail "GET /machine-config/: $body"
    expect GET /machine-config '{}' 400 "GET request cannot have a body."
    expect PUT /drives/d/ '{"drive_id": "d", "path_on_host": "'"$work"'/no.img", "is_root_device": false}' 400 \
      "drives: path_on_host '$work/no.img': cannot be opened for reading and writing (is_read_only is false): No such file or directory"
    truncate -s 1M "$work/ro.img"
    expect PUT /drives/d/ '{"drive_id": "d", "path_on_host": "'"$work"'/ro.img", "is_root_device": false}' 204
    expect PUT /network-interfaces/n '{"iface_id": "n", "host_dev_name": "mnw-none0"}' 400 \
      "network-interfaces: host_dev_name 'mnw-none0': tap 'mnw-none0': no such network interface"
    expect PUT /boot-source '{"kernel_image_path": "'"$work"'/Image"}' 400 "kernel_image_path '$work/Image': cannot be opened"
    expect GET /vm/config "" 200
    grep -q '"drive_id":"d"' <<<"$body" || fail "the drive PUT is lost: $body"
    grep -q 'boot-source' <<<"$body" && fail "a refused boot-source was kept: $body"
    kill -TERM "$pid"; wait_minnow 124
    # The default limit is Firecracker's 51200.
    start_minnow --api-sock "$sock"
    big=$(python3 -c 'print("{\"boot_args\": \"" + "x" * 51200 + "\"}")')
    expect PUT /boot-source "$big" 400 "Request payload with size 51217 is larger than the limit of 51200 allowed by server."
    expect GET / "" 200
    kill -TERM "$pid"; wait_minnow 124
    # Unknown top-level keys of a config file: ignored, with a warning in
    # the log (and on stderr) naming them; Firecracker's keys are known.
    python3 - "$guest" "$work/vm.json" <<'PY'
import json, sys
g = sys.argv[1]
json.dump({"boot-source": {"kernel_image_path": g + "/Image", "initrd_path": g + "/initramfs.cpio.gz",
                           "boot_args": "console=ttyS0 minnow.cmd=\"echo fc-config-ok\""},
           "machine-config": {"vcpu_count": 1, "mem_size_mib": 128}, "drives": [], "network-interfaces": [],
           "entropy": {}, "pmem": [], "mmds-config": None, "cpu-config": None, "memory-hotplug": None,
           "future-section": {"x": 1}, "balloon": None}, open(sys.argv[2], "w"))
PY
    "$minnow" --no-api --config-file "$work/vm.json" --log-path "$work/minnow.log" </dev/null >"$log" 2>"$work/err" && st=0 || st=$?
    [ "$st" = 0 ] || fail "a config file with an unknown key exited $st"
    grep -qxF fc-config-ok <(tr -d '\r' <"$log") || fail "the guest did not run"
    grep -qF "ignored the unknown top-level key(s) 'future-section'" "$work/minnow.log" || fail "no warning in the log: $(cat "$work/minnow.log")"
    grep -qF "'future-section'" "$work/err" || fail "no warning on stderr"
    ;;
  boottimer)
    # Without --boot-timer nothing is at 0x40000000: the guest's store
    # faults (its shell reports the signal) and nothing is logged.
    python3 - "$guest" "$work/nobt.json" <<'PY'
import json, sys
g = sys.argv[1]
json.dump({"boot-source": {"kernel_image_path": g + "/Image", "initrd_path": g + "/initramfs.cpio.gz",
                           "boot_args": "console=ttyS0 minnow.cmd=\"devmem 0x40000000 8 123 || echo bt-refused\""},
           "machine-config": {"vcpu_count": 1, "mem_size_mib": 128}}, open(sys.argv[2], "w"))
PY
    "$minnow" --no-api --config-file "$work/nobt.json" --log-path "$work/nobt.log" </dev/null >"$log" 2>"$work/err" && st=0 || st=$?
    [ "$st" = 0 ] || fail "without --boot-timer: exit $st: $(cat "$work/err")"
    grep -qxF bt-refused <(tr -d '\r' <"$log") || fail "without --boot-timer the guest's devmem did not fail: $(tail -5 "$log")"
    grep -q "Guest-boot-time" "$work/nobt.log" && fail "Guest-boot-time logged without --boot-timer"
    python3 -c 'import time; print(time.monotonic_ns() // 1000)' >"$work/t0"
    start_minnow --api-sock "$sock" --boot-timer --log-path "$work/minnow.log" --metrics-path "$work/metrics.json" \
      --start-time-us "$(cat "$work/t0")" --start-time-cpu-us 0 --parent-cpu-time-us 1000000
    expect PUT /boot-source "$(boot_json 'devmem 0x40000000 8 123; echo bt-signalled; sleep 600')" 204
    expect PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 128}' 204
    expect PUT /actions '{"action_type": "InstanceStart"}' 204
    wait_console '^bt-signalled'
    for _ in $(seq 100); do grep -q "Guest-boot-time" "$work/minnow.log" && break; sleep 0.1; done
    # Firecracker's own test's pattern (tests/integration_tests/performance/test_boottime.py)
    line=$(grep -E 'Guest-boot-time =\s+([0-9]+) us\s+([0-9]+) ms,\s+([0-9]+) CPU us\s+([0-9]+) CPU ms' "$work/minnow.log") \
      || fail "no Guest-boot-time line in the log: $(cat "$work/minnow.log")"
    echo "$line"
    python3 - "$line" <<'PY' || fail "boot time figures: $line"
import re, sys
us, ms, cpu, cms = map(int, re.search(r"= +(\d+) us (\d+) ms, +(\d+) CPU us (\d+) CPU ms", sys.argv[1]).groups())
assert 0 < us < 120_000_000 and ms == us // 1000 and 0 < cpu and cms == cpu // 1000, (us, ms, cpu, cms)
print(f"boot timer: {us} us to the guest's signal, {cpu} CPU us")
PY
    # Snapshot the paused VM and describe its state file.
    expect PATCH /vm '{"state": "Paused"}' 204
    expect PUT /snapshot/create '{"snapshot_path": "'"$work"'/snap", "mem_file_path": "'"$work"'/mem"}' 204
    [ "$("$minnow" --describe-snapshot "$work/snap")" = v2 ] || fail "--describe-snapshot of a snapshot"
    "$minnow" --describe-snapshot "$work/mem" >/dev/null 2>"$work/err2" && fail "a memory file described as a state file"
    expect PATCH /vm '{"state": "Resumed"}' 204
    expect PUT /actions '{"action_type": "FlushMetrics"}' 204
    # The guest reboots (Ctrl+Alt+Del: its init syncs and reboots): status
    # 0, as Firecracker's, the reason in the log and the metrics.
    expect PUT /actions '{"action_type": "SendCtrlAltDel"}' 204
    wait_minnow 0
    grep -qF "the microVM ended: the guest asked for a reboot (code 0), exit status 0" "$work/minnow.log" \
      || fail "the log does not say the guest rebooted"
    python3 - "$work/metrics.json" <<'PY' || fail "metrics: $(cat "$work/metrics.json")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
flush = [l for l in lines if l["minnow"]["reason"] == "FlushMetrics"][-1]
a = flush["api_server"]
# started before the API served; the CPU figure has the parent's second
assert 0 < a["process_startup_time_us"] < 120_000_000, a
assert 1_000_000 < a["process_startup_time_cpu_us"] < 1_000_000 + 120_000_000, a
end = lines[-1]
assert end["minnow"]["reason"] == "exit", end
assert end["minnow"]["vm"]["end_reason"] == "the guest asked for a reboot" and end["minnow"]["vm"]["exit_status"] == 0, end["minnow"]["vm"]
print("api_server:", a, "end:", end["minnow"]["vm"]["end_reason"], end["minnow"]["vm"]["exit_status"])
PY
    ;;
  *) echo "api.sh: unknown mode $mode" >&2; exit 2 ;;
esac
echo "ok ($mode)"
