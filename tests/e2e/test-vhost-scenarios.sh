#!/bin/sh
# The real-guest scenarios of hvsock-vhost (issue 3), in two boots of one
# Debian guest under QEMU TCG served by ONE hvsock-vhost process:
#
# boot 1, guest -> host (tests/e2e/guest/vsock-e2e.c against host e2e-peer):
#   echo with the guest half-closing first; 64 MiB to a host sink and 64 MiB
#   from a host source, checksums compared by both ends (the source
#   half-closes first and still gets the hash back); 100 concurrent
#   connections, distinct data each; unregistered, globally disabled and
#   disabled-for-this-VM services refused with RST;
# boot 1, host -> guest with `hvsock nc e2e-vm SERVICE` (the VM registered
#   with `hvsock vm add e2e-vm --uds`): echo with the host half-closing first,
#   64 MiB each way with checksums, 100 concurrent nc processes, 1000
#   simultaneous CONNECTs (e2e-peer connect-many) to a guest service that
#   accepts them all, every one served and none refused, a guest port
#   nobody listens on refused; one connection left open;
# then QEMU is SIGKILLed: hvsock-vhost must survive, close the open host
#   connection, and refuse host connects while no guest is there;
# boot 2, same hvsock-vhost: traffic again both ways; the VM is paused for 3 s
#   (QEMU monitor stop/cont; hvsock-vhost's SIGUSR1 line says paused): a host
#   connection open across it carries what the host wrote meanwhile; then the
#   guest reboots inside the same QEMU (its driver stops and restarts the
#   device): a host connection left open is closed, and traffic flows again.
#
#   tests/e2e/test-vhost-scenarios.sh   (BUILD_DIR: the meson build dir; E2E_PEER)
#   HVSOCK_E2E_CACHE=DIR   downloads and kernel (default ~/.cache/hvsock-e2e)
#   HVSOCK_E2E_TIMEOUT=S   QEMU's time limit per boot (default 240)
# Exit 0 pass, 1 fail, 77 skip (a tool is missing).
set -eu
case "${1:-}" in
-h|--help) sed -n '2,27s/^# \{0,1\}//p' "$0"; exit 0 ;;
esac

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$top/build}
guest="$top/scripts/guest"
cache=${HVSOCK_E2E_CACHE:-$HOME/.cache/hvsock-e2e}
limit=${HVSOCK_E2E_TIMEOUT:-240}
. "$top/tests/e2e/lib.sh"

for tool in qemu-system-x86_64:qemu-system-x86 cpio:cpio gcc:gcc apt-get:apt dpkg-deb:dpkg cmp:diffutils socat:socat; do
        command -v "${tool%%:*}" >/dev/null 2>&1 || {
                echo "SKIP: ${tool%%:*} not installed (Debian package ${tool#*:}; scripts/install-deps guest)"
                exit 77
        }
done
vhost="$build/src/vhost/hvsock-vhost"
hvsock="$build/src/cli/hvsock"
peer=${E2E_PEER:-$build/tests/e2e/e2e-peer}
for b in "$vhost" "$hvsock" "$peer"; do
        [ -x "$b" ] || { echo "FAIL: build first ($b)"; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/hvsock-e2e-scen.XXXXXX")
trap 'e2e_cleanup; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
failed=0
fail() { echo "FAIL: $*"; failed=1; }

export HVSOCK_CONFIG_DIR="$work/config" HVSOCK_RUNTIME_DIR="$work/run" HVSOCK_TRANSPORTS=local,hybrid
uds="$work/vsock.sock"
hv() { "$hvsock" "$@" >/dev/null; }
hv vm add e2e-vm --uds "$uds"
hv service add host-echo --port 5000
hv service add off --port 5001 --disabled
hv service add host-sink --port 5002
hv service add host-source --port 5003
hv service add off-for-vm --port 5004
hv service disable off-for-vm --vm e2e-vm
hv service add barrier --port 5009
hv service add reboot-request --port 5010
hv service add guest-echo --port 7000
hv service add guest-sink --port 7002
hv service add guest-source --port 7003

"$guest/fetch-kernel" "$cache"
gcc -static -O2 -Wall -o "$work/vsock-e2e" "$top/tests/e2e/guest/vsock-e2e.c"
cat >"$work/scenario" <<'EOF'
[ -c /dev/vsock ] || { echo "no /dev/vsock"; exit 1; }
rc=0
t() { "$@" || rc=1; }
case "$(cat /proc/cmdline)" in
*hvsock.phase=2*)
        vsock-e2e serve 7000 echo &
        t vsock-e2e echo 5000 64
        echo E2E-GUEST-READY
        t vsock-e2e wait-host 5009 120
        # The host asks for one reboot by listening on 5010 (quietly probed:
        # after the reboot the service is disabled and the probe refused).
        if vsock-e2e wait-host 5010 0 >/dev/null 2>&1; then
                echo E2E-REBOOTING
                reboot -f
                sleep 60
        fi
        echo "E2E-PHASE2-DONE $rc"
        exit $rc ;;
esac
vsock-e2e serve 7000 echo &
vsock-e2e serve 7002 sink &
vsock-e2e serve 7003 source 64 45 &
vsock-e2e accept-many 7004 1000 &
t vsock-e2e echo 5000
t vsock-e2e send 5002 64 42
t vsock-e2e recv 5003 64 43
t vsock-e2e many 5000 100
t vsock-e2e refused 6000
t vsock-e2e refused 5001
t vsock-e2e refused 5004
echo E2E-GUEST-READY
t vsock-e2e wait-host 5009 150
echo "E2E-PHASE1-DONE $rc"
# QEMU is killed from the host while the guest still runs.
sleep 600
EOF
"$guest/build-initramfs" "$cache" "$work/initrd.cpio.gz" \
        --add "$work/vsock-e2e:/bin/vsock-e2e" --init "$work/scenario"

# Host services where hvsock-vhost forwards guest connections to port P.
e2e_bg "$peer" serve "${uds}_5000" echo >"$work/peer-echo.log" 2>&1
e2e_bg "$peer" serve "${uds}_5002" sink >"$work/peer-sink.log" 2>&1
e2e_bg "$peer" serve "${uds}_5003" source 64 43 >"$work/peer-source.log" 2>&1
"$vhost" --socket "$work/vhost.sock" --guest-cid 3 --uds-path "$uds" --vm e2e-vm 2>"$work/vhost.log" &
vpid=$!
e2e_pids="$e2e_pids $vpid"
e2e_wait_for "$work/vhost.sock" 10
e2e_wait_for "${uds}_5003" 10

boot() { # boot LOG [APPEND [RUN-QEMU-OPTION]]: starts the guest in the background; $qpid is run-qemu
        rm -f "$work/qemu.pid" "$work/qemu.mon"
        "$guest/run-qemu" --kernel "$cache/vmlinuz" --initrd "$work/initrd.cpio.gz" \
                --vhost-user-vsock "$work/vhost.sock" --timeout "$limit" --pidfile "$work/qemu.pid" \
                --monitor "$work/qemu.mon" \
                --append "${2:-}" ${3:-} </dev/null >"$1" 2>&1 &
        qpid=$!
}

# open_conn NAME LINE WHAT: opens a host->guest echo connection that stays
# open across WHAT
# ($openpid is its hvsock nc, fd 3 writes to it), sends LINE and checks the
# echo.
open_conn() {
        mkfifo "$work/$1.in"
        "$hvsock" nc e2e-vm guest-echo <"$work/$1.in" >"$work/$1.out" 2>"$work/$1.err" &
        openpid=$!
        exec 3>"$work/$1.in"
        echo "$2" >&3
        n=50
        until grep -q "$2" "$work/$1.out" || [ $n -eq 0 ]; do sleep 0.1; n=$((n - 1)); done
        grep -q "$2" "$work/$1.out" || fail "the connection kept open across $3 did not echo"
}

# expect_closed WHAT: hvsock-vhost dropped the guest's connections with WHAT,
# so the connection open_conn left open ends.
expect_closed() {
        exec 3>&-
        n=100
        while kill -0 "$openpid" 2>/dev/null && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
        if kill -0 "$openpid" 2>/dev/null; then
                fail "hvsock nc on a connection open across $1 still runs after 10 s"
                kill "$openpid" 2>/dev/null || true
        else
                echo "  the connection open across $1 was closed"
        fi
        wait "$openpid" 2>/dev/null || true
}

# monitor COMMAND: runs a command in QEMU's human monitor, prints its output.
monitor() {
        echo "$1" | socat -t 2 - "UNIX-CONNECT:$work/qemu.mon"
}

# vhost_stats: hvsock-vhost's SIGUSR1 line (the latest one in its stderr).
vhost_stats() {
        n=$(grep -c '^{' "$work/vhost.log" || true)
        kill -USR1 "$vpid"
        i=0
        while [ "$(grep -c '^{' "$work/vhost.log" || true)" -le "$n" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
        grep '^{' "$work/vhost.log" | tail -n 1
}

# echo_once WHEN: one short host->guest echo.
echo_once() {
        echo "$1" >"$work/once.in"
        "$hvsock" nc e2e-vm guest-echo <"$work/once.in" >"$work/once.out" || fail "hvsock nc $1 exited $?"
        cmp -s "$work/once.in" "$work/once.out" && echo "  host->guest echo $1" ||
                fail "host->guest echo $1: got '$(cat "$work/once.out")'"
}

# ---- boot 1 ----
echo "== boot 1: guest -> host scenarios"
t0=$(date +%s)
boot "$work/serial1.log"
e2e_wait_marker "$work/serial1.log" E2E-GUEST-READY "$qpid" 200 || { cat "$work/serial1.log"; exit 1; }
echo "   guest ready after $(($(date +%s) - t0)) s"

echo "== boot 1: host -> guest with hvsock nc e2e-vm SERVICE"
head -c 262144 /dev/urandom >"$work/echo.in"
"$hvsock" nc e2e-vm guest-echo <"$work/echo.in" >"$work/echo.out" || fail "hvsock nc to guest-echo exited $?"
cmp -s "$work/echo.in" "$work/echo.out" && echo "  host->guest echo: 256 KiB back after the host half-closed" ||
        fail "host->guest echo: data differs ($(wc -c <"$work/echo.out") bytes back)"

"$peer" send 64 44 -- "$hvsock" nc e2e-vm guest-sink >"$work/h2g-send.log" 2>&1 || true
"$peer" recv 64 45 -- "$hvsock" nc e2e-vm guest-source >"$work/h2g-recv.log" 2>&1 || true
e2e_expect "$work/h2g-send.log" E2E-PEER-SEND-OK 1 || failed=1
e2e_expect "$work/h2g-recv.log" E2E-PEER-RECV-OK 1 || failed=1

# 100 nc processes at once, each with its own bytes.
i=0
while [ $i -lt 100 ]; do
        head -c 4096 /dev/urandom >"$work/many.in.$i"
        "$hvsock" nc e2e-vm guest-echo <"$work/many.in.$i" >"$work/many.out.$i" 2>"$work/many.err.$i" &
        echo $! >"$work/many.pid.$i"
        i=$((i + 1))
done
i=0 ok=0
while [ $i -lt 100 ]; do
        wait "$(cat "$work/many.pid.$i")" 2>/dev/null || true
        if cmp -s "$work/many.in.$i" "$work/many.out.$i"; then ok=$((ok + 1)); else cat "$work/many.err.$i"; fi
        i=$((i + 1))
done
[ $ok -eq 100 ] && echo "  host->guest: 100 concurrent hvsock nc connections, each echoed its own 4 KiB" ||
        fail "host->guest concurrent: $ok of 100 echoed intact"

# 1000 CONNECT lines at once to a guest service that accepts them all: the
# clients beyond --max-pending-clients wait in the device's listen backlog,
# none is closed unheard, and none is refused.
"$peer" connect-many "$uds" 7004 1000 >"$work/many1000.log" 2>&1 || true
if grep -q E2E-PEER-MANY-OK "$work/many1000.log"; then
        echo "  host->guest: $(sed -n 's/^E2E-PEER-MANY-OK //p' "$work/many1000.log")"
else
        fail "host->guest 1000 simultaneous CONNECTs: $(cat "$work/many1000.log")"
fi
stats=$(vhost_stats)
echo "$stats" | grep -q '"host_refused_max_connections":0' || fail "host clients were refused: $stats"

if "$hvsock" nc -w 5000 e2e-vm 7999 </dev/null >/dev/null 2>"$work/refused.err"; then
        fail "host->guest: a guest port nobody listens on accepted a connection"
else
        echo "  host->guest refused where the guest does not listen: $(cat "$work/refused.err")"
fi

open_conn open1 "before the kill" "the QEMU kill"
e2e_bg "$peer" serve "${uds}_5009" echo >/dev/null 2>&1
barrier=$!
e2e_wait_marker "$work/serial1.log" E2E-PHASE1-DONE "$qpid" 200 || failed=1
kill "$barrier"
refused=$(vhost_stats | sed -n 's/.*"refused":\([0-9]*\).*/\1/p')
[ "${refused:-0}" -ge 3 ] || fail "hvsock-vhost counted ${refused:-no} refused guest connects, expected at least the 3 scenarios"

echo "== SIGKILL QEMU while hvsock-vhost keeps running"
kill -KILL "$(cat "$work/qemu.pid")"
st=0
wait "$qpid" || st=$?
[ $st -eq 137 ] || fail "run-qemu exited $st after the SIGKILL, expected 137"
expect_closed "the QEMU kill"
kill -0 "$vpid" 2>/dev/null || { fail "hvsock-vhost died with QEMU"; cat "$work/vhost.log"; exit 1; }
if "$hvsock" nc -w 5000 e2e-vm guest-echo </dev/null >/dev/null 2>"$work/noguest.err"; then
        fail "a host connect succeeded with no guest"
else
        echo "  host connect with no guest refused: $(cat "$work/noguest.err")"
fi

# ---- boot 2 ----
echo "== boot 2: same hvsock-vhost, new QEMU"
boot "$work/serial2.log" hvsock.phase=2 --reboot
e2e_wait_marker "$work/serial2.log" E2E-GUEST-READY "$qpid" 200 || { cat "$work/serial2.log"; exit 1; }
echo_once "after the restart"

echo "== VM paused and resumed (QEMU monitor: stop, cont)"
open_conn open-pause "before the pause" "the pause"
monitor stop >/dev/null
monitor "info status" | grep -q "VM status: paused" || fail "the VM did not pause: $(monitor 'info status')"
vhost_stats | grep -q '"paused":true' || fail "hvsock-vhost does not report the pause: $(vhost_stats)"
# Longer than the device's --timeout (2 s): an established connection has no
# deadline, and the pause must not give it one.
sleep 3
# In a subshell: a closed connection is a SIGPIPE for it, not for the test.
(echo "during the pause" >&3) 2>/dev/null || fail "the connection open across the pause was closed during it"
sleep 1
grep -q "during the pause" "$work/open-pause.out" && fail "the guest echoed while paused"
monitor cont >/dev/null
n=100
until grep -q "during the pause" "$work/open-pause.out" || [ $n -eq 0 ]; do sleep 0.1; n=$((n - 1)); done
if grep -q "during the pause" "$work/open-pause.out"; then
        echo "  the connection open across the pause echoed what the host sent while paused"
else
        fail "the connection open across the pause did not echo after cont (nc $(kill -0 "$openpid" 2>/dev/null && echo runs || echo ended))"
fi
exec 3>&-
wait "$openpid" || fail "hvsock nc across the pause exited $?"
vhost_stats | grep -q '"paused":false' || fail "hvsock-vhost still reports a pause: $(vhost_stats)"

echo "== guest reboot inside the same QEMU"
open_conn open2 "before the reboot" "the guest reboot"
e2e_bg "$peer" serve "${uds}_5010" echo >/dev/null 2>&1
rebooter=$!
e2e_bg "$peer" serve "${uds}_5009" echo >/dev/null 2>&1
barrier=$!
e2e_wait_marker "$work/serial2.log" E2E-REBOOTING "$qpid" 200 || { cat "$work/serial2.log"; exit 1; }
# One reboot only: the second pass finds the service disabled (RST at once).
hv service disable reboot-request
kill "$rebooter" "$barrier"
e2e_wait_marker "$work/serial2.log" E2E-GUEST-READY "$qpid" 200 2 || { cat "$work/serial2.log"; exit 1; }
expect_closed "the guest reboot"
echo_once "after the guest reboot"
e2e_bg "$peer" serve "${uds}_5009" echo >/dev/null 2>&1
st=0
wait "$qpid" || st=$?
[ $st -eq 0 ] || fail "boot 2: run-qemu exited $st"

echo "== results"
tr -d '\r' <"$work/serial1.log" >"$work/guest1.txt"
tr -d '\r' <"$work/serial2.log" >"$work/guest2.txt"
for m in E2E-ECHO-OK E2E-SEND-OK E2E-RECV-OK E2E-MANY-OK E2E-SOURCE-OK E2E-ACCEPT-MANY-OK E2E-WAIT-HOST-OK \
        "E2E-PHASE1-DONE 0"; do
        e2e_expect "$work/guest1.txt" "$m" 1 || failed=1
done
e2e_expect "$work/guest1.txt" E2E-REFUSED-OK 3 || failed=1
# Two passes through the scenario: before and after the reboot.
for m in E2E-ECHO-OK E2E-WAIT-HOST-OK E2E-GUEST-READY; do
        e2e_expect "$work/guest2.txt" "$m" 2 || failed=1
done
for m in E2E-REBOOTING "E2E-PHASE2-DONE 0" "HVSOCK-GUEST-EXIT 0"; do
        e2e_expect "$work/guest2.txt" "$m" 1 || failed=1
done
e2e_expect "$work/peer-sink.log" E2E-PEER-SINK-OK 1 || failed=1
e2e_expect "$work/peer-source.log" E2E-PEER-SOURCE-OK 1 || failed=1
if grep -h -- '-FAIL' "$work/guest1.txt" "$work/guest2.txt" "$work"/peer-*.log; then
        fail "failures reported above"
fi

# hvsock-vhost served both QEMUs and stops cleanly on SIGTERM.
kill -TERM "$vpid"
st=0
wait "$vpid" || st=$?
[ $st -eq 0 ] || fail "hvsock-vhost exited $st on SIGTERM"
if [ -s "$work/vhost.log" ]; then echo "hvsock-vhost stderr:"; cat "$work/vhost.log"; fi
if [ $failed -ne 0 ]; then
        echo "--- guest console, boot 1"; cat "$work/guest1.txt"
        echo "--- guest console, boot 2"; cat "$work/guest2.txt"
        exit 1
fi
echo "PASS: hvsock-vhost scenarios with a real guest, across a QEMU SIGKILL and restart, a VM pause and a guest reboot"
