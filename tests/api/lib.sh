# Helpers for the API tests, sourced after the script has set minnow, sock,
# log, work, pid and defined fail().

# start_minnow ARGS...: minnow in the background, console to the log.
start_minnow() {
  "$minnow" "$@" </dev/null >"$log" 2>"$work/err" &
  pid=$!
  # Wait until it answers: a stale socket file from a killed minnow exists
  # before the new one has replaced it.
  for _ in $(seq 200); do
    [ -S "$sock" ] && curl -s -o /dev/null --unix-socket "$sock" http://localhost/ && return
    kill -0 "$pid" 2>/dev/null || fail "minnow exited before its API socket answered: $(cat "$work/err")"
    sleep 0.05
  done
  fail "the API socket did not answer within 10 s"
}
# wait_minnow WANT: minnow's exit status must be WANT (within 120 s).
wait_minnow() {
  local st=0
  for _ in $(seq 1200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && fail "minnow did not finish within 120 s"
  wait "$pid" || st=$?
  pid=
  [ "$st" = "$1" ] || fail "minnow exited with status $st, expected $1"
}
# api METHOD PATH [BODY]: sets $code and $body.
api() {
  local out
  out=$(curl -s --max-time 60 --unix-socket "$sock" -X "$1" -w '\n%{http_code}' \
        ${3+-H 'Content-Type: application/json' --data-binary "$3"} "http://localhost$2") || fail "curl $1 $2 failed"
  code=${out##*$'\n'}
  body=${out%$'\n'*}
}
# expect METHOD PATH BODY CODE [TEXT]: the reply has CODE and contains TEXT.
expect() {
  api "$1" "$2" "$3"
  [ "$code" = "$4" ] || fail "$1 $2 $3: status $code, expected $4 (body: $body)"
  if [ -n "${5:-}" ]; then
    grep -qF -- "$5" <<<"$body" || fail "$1 $2 $3: the reply '$body' does not contain '$5'"
    grep -q '"fault_message"' <<<"$body" || fail "$1 $2: the error has no fault_message: $body"
  fi
}
