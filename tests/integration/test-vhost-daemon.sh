#!/bin/sh
# hvsock-vhost as a daemon, without QEMU (the guest side is tests/e2e/):
# its host socket's CONNECT-line limits (--timeout, --max-pending-clients),
# the SIGUSR1 counters line, and a clean exit on SIGTERM.
. "$(dirname "$0")/lib.sh"

V=$BUILD_DIR/src/vhost/hvsock-vhost

bg "$V" --socket "$T/vhost.sock" --guest-cid 7 --uds-path "$T/vsock.sock" \
        --timeout 700 --max-pending-clients 1 2>"$T/vhost.err"
vpid=$BG
i=0
until [ -S "$T/vsock.sock" ] || [ $i -ge 200 ]; do sleep 0.05; i=$((i + 1)); done
[ -S "$T/vsock.sock" ] || fail "hvsock-vhost did not listen on --uds-path: $(cat "$T/vhost.err")"
pass "hvsock-vhost listens for QEMU and for host programs"

# stats N: sends SIGUSR1 and puts the Nth JSON line of stderr in $T/out.
stats() {
        kill -USR1 "$vpid"
        i=0
        while [ "$(grep -c '^{' "$T/vhost.err")" -lt "$1" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
        grep '^{' "$T/vhost.err" | sed -n "${1}p" >"$T/out"
        [ -s "$T/out" ] || fail "no stats line $1 after SIGUSR1: $(cat "$T/vhost.err")"
}

stats 1
check_json "SIGUSR1 prints one JSON line"
check_eq "7 false false 0 0" "$(json 'd["guest_cid"], d["qemu"], d["paused"], d["connections"], d["timeouts"]' | tr -d '[],')" \
        "before any client: guest CID 7, no QEMU, no connections, no timeouts"

# silent_client: connects to --uds-path, says nothing, and prints how many
# bytes came before the device closed it (0) and after how many ms.
silent_client() {
        python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
t = time.monotonic()
print(len(s.recv(64)), int((time.monotonic() - t) * 1000))' "$T/vsock.sock"
}

# A client that never sends its CONNECT line holds the one pending slot;
# a second is closed at once, well before --timeout; the first is closed
# after --timeout, well before the 2 s default.
silent_client >"$T/first" 2>&1 &
first=$!
sleep 0.1
silent_client >"$T/second" 2>&1
read -r n ms <"$T/second"
[ "$n" = 0 ] && [ "$ms" -lt 400 ] || fail "a second silent client was not closed at once: $(cat "$T/second")"
pass "--max-pending-clients 1: a second silent client is closed at once"
wait "$first"
read -r n ms <"$T/first"
[ "$n" = 0 ] && [ "$ms" -ge 400 ] && [ "$ms" -lt 1600 ] ||
        fail "the silent client was not closed after --timeout 700: $(cat "$T/first") (bytes, ms)"
pass "--timeout 700: the silent client is closed without a word"
stats 2
check_eq "1 0" "$(json 'd["timeouts"], d["connections"]' | tr -d '[],')" \
        "the counters show the timeout and no connection left"

kill -TERM "$vpid"
wait_exit "$vpid" "hvsock-vhost after SIGTERM"
check_eq 0 "$RC" "hvsock-vhost exits 0 on SIGTERM"
[ ! -e "$T/vhost.sock" ] || fail "hvsock-vhost left its QEMU socket behind"
pass "hvsock-vhost removes its QEMU socket on exit"
finish
