# Helpers for the hvsock CLI integration tests (POSIX sh; meson runs the
# tests with sh). Source it first thing:
#   . "$(dirname "$0")/lib.sh"
# It makes a private temporary directory, points the registry and the
# runtime dir into it, restricts hvsock to the UNIX-socket transports, and
# removes everything (background processes included) on exit.
# Every check stops the test at the first failure, printing expected vs got.

set -u
: "${HVSOCK_BIN:?HVSOCK_BIN must name the hvsock binary}"
: "${SOURCE_DIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
H=$HVSOCK_BIN
export H
TEST_NAME=$(basename "$0" .sh)
CHECKS=0
BG_PIDS=""

T=$(mktemp -d "${TMPDIR:-/tmp}/hvsock-$TEST_NAME.XXXXXX") || exit 1
export T HVSOCK_CONFIG_DIR="$T/config" HVSOCK_RUNTIME_DIR="$T/run"
# Never kernel vsock: on the build machines it belongs to the infrastructure.
export HVSOCK_TRANSPORTS=local,hybrid

cleanup() {
        for p in $BG_PIDS; do
                kill -TERM "-$p" 2>/dev/null
        done
        for p in $BG_PIDS; do
                wait "$p" 2>/dev/null
        done
        rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
        echo "FAIL ($TEST_NAME): $*" >&2
        exit 1
}

pass() {
        CHECKS=$((CHECKS + 1))
        echo "ok $CHECKS - $*"
}

skip() {
        echo "SKIP ($TEST_NAME): $*"
        exit 77
}

finish() {
        echo "PASS: $TEST_NAME ($CHECKS checks)"
        exit 0
}

show_output() {
        echo "--- stdout:" >&2
        cat "$T/out" >&2
        echo "--- stderr:" >&2
        cat "$T/err" >&2
}

# run CMD...: runs CMD with a time limit (TIMEOUT seconds, default 30) and
# standard input from $IN (default /dev/null); stdout in $T/out, stderr in
# $T/err, the exit status in $RC (124 when it ran out of time; 137 when it
# then ignored SIGTERM too, as a client waiting for STARTED does).
run() {
        RC=0
        timeout -k 5 "${TIMEOUT:-30}" "$@" >"$T/out" 2>"$T/err" <"${IN:-/dev/null}" || RC=$?
}

# expect STATUS DESCRIPTION CMD...: runs CMD and checks its exit status.
expect() {
        _want=$1 _desc=$2
        shift 2
        run "$@"
        if [ "$RC" != "$_want" ]; then
                show_output
                fail "$_desc: '$*' expected exit $_want, got $RC"
        fi
        pass "$_desc"
}

# check_eq EXPECTED GOT DESCRIPTION
check_eq() {
        [ "$1" = "$2" ] || fail "$3: expected '$1', got '$2'"
        pass "$3"
}

# check_out EXPECTED DESCRIPTION: the last command's whole stdout.
check_out() {
        check_eq "$1" "$(cat "$T/out")" "$2"
}

# check_contains FILE TEXT DESCRIPTION (fixed string)
check_contains() {
        if ! grep -F -q -- "$2" "$1"; then
                echo "--- $1:" >&2
                cat "$1" >&2
                fail "$3: expected the text above to contain '$2'"
        fi
        pass "$3"
}

# check_not_contains FILE TEXT DESCRIPTION
check_not_contains() {
        if grep -F -q -- "$2" "$1"; then
                echo "--- $1:" >&2
                cat "$1" >&2
                fail "$3: expected the text above not to contain '$2'"
        fi
        pass "$3"
}

# check_err TEXT DESCRIPTION: the last command's stderr contains TEXT.
check_err() {
        check_contains "$T/err" "$1" "$2"
}

# check_stdout_empty DESCRIPTION
check_stdout_empty() {
        [ ! -s "$T/out" ] || { show_output; fail "$1: expected nothing on stdout"; }
        pass "$1"
}

# check_json DESCRIPTION: the last command's stdout is valid JSON.
check_json() {
        if ! python3 -m json.tool <"$T/out" >/dev/null 2>"$T/json-err"; then
                cat "$T/out" "$T/json-err" >&2
                fail "$1: stdout is not valid JSON"
        fi
        pass "$1"
}

# json EXPR: evaluates the Python expression EXPR with `d` bound to the
# last command's stdout parsed as JSON, and prints the result.
json() {
        python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(json.dumps(v) if not isinstance(v, str) else v)' "$T/out" "$1"
}

# bg CMD...: starts CMD in the background in its own process group (all of
# it is killed on exit); its pid in $BG.
bg() {
        setsid "$@" &
        BG=$!
        BG_PIDS="$BG_PIDS $BG"
}

# wait_file_text FILE TEXT: waits up to 10 s for FILE to contain TEXT.
wait_file_text() {
        _i=0
        while ! grep -F -q -- "$2" "$1" 2>/dev/null; do
                _i=$((_i + 1))
                [ "$_i" -le 200 ] || { cat "$1" >&2 2>/dev/null; fail "timed out waiting for '$2' in $1"; }
                sleep 0.05
        done
}

# wait_path PATH [TEST_OP]: waits up to 20 s for PATH to exist (`test -e`,
# or TEST_OP such as -S for a socket).
wait_path() {
        _i=0
        while ! test "${2:--e}" "$1"; do
                _i=$((_i + 1))
                [ "$_i" -le 400 ] || fail "timed out waiting for $1"
                sleep 0.05
        done
}

# wait_exit PID DESCRIPTION: waits up to 20 s for PID to end; its status in $RC.
wait_exit() {
        _i=0
        while kill -0 "$1" 2>/dev/null; do
                _i=$((_i + 1))
                [ "$_i" -le 400 ] || fail "$2: process $1 still running after 20 s"
                sleep 0.05
        done
        RC=0
        wait "$1" || RC=$?
}

# listen_sh ERRFILE SCRIPT: runs the shell SCRIPT in the background with its
# stderr in ERRFILE, and waits until the `hvsock nc -v -l` in it listens.
# SCRIPT may use $H and $T; its pid is in $BG.
listen_sh() {
        bg sh -c "$2" 2>"$1"
        wait_file_text "$1" "listening on"
}
