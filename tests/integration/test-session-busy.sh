#!/bin/sh
# hvsock-sessiond under load: 200 `hvsock exec` clients start at once against
# --max-sessions 4. The four that get a slot run a command that holds it until
# every other client has finished; each of those others must get the BUSY
# message and exit 255, none a reset, a broken pipe or a timeout.
. "$(dirname "$0")/lib.sh"

S=$BUILD_DIR/src/session/hvsock-sessiond
N=200
MAX=4

bg "$S" --listen loopback --max-sessions $MAX 2>"$T/d.err"
D=$BG
wait_file_text "$T/d.err" "listening on"

# A barrier: every client waits for a shared lock that this test holds,
# then all connect at once when it lets go.
bg flock "$T/go" sleep 600
holder=$BG
i=0
while flock -n -s "$T/go" true; do
        i=$((i + 1))
        [ $i -le 200 ] || fail "flock did not take the barrier lock"
        sleep 0.05
done
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
i=0
while [ "$(ls "$T/c" | grep -c '^rc\.')" -lt $((N - MAX)) ]; do
        i=$((i + 1))
        [ $i -le 1200 ] || fail "after 60 s only $(ls "$T/c" | grep -c '^rc\.') of $((N - MAX)) clients over the limit ended"
        sleep 0.05
done
touch "$T/release"
i=0
while [ "$(ls "$T/c" | grep -c '^rc\.')" -lt $N ]; do
        i=$((i + 1))
        [ $i -le 600 ] || fail "the $MAX running clients did not end within 30 s of their release"
        sleep 0.05
done

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
finish
