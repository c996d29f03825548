#!/bin/sh
# hvsock vm: add (--cid/--uds exclusivity, reserved CIDs, IDs), list, show,
# id, remove; duplicates and malformed input.
. "$(dirname "$0")/lib.sh"

HEADER=$(printf '%-20s  %-36s  %-10s  %s' NAME ID CID UDS)
GUID_RE='^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'

expect 0 "list on an empty registry" "$H" vm list
check_out "$HEADER" "an empty list is the header only"
expect 0 "list --json on an empty registry" "$H" vm list --json
check_eq "[]" "$(json d)" "empty JSON list is []"

# ---- add ----
expect 0 "add with --cid" "$H" vm add web-1 --cid 5
id1=$(cat "$T/out")
echo "$id1" | grep -Eq "$GUID_RE" || fail "vm add: expected a GUID, got '$id1'"
pass "vm add prints the new VM ID"
expect 0 "add with --uds" "$H" vm add fc.vm_2 --uds "$T/fc.sock"
id2=$(cat "$T/out")
[ "$id1" != "$id2" ] || fail "two VMs got the same generated ID $id1"
pass "generated VM IDs differ"
given=6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9
expect 0 "add with --id and a hex --cid" "$H" vm add given --id "{6F1E2D3C-4B5A-4978-8695-A4B3C2D1E0F9}" --cid 0x10
check_out "$given" "the given ID is printed in lowercase without braces"
(cd "$T" && "$H" vm add relative --uds rel.sock >/dev/null) || fail "vm add with a relative --uds"
pass "vm add with a relative --uds"

# ---- id ----
expect 0 "vm id" "$H" vm id web-1
check_out "$id1" "vm id prints the VM ID"
expect 0 "vm id by name in another case" "$H" vm id WEB-1
check_out "$id1" "VM names compare case-insensitively"
expect 0 "vm id of the hybrid VM" "$H" vm id fc.vm_2
check_out "$id2" "vm id of a UDS VM"
expect 1 "vm id of an unknown VM" "$H" vm id nosuch
check_err "'nosuch'" "the message names the VM"
check_stdout_empty "nothing on stdout for an unknown VM"
expect 2 "vm id without a name" "$H" vm id

# ---- list and show ----
expect 0 "list" "$H" vm list
check_contains "$T/out" "$(printf '%-20s  %-36s  %-10s  %s' web-1 "$id1" 5 -)" "the row of the CID VM"
check_contains "$T/out" "$(printf '%-20s  %-36s  %-10s  %s' fc.vm_2 "$id2" - "$T/fc.sock")" "the row of the UDS VM"
check_contains "$T/out" "$(printf '%-20s  %-36s  %-10s  %s' given "$given" 16 -)" "a hex CID is stored as its value"
check_contains "$T/out" "$T/rel.sock" "a relative UDS path is stored absolute"
expect 0 "list --json" "$H" vm list --json
check_json "vm list --json is valid JSON"
check_eq 4 "$(json 'len(d)')" "four VMs listed"
check_eq '["cid", "id", "name", "policies", "uds"]' "$(json 'sorted(d[0].keys())')" "VM JSON keys"
check_eq "[5, null]" "$(json '[[v["cid"], v["uds"]] for v in d if v["name"] == "web-1"][0]')" "CID VM: cid set, uds null"
check_eq "[null, \"$T/fc.sock\"]" "$(json '[[v["cid"], v["uds"]] for v in d if v["name"] == "fc.vm_2"][0]')" "UDS VM: cid null, uds set"
expect 0 "show by name" "$H" vm show web-1
check_contains "$T/out" "ID:       $id1" "show prints the ID"
check_contains "$T/out" "CID:      5" "show prints the CID"
check_contains "$T/out" "Service policies: none" "show prints the (empty) policies"
expect 0 "show by ID --json" "$H" vm show "$id2" --json
check_json "vm show --json is valid JSON"
check_eq fc.vm_2 "$(json 'd["name"]')" "show by ID finds the VM"
expect 1 "show an unknown VM" "$H" vm show nosuch
check_err "'nosuch'" "the message names the VM"

# ---- --cid / --uds ----
expect 2 "both --cid and --uds" "$H" vm add both --cid 7 --uds "$T/both.sock"
check_err "--cid" "the message names the options"
expect 2 "neither --cid nor --uds" "$H" vm add neither
for cid in 0 1 2 0xffffffff 4294967295; do
        expect 2 "reserved CID $cid is rejected" "$H" vm add res --cid "$cid"
        check_err "'$cid'" "the message names CID $cid"
done
expect 2 "a CID above 32 bits" "$H" vm add big --cid 4294967296
expect 2 "a malformed CID" "$H" vm add bad --cid five
check_err "'five'" "the message names the malformed CID"
expect 0 "the lowest usable CID" "$H" vm add low --cid 3
expect 0 "the highest usable CID" "$H" vm add high --cid 0xfffffffe
long=$(printf '/tmp/%0120d' 0)
expect 2 "an over-long UDS path" "$H" vm add long --uds "$long"

# ---- names and IDs ----
expect 2 "a name with a space" "$H" vm add "a b" --cid 20
check_err "'a b'" "the message names the bad name"
expect 2 "a name over 64 characters" "$H" vm add "$(printf 'v%064d' 0)" --cid 20
expect 2 "a well-known name" "$H" vm add loopback --cid 20
expect 2 "a name that is a GUID" "$H" vm add "$given" --cid 20
expect 2 "a malformed --id" "$H" vm add x --cid 20 --id zzz
check_err "'zzz'" "the message names the malformed ID"
expect 2 "a well-known VM ID" "$H" vm add x --cid 20 --id e0e16197-dd56-4a10-9195-5ee7a155a838
expect 2 "the zero VM ID" "$H" vm add x --cid 20 --id 00000000-0000-0000-0000-000000000000
expect 2 "an unknown option" "$H" vm add x --cid 20 --colour
check_err "'--colour'" "the message names the option"

# ---- duplicates ----
expect 1 "a duplicate name" "$H" vm add Web-1 --cid 21
check_err "adding VM 'Web-1'" "the message names the input"
expect 1 "a duplicate ID" "$H" vm add dupid --cid 22 --id "$given"
check_err "$given" "the message names the ID"
expect 1 "a duplicate CID" "$H" vm add dupcid --cid 5
check_err "CID 5" "the message names the CID"
check_err "web-1" "the message names the VM that has it"
expect 1 "a duplicate UDS path" "$H" vm add dupuds --uds "$T/fc.sock"
check_not_contains "$T/err" "web-1" "the UDS message does not name another VM"
check_err "fc.vm_2" "the message names the VM with that UDS"
expect 0 "list --json" "$H" vm list --json
check_eq 6 "$(json 'len(d)')" "failed adds changed nothing"

# ---- remove ----
expect 0 "remove by name" "$H" vm remove web-1
check_stdout_empty "remove prints nothing"
expect 1 "it is gone" "$H" vm id web-1
expect 0 "remove by ID" "$H" vm remove "$id2"
expect 1 "it is gone too" "$H" vm show fc.vm_2
expect 1 "remove an unknown VM" "$H" vm remove web-1
check_err "'web-1'" "the message names the VM"
expect 0 "CID 5 is free again" "$H" vm add again --cid 5

finish
