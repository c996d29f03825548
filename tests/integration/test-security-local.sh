#!/bin/sh
# Local attacks on root's hvsock by another user (nobody, under umask 000),
# issue 10 items 4-6: locks another user could hold (the registry's lock, the
# directory of a socket), a live listener taken over through another spelling
# of its path, who may connect to each socket (modes and owners that do not
# come from the umask, --socket-owner and --group), and runtime directories
# another user controls. Every wait is bounded: on the code before the fix
# the hangs end as timeouts, and the test fails.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || skip "the attacks run as another user through setpriv, which takes root"
for tool in setpriv flock socat stat; do
        command -v "$tool" >/dev/null || skip "$tool is not installed"
done

V=$BUILD_DIR/src/vhost/hvsock-vhost
SESSIOND=$BUILD_DIR/src/session/hvsock-sessiond
LOCK=$HVSOCK_CONFIG_DIR/.registry.lock
# A group nobody is not in, by number (the name lookup is --socket-owner's).
OPS_GID=4242

# Command prefixes (split into words where used): nobody with no
# supplementary group; nobody in the operators' group OPS_GID; root.
NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
OPERATOR="setpriv --reuid=65534 --regid=65534 --groups=$OPS_GID"
ROOT=env

# mode_owner PATH: "<octal mode> <uid> <gid>" of PATH itself.
mode_owner() {
        stat -c '%a %u %g' "$1"
}

# wait_for TEST DESCRIPTION: waits up to 10 s for the shell test TEST.
wait_for() {
        _i=0
        until eval "$1"; do
                _i=$((_i + 1))
                [ "$_i" -le 200 ] || fail "timed out waiting for $2"
                sleep 0.05
        done
}

# connects WHO PATH DESCRIPTION / refused WHO PATH DESCRIPTION: whether WHO
# ($NOBODY, $OPERATOR or $ROOT) may connect to the UNIX socket PATH.
connects() {
        # shellcheck disable=SC2086
        TIMEOUT=10 expect 0 "$3" $1 socat -u /dev/null UNIX-CONNECT:"$2"
}
refused() {
        # shellcheck disable=SC2086
        TIMEOUT=10 expect 1 "$3" $1 socat -u /dev/null UNIX-CONNECT:"$2"
        check_err "Permission denied" "$3: permission denied"
}

umask 000
# nobody must reach the files it attacks: mktemp made $T 0700. A directory of
# its own holds what it writes.
chmod 0755 "$T"
mkdir -m 0755 "$T/nobody"
chown 65534:65534 "$T/nobody"

# ---- item 4: the registry's lock ----
expect 0 "root registers a service under umask 000" "$H" service add First --port 5100
check_eq "600 0 0" "$(mode_owner "$LOCK")" "the registry lock file is 0600 and root's"
bg $NOBODY flock -n "$LOCK" sh -c 'touch "$0/held"; exec sleep 60' "$T/nobody" 2>"$T/nobody-flock.err"
held_by=$BG
wait_for '[ -e "$T/nobody/held" ] || ! kill -0 "$held_by" 2>/dev/null' "nobody's flock on the registry lock"
[ ! -e "$T/nobody/held" ] || fail "nobody holds the registry's lock"
check_contains "$T/nobody-flock.err" "Permission denied" "nobody cannot open the registry lock"
TIMEOUT=20 expect 0 "root's service add completes while nobody tries to lock the registry" \
        "$H" service add Second --port 5101

chmod 0644 "$LOCK"
expect 0 "a writer after an older version that left the lock 0644" "$H" service add Third --port 5102
check_eq "600 0 0" "$(mode_owner "$LOCK")" "the lock file left 0644 is repaired to 0600"

bg flock "$LOCK" sh -c 'touch "$0/root-held"; exec sleep 60' "$T"
holder=$BG
wait_for '[ -e "$T/root-held" ]' "another root process to hold the registry lock"
HVSOCK_REGISTRY_LOCK_TIMEOUT_MS=300 TIMEOUT=20 expect 1 "a lock held by another process: the writer gives up" \
        "$H" service add Fourth --port 5103
check_err "hvsock: adding service 'Fourth': the registry is locked by another process" "the message says the registry is locked"
check_err "'$LOCK'" "the message names the lock file"
kill -TERM "-$holder"
wait_exit "$holder" "the root process holding the lock"
expect 0 "once it is released, the writer goes through" "$H" service add Fourth --port 5103

# ---- item 4: locks on the directories of sockets ----
mkdir -m 0755 "$T/run" "$T/run/local" "$T/vm"
bg $NOBODY flock "$T/run/local" sh -c 'touch "$0/dir-held"; exec sleep 60' "$T/nobody"
wait_for '[ -e "$T/nobody/dir-held" ]' "nobody's flock on the local transport's directory"
bg $NOBODY flock "$T/vm" sh -c 'touch "$0/vm-held"; exec sleep 60' "$T/nobody"
wait_for '[ -e "$T/nobody/vm-held" ]' "nobody's flock on the directory of --socket"

bg "$SESSIOND" --listen loopback 2>"$T/d.err"
D=$BG
wait_file_text "$T/d.err" "listening on"
pass "hvsock-sessiond starts while nobody locks \$HVSOCK_RUNTIME_DIR/local"
TIMEOUT=20 expect 0 "and serves" "$H" exec loopback -- echo served
check_out served "a session runs"

bg "$V" --socket "$T/vm/vhost.sock" --guest-cid 3 --uds-path "$T/vm/vsock.sock" 2>"$T/v.err"
VH=$BG
wait_for '[ -S "$T/vm/vsock.sock" ]' "hvsock-vhost to listen while nobody locks its directory"
pass "hvsock-vhost starts while nobody locks the directory of its sockets"
kill -USR1 "$VH"
wait_file_text "$T/v.err" '"guest_cid":3'
pass "and its loop runs (SIGUSR1 answers)"
connects "$ROOT" "$T/vm/vhost.sock" "root (QEMU's user by default) reaches the vhost-user socket"

# ---- item 6: modes, not the umask's ----
check_eq "600 0 0" "$(mode_owner "$T/vm/vhost.sock")" "the vhost-user socket is 0600 under umask 000"
check_eq "660 0 0" "$(mode_owner "$T/vm/vsock.sock")" "the hybrid socket is 0660 under umask 000"
check_eq "600 0 0" "$(mode_owner "$T/vm/vhost.sock.lock")" "the vhost-user socket's lock file is 0600"
check_eq "660 0 0" "$(mode_owner "$T/run/local/24149")" "a local-transport socket is 0660 under umask 000"
check_eq "600 0 0" "$(mode_owner "$T/run/local/24149.lock")" "its lock file is 0600"
refused "$NOBODY" "$T/vm/vhost.sock" "nobody cannot drive the vhost-user socket as if it were QEMU"
refused "$NOBODY" "$T/vm/vsock.sock" "nobody cannot reach guest ports through --uds-path"
refused "$NOBODY" "$T/run/local/24149" "nobody cannot reach root's hvsock-sessiond over the local transport"

# Under umask 077 a mkdir would make 0700: the mode is ours, not the umask's.
listen_sh "$T/fresh.err" 'umask 077; HVSOCK_RUNTIME_DIR="$T/fresh/run" "$H" nc -v -l loopback 5200 </dev/null >/dev/null'
fresh=$BG
check_eq "755 0 0" "$(mode_owner "$T/fresh/run")" "a runtime dir made under umask 077 is 0755"
check_eq "755 0 0" "$(mode_owner "$T/fresh/run/local")" "its local/ is 0755"
kill -TERM "-$fresh"

# ---- item 6: handing sockets over ----
bg "$V" --socket "$T/vm/vhost2.sock" --guest-cid 4 --uds-path "$T/vm/vsock2.sock" \
        --socket-owner nobody --group "$OPS_GID" 2>"$T/v2.err"
wait_for '[ -S "$T/vm/vsock2.sock" ]' "hvsock-vhost with --socket-owner and --group"
check_eq "600 65534 0" "$(mode_owner "$T/vm/vhost2.sock")" "--socket-owner nobody: the vhost-user socket is nobody's, 0600"
check_eq "660 0 $OPS_GID" "$(mode_owner "$T/vm/vsock2.sock")" "--group: the hybrid socket is in that group, 0660"
connects "$NOBODY" "$T/vm/vhost2.sock" "QEMU's user (--socket-owner) reaches the vhost-user socket"
refused "$NOBODY" "$T/vm/vsock2.sock" "a user outside --group cannot reach the hybrid socket"
connects "$OPERATOR" "$T/vm/vsock2.sock" "a member of --group reaches the hybrid socket"

mkdir -m 0755 "$T/run2"
HVSOCK_RUNTIME_DIR=$T/run2 bg "$SESSIOND" --listen loopback --socket-owner 65534 --group "$OPS_GID" 2>"$T/d2.err"
wait_file_text "$T/d2.err" "listening on"
check_eq "660 65534 $OPS_GID" "$(mode_owner "$T/run2/local/24149")" \
        "hvsock-sessiond --socket-owner --group: its local socket is theirs, 0660"
connects "$OPERATOR" "$T/run2/local/24149" "a member of the group reaches hvsock-sessiond's socket"
check_eq "600 0 0" "$(mode_owner "$T/run2/local/24149.lock")" "the lock file stays root's"

expect 2 "hvsock-vhost --socket-owner with an unknown user" "$V" --socket "$T/x.sock" --guest-cid 5 \
        --uds-path "$T/y.sock" --socket-owner no-such-user-hvsock
check_err "bad --socket-owner 'no-such-user-hvsock': no such user" "the message names the user"
expect 2 "hvsock-sessiond --group with an unknown group" "$SESSIOND" --group no-such-group-hvsock
check_err "invalid --group 'no-such-group-hvsock': no such group" "the message names the group"
expect 2 "hvsock-sessiond --socket-owner with no id" "$SESSIOND" --socket-owner 4294967295
check_err "invalid --socket-owner '4294967295'" "the message names the value"

# ---- item 5: a live listener is not taken over through another spelling ----
listen_sh "$T/l1.err" '"$H" nc -v -l -k loopback 5300 </dev/null >"$T/l1.out"'
first=$BG
ino=$(stat -c %i "$T/run/local/5300")
ln -s "$T" "$T/alias"
for spelling in "$T/run/" "$T/run/../run" "$T/alias/run"; do
        HVSOCK_RUNTIME_DIR=$spelling TIMEOUT=5 expect 1 "a second nc -l through '$spelling'" "$H" nc -l loopback 5300
        check_err "Address already in use" "'$spelling': Address already in use"
        check_eq "$ino" "$(stat -c %i "$T/run/local/5300")" "'$spelling': the first listener's socket file is untouched"
        echo "through $spelling" >"$T/msg"
        IN=$T/msg expect 0 "a client after the attempt through '$spelling'" "$H" nc loopback 5300
        wait_file_text "$T/l1.out" "through $spelling"
        pass "the first listener got that client"
done
kill -TERM "-$first"

ln -s "$T/vm" "$T/vmlink"
for spelling in "$T/vm/../vm/vhost.sock" "$T/vmlink/vhost.sock" "$T/vm//vhost.sock"; do
        TIMEOUT=10 expect 1 "a second hvsock-vhost on --socket '$spelling'" "$V" --socket "$spelling" --guest-cid 5 \
                --uds-path "$T/vm/other.sock"
        check_err "cannot listen on '$spelling': Address already in use" "--socket '$spelling': Address already in use"
done
ino=$(stat -c %i "$T/vm/vsock.sock")
TIMEOUT=10 expect 1 "a second hvsock-vhost on --uds-path through a symlinked directory" "$V" \
        --socket "$T/vm/other.vhost" --guest-cid 5 --uds-path "$T/vmlink/vsock.sock"
check_err "cannot listen on '$T/vmlink/vsock.sock': Address already in use" "--uds-path: Address already in use"
check_eq "$ino" "$(stat -c %i "$T/vm/vsock.sock")" "the first hvsock-vhost's hybrid socket is untouched"
connects "$ROOT" "$T/vm/vhost.sock" "the first hvsock-vhost still takes QEMU's connections"
[ ! -e "$T/vm/other.sock" ] && [ ! -e "$T/vm/other.vhost" ] || fail "a refused hvsock-vhost left a socket behind"
pass "a refused hvsock-vhost leaves nothing behind"

# ---- item 6: runtime directories another user controls ----
mkdir -m 0755 "$T/evil"
chown 65534:65534 "$T/evil"
HVSOCK_RUNTIME_DIR=$T/evil TIMEOUT=5 expect 1 "a runtime dir owned by nobody" "$H" nc -l loopback 5400
check_err "'$T/evil' is owned by uid 65534" "the message names the directory and its owner"
[ ! -e "$T/evil/local" ] || fail "something was made in nobody's runtime dir"
pass "nothing is made in it"

# A shared sticky runtime dir (like /tmp) where nobody planted local/.
mkdir -m 1777 "$T/shared"
mkdir -m 0755 "$T/nobody/trap"
$NOBODY ln -s "$T/nobody/trap" "$T/shared/local" || fail "nobody could not plant its symlink"
HVSOCK_RUNTIME_DIR=$T/shared TIMEOUT=10 expect 1 "hvsock-sessiond with a symlink planted at \$RUNTIME/local" \
        "$SESSIOND" --listen loopback
check_err "'$T/shared/local' is a symbolic link" "the message names the symlink"
[ -z "$(ls "$T/nobody/trap")" ] || fail "a socket was made where the symlink points"
pass "nothing is made where it points"

kill -TERM "$D" "$VH"
finish
