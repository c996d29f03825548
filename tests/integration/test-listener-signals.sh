#!/bin/sh
# Every listener removes what it created when SIGTERM, SIGHUP or SIGINT ends
# it: hvsock nc -l (waiting for a client, and with -k while relaying one),
# hvsock-sessiond and hvsock-vhost each get each signal and must leave their
# socket directory empty, also nc blocked writing to a stalled reader. nc
# then dies of the signal (its parent sees 128+N, as before); the daemons
# exit 0. A signal inherited as ignored (nohup's SIGHUP) stays ignored.
. "$(dirname "$0")/lib.sh"

S=$BUILD_DIR/src/session/hvsock-sessiond
V=$BUILD_DIR/src/vhost/hvsock-vhost

# A background job of this (non-interactive) shell starts with SIGINT
# ignored, which the programs respect; env gives it back its default action.
start() {
        bg env --default-signal=INT,HUP,TERM "$@"
}

signum() {
        case $1 in TERM) echo 15 ;; HUP) echo 1 ;; INT) echo 2 ;; esac
}

# left DIR: what is still in DIR (nothing, or the file names).
left() {
        ls -A "$1" 2>/dev/null | tr '\n' ' '
}

# stop PID SIG WANT WHAT DIR: sends SIG, waits for the exit, checks the
# status and that DIR is empty.
stop() {
        kill -"$2" "$1"
        wait_exit "$1" "$4 after SIG$2"
        check_eq "$3" "$RC" "$4 ends on SIG$2 with status $3"
        check_eq "" "$(left "$5")" "$4 leaves nothing in its socket directory after SIG$2"
}

for sig in TERM HUP INT; do
        n=$(signum $sig)

        # ---- hvsock nc -l, waiting for its client ----
        export HVSOCK_RUNTIME_DIR="$T/run-nc-$sig"
        start "$H" nc -v -l loopback 5000 </dev/null >/dev/null 2>"$T/nc-$sig.err"
        wait_file_text "$T/nc-$sig.err" "listening on"
        [ -S "$HVSOCK_RUNTIME_DIR/local/5000" ] || fail "nc -l made no socket file"
        stop "$BG" $sig $((128 + n)) "hvsock nc -l" "$HVSOCK_RUNTIME_DIR/local"

        # ---- hvsock nc -l -k, relaying a client ----
        export HVSOCK_RUNTIME_DIR="$T/run-nck-$sig"
        start "$H" nc -v -l -k loopback 5001 </dev/null >"$T/nck-$sig.out" 2>"$T/nck-$sig.err"
        srv=$BG
        wait_file_text "$T/nck-$sig.err" "listening on"
        bg sh -c '{ echo hello; sleep 60; } | "$H" nc loopback 5001 >/dev/null'
        wait_file_text "$T/nck-$sig.out" hello
        stop "$srv" $sig $((128 + n)) "hvsock nc -l -k (relaying)" "$HVSOCK_RUNTIME_DIR/local"

        # ---- hvsock-sessiond ----
        export HVSOCK_RUNTIME_DIR="$T/run-sessiond-$sig"
        start "$S" --listen loopback 2>"$T/sessiond-$sig.err"
        wait_file_text "$T/sessiond-$sig.err" "listening on"
        stop "$BG" $sig 0 "hvsock-sessiond" "$HVSOCK_RUNTIME_DIR/local"

        # ---- hvsock-vhost: its QEMU socket and its host socket ----
        mkdir "$T/vhost-$sig"
        start "$V" --socket "$T/vhost-$sig/vhost.sock" --guest-cid 3 --uds-path "$T/vhost-$sig/vsock.sock" \
                2>"$T/vhost-$sig.err"
        vpid=$BG
        wait_path "$T/vhost-$sig/vsock.sock" -S
        check_eq "vhost.sock vhost.sock.lock vsock.sock vsock.sock.lock " "$(left "$T/vhost-$sig")" \
                "hvsock-vhost made its two sockets, each with the lock file beside it"
        stop "$vpid" $sig 0 "hvsock-vhost" "$T/vhost-$sig"
done

# A stalled reader: nc -l -k blocks in a write to its standard output (a
# fifo whose reader frees one page at a time, slowly, until told to stop:
# room for part of a write, not all of it; a write that happens to fit
# leaves nc waiting in poll until the next page) and SIGTERM still ends it
# and removes its socket.
export HVSOCK_RUNTIME_DIR="$T/run-stalled"
mkfifo "$T/stalled"
bg python3 -c 'import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
while not os.path.exists(sys.argv[2]):
    time.sleep(0.2)
    os.read(fd, 4096)
time.sleep(600)' "$T/stalled" "$T/stop-reading"
start "$H" nc -v -l -k loopback 5003 </dev/null >"$T/stalled" 2>"$T/stalled.err"
srv=$BG
wait_file_text "$T/stalled.err" "listening on"
bg sh -c 'head -c 1048576 /dev/zero | "$H" nc loopback 5003'
i=0
until grep -q pipe_write "/proc/$srv/wchan" 2>/dev/null; do
        i=$((i + 1))
        [ $i -le 400 ] || fail "nc -l -k never blocked writing to its stalled standard output"
        sleep 0.05
done
touch "$T/stop-reading"
stop "$srv" TERM 143 "hvsock nc -l -k (blocked on its output)" "$HVSOCK_RUNTIME_DIR/local"

# nohup: a SIGHUP ignored from the start stays ignored; SIGTERM still cleans up.
export HVSOCK_RUNTIME_DIR="$T/run-nohup"
bg env --ignore-signal=HUP "$H" nc -v -l loopback 5002 </dev/null >/dev/null 2>"$T/nohup.err"
wait_file_text "$T/nohup.err" "listening on"
kill -HUP "$BG"
sleep 0.3
kill -0 "$BG" 2>/dev/null || fail "nc -l under nohup ended on SIGHUP"
pass "nc -l started with SIGHUP ignored keeps running after SIGHUP"
stop "$BG" TERM 143 "hvsock nc -l under nohup" "$HVSOCK_RUNTIME_DIR/local"
finish
