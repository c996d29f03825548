#!/bin/sh
# hvsock cp out of a VM whose daemon is hostile (issue #10, item 1: the
# shape of scp's CVE-2019-6111). hostile-sessiond.py answers a GET for
# report.txt with archives that break the receiver's rules, in each
# protocol version; the client must take only what it asked for and what
# was announced, refuse the rest naming the entry, exit 1, leave nothing of
# the refused entry, and never wait on a peer that broke the rules.
. "$(dirname "$0")/lib.sh"

PEER="$SOURCE_DIR/tests/integration/hostile-sessiond.py"
command -v python3 >/dev/null || skip "python3 is not installed"
export HVSOCK_TRANSPORTS=local
VICTIM="$T/victim"

# peer VERSION SCENARIO...: starts the hostile daemon for one copy per
# scenario, in that order.
peer() {
        _v=$1
        shift
        rm -f "$T/ready"
        bg python3 "$PEER" --socket "$HVSOCK_RUNTIME_DIR/local/24149" --version "$_v" \
                --scenarios "$(echo "$@" | tr ' ' ,)" --victim "$VICTIM" --ready "$T/ready" --log "$T/peer.log"
        PEER_PID=$BG
        wait_path "$T/ready"
}

# copy VERSION SCENARIO CP-OPTION...: `hvsock cp [CP-OPTION...]
# loopback:/srv/report.txt $HOME_DIR/` into a fresh empty $HOME_DIR.
copy() {
        _v=$1 _s=$2
        shift 2
        HOME_DIR="$T/home-$_v-$_s"
        mkdir "$HOME_DIR"
        TIMEOUT=20 run "$H" cp "$@" loopback:/srv/report.txt "$HOME_DIR/"
}

# refused VERSION SCENARIO MESSAGE CP-OPTION...: exit 1 and the message.
refused() {
        _v=$1 _s=$2 _m=$3
        shift 3
        copy "$_v" "$_s" "$@"
        [ "$RC" = 1 ] || { show_output; fail "$_s (version $_v): expected exit 1, got $RC"; }
        check_err "$_m" "$_s (version $_v): refused with a message naming the entry"
}

empty() {
        [ -z "$(ls -A "$HOME_DIR")" ] || { ls -lAR "$HOME_DIR" >&2; fail "$1: expected nothing in $HOME_DIR"; }
        pass "$1"
}

ALL="extra-top renamed-top dup-top dir-without-r setuid extra-bytes device dotdot escape-name escape-message
     escape-error-start escape-error-late silent"
for v in 1 2 3; do
        # shellcheck disable=SC2086
        peer $v $ALL
        refused $v extra-top "refusing '$T/home-$v-extra-top/.bashrc' from the VM: it was not asked for; the copy stops here"
        check_eq "the report" "$(cat "$HOME_DIR/report.txt")" "extra-top ($v): the file asked for arrived whole"
        check_eq "report.txt" "$(ls -A "$HOME_DIR")" "extra-top ($v): no .bashrc, no .ssh"

        refused $v renamed-top "refusing '$T/home-$v-renamed-top/evil' from the VM: it was not asked for"
        empty "renamed-top ($v): nothing written"

        refused $v dup-top "refusing '$T/home-$v-dup-top/report.txt' from the VM: it was not asked for"

        refused $v dir-without-r "refusing '$T/home-$v-dir-without-r/report.txt' from the VM: a directory, and -r was not given"
        empty "dir-without-r ($v): no directory made"

        copy $v setuid -r -p
        check_eq 0 "$RC" "setuid ($v): the tree copies"
        check_eq "755 755 775" "$(stat -c %a "$HOME_DIR/report.txt" "$HOME_DIR/report.txt/suid" "$HOME_DIR/report.txt/sgid" | tr '\n' ' ' | sed 's/ $//')" \
                "setuid ($v): -p keeps permission bits, never setuid, setgid or sticky (07777 becomes 0755: no sticky, so no write for others)"

        if [ $v = 3 ]; then
                refused $v extra-bytes "refusing '$T/home-$v-extra-bytes/report.txt' from the VM: more data than the 10 bytes announced for it"
        else
                refused $v extra-bytes "refusing '$T/home-$v-extra-bytes/report.txt' from the VM: more file data than the 10 bytes announced for the whole copy"
        fi
        empty "extra-bytes ($v): no file, no temporary file"

        refused $v device "malformed archive stream from the VM"
        empty "an unknown record kind (a device node) ($v): nothing made"

        refused $v dotdot "malformed archive stream from the VM"
        empty "the name '..' ($v): nothing made"
        [ ! -e "$T/report.txt" ] || fail "dotdot ($v): a file appeared above the destination"

        # Names and messages from the VM reach the terminal without escapes.
        refused $v escape-name "refusing '$T/home-$v-escape-name/?]2;owned??[2Jreport' from the VM: it was not asked for"
        copy $v escape-message
        check_eq 0 "$RC" "escape-message ($v): the copy ends well"
        check_err "hvsock: in the VM: ?[2J?]2;owned???31m all fine" "escape-message ($v): the VM's message arrives with its escapes made harmless"
        if LC_ALL=C grep -q "$(printf '\033')" "$T/err"; then
                fail "escape sequences from the VM reached the terminal"
        fi
        pass "no escape character from the VM reaches stderr ($v)"
        for e in escape-error-start escape-error-late; do
                copy $v $e
                check_eq 1 "$RC" "$e ($v): the copy fails"
                check_err "?]2;owned??[2J hvsock: all copied" "$e ($v): the VM's ERROR message is printed on one line, its escapes made harmless"
                if LC_ALL=C grep -q "$(printf '\033')" "$T/err"; then
                        fail "$e ($v): escape sequences from the VM's ERROR reached the terminal"
                fi
        done

        # extra-top again, then neither EXIT nor a close.
        refused $v silent "refusing '$T/home-$v-silent/.bashrc' from the VM"
        pass "a peer that says no more after the refusal ($v): no wait for EXIT"
        wait_exit "$PEER_PID" "the hostile daemon (version $v)"
done
check_contains "$T/peer.log" "GET flags=0 /srv/report.txt" "the client asked for /srv/report.txt"

# Version 3 announces entry counts and carries links.
mkdir "$VICTIM.d"
echo original >"$VICTIM.f"
peer 3 extra-entries top-link stream-in-dir link-then-dir link-then-file truncated
refused 3 extra-entries "refusing '$T/home-3-extra-entries/report.txt/second' from the VM: more entries in its directory than the 1 announced" -r
[ -f "$HOME_DIR/report.txt/first" ] && [ ! -e "$HOME_DIR/report.txt/second" ] ||
        fail "extra-entries: expected first and not second"
pass "extra-entries: the announced entry arrived, the extra one did not"

refused 3 top-link "refusing '$T/home-3-top-link/report.txt' from the VM: a symbolic link where a file or directory was asked for" -r
empty "top-link: nothing made"

refused 3 stream-in-dir "refusing '$T/home-3-stream-in-dir/report.txt/x' from the VM: a file of unknown size inside a directory" -r

refused 3 link-then-dir "cannot overwrite non-directory '$T/home-3-link-then-dir/report.txt/conf' with a directory" -r
check_eq "" "$(ls -A "$VICTIM.d")" "link-then-dir: nothing written through the link the peer sent first"
check_eq "$VICTIM.d" "$(readlink "$HOME_DIR/report.txt/conf")" "link-then-dir: the link itself is kept, as a link"

copy 3 link-then-file -r
check_eq 0 "$RC" "link-then-file: the copy ends well"
check_eq "original" "$(cat "$VICTIM.f")" "link-then-file: the file replaced the link, nothing was written through it"
[ -f "$HOME_DIR/report.txt/f" ] && [ ! -L "$HOME_DIR/report.txt/f" ] || fail "link-then-file: f is not a regular file"
pass "link-then-file: f is a regular file"
refused 3 truncated "malformed archive stream from the VM" -r
pass "an archive cut short while the session stays open: the client does not wait"
wait_exit "$PEER_PID" "the hostile daemon (version 3 links)"

finish
