#!/bin/sh
# hvsock-sessiond under load: 200 `hvsock exec` clients start at once against
# --max-sessions 4. The four that get a slot run a command that holds it until
# every other client has finished; each of those others must get the BUSY
# message and exit 255, none a reset, a broken pipe or a timeout. Then a
# client that never sends its request loses its slot after --request-timeout.
. "$(dirname "$0")/lib.sh"

S=$BUILD_DIR/src/session/hvsock-sessiond
N=200
MAX=4

bg "$S" --listen loopback --max-sessions $MAX 2>"$T/d.err"
D=$BG
wait_file_text "$T/d.err" "listening on"

# within SECONDS WHAT CMD...: runs CMD every 50 ms until it succeeds; fails
# the test with WHAT after SECONDS.
within() {
        _n=$(($1 * 20)) _what=$2
        shift 2
        until "$@"; do
                _n=$((_n - 1))
                [ $_n -gt 0 ] || fail "$_what"
                sleep 0.05
        done
}

# ended N: at least N clients have ended.
ended() {
        [ "$(ls "$T/c" | grep -c '^rc\.')" -ge "$1" ]
}

# A barrier: every client waits for a shared lock that this test holds,
# then all connect at once when it lets go.
bg flock "$T/go" sleep 600
holder=$BG
within 10 "flock did not take the barrier lock" sh -c '! flock -n -s "$1" true' sh "$T/go"
mkdir "$T/c"
i=0
while [ $i -lt $N ]; do
        bg sh -c 'flock -s "$1/go" true
                  "$H" exec loopback -- sh -c "while [ ! -e \"\$0\" ]; do sleep 0.1; done" "$1/release" \
                          </dev/null >/dev/null 2>"$1/c/err.$2"
                  echo $? >"$1/c/rc.$2"' sh "$T" $i
        i=$((i + 1))
done
kill -TERM "-$holder"

# The clients beyond the four slots all end while the four still run.
within 60 "the $((N - MAX)) clients over the limit did not all end within 60 s" ended $((N - MAX))
touch "$T/release"
within 30 "the $MAX running clients did not end within 30 s of their release" ended $N

ran=0 busy=0 other=0
i=0
while [ $i -lt $N ]; do
        rc=$(cat "$T/c/rc.$i")
        if [ "$rc" = 0 ] && [ ! -s "$T/c/err.$i" ]; then
                ran=$((ran + 1))
        elif [ "$rc" = 255 ] && grep -q "the daemon already serves its maximum of $MAX sessions" "$T/c/err.$i"; then
                busy=$((busy + 1))
        else
                other=$((other + 1))
                echo "client $i: exit $rc: $(cat "$T/c/err.$i")" >&2
        fi
        i=$((i + 1))
done
echo "# $N clients, --max-sessions $MAX: $ran ran, $busy got BUSY, $other anything else"
check_eq 0 "$other" "no client over the limit was reset or dropped without the BUSY message"
check_eq "$MAX $((N - MAX))" "$ran $busy" "the $MAX with a slot ran, every other client got BUSY"
grep -q "sessions: the daemon already serves its maximum of $MAX sessions" "$T/d.err" || fail "the daemon did not log the BUSY answers"
pass "the daemon logs the BUSY answers"
expect 0 "the daemon serves again once the slots are free" "$H" exec loopback -- true

kill -TERM "$D"
wait_exit "$D" "hvsock-sessiond after SIGTERM"
check_eq 0 "$RC" "hvsock-sessiond exits 0 on SIGTERM"

# A client that connects and says nothing holds its slot only until
# --request-timeout: with one slot, the next client is served after it.
bg "$S" --listen loopback --max-sessions 1 --request-timeout 1 2>"$T/d2.err"
D=$BG
wait_file_text "$T/d2.err" "listening on"
bg python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
open(sys.argv[2], "w").close()
s.settimeout(20)
got = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    got += b
# HELLO, then ERROR 13 (TIMEOUT), then the close.
sys.exit(0 if b"\x02\x03\x00\x00" in got and b"\x0d\x00\x00\x00" in got else 1)' "$HVSOCK_RUNTIME_DIR/local/24149" "$T/silent-in"
silent=$BG
within 10 "the silent client did not connect" test -e "$T/silent-in"
wait_exit "$silent" "the silent client"
check_eq 0 "$RC" "the silent client got ERROR TIMEOUT and was closed"
check_contains "$T/d2.err" "timed out: no request within 1 s of connecting" "the daemon logs why"
expect 0 "its slot serves the next client" "$H" exec loopback -- true
kill -TERM "$D"
wait_exit "$D" "the second hvsock-sessiond"
finish
