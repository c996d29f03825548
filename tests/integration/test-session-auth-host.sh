#!/bin/sh
# hvsock-sessiond --auth host trusts the hypervisor's peer, not any local
# user: over the local transport (a UNIX socket) it takes only root and its
# own uid, by SO_PEERCRED. Another user (nobody, through setpriv) who can
# reach the socket file gets ERROR PERMISSION naming the rule, nothing runs,
# and the daemon logs it. The socket is opened up explicitly (chmod 0666)
# so the test proves the daemon's check, not the file's mode.
. "$(dirname "$0")/lib.sh"

S=$BUILD_DIR/src/session/hvsock-sessiond
[ "$(id -u)" = 0 ] || skip "needs root to run a client as another user (setpriv)"
command -v setpriv >/dev/null || skip "setpriv is not installed (Debian: util-linux)"
NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
$NOBODY true 2>/dev/null || skip "setpriv cannot switch to uid 65534 here"

umask 000
# nobody must reach the registry, the runtime directory and a place to write.
chmod 0755 "$T"
mkdir -m 1777 "$T/pub"

bg "$S" --listen loopback 2>"$T/d.err"
D=$BG
wait_file_text "$T/d.err" "(port 24149)"
sock=$HVSOCK_RUNTIME_DIR/local/24149
[ -S "$sock" ] || fail "no local socket at $sock"
chmod 0755 "$HVSOCK_RUNTIME_DIR" "$HVSOCK_RUNTIME_DIR/local"
chmod 0666 "$sock"

# ---- another local user: refused, nothing runs ----
expect 255 "uid 65534 is refused by --auth host" $NOBODY "$H" exec loopback -- touch "$T/pub/by-nobody"
check_err "--auth host accepts local connections only from root; uid 65534 is refused (use --auth pam)" \
        "the message names the rule, the uid and the way out"
[ ! -e "$T/pub/by-nobody" ] || fail "the command of a refused peer ran (as root)"
pass "nothing ran for the refused peer"
check_contains "$T/d.err" "uid 65534 is refused" "the daemon logs the refusal"
echo data >"$T/pub/src"
expect 1 "cp from uid 65534 is refused too" $NOBODY "$H" cp "$T/pub/src" "loopback:$T/pub/copied"
check_err "uid 65534 is refused" "cp reports the refusal"
[ ! -e "$T/pub/copied" ] || fail "a refused peer's copy was written"
pass "nothing was copied for the refused peer"

# ---- root (the daemon's own user here) is served ----
expect 0 "root is served" "$H" exec loopback -- touch "$T/pub/by-root"
[ -e "$T/pub/by-root" ] || fail "root's command did not run"
pass "root's command ran"

kill -TERM "$D"
wait_exit "$D" "hvsock-sessiond after SIGTERM"

# ---- a daemon run by an ordinary user takes root and that user ----
export HVSOCK_RUNTIME_DIR="$T/run-nobody"
# Its own runtime directory, which it must be able to trust: not writable
# by others (this test runs under umask 000).
mkdir -m 0755 "$HVSOCK_RUNTIME_DIR"
chown 65534:65534 "$HVSOCK_RUNTIME_DIR"
bg $NOBODY "$S" --listen loopback 2>"$T/d2.err"
D=$BG
wait_file_text "$T/d2.err" "(port 24149)"
chmod 0666 "$HVSOCK_RUNTIME_DIR/local/24149"
expect 0 "a daemon running as uid 65534 serves uid 65534" $NOBODY "$H" exec loopback -- id -u
check_out 65534 "the command ran as the daemon's user"
expect 0 "... and root" "$H" exec loopback -- id -u
check_out 65534 "root's command ran as the daemon's user"
if $NOBODY true 2>/dev/null && setpriv --reuid=65533 --regid=65533 --clear-groups true 2>/dev/null; then
        expect 255 "... but not another user" setpriv --reuid=65533 --regid=65533 --clear-groups "$H" exec loopback -- true
        check_err "only from root or uid 65534; uid 65533 is refused" "the message names the daemon's uid"
fi
kill -TERM "$D"
wait_exit "$D" "hvsock-sessiond (uid 65534) after SIGTERM"
finish
