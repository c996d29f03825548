#!/bin/sh
# Usage and error conventions of every hvsock command: --help everywhere
# (stdout, exit 0), usage errors (exit 2, naming the input), runtime
# failures (exit 1), messages prefixed "hvsock: ", nothing on stdout on error.
. "$(dirname "$0")/lib.sh"

# ---- top level ----
expect 2 "hvsock alone" "$H"
check_stdout_empty "hvsock alone prints its usage on stderr only"
check_err "Usage: hvsock COMMAND" "hvsock alone prints the usage"
for h in --help -h help; do
        expect 0 "hvsock $h" "$H" $h
        check_contains "$T/out" "Usage: hvsock COMMAND" "hvsock $h prints the usage on stdout"
        [ ! -s "$T/err" ] || fail "hvsock $h wrote to stderr: $(cat "$T/err")"
done
expect 0 "hvsock --version" "$H" --version
grep -Eq '^hvsock [0-9]+\.[0-9]+\.[0-9]+$' "$T/out" || fail "--version: expected 'hvsock X.Y.Z', got '$(cat "$T/out")'"
pass "--version prints the version"
expect 2 "an unknown command" "$H" frobnicate
check_err "'frobnicate'" "the message names the command"
check_stdout_empty "nothing on stdout for an unknown command"
expect 2 "an unknown top-level option" "$H" --frobnicate
check_err "'--frobnicate'" "the message names the option"

# ---- --help on every command ----
expect 0 "the top-level help" "$H" --help
groups=$(sed -n 's/^  hvsock \([a-z-]*\).*/\1/p' "$T/out" | tr '\n' ' ')
check_eq "service vm guid nc exec shell cp " "$groups" "the top-level help lists every command"
commands="nc|exec|shell|cp|"
for g in service vm guid; do
        expect 2 "hvsock $g alone" "$H" "$g"
        check_err "Usage: hvsock $g COMMAND" "hvsock $g alone prints its usage on stderr"
        expect 0 "hvsock $g --help" "$H" "$g" --help
        check_contains "$T/out" "Usage: hvsock $g COMMAND" "hvsock $g --help prints the usage"
        expect 0 "hvsock $g help" "$H" "$g" help
        expect 2 "an unknown $g command" "$H" "$g" frobnicate
        check_err "'$g frobnicate'" "the message names '$g frobnicate'"
        expect 0 "the $g help" "$H" "$g" --help
        commands="$commands$(sed -n "s/^  hvsock \($g [a-z-]*\).*/\1/p" "$T/out" | tr '\n' '|')"
done
check_eq "nc|exec|shell|cp|service add|service list|service show|service enable|service disable|service default|service remove|vm add|vm list|vm show|vm id|vm remove|guid new|guid from-port|guid to-port|guid wellknown|" \
        "$commands" "the group helps list every subcommand"

IFS='|'
for c in $commands; do
        [ -n "$c" ] || continue
        IFS=' '
        # shellcheck disable=SC2086
        expect 0 "hvsock $c --help" "$H" $c --help
        check_contains "$T/out" "Usage: hvsock $c" "hvsock $c --help prints its usage"
        check_contains "$T/out" "--help" "hvsock $c --help lists its options"
        [ ! -s "$T/err" ] || fail "hvsock $c --help wrote to stderr: $(cat "$T/err")"
        # shellcheck disable=SC2086
        expect 0 "hvsock $c -h" "$H" $c -h
        # shellcheck disable=SC2086
        expect 2 "an unknown option to $c" "$H" $c --frobnicate
        check_err "'--frobnicate'" "the message names the option given to $c"
        check_err "Try 'hvsock $c --help'" "the message points to the help of $c"
        check_stdout_empty "nothing on stdout for a usage error of $c"
        # shellcheck disable=SC2086
        expect 2 "an unknown short option to $c" "$H" $c -Z
        check_err "'-Z'" "the message names -Z"
        IFS='|'
done
IFS=' '

# --help wins over other arguments and changes nothing.
expect 0 "service add NAME --help" "$H" service add helpme --help
expect 1 "--help added nothing" "$H" service show helpme
expect 0 "nc -l loopback 5000 --help" "$H" nc -l loopback 5000 --help
check_contains "$T/out" "Usage: hvsock nc" "nc --help prints the nc usage"

# ---- missing and extra arguments ----
for c in "service add" "service show" "service enable" "service disable" "service remove" \
         "vm show" "vm id" "vm remove" "guid from-port" "guid to-port" "nc loopback" "nc"; do
        # shellcheck disable=SC2086
        expect 2 "$c with an argument missing" "$H" $c
        check_err "missing argument" "the message for '$c' says an argument is missing"
done
for c in "guid new" "service list" "vm list"; do
        # shellcheck disable=SC2086
        expect 2 "$c with an extra argument" "$H" $c extra
        check_err "'extra'" "the message for '$c' names the extra argument"
done
expect 2 "service show with two arguments" "$H" service show a b
check_err "'b'" "the message names the extra argument"
expect 2 "nc with three arguments" "$H" nc loopback 5000 more
check_err "'more'" "the message names the extra argument"
expect 2 "an option without its value" "$H" vm add x --cid
check_err "'--cid'" "the message names the option missing its value"

# ---- nc options ----
expect 2 "nc -k without -l" "$H" nc -k loopback 5000
check_err "-l" "the message says -k needs -l"
expect 2 "nc -w 0" "$H" nc -w 0 loopback 5000
check_err "'0'" "the message names the timeout"
expect 2 "nc -w 300001" "$H" nc -w 300001 loopback 5000
check_err "'300001'" "the message names the timeout"
expect 2 "nc -w abc" "$H" nc -w abc loopback 5000
check_err "'abc'" "the message names the timeout"
TIMEOUT=10 expect 1 "nc -w 300000 is accepted (then refused)" "$H" nc -w 300000 loopback 5000
check_err "refused" "the connection is refused at once"
expect 2 "nc with a port out of range" "$H" nc loopback 2147483648
check_err "'2147483648'" "the message names the port"
expect 1 "nc to the broadcast VM" "$H" nc broadcast 5000
check_err "'broadcast'" "the message names the VM"
expect 2 "nc to a malformed VM" "$H" nc '{e0e16197-dd56-4a10-9195-5ee7a155a838' 5000
check_err "'{e0e16197-dd56-4a10-9195-5ee7a155a838'" "the message names the malformed VM"
expect 2 "nc connecting to 'children'" "$H" nc children 5000
check_err "'children'" "the message names the VM"
expect 2 "nc with an empty service" "$H" nc loopback ''

# ---- environment and registry failures ----
HVSOCK_TRANSPORTS=carrier-pigeon expect 1 "a bad HVSOCK_TRANSPORTS" "$H" service list
check_err "'carrier-pigeon'" "the message names the bad value"
check_err "HVSOCK_TRANSPORTS" "the message names the variable"
mkdir -p "$HVSOCK_CONFIG_DIR"
printf '[service 00000016-facb-11e6-bd58-64006a7986d3]\nElementName = ssh\nPort = 22\nEnabled = yes\nBogus key\n' \
        >"$HVSOCK_CONFIG_DIR/registry.conf"
expect 1 "a malformed registry" "$H" service list
check_err "registry.conf:5" "the message gives file and line"
check_stdout_empty "nothing on stdout for a malformed registry"
expect 1 "adding to a malformed registry fails" "$H" service add web --port 80
check_err "registry.conf:5" "the writer reports the parse error too"
check_contains "$HVSOCK_CONFIG_DIR/registry.conf" "Bogus key" "the malformed registry is left untouched"
expect 1 "vm list on a malformed registry" "$H" vm list
TIMEOUT=10 expect 1 "nc by name with a malformed registry" "$H" nc loopback ssh
check_err "registry.conf:5" "nc reports the registry error when it needs a name"
TIMEOUT=10 expect 1 "nc by port with a malformed registry" "$H" nc loopback 22
check_err "registry.conf:5" "nc by port also says where the registry is wrong"

# A registry that parses line by line but breaks a cross-entry rule (the
# second "ssh" is line 7): every program that loads it says file and line,
# whichever way it gets to the registry (the CLI's own load, or the library's
# inside hvsock_connect() and hvsock_listen()).
printf '[service 00000016-facb-11e6-bd58-64006a7986d3]\nElementName = ssh\nPort = 22\nEnabled = yes\n\n[service 00000017-facb-11e6-bd58-64006a7986d3]\nElementName = ssh\nPort = 23\nEnabled = yes\n' \
        >"$HVSOCK_CONFIG_DIR/registry.conf"
dup="registry.conf:7: duplicate ElementName 'ssh'"
echo data >"$T/cp-src"
for c in "service list" "service show ssh" "service add web" "service enable ssh" "service disable ssh" \
         "service default ssh --vm vm1" "service remove ssh" "vm list" "vm show vm1" "vm id vm1" \
         "vm add vm1 --cid 9" "vm remove vm1" \
         "nc loopback 22" "nc -l loopback 22" "exec loopback -- true" "shell loopback" \
         "cp $T/cp-src loopback:/tmp/x" "cp loopback:/etc/hostname $T/cp-dst"; do
        # shellcheck disable=SC2086
        TIMEOUT=10 run "$H" $c
        [ "$RC" != 0 ] || fail "hvsock $c succeeded with a malformed registry"
        check_err "$dup" "hvsock $c says where the registry is wrong"
done
S=$BUILD_DIR/src/session/hvsock-sessiond
TIMEOUT=10 expect 1 "hvsock-sessiond with a malformed registry" "$S" --listen loopback
check_err "$dup" "hvsock-sessiond says where the registry is wrong"
# hvsock-vhost keeps running (a registry it cannot read refuses every guest
# connection until it is fixed) and says so at start.
bg "$BUILD_DIR/src/vhost/hvsock-vhost" --socket "$T/rv.sock" --guest-cid 3 --uds-path "$T/ru.sock" 2>"$T/vhost.err"
wait_file_text "$T/vhost.err" "$dup"
pass "hvsock-vhost says where the registry is wrong at start"
kill -TERM "$BG"
wait_exit "$BG" "hvsock-vhost after SIGTERM"
rm -f "$HVSOCK_CONFIG_DIR/registry.conf"

# ---- every error line starts with "hvsock: " ----
expect 1 "an error for the prefix check" "$H" service show nosuch
first=$(head -n 1 "$T/err")
case $first in
"hvsock: "*) pass "errors start with 'hvsock: '" ;;
*) fail "expected the error to start with 'hvsock: ', got '$first'" ;;
esac

# ---- hvsock-vhost's options ----
V=$BUILD_DIR/src/vhost/hvsock-vhost
expect 0 "hvsock-vhost --help" "$V" --help
for o in --max-connections --tx-buffer-size --max-pending-clients --timeout --socket-owner --group; do
        check_contains "$T/out" "$o" "hvsock-vhost --help lists $o"
done
for bad in "--guest-cid 2" "--max-connections 0" "--tx-buffer-size 10" "--max-pending-clients x" \
        "--timeout 0" "--timeout 99999999999" "--socket-owner no-such-user-hvsock" "--group no-such-group-hvsock" \
        "--group 4294967295"; do
        # shellcheck disable=SC2086
        expect 2 "hvsock-vhost $bad" "$V" --socket "$T/v.sock" --guest-cid 3 --uds-path "$T/u.sock" $bad
        check_err "bad ${bad%% *} '${bad#* }'" "the message names $bad"
        check_stdout_empty "nothing on stdout for hvsock-vhost $bad"
done
[ ! -e "$T/v.sock" ] || fail "hvsock-vhost created its socket despite a usage error"

# ---- output errors are failures ----
if [ -w /dev/full ]; then
        run sh -c 'exec "$H" guid wellknown >/dev/full'
        check_eq 1 "$RC" "writing to a full device fails with exit 1"
        check_err "writing output" "the message says the output failed"
fi

finish
