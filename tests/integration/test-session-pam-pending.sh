#!/bin/sh
# hvsock-sessiond --auth pam keeps serving while one session's PAM
# transaction is stuck: a gate module in the auth stack (pam_exec running a
# script that waits until the test opens the gate) holds one session's
# authentication while another session runs a command to completion. Also:
# the PAM session is opened before the command and closed after it, its
# environment reaches the command, a refused account gets a clear error,
# and a session closed (or a daemon stopped) while its PAM transaction is
# pending leaves no process, zombie or descriptor behind. hvsock cp goes the
# same way: its helper runs as the user in a PAM session, both ways, and a
# copy closed while PAM is pending, or killed mid-file, leaves nothing.
# Nothing here depends on timing: every wait is for a state to be reached.
. "$(dirname "$0")/lib.sh"

SESSIOND=${SESSIOND_BIN:-$BUILD_DIR/src/session/hvsock-sessiond}
[ -x "$SESSIOND" ] || fail "hvsock-sessiond is not built at $SESSIOND"
export HVSOCK_TRANSPORTS=local

WRAPPER=""
MATRIX=""
EXEC=""
ENVMOD=""
for d in /usr/lib/*-linux-gnu /usr/lib64 /usr/lib; do
        [ -z "$WRAPPER" ] && [ -e "$d/libpam_wrapper.so" ] && WRAPPER=$d/libpam_wrapper.so
        [ -z "$MATRIX" ] && [ -e "$d/pam_wrapper/pam_matrix.so" ] && MATRIX=$d/pam_wrapper/pam_matrix.so
        [ -z "$EXEC" ] && [ -e "$d/security/pam_exec.so" ] && EXEC=$d/security/pam_exec.so
        [ -z "$ENVMOD" ] && [ -e "$d/security/pam_env.so" ] && ENVMOD=$d/security/pam_env.so
done
[ -n "$WRAPPER" ] && [ -n "$MATRIX" ] || skip "pam_wrapper is not installed (Debian: libpam-wrapper)"
[ -n "$EXEC" ] && [ -n "$ENVMOD" ] || skip "pam_exec and pam_env are not installed (Debian: libpam-modules)"

PRELOAD=$WRAPPER
ASAN_LIB=$(ldd "$SESSIOND" 2>/dev/null | awk '/libasan/ { print $3 }')
[ -n "$ASAN_LIB" ] && PRELOAD="$ASAN_LIB $WRAPPER"

ME=$(id -un)
mkdir -p "$T/pam.d"
printf '%s:right-pass:hvsock-sessiond\n' "$ME" >"$T/passdb"
[ "$ME" = root ] && printf 'nobody:nobody-pass:hvsock-sessiond\n' >>"$T/passdb"

# The gate: armed, it stops the next authentication until gate-open
# exists, after saying which PAM process it holds. It gives up when that
# process dies, so a killed session leaves no script behind either.
cat >"$T/gate.sh" <<EOT
#!/bin/sh
[ "\$PAM_TYPE" = auth ] && [ -e "$T/gate-armed" ] || exit 0
rm -f "$T/gate-armed"
echo "\$PPID" >"$T/gate.pid.new" && mv "$T/gate.pid.new" "$T/gate.pid"
echo "\$\$" >"$T/gate-script.pid.new" && mv "$T/gate-script.pid.new" "$T/gate-script.pid"
echo reached >"$T/gate-reached"
while [ ! -e "$T/gate-open" ]; do
        kill -0 "\$PPID" 2>/dev/null || exit 1
        sleep 0.05
done
exit 0
EOT
# The account stack refuses while deny-account exists.
cat >"$T/account.sh" <<EOT
#!/bin/sh
[ ! -e "$T/deny-account" ]
EOT
# The session stack logs its calls, in the order PAM makes them.
cat >"$T/session.sh" <<EOT
#!/bin/sh
echo "\$PAM_TYPE \$PAM_USER" >>"$T/pam.log"
EOT
chmod +x "$T/gate.sh" "$T/account.sh" "$T/session.sh"
echo "HVSOCK_FROM_PAM=pam-env-value" >"$T/pam-env"
cat >"$T/pam.d/hvsock-sessiond" <<EOT
auth required $EXEC quiet $T/gate.sh
auth required $MATRIX passdb=$T/passdb
account required $MATRIX passdb=$T/passdb
account required $EXEC quiet $T/account.sh
session required $EXEC quiet $T/session.sh
session required $ENVMOD conffile=/dev/null envfile=$T/pam-env
EOT

bg env LD_PRELOAD="$PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pam.d" "$SESSIOND" --listen loopback --auth pam 2>"$T/d.err"
D=$BG
wait_file_text "$T/d.err" "listening on"
FDS_IDLE=$(ls "/proc/$D/fd" | wc -l)

: >"$T/pam.log"
printf '%s:right-pass\n' "$ME" >"$T/good"
printf 'nobody:nobody-pass\n' >"$T/nobody"
chmod 600 "$T/good" "$T/nobody"

arm_gate() {
        rm -f "$T/gate-open" "$T/gate-reached" "$T/gate.pid" "$T/gate-script.pid"
        : >"$T/gate-armed"
}

# wait_gone PID DESCRIPTION: waits up to 20 s for PID to end (not our child).
wait_gone() {
        _i=0
        while kill -0 "$1" 2>/dev/null; do
                _i=$((_i + 1))
                [ "$_i" -le 400 ] || fail "$2: process $1 still there after 20 s"
                sleep 0.05
        done
        pass "$2"
}

# wait_no_children DESCRIPTION: waits up to 20 s until the daemon has no
# child process at all, zombies included.
wait_no_children() {
        _i=0
        while [ -n "$(ps -o pid= --ppid "$D")" ]; do
                _i=$((_i + 1))
                [ "$_i" -le 400 ] || { ps -o pid,stat,args --ppid "$D" >&2; fail "$1: the daemon still has children"; }
                sleep 0.05
        done
        pass "$1"
}

# wait_pam_settled: waits until every PAM session opened has been closed (a
# PAM process closes its session after the client has its EXIT), then
# empties the PAM log.
wait_pam_settled() {
        _i=0
        while [ "$(grep -c open_session "$T/pam.log")" != "$(grep -c close_session "$T/pam.log")" ]; do
                _i=$((_i + 1))
                [ "$_i" -le 400 ] || { cat "$T/pam.log" >&2; fail "PAM sessions still open after 20 s"; }
                sleep 0.05
        done
        : >"$T/pam.log"
}

# ---- one session's PAM is stuck; another runs to completion ----
arm_gate
bg sh -c '"$H" exec loopback --credential-file "$T/good" -- echo held >"$T/a.out" 2>"$T/a.err"'
A=$BG
wait_file_text "$T/gate-reached" reached
expect 0 "a second session runs while the first one's PAM is held" "$H" exec loopback --credential-file "$T/good" -- echo other
check_out other "the second session's output"
kill -0 "$A" 2>/dev/null || fail "the held session ended before its gate opened"
[ ! -s "$T/a.out" ] || fail "the held session ran its command before PAM accepted it"
pass "the held session is still waiting for PAM, nothing ran"
: >"$T/gate-open"
wait_exit "$A" "the held session"
check_eq 0 "$RC" "the held session succeeds once PAM goes on"
check_eq held "$(cat "$T/a.out")" "the held session's output"

# ---- the PAM session wraps the command ----
wait_pam_settled
expect 0 "a command that writes to the PAM log" "$H" exec loopback --credential-file "$T/good" -- \
        sh -c 'echo "command $USER" >>"$1"' sh "$T/pam.log"
wait_file_text "$T/pam.log" "close_session"
check_eq "open_session $ME
command $ME
close_session $ME" "$(cat "$T/pam.log")" "open_session before the command, close_session after it"
expect 0 "the PAM environment" "$H" exec loopback --credential-file "$T/good" -- sh -c 'echo "$HVSOCK_FROM_PAM"'
check_out pam-env-value "pam_env's variable reaches the command"

if [ "$ME" = root ]; then
        expect 0 "another user, through PAM" "$H" exec loopback --credential-file "$T/nobody" -- id -un
        check_out nobody "the command runs as the authenticated user"
        expect 0 "the user's groups" "$H" exec loopback --credential-file "$T/nobody" -- id -G
        check_eq "$(id -G nobody)" "$(cat "$T/out")" "the command has the user's groups (initgroups)"
fi

# ---- a refused account: a clear error, nothing runs ----
wait_pam_settled
: >"$T/deny-account"
expect 255 "a refused account" "$H" exec loopback --credential-file "$T/good" -- touch "$T/marker-account"
check_err "the account of user '$ME' may not log in" "the error says the account is refused"
[ ! -e "$T/marker-account" ] || fail "the command ran for a refused account"
[ ! -s "$T/pam.log" ] || fail "a PAM session was opened for a refused account"
pass "nothing ran and no PAM session was opened"
rm -f "$T/deny-account"

# ---- a session closed while its PAM is pending ----
arm_gate
bg "$H" exec loopback --credential-file "$T/good" -- touch "$T/marker-closed"
C=$BG
wait_file_text "$T/gate-reached" reached
PAM_PID=$(cat "$T/gate.pid")
SCRIPT_PID=$(cat "$T/gate-script.pid")
kill -KILL "$C"
wait_exit "$C" "the client killed while its PAM was pending"
wait_gone "$PAM_PID" "the daemon kills the pending PAM process of a closed session"
wait_gone "$SCRIPT_PID" "its module's helper ends too"
wait_no_children "the daemon reaps it: no zombie"
[ ! -e "$T/marker-closed" ] || fail "the closed session's command ran"
pass "the closed session's command never ran"
expect 0 "the daemon goes on serving" "$H" exec loopback --credential-file "$T/good" -- true

# ---- cp: the PAM process runs the copy helper in its PAM session ----
wait_pam_settled
head -c 300000 /dev/urandom >"$T/cp-src"
expect 0 "cp to the daemon through PAM" "$H" cp --credential-file "$T/good" "$T/cp-src" "loopback:$T/cp-put"
cmp -s "$T/cp-src" "$T/cp-put" || fail "the file copied through PAM differs"
pass "the file copied through PAM is intact"
wait_file_text "$T/pam.log" "close_session"
check_eq "open_session $ME
close_session $ME" "$(cat "$T/pam.log")" "the copy runs in a PAM session, closed after it"
: >"$T/pam.log"
expect 0 "cp from the daemon through PAM" "$H" cp --credential-file "$T/good" "loopback:$T/cp-src" "$T/cp-get"
cmp -s "$T/cp-src" "$T/cp-get" || fail "the file fetched through PAM differs"
pass "the file fetched through PAM is intact"
wait_pam_settled
if [ "$ME" = root ]; then
        # The user may pass through the test's directory (not list it) into one it may write.
        chmod 711 "$T"
        mkdir -m 1777 "$T/cp-drop"
        expect 0 "cp as another user, through PAM" "$H" cp --credential-file "$T/nobody" "$T/cp-src" "loopback:$T/cp-drop/f"
        check_eq nobody "$(stat -c %U "$T/cp-drop/f")" "the copy helper runs as the authenticated user"
        echo secret >"$T/cp-secret"
        chmod 600 "$T/cp-secret"
        expect 1 "cp of a file the user may not read" "$H" cp --credential-file "$T/nobody" "loopback:$T/cp-secret" "$T/cp-stolen"
        [ ! -e "$T/cp-stolen" ] || fail "the copy helper read a file its user may not read"
        pass "the copy helper has the user's rights, not the daemon's"
        wait_pam_settled
fi

# A copy whose client goes away while its PAM transaction is pending.
arm_gate
bg "$H" cp --credential-file "$T/good" "$T/cp-src" "loopback:$T/cp-closed"
C=$BG
wait_file_text "$T/gate-reached" reached
PAM_PID=$(cat "$T/gate.pid")
kill -KILL "$C"
wait_exit "$C" "the cp client killed while its PAM was pending"
wait_gone "$PAM_PID" "the daemon kills the pending PAM process of a closed copy"
wait_no_children "the daemon reaps it: no zombie"
[ ! -e "$T/cp-closed" ] || fail "the closed copy wrote its file"
pass "the closed copy wrote nothing"

# A copy whose client is killed mid-file, once the helper owns the
# connection: the helper ends, and its PAM process closes the PAM session.
wait_pam_settled
mkfifo "$T/cp-fifo"
bg sh -c 'head -c 1048576 /dev/urandom >"$T/cp-fifo.data"; { cat "$T/cp-fifo.data"; echo fed >"$T/cp-fed"; exec sleep 600; } >"$T/cp-fifo"'
FEEDER=$BG
bg "$H" cp --credential-file "$T/good" "$T/cp-fifo" "loopback:$T/cp-mid"
C=$BG
wait_file_text "$T/cp-fed" fed
kill -KILL "$C"
wait_exit "$C" "the cp client killed mid-file"
wait_no_children "the helper and its PAM process end with the connection"
check_eq "open_session $ME
close_session $ME" "$(cat "$T/pam.log")" "the PAM session of the interrupted copy is closed"
[ ! -e "$T/cp-mid" ] || fail "the interrupted copy left its file"
pass "the interrupted copy left nothing"
kill -TERM "-$FEEDER"
: >"$T/pam.log"

# ---- no descriptor left behind ----
wait_no_children "every session's processes are gone"
_i=0
while [ "$(ls "/proc/$D/fd" | wc -l)" != "$FDS_IDLE" ]; do
        _i=$((_i + 1))
        [ "$_i" -le 400 ] || { ls -l "/proc/$D/fd" >&2; fail "the idle daemon holds other descriptors than at start"; }
        sleep 0.05
done
pass "the idle daemon holds the descriptors it had at start"
check_not_contains "$T/d.err" "right-pass" "the daemon never logs a password"

# ---- the daemon stopped while a PAM transaction is pending ----
arm_gate
bg "$H" exec loopback --credential-file "$T/good" -- true
E=$BG
wait_file_text "$T/gate-reached" reached
PAM_PID=$(cat "$T/gate.pid")
kill -TERM "$D"
wait_exit "$D" "daemon after SIGTERM"
check_eq 0 "$RC" "the daemon exits 0 on SIGTERM with a PAM transaction pending"
wait_gone "$PAM_PID" "the pending PAM process does not outlive the daemon"
wait_exit "$E" "the client of the stopped daemon"
[ "$RC" != 0 ] || fail "the client of a stopped daemon reported success"
pass "the client of the stopped daemon fails"

finish
