#!/bin/sh
# hvsock exec against hvsock-sessiond over the local transport: exit codes,
# separate stdout and stderr, output streamed before the command ends, 200k
# lines of stdin, signals both ways, timeouts, spawn errors, fds the command
# gets, malformed frames from a raw client (the daemon goes on), the session
# limit, and no zombie or stray process left behind.
. "$(dirname "$0")/lib.sh"

SESSIOND=${SESSIOND_BIN:-$BUILD_DIR/src/session/hvsock-sessiond}
[ -x "$SESSIOND" ] || fail "hvsock-sessiond is not built at $SESSIOND"
command -v sha256sum >/dev/null || skip "sha256sum is not installed"
export HVSOCK_TRANSPORTS=local

bg "$SESSIOND" --listen loopback 2>"$T/d.err"
D=$BG
wait_file_text "$T/d.err" "listening on"
check_contains "$T/d.err" "00005e55-facb-11e6-bd58-64006a7986d3 (port 24149)" "the daemon names its service ID and port"

# ---- exit codes, streams, argv as is ----
expect 0 "true exits 0" "$H" exec loopback -- true
expect 3 "the remote exit code comes back" "$H" exec loopback -- sh -c 'exit 3'
expect 0 "stdout and stderr" "$H" exec loopback -- sh -c 'echo to-out; echo to-err >&2'
check_out "to-out" "stdout has only stdout"
check_eq "to-err" "$(cat "$T/err")" "stderr has only stderr"
expect 0 "argv is passed as is" "$H" exec loopback -- printf '%s|' 'a b' '$HOME' '*' '' "it's"
check_out "a b|\$HOME|*||it's|" "no shell re-quoting or expansion"
expect 0 "--env and --cwd" "$H" exec loopback --env FOO=bar --env 'SP=a b' --cwd /tmp -- sh -c 'echo "$FOO/$SP/$(pwd)"'
check_out "bar/a b//tmp" "the environment and directory are the ones asked for"
# No pipe in the listing command: the shell would hold its ends for a moment.
expect 0 "the command gets exactly fds 0, 1 and 2" "$H" exec loopback -- sh -c 'ls /proc/$$/fd'
check_out "0
1
2" "no daemon descriptor leaks into the command"

# ---- a daemon that never answers: SIGTERM still ends the client ----
mkdir -p "$T/silent"
bg sh -c 'sleep 600 | HVSOCK_RUNTIME_DIR="$T/silent" "$H" nc -v -l loopback 24149 >/dev/null 2>"$T/silent.err"'
S=$BG
wait_file_text "$T/silent.err" "listening on"
bg sh -c 'HVSOCK_RUNTIME_DIR="$T/silent" exec "$H" exec loopback -- true 2>"$T/silent.cerr"'
c=$BG
wait_file_text "$T/silent.err" "connection from"
kill -TERM "$c"
wait_exit "$c" "a client waiting for a silent daemon"
check_eq 143 "$RC" "SIGTERM ends a client whose command never started: exit 143"
check_contains "$T/silent.cerr" "before the command started" "the client says the command never started"
kill -TERM "-$S" 2>/dev/null

# ---- errors before the command runs ----
expect 127 "a missing command exits 127" "$H" exec loopback -- no-such-command-hvsock
check_err "command 'no-such-command-hvsock' not found" "the message names the command"
expect 126 "a missing --cwd exits 126" "$H" exec loopback --cwd /nonexistent-hvsock -- true
check_err "'/nonexistent-hvsock'" "the message names the directory"
expect 2 "no command" "$H" exec loopback
expect 2 "a malformed --env" "$H" exec loopback --env NOEQUALS -- true
check_err "'NOEQUALS'" "the message names the --env value"
expect 2 "a bad --timeout" "$H" exec loopback --timeout 0 -- true
if [ "$(id -u)" = 0 ]; then
        expect 0 "--user switches user" "$H" exec loopback --user nobody -- id -un
        check_out "nobody" "the command runs as the user asked for"
else
        expect 255 "--user needs a daemon running as root" "$H" exec loopback --user root -- id -un
        check_err "does not run as root" "the message says why"
fi
expect 255 "an unknown --user" "$H" exec loopback --user no-such-user-hvsock -- true
check_err "unknown user 'no-such-user-hvsock'" "the message names the user"

# ---- output arrives while the command still runs ----
# The remote command prints "first", then waits for a file that this test
# creates only after reading "first": had output been held until exit, the
# wait below would fail (the command cannot exit without the file).
bg sh -c 'exec "$H" exec loopback -- sh -c "echo first; while [ ! -e \"$T/go\" ]; do sleep 0.05; done; echo second" >"$T/stream.out" 2>"$T/stream.err"'
c=$BG
wait_file_text "$T/stream.out" "first"
check_not_contains "$T/stream.out" "second" "only the first line so far: the command is still waiting"
kill -0 "$c" 2>/dev/null || fail "the client ended before the command could"
pass "\"first\" arrived while the command was still running"
touch "$T/go"
wait_exit "$c" "streaming client"
check_eq 0 "$RC" "the streaming command exits 0"
check_eq "first
second" "$(cat "$T/stream.out")" "both lines arrive in order"

# ---- 200k lines of stdin through cat ----
seq 1 200000 >"$T/lines"
IN=$T/lines TIMEOUT=120 expect 0 "200000 lines through a remote cat" "$H" exec loopback -- cat
check_eq "$(sha256sum <"$T/lines" | cut -d' ' -f1)" "$(sha256sum <"$T/out" | cut -d' ' -f1)" "the output has the same SHA-256"
head -c 3000000 /dev/urandom >"$T/bin"
IN=$T/bin TIMEOUT=120 expect 0 "3 MB of binary stdin to stdout and stderr at once" "$H" exec loopback -- sh -c 'tee /dev/stderr'
check_eq "$(sha256sum <"$T/bin" | cut -d' ' -f1)" "$(sha256sum <"$T/out" | cut -d' ' -f1)" "stdout is binary-clean"
check_eq "$(sha256sum <"$T/bin" | cut -d' ' -f1)" "$(sha256sum <"$T/err" | cut -d' ' -f1)" "stderr is binary-clean"
expect 0 "a command that reads no stdin" "$H" exec loopback -- sh -c 'exec 0<&-; echo closed' <"$T/bin"
IN=$T/bin expect 0 "a command that closes its stdin early" "$H" exec loopback -- head -c 10
check_eq 10 "$(wc -c <"$T/out")" "head got its 10 bytes; the rest was dropped without a hang"

# ---- signals ----
expect 143 "a command killed by SIGTERM exits 143" "$H" exec loopback -- sh -c 'kill -TERM $$'
expect 137 "a command killed by SIGKILL exits 137" "$H" exec loopback -- sh -c 'kill -KILL $$'
bg sh -c 'exec "$H" exec loopback -- sh -c "trap \"echo got-int; exit 42\" INT; echo ready; while :; do sleep 0.05; done" >"$T/int.out"'
c=$BG
wait_file_text "$T/int.out" "ready"
kill -INT "$c"
wait_exit "$c" "client interrupted with SIGINT"
check_eq 42 "$RC" "SIGINT reached the remote command (its trap exits 42)"
check_contains "$T/int.out" "got-int" "the remote trap ran"
TIMEOUT=60 expect 124 "--timeout kills the command" "$H" exec loopback --timeout 1 -- sleep 30
check_err "timed out after 1 s" "the message says it timed out"

# ---- a raw client sending malformed frames gets ERROR; others go on ----
bg sh -c 'exec "$H" exec loopback -- sh -c "echo long-ready; while [ ! -e \"$T/go2\" ]; do sleep 0.05; done; echo long-done" >"$T/long.out"'
long=$BG
wait_file_text "$T/long.out" "long-ready"
printf 'GARB\000\000\000\000more garbage' >"$T/garbage"
IN=$T/garbage expect 0 "a raw client sends garbage" "$H" nc loopback 24149
check_contains "$T/out" "malformed frame header" "it gets an ERROR frame saying why"
# A valid HELLO, then a DATA header claiming 1 MiB.
printf '\001\003\000\000\010\000\000\000\001\000\001\000\000\000\000\000\005\000\000\000\000\000\020\000' >"$T/big"
IN=$T/big expect 0 "a raw client sends an oversized frame" "$H" nc loopback 24149
check_contains "$T/out" "frame larger than the maximum" "it gets an ERROR frame about the size"
# A valid HELLO, then DATA before any EXEC.
printf '\001\003\000\000\010\000\000\000\001\000\001\000\000\000\000\000\005\000\000\000\001\000\000\000x' >"$T/early"
IN=$T/early expect 0 "a raw client sends data before EXEC" "$H" nc loopback 24149
check_contains "$T/out" "expected EXEC, got DATA" "it gets an ERROR frame naming the frame"
# A HELLO with versions the daemon does not speak.
printf '\001\003\000\000\010\000\000\000\011\000\012\000\000\000\000\000' >"$T/v9"
IN=$T/v9 expect 0 "a raw client asks for versions 9..10" "$H" nc loopback 24149
check_contains "$T/out" "client speaks versions 9..10" "it gets a VERSION error"
expect 0 "a new session after the bad ones" "$H" exec loopback -- echo still-serving
check_out "still-serving" "the daemon still serves"
kill -0 "$long" 2>/dev/null || fail "the long session ended early"
touch "$T/go2"
wait_exit "$long" "the long session"
check_eq 0 "$RC" "the session open during the bad ones finishes"
check_eq "long-ready
long-done" "$(cat "$T/long.out")" "its output is complete"
check_contains "$T/d.err" "protocol error" "the daemon logs the bad sessions"

# ---- a client that goes away: the command is killed and reaped ----
bg sh -c 'exec "$H" exec loopback -- sh -c "echo \$\$ >\"$T/orphan.pid\"; echo started; exec sleep 300" >"$T/orphan.out"'
c=$BG
wait_file_text "$T/orphan.out" "started"
opid=$(cat "$T/orphan.pid")
kill -KILL "$c"
wait_exit "$c" "killed client"
i=0
while kill -0 "$opid" 2>/dev/null && [ "$(ps -o stat= -p "$opid" | cut -c1)" != Z ]; do
        i=$((i + 1))
        [ $i -le 200 ] || fail "the command of a vanished client still runs after 10 s"
        sleep 0.05
done
pass "the command of a vanished client is killed"

# ---- no zombies, no children left ----
i=0
while [ -n "$(ps -o pid= --ppid "$D")" ]; do
        i=$((i + 1))
        [ $i -le 200 ] || { ps -o pid,stat,args --ppid "$D" >&2; fail "the daemon still has children after 10 s"; }
        sleep 0.05
done
pass "the daemon has no children (no zombies) once its sessions ended"
kill -0 "$D" || fail "the daemon died"
pass "the daemon is still running"

# ---- the session limit ----
HVSOCK_RUNTIME_DIR=$T/run2 bg "$SESSIOND" --listen loopback --max-sessions 1 2>"$T/d2.err"
D2=$BG
wait_file_text "$T/d2.err" "listening on"
HVSOCK_RUNTIME_DIR=$T/run2 bg sh -c 'exec "$H" exec loopback -- sh -c "echo one-ready; while [ ! -e \"$T/go3\" ]; do sleep 0.05; done" >"$T/one.out"'
one=$BG
wait_file_text "$T/one.out" "one-ready"
HVSOCK_RUNTIME_DIR=$T/run2 expect 255 "a second session beyond --max-sessions 1" "$H" exec loopback -- true
check_err "maximum of 1 sessions" "the message says the daemon is busy"
touch "$T/go3"
wait_exit "$one" "the one allowed session"
check_eq 0 "$RC" "the allowed session finishes"
HVSOCK_RUNTIME_DIR=$T/run2 expect 0 "a session once the first ended" "$H" exec loopback -- true

# ---- nothing listens ----
HVSOCK_RUNTIME_DIR=$T/run3 expect 255 "no daemon" "$H" exec loopback -- true
check_err "is hvsock-sessiond running there?" "the message gives a hint"

# ---- SIGTERM stops the daemon cleanly ----
kill -TERM "$D"
wait_exit "$D" "daemon after SIGTERM"
check_eq 0 "$RC" "the daemon exits 0 on SIGTERM"
expect 2 "sessiond: an unknown --auth mode" "$SESSIOND" --auth kerberos
check_err "expected host or pam" "the message names the modes"
expect 2 "sessiond: an unknown option" "$SESSIOND" --bogus
expect 0 "sessiond --help" "$SESSIOND" --help
check_contains "$T/out" "Usage: hvsock-sessiond" "the help shows the usage"

finish
