#!/bin/sh
# hvsock-sessiond and hvsock-vhost out of file descriptors (found in review
# of issue #10): an accept that fails with EMFILE must not spin the loop on
# the client still waiting in the backlog (hvsock-sessiond printed 140,000
# lines in 4 s; both took a whole CPU). Each daemon runs under a small
# `ulimit -n`, more silent clients connect than it has descriptors for, and
# then: it says so once per burst, goes on serving, and takes the waiting
# clients once descriptors are free again.
. "$(dirname "$0")/lib.sh"

S=$BUILD_DIR/src/session/hvsock-sessiond
V=$BUILD_DIR/src/vhost/hvsock-vhost
command -v python3 >/dev/null || skip "python3 is not installed"

# hold N PATH READY: N connections to PATH that say nothing, until killed.
hold() {
        bg python3 -c 'import socket, sys, time
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[2])
    socks.append(s)
open(sys.argv[3], "w").close()
time.sleep(600)' "$@"
}

# ---- hvsock-sessiond ----
bg sh -c 'ulimit -n 24 && exec "$0" --listen loopback' "$S" 2>"$T/d.err"
D=$BG
wait_file_text "$T/d.err" "listening on"
hold 40 "$HVSOCK_RUNTIME_DIR/local/24149" "$T/held-d"
H1=$BG
wait_path "$T/held-d"
wait_file_text "$T/d.err" "accepting: Too many open files; clients wait in the backlog until a session ends"
sleep 2
check_eq 1 "$(grep -c "accepting: Too many open files" "$T/d.err")" \
        "hvsock-sessiond says it is out of descriptors once per burst, not once per turn of a spinning loop"
kill -TERM "-$H1"
expect 0 "once descriptors are free, it serves again" "$H" exec loopback -- true
kill -TERM "$D"
wait_exit "$D" "hvsock-sessiond"
check_eq 0 "$RC" "hvsock-sessiond exits 0"

# ---- hvsock-vhost's host socket ----
bg sh -c 'ulimit -n 32 && exec "$0" --socket "$1/vhost.sock" --guest-cid 7 --uds-path "$1/vsock.sock"' "$V" "$T" \
        2>"$T/v.err"
V1=$BG
wait_path "$T/vsock.sock" -S
check_contains "$T/v.err" "--max-connections 1023 needs about 1087 descriptors and the limit is 32" \
        "hvsock-vhost warns at start that the descriptor limit is below --max-connections"
hold 40 "$T/vsock.sock" "$T/held-v"
H2=$BG
wait_path "$T/held-v"
wait_file_text "$T/v.err" "accepting host clients: Too many open files; they wait in the backlog"
sleep 2
kill -USR1 "$V1"
wait_file_text "$T/v.err" '"host_accept_starved":'
grep '^{' "$T/v.err" | tail -n 1 >"$T/out"
starved=$(json 'd["host_accept_starved"]')
[ "$starved" -ge 1 ] && [ "$starved" -le 4 ] || fail "host_accept_starved is $starved after 2 s (1..4 expected: a rest per second)"
pass "hvsock-vhost rests its listener instead of spinning (host_accept_starved $starved in 2 s)"
check_eq 1 "$(grep -c "accepting host clients: Too many open files" "$T/v.err")" "and says so once per burst"
kill -TERM "-$H2"
wait_exit "$H2" "the silent clients"
python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"CONNECT 5000\n")
s.settimeout(10)
print(len(s.recv(64)))' "$T/vsock.sock" >"$T/out" 2>&1 || fail "a new client after the others left: $(cat "$T/out")"
check_out 0 "once descriptors are free, a new client is taken and answered (refused at once: no QEMU)"
kill -TERM "$V1"
wait_exit "$V1" "hvsock-vhost"
check_eq 0 "$RC" "hvsock-vhost exits 0"
finish
