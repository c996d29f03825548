#!/bin/sh
# hvsock cp and links (issue #10, items 2 and 3), against the real
# hvsock-sessiond over the local transport, its "VM" side under $T/vm:
# - a link planted in a destination by another user (nobody) is never
#   followed, by either receiver: the copy helper copying into the VM and
#   the client copying out of it (a directory there is refused, a file
#   replaces the link);
# - inside a tree, links are copied as links and never followed, so a tree
#   with links to itself copies at once;
# - a copy helper whose client is killed ends promptly (here it waits to
#   open a pipe with no writer, where it cannot notice by itself).
. "$(dirname "$0")/lib.sh"

SESSIOND=${SESSIOND_BIN:-$BUILD_DIR/src/session/hvsock-sessiond}
[ -x "$SESSIOND" ] || fail "hvsock-sessiond is not built at $SESSIOND"
[ "$(id -u)" = 0 ] || skip "needs root, to plant links as another user (nobody)"
command -v setpriv >/dev/null || skip "setpriv (util-linux) is not installed"
export HVSOCK_TRANSPORTS=local

bg "$SESSIOND" --listen loopback 2>"$T/d.err"
wait_file_text "$T/d.err" "listening on"

# nobody must reach $T to plant anything (mktemp made it 0700).
chmod 0755 "$T"
as_nobody() {
        setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
}
mkdir -p "$T/vm/home/ann" "$T/vm/rootssh" "$T/local/conf" "$T/local/home"
echo "ssh-rsa attacker" >"$T/local/conf/authorized_keys"
chown 65534:65534 "$T/vm/home/ann" "$T/local/home"

# ---- item 2: into the VM, through the copy helper ----
as_nobody ln -s "$T/vm/rootssh" "$T/vm/home/ann/conf" || fail "nobody cannot plant the link"
expect 1 "a directory onto a link nobody planted in the VM is refused" \
        "$H" cp -r "$T/local/conf" "loopback:$T/vm/home/ann/"
check_err "cannot overwrite non-directory '$T/vm/home/ann/conf' with a directory" "the message names the link"
check_eq "" "$(ls -A "$T/vm/rootssh")" "nothing was written through the link"

echo "root's" >"$T/vm/rootfile"
as_nobody ln -s "$T/vm/rootfile" "$T/vm/home/ann/notes" || fail "nobody cannot plant the second link"
echo "new notes" >"$T/local/notes"
expect 0 "a file onto a link nobody planted in the VM" "$H" cp "$T/local/notes" "loopback:$T/vm/home/ann/"
check_eq "root's" "$(cat "$T/vm/rootfile")" "the file the link named is untouched"
[ -f "$T/vm/home/ann/notes" ] && [ ! -L "$T/vm/home/ann/notes" ] || fail "notes is still a link"
check_eq "new notes" "$(cat "$T/vm/home/ann/notes")" "the link was replaced by the file"

# ---- item 2: out of the VM, in the client ----
mkdir -p "$T/vm/src/conf" "$T/local/rootssh"
echo "ssh-rsa vm" >"$T/vm/src/conf/authorized_keys"
as_nobody ln -s "$T/local/rootssh" "$T/local/home/conf" || fail "nobody cannot plant the local link"
expect 1 "out of the VM, a directory onto a link nobody planted is refused" \
        "$H" cp -r "loopback:$T/vm/src/conf" "$T/local/home/"
check_err "cannot overwrite non-directory '$T/local/home/conf' with a directory" "the message names the local link"
check_eq "" "$(ls -A "$T/local/rootssh")" "nothing was written through the local link"

# ---- item 3: links inside a tree are links ----
mkdir -p "$T/vm/loop"
echo data >"$T/vm/loop/f"
ln -s . "$T/vm/loop/a"
ln -s . "$T/vm/loop/b"
ln -s /etc/passwd "$T/vm/loop/passwd"
TIMEOUT=20 expect 0 "a tree with links to itself copies out of the VM at once" "$H" cp -r "loopback:$T/vm/loop" "$T/local/loop"
check_eq "." "$(readlink "$T/local/loop/a")" "a is a link to ., as in the VM"
check_eq "/etc/passwd" "$(readlink "$T/local/loop/passwd")" "a link to a file outside the tree stays a link"
check_eq "a b f passwd" "$(ls -A "$T/local/loop" | tr '\n' ' ' | sed 's/ $//')" "nothing else came"
TIMEOUT=20 expect 0 "and back into the VM" "$H" cp -r "$T/local/loop" "loopback:$T/vm/loop2"
check_eq "." "$(readlink "$T/vm/loop2/b")" "b arrived as a link"
ln -s "$T/vm/loop/f" "$T/vm/toplink"
expect 0 "a link named on the command line is followed, as by cp" "$H" cp "loopback:$T/vm/toplink" "$T/local/toplink"
[ -f "$T/local/toplink" ] && [ ! -L "$T/local/toplink" ] || fail "the top-level link was not resolved"
check_eq data "$(cat "$T/local/toplink")" "the file it names was copied"

# ---- modes the VM asks for, and what was there before ----
mkdir -p "$T/vm/pub/sub"
chmod 1777 "$T/vm/pub"
expect 0 "-r -p of a sticky directory that anybody may write to" "$H" cp -r -p "loopback:$T/vm/pub" "$T/local/pub"
check_eq 755 "$(stat -c %a "$T/local/pub")" "it arrives without the sticky bit, so without write for others"
mkdir -p "$T/local/merge/pub"
chmod 1777 "$T/local/merge/pub"
chmod 0700 "$T/vm/pub"
expect 0 "-r -p into a directory that is already there" "$H" cp -r -p "loopback:$T/vm/pub" "$T/local/merge/"
check_eq 1777 "$(stat -c %a "$T/local/merge/pub")" "a directory that was there keeps its own mode, -p or not"

# ---- a sysfs file says 4096 bytes and has fewer ----
if [ -r /sys/class/net/lo/address ]; then
        expect 0 "a sysfs file out of the VM" "$H" cp "loopback:/sys/class/net/lo/address" "$T/local/lo-address"
        check_eq "$(cat /sys/class/net/lo/address)" "$(cat "$T/local/lo-address")" "its contents arrived"
fi
expect 0 "a /proc file (it says 0 bytes)" "$H" cp "loopback:/proc/self/status" "$T/local/status"
grep -q "^Name:" "$T/local/status" || fail "the /proc file arrived empty"
pass "the /proc file's contents arrived"

# ---- item 3: a helper whose client went away ----
mkfifo "$T/vm/fifo"
setsid "$H" cp "loopback:$T/vm/fifo" "$T/local/fifo.copy" >/dev/null 2>&1 &
CLIENT=$!
i=0
while ! pgrep -f -- "--cp-helper send .* $T/vm/fifo" >/dev/null; do
        i=$((i + 1))
        [ $i -le 200 ] || fail "the copy helper did not start"
        sleep 0.05
done
pass "the copy helper waits to open the pipe"
kill -KILL "$CLIENT"
wait "$CLIENT" 2>/dev/null
i=0
while pgrep -f -- "--cp-helper send .* $T/vm/fifo" >/dev/null; do
        i=$((i + 1))
        [ $i -le 200 ] || fail "the copy helper still runs 10 s after its client was killed"
        sleep 0.05
done
pass "the copy helper ended after its client was killed"
wait_file_text "$T/d.err" "the client went away: ending its copy helper"
expect 0 "the daemon goes on serving" "$H" exec loopback -- true

finish
