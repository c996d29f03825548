#!/bin/sh
# hvsock-vhost as a daemon, without QEMU (the guest side is tests/e2e/):
# its host socket's limits (--timeout, --max-pending-clients, where clients
# wait, and --max-connections, where they are refused, counted and logged
# once per burst), the SIGUSR1 counters line, and a clean exit on SIGTERM.
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

# silent_client TAG: connects to --uds-path, says nothing, and when the
# device closes it appends TAG and the bytes it got (0) to $T/order.
silent_client() {
        python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(20)
s.connect(sys.argv[1])
n = len(s.recv(64))
open(sys.argv[2], "a").write("%s %d\n" % (sys.argv[3], n))' "$T/vsock.sock" "$T/order" "$1"
}

# A client that never sends its CONNECT line holds the one pending slot; a
# second one is not closed unheard: it waits in the listen backlog, is taken
# once the first is closed after --timeout (without a word), and then has
# its own --timeout. So it ends second.
silent_client first &
first=$!
i=0
until grep -q '"connections":1' "$T/vhost.err" || [ $i -ge 300 ]; do
        kill -USR1 "$vpid"
        sleep 0.1
        i=$((i + 1))
done
grep -q '"connections":1' "$T/vhost.err" || fail "the first silent client was not taken"
silent_client second
wait "$first"
check_eq "first 0|second 0|" "$(tr '\n' '|' <"$T/order")" \
        "--max-pending-clients 1: the second silent client waited for the first's --timeout, then had its own"
n=$(grep -c '^{' "$T/vhost.err")
stats $((n + 1))
check_eq "2 0 0" "$(json 'd["timeouts"], d["connections"], d["host_refused_max_connections"]' | tr -d '[],')" \
        "the counters show both timeouts, no connection left, nothing refused"
[ "$(json 'd["host_accept_paused"]')" -ge 1 ] || fail "host_accept_paused does not count the stops at the pending limit"
pass "the stops at the pending limit are counted (host_accept_paused)"

# --max-connections 2: two silent clients hold both connections, and a burst
# of 10 clients sending their CONNECT line is refused: each is closed cleanly
# (an end of stream, or a broken pipe when it had not sent its line yet; a
# line that came is read first, so never a reset), each is counted, and the
# log says it once per burst, not once per client.
kill -TERM "$vpid"
wait_exit "$vpid" "hvsock-vhost after SIGTERM"
bg "$V" --socket "$T/vhost.sock" --guest-cid 7 --uds-path "$T/vsock.sock" \
        --max-connections 2 --max-pending-clients 4 2>"$T/vhost.err"
vpid=$BG
wait_path "$T/vsock.sock" -S
python3 -c 'import socket, sys, time
hold = []
for _ in range(2):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    hold.append(s)
time.sleep(0.3)
burst = []
got = []
for _ in range(10):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(sys.argv[1])
    try:
        s.sendall(b"CONNECT 5000\n")
        burst.append(s)
    except BrokenPipeError:
        got.append("closed")  # refused before its line went out
for s in burst:
    try:
        got.append("closed" if s.recv(64) == b"" else "data")
    except ConnectionResetError:
        got.append("reset")
print(" ".join(sorted(set(got))), len(got))' "$T/vsock.sock" >"$T/burst" 2>&1
check_eq "closed 10" "$(cat "$T/burst")" "10 clients over --max-connections were each closed cleanly (no reset)"
stats 1
check_eq 10 "$(json 'd["host_refused_max_connections"]')" "each refusal is counted (host_refused_max_connections)"
logged=$(grep -c 'refusing host clients: --max-connections 2 reached' "$T/vhost.err")
[ "$logged" -ge 1 ] && [ "$logged" -lt 10 ] || fail "the refusals were logged $logged times, expected once per burst"
pass "the refusals are logged once per burst ($logged line for 10 clients)"

kill -TERM "$vpid"
wait_exit "$vpid" "hvsock-vhost after SIGTERM"
check_eq 0 "$RC" "hvsock-vhost exits 0 on SIGTERM"
[ ! -e "$T/vhost.sock" ] || fail "hvsock-vhost left its QEMU socket behind"
pass "hvsock-vhost removes its QEMU socket on exit"
finish
