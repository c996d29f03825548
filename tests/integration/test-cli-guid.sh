#!/bin/sh
# hvsock guid: the VSOCK-template vectors of PROTOCOLS.md section 1, the port
# range limits and the error classes (malformed -> 2, not a template -> 1).
. "$(dirname "$0")/lib.sh"

TEMPLATE_2761=00000ac9-facb-11e6-bd58-64006a7986d3

expect 0 "from-port 2761" "$H" guid from-port 2761
check_out "$TEMPLATE_2761" "port 2761 is the documented template GUID"
expect 0 "from-port 0xac9 (hex)" "$H" guid from-port 0xac9
check_out "$TEMPLATE_2761" "hex port gives the same GUID"
expect 0 "to-port" "$H" guid to-port "$TEMPLATE_2761"
check_out 2761 "to-port of the documented GUID"
expect 0 "to-port accepts braces and upper case" "$H" guid to-port "{00000AC9-FACB-11E6-BD58-64006A7986D3}"
check_out 2761 "to-port of the braced upper-case GUID"

expect 0 "from-port 0" "$H" guid from-port 0
check_out 00000000-facb-11e6-bd58-64006a7986d3 "port 0 is the bare template"
expect 0 "from-port 0x7fffffff" "$H" guid from-port 0x7fffffff
check_out 7fffffff-facb-11e6-bd58-64006a7986d3 "highest port"
expect 0 "to-port of the highest port" "$H" guid to-port 7fffffff-facb-11e6-bd58-64006a7986d3
check_out 2147483647 "highest port round trip"

# Round trips over a few ports, decimal in, decimal out.
for p in 1 22 1024 65535 65536 305419896 2147483646; do
        g=$("$H" guid from-port "$p") || fail "from-port $p failed"
        back=$("$H" guid to-port "$g") || fail "to-port $g failed"
        check_eq "$p" "$back" "round trip of port $p"
done

expect 2 "from-port 0x80000000 is out of range" "$H" guid from-port 0x80000000
check_err "'0x80000000'" "the message names the port"
check_stdout_empty "nothing on stdout for a bad port"
expect 2 "from-port 2147483648 is out of range" "$H" guid from-port 2147483648
expect 2 "from-port 99999999999 is out of range" "$H" guid from-port 99999999999
expect 2 "from-port -1 is malformed" "$H" guid from-port -1
expect 2 "from-port abc is malformed" "$H" guid from-port abc
check_err "'abc'" "the message names the input"
expect 2 "from-port 0x is malformed" "$H" guid from-port 0x
expect 2 "from-port with trailing garbage" "$H" guid from-port 22x
expect 2 "from-port without an argument" "$H" guid from-port
expect 2 "from-port with two arguments" "$H" guid from-port 1 2

expect 2 "to-port of a malformed GUID" "$H" guid to-port not-a-guid
check_err "'not-a-guid'" "the message names the malformed GUID"
expect 2 "to-port of a GUID one digit short" "$H" guid to-port 00000ac9-facb-11e6-bd58-64006a7986d
expect 2 "to-port of a GUID with a bad hex digit" "$H" guid to-port 00000ac9-facb-11e6-bd58-64006a7986dg
expect 1 "to-port of a non-template GUID" "$H" guid to-port e0e16197-dd56-4a10-9195-5ee7a155a838
check_err "'e0e16197-dd56-4a10-9195-5ee7a155a838'" "the message names the non-template GUID"
check_err "template" "the message says why"
expect 1 "to-port of a template GUID with the top bit set" "$H" guid to-port 80000000-facb-11e6-bd58-64006a7986d3

expect 0 "guid new" "$H" guid new
g1=$(cat "$T/out")
echo "$g1" | grep -Eq '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' ||
        fail "guid new: expected a lowercase version-4 GUID, got '$g1'"
pass "guid new prints a lowercase version-4 GUID"
g2=$("$H" guid new)
[ "$g1" != "$g2" ] || fail "guid new: two calls gave the same GUID $g1"
pass "guid new gives a different GUID each time"
expect 1 "a random GUID is not a template one" "$H" guid to-port "$g1"

expect 0 "guid wellknown" "$H" guid wellknown
check_contains "$T/out" "loopback   e0e16197-dd56-4a10-9195-5ee7a155a838" "loopback is listed"
check_contains "$T/out" "parent     a42e7cda-d03f-480c-9cc2-a4de20abb878" "parent is listed"
check_contains "$T/out" "children   90db8b89-0d35-4f79-8ce9-49ea0ac8b7cd" "children is listed"

finish
