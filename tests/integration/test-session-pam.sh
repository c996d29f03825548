#!/bin/sh
# hvsock-sessiond --auth pam with pam_wrapper and pam_matrix (no real
# accounts): the right credentials run the command as the user; a wrong
# password or an unknown user get "The credential is invalid." and nothing
# runs; a client without credentials is refused; cp authenticates too.
. "$(dirname "$0")/lib.sh"

SESSIOND=${SESSIOND_BIN:-$BUILD_DIR/src/session/hvsock-sessiond}
[ -x "$SESSIOND" ] || fail "hvsock-sessiond is not built at $SESSIOND"
export HVSOCK_TRANSPORTS=local

WRAPPER=""
MATRIX=""
for d in /usr/lib/*-linux-gnu /usr/lib64 /usr/lib; do
        [ -z "$WRAPPER" ] && [ -e "$d/libpam_wrapper.so" ] && WRAPPER=$d/libpam_wrapper.so
        [ -z "$MATRIX" ] && [ -e "$d/pam_wrapper/pam_matrix.so" ] && MATRIX=$d/pam_wrapper/pam_matrix.so
done
[ -n "$WRAPPER" ] && [ -n "$MATRIX" ] || skip "pam_wrapper is not installed (Debian: libpam-wrapper)"

# An ASan build must have its runtime first in the preload list.
PRELOAD=$WRAPPER
ASAN_LIB=$(ldd "$SESSIOND" 2>/dev/null | awk '/libasan/ { print $3 }')
[ -n "$ASAN_LIB" ] && PRELOAD="$ASAN_LIB $WRAPPER"

ME=$(id -un)
mkdir -p "$T/pam.d"
printf '%s:right-pass:hvsock-sessiond\nnobody:nobody-pass:hvsock-sessiond\n' "$ME" >"$T/passdb"
cat >"$T/pam.d/hvsock-sessiond" <<EOT
auth required $MATRIX passdb=$T/passdb
account required $MATRIX passdb=$T/passdb
session required $MATRIX passdb=$T/passdb
EOT

bg env LD_PRELOAD="$PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pam.d" "$SESSIOND" --listen loopback --auth pam 2>"$T/d.err"
D=$BG
wait_file_text "$T/d.err" "listening on"
check_contains "$T/d.err" "auth pam" "the daemon says it requires PAM credentials"

printf '%s:right-pass\n' "$ME" >"$T/good"
printf '%s\nright-pass\n' "$ME" >"$T/good2"
printf '%s:wrong-pass\n' "$ME" >"$T/bad"
printf 'no-such-user-hvsock:right-pass\n' >"$T/unknown"
chmod 600 "$T/good" "$T/good2" "$T/bad" "$T/unknown"

# ---- the right credentials ----
expect 0 "user:password runs the command" "$H" exec loopback --credential-file "$T/good" -- id -un
check_out "$ME" "the command runs as the authenticated user"
expect 0 "user and password on two lines" "$H" exec loopback --credential-file "$T/good2" -- sh -c 'echo "$USER"'
check_out "$ME" "the environment names the user"
expect 0 "--user naming the same user" "$H" exec loopback --user "$ME" --credential-file "$T/good" -- true

# ---- refused: nothing runs ----
expect 255 "a wrong password" "$H" exec loopback --credential-file "$T/bad" -- touch "$T/marker-bad"
check_err "The credential is invalid." "the message says the credential is invalid"
[ ! -e "$T/marker-bad" ] || fail "the command ran despite a wrong password"
pass "nothing ran with a wrong password"
expect 255 "an unknown user" "$H" exec loopback --credential-file "$T/unknown" -- touch "$T/marker-unknown"
check_err "The credential is invalid." "the same message for an unknown user"
[ ! -e "$T/marker-unknown" ] || fail "the command ran for an unknown user"
pass "nothing ran for an unknown user"
if [ "$ME" != root ]; then
        expect 255 "another --user than the credential's" "$H" exec loopback --user root --credential-file "$T/good" -- true
else
        expect 255 "another --user than the credential's" "$H" exec loopback --user nobody --credential-file "$T/good" -- touch "$T/marker-other"
        [ ! -e "$T/marker-other" ] || fail "the command ran as another user than the authenticated one"
fi
check_err "credentials are for user '$ME'" "the message names the credentials' user"

# No terminal to ask on (setsid: no controlling terminal), no file: refused before anything runs.
if command -v setsid >/dev/null; then
        expect 255 "no credential file and no terminal" setsid -w "$H" exec loopback -- touch "$T/marker-none"
        check_err "the VM asks for a user and password" "the message says the daemon wants credentials"
        check_err "give --credential-file FILE, or run from a terminal" "the message says what to do"
        check_not_contains "$T/err" "No such device or address" "not the bare errno of /dev/tty"
        [ ! -e "$T/marker-none" ] || fail "the command ran without credentials"
        pass "nothing ran without credentials"
        echo data >"$T/src-none"
        expect 1 "cp with no credential file and no terminal" setsid -w "$H" cp "$T/src-none" "loopback:$T/dst-none"
        check_err "give --credential-file FILE, or run from a terminal" "cp says what to do too"
fi

# ---- client-side errors ----
expect 1 "a missing credential file" "$H" exec loopback --credential-file "$T/nonexistent" -- true
check_err "'$T/nonexistent'" "the message names the file"
printf 'just-a-user-name' >"$T/oneline"
expect 1 "a credential file with no password" "$H" exec loopback --credential-file "$T/oneline" -- true

# ---- cp authenticates the same way ----
echo payload >"$T/src"
expect 0 "cp with credentials" "$H" cp --credential-file "$T/good" "$T/src" "loopback:$T/dst"
check_eq payload "$(cat "$T/dst")" "the file arrived"
expect 1 "cp with a wrong password" "$H" cp --credential-file "$T/bad" "$T/src" "loopback:$T/dst2"
check_err "The credential is invalid." "cp reports the invalid credential"
[ ! -e "$T/dst2" ] || fail "cp copied despite a wrong password"
pass "nothing was copied with a wrong password"

# ---- any local user may try: PAM checks the credentials (unlike --auth host) ----
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null &&
   setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
        chmod 0755 "$T" "$HVSOCK_RUNTIME_DIR" "$HVSOCK_RUNTIME_DIR/local"
        chmod 0666 "$HVSOCK_RUNTIME_DIR/local/24149"
        printf 'nobody:nobody-pass\n' >"$T/nobody-cred"
        chown 65534 "$T/nobody-cred"
        chmod 600 "$T/nobody-cred"
        expect 0 "a local non-root user with credentials is served" \
                setpriv --reuid=65534 --regid=65534 --clear-groups "$H" exec loopback --credential-file "$T/nobody-cred" -- id -un
        check_out nobody "the command runs as the authenticated user"
fi

# ---- the daemon goes on serving and logs without the password ----
expect 0 "the daemon still serves after refusals" "$H" exec loopback --credential-file "$T/good" -- true
check_not_contains "$T/d.err" "right-pass" "the daemon never logs a password"
check_not_contains "$T/d.err" "wrong-pass" "nor a wrong one"
check_contains "$T/d.err" "authentication of user 'no-such-user-hvsock' failed" "the daemon logs the refusal"

kill -TERM "$D"
wait_exit "$D" "daemon after SIGTERM"
check_eq 0 "$RC" "the daemon exits 0 on SIGTERM"

finish
