#!/bin/sh
# hvsock service: add (ID and port rules, duplicates, random ports), list,
# show, enable/disable globally and per VM, default, remove; JSON output.
. "$(dirname "$0")/lib.sh"

TPL=facb-11e6-bd58-64006a7986d3

# ---- a fresh registry: only the built-in VM Session Service ----
expect 0 "list on a fresh registry" "$H" service list
check_out "$(printf '%-36s  %-10s  %-7s  %s\n%-36s  %-10s  %-7s  %s' ID PORT ENABLED NAME \
        "00005e55-$TPL" 24149 yes "VM Session Service")" "a fresh list shows the built-in session service"
expect 0 "list --json on a fresh registry" "$H" service list --json
check_json "the fresh JSON list is valid JSON"
check_eq '[["00005e55-'$TPL'", "VM Session Service", 24149, true]]' \
        "$(json '[[s["id"], s["name"], s["port"], s["enabled"]] for s in d]')" "the fresh JSON list holds the built-in only"
[ ! -e "$HVSOCK_CONFIG_DIR/registry.conf" ] || fail "listing wrote a registry file"
pass "listing a fresh registry writes nothing"

# ---- add: ID and port rules ----
expect 0 "add with --port" "$H" service add ssh --port 22
check_out "00000016-$TPL" "--port 22 gives the template GUID of 22"

expect 0 "add with a template --id" "$H" service add "Hyper-V Demo" --id "00000ac9-$TPL"
check_out "00000ac9-$TPL" "the template ID is kept"
expect 0 "show it" "$H" service show "00000ac9-$TPL" --json
check_eq 2761 "$(json 'd["port"]')" "a template ID implies its port"

expect 0 "add with a template --id and the same --port" "$H" service add same --id "00000bb8-$TPL" --port 3000
expect 2 "add with a template --id and a different --port" "$H" service add other --id "00000bb9-$TPL" --port 3002
check_err "'3002'" "the message names the conflicting port"

custom=3e7d0b0c-1f2a-4b5c-9d8e-7f6a5b4c3d2e
expect 0 "add with a non-template --id and --port" "$H" service add custom --id "$custom" --port 4000
check_out "$custom" "the non-template ID is printed"
expect 0 "show custom" "$H" service show custom --json
check_eq 4000 "$(json 'd["port"]')" "the given port is kept for a non-template ID"

expect 0 "add with a non-template --id only" "$H" service add custom2 --id 11111111-2222-4333-8444-555555555555
expect 0 "show custom2" "$H" service show custom2 --json
port=$(json 'd["port"]')
[ "$port" -ge 1024 ] && [ "$port" -le 2147483647 ] || fail "random port $port out of 1024..2147483647"
pass "a non-template ID without --port gets a random port in range"

expect 0 "add with no options" "$H" service add plain
id=$(cat "$T/out")
port=$("$H" guid to-port "$id") || fail "the ID of 'plain' ($id) is not a template GUID"
pass "no options: the ID is a template GUID"
expect 0 "show plain" "$H" service show plain --json
check_eq "$port" "$(json 'd["port"]')" "no options: the port is the one the ID carries"
[ "$port" -ge 1024 ] && [ "$port" -le 2147483647 ] || fail "random port $port out of 1024..2147483647"
pass "no options: the port is in 1024..2147483647"

# Many random ports: all in range, all different.
i=0
while [ $i -lt 20 ]; do
        "$H" service add "rand-$i" >/dev/null || fail "adding rand-$i failed"
        i=$((i + 1))
done
expect 0 "list --json" "$H" service list --json
check_json "service list --json is valid JSON"
check_eq "ok" "$(json '"ok" if all(1024 <= s["port"] <= 0x7fffffff for s in d if s["name"].startswith("rand-")) else [s["port"] for s in d]')" \
        "20 random ports are all in range"
check_eq "$(json 'len(d)')" "$(json 'len(set(s["port"] for s in d))')" "every port is different"
check_eq "$(json 'len(d)')" "$(json 'len(set(s["id"] for s in d))')" "every ID is different"
check_eq '["enabled", "id", "name", "port", "start", "vms"]' "$(json 'sorted(d[0].keys())')" "service JSON keys"

# ---- duplicates ----
expect 1 "a duplicate name" "$H" service add SSH --port 2222
check_err "adding service 'SSH'" "the message names the input"
check_err "name" "the message says the name is taken"
expect 1 "a duplicate ID" "$H" service add again --id "$custom"
check_err "$custom" "the message names the ID"
expect 1 "a duplicate port" "$H" service add again --port 22
check_err "port 22" "the message names the port"
check_err "ssh" "the message names the service that has it"
expect 1 "a duplicate port through a template ID" "$H" service add again --id "00000016-$TPL"
expect 1 "the failed adds changed nothing (show exits 1)" "$H" service show again

# ---- malformed input ----
expect 2 "a malformed --id" "$H" service add bad --id 1234
check_err "'1234'" "the message names the malformed ID"
expect 2 "a malformed --port" "$H" service add bad --port 22x
check_err "'22x'" "the message names the malformed port"
expect 2 "a port out of range" "$H" service add bad --port 0x80000000
expect 2 "a name that is a GUID" "$H" service add "$custom"
expect 2 "a name that is a number" "$H" service add 2222
check_err "'2222'" "the message names the numeric name"
expect 2 "a name that is a hex number" "$H" service add 0x10
expect 2 "an empty name" "$H" service add ""
expect 2 "a name with a newline" "$H" service add "$(printf 'a\nb')"
expect 2 "add without a name" "$H" service add
expect 2 "add with two names" "$H" service add a b
expect 2 "an unknown option" "$H" service add x --bogus
check_err "'--bogus'" "the message names the option"
expect 2 "--port without a value" "$H" service add x --port
expect 1 "nothing was added by the failures" "$H" service show bad

# ---- --start, --disabled, escaping ----
expect 0 "add with --start and --disabled" "$H" service add web --port 8080 --start "/usr/bin/web --serve \"x\"" --disabled
expect 0 "show web --json" "$H" service show web --json
check_json "show --json is valid JSON"
check_eq '/usr/bin/web --serve "x"' "$(json 'd["start"]')" "--start is stored"
check_eq false "$(json 'd["enabled"]')" "--disabled registers it switched off"
expect 0 "show web" "$H" service show web
check_contains "$T/out" "Enabled:  no" "show says disabled"
check_contains "$T/out" "Start:    /usr/bin/web --serve \"x\"" "show prints the start command"
expect 0 "show ssh --json" "$H" service show ssh --json
check_eq null "$(json 'd["start"]')" "start is null when not set"

weird='Quote " back \ slash / end é'
expect 0 "a name with quotes, a backslash and UTF-8" "$H" service add "$weird"
expect 0 "list --json with it" "$H" service list --json
check_json "escaped names keep the JSON valid"
check_eq "$weird" "$(json '[s["name"] for s in d if s["name"].startswith("Quote")][0]')" "the name survives JSON escaping"

# ---- show by ID and by name ----
expect 0 "show by name, other case" "$H" service show SSH
check_contains "$T/out" "ID:       00000016-$TPL" "show by name finds the service"
check_contains "$T/out" "Port:     22" "show prints the port"
expect 0 "show by upper-case braced ID" "$H" service show "{00000016-FACB-11E6-BD58-64006A7986D3}"
check_contains "$T/out" "Name:     ssh" "show by ID finds the service"

# ---- list table ----
expect 0 "list" "$H" service list
check_contains "$T/out" "$(printf '%-36s  %-10s  %-7s  %s' "00000016-$TPL" 22 yes ssh)" "the table row of ssh"
check_contains "$T/out" "$(printf '%-36s  %-10s  %-7s  %s' "00001f90-$TPL" 8080 no web)" "the table row of web (disabled)"

# ---- enable/disable globally ----
expect 0 "disable ssh" "$H" service disable ssh
check_stdout_empty "disable prints nothing"
expect 0 "show ssh" "$H" service show ssh --json
check_eq false "$(json 'd["enabled"]')" "ssh is disabled"
expect 0 "enable ssh by ID" "$H" service enable "00000016-$TPL"
expect 0 "show ssh" "$H" service show ssh --json
check_eq true "$(json 'd["enabled"]')" "ssh is enabled again"
expect 1 "enable an unknown service" "$H" service enable nosuch
check_err "'nosuch'" "the message names the service"

# ---- per-VM policies ----
"$H" vm add vm1 --cid 5 >/dev/null || fail "vm add vm1"
vm2=$("$H" vm add vm2 --uds "$T/vm2.sock") || fail "vm add vm2"
expect 0 "disable ssh for vm1" "$H" service disable ssh --vm vm1
expect 0 "enable web for vm2 (by VM ID)" "$H" service enable web --vm "$vm2"
expect 0 "list --vm vm1" "$H" service list --vm vm1
check_contains "$T/out" "POLICY" "list --vm has a POLICY column"
check_contains "$T/out" "$(printf '%-36s  %-10s  %-7s  %-8s  %s' "00000016-$TPL" 22 no disabled ssh)" "ssh is off for vm1"
check_contains "$T/out" "$(printf '%-36s  %-10s  %-7s  %-8s  %s' "00000ac9-$TPL" 2761 yes default "Hyper-V Demo")" "other services follow the default for vm1"
expect 0 "list --vm vm2" "$H" service list --vm vm2
check_contains "$T/out" "$(printf '%-36s  %-10s  %-7s  %-8s  %s' "00000016-$TPL" 22 yes default ssh)" "ssh is on for vm2"
check_contains "$T/out" "$(printf '%-36s  %-10s  %-7s  %-8s  %s' "00001f90-$TPL" 8080 no enabled web)" "the global switch overrides a per-VM enable"
expect 0 "list --vm vm2 --json" "$H" service list --vm vm2 --json
check_json "list --vm --json is valid JSON"
check_eq '["enabled", false, false]' "$(json '[(s["policy"], s["allowed"], s["enabled"]) for s in d if s["name"] == "web"][0]')" "JSON policy and effective state for vm2"
expect 0 "enable web globally" "$H" service enable web
expect 0 "list --vm vm2" "$H" service list --vm vm2
check_contains "$T/out" "$(printf '%-36s  %-10s  %-7s  %-8s  %s' "00001f90-$TPL" 8080 yes enabled web)" "web is on for vm2 once enabled globally"
expect 0 "show ssh --json" "$H" service show ssh --json
check_eq '[{"vm": "vm1", "policy": "disabled"}]' "$(json 'd["vms"]')" "show lists the per-VM override"
expect 0 "show ssh" "$H" service show ssh
check_contains "$T/out" "vm1" "show text lists the VM override"
expect 0 "vm show vm1 --json" "$H" vm show vm1 --json
check_eq "[{\"service\": \"00000016-$TPL\", \"policy\": \"disabled\"}]" "$(json 'd["policies"]')" "the VM carries the override"

expect 2 "default needs --vm" "$H" service default ssh
check_err "--vm" "the message names the missing option"
expect 0 "default ssh for vm1" "$H" service default ssh --vm vm1
expect 0 "show ssh --json" "$H" service show ssh --json
check_eq '[]' "$(json 'd["vms"]')" "default drops the override"
expect 0 "list --vm vm1" "$H" service list --vm vm1
check_contains "$T/out" "$(printf '%-36s  %-10s  %-7s  %-8s  %s' "00000016-$TPL" 22 yes default ssh)" "ssh follows the default for vm1 again"
expect 1 "a policy for an unknown VM" "$H" service disable ssh --vm nosuchvm
check_err "nosuchvm" "the message names the VM"
expect 1 "list for an unknown VM" "$H" service list --vm nosuchvm
check_err "'nosuchvm'" "the message names the VM"

# ---- remove ----
expect 0 "disable web for vm1" "$H" service disable web --vm vm1
expect 0 "remove web" "$H" service remove WEB
check_stdout_empty "remove prints nothing"
expect 1 "web is gone" "$H" service show web
expect 0 "vm show vm1 --json" "$H" vm show vm1 --json
check_eq '[]' "$(json 'd["policies"]')" "remove drops the VM overrides of vm1"
expect 0 "vm show vm2 --json" "$H" vm show vm2 --json
check_eq '[]' "$(json 'd["policies"]')" "remove drops the VM overrides of vm2"
expect 1 "remove it again" "$H" service remove web
check_err "'web'" "the message names the service"
expect 0 "remove by ID" "$H" service remove "$custom"
expect 1 "gone by ID" "$H" service show "$custom"
expect 0 "port 8080 is free again" "$H" service add web2 --port 8080

# ---- concurrent writers do not lose each other's changes ----
pids=""
i=0
while [ $i -lt 10 ]; do
        "$H" service add "par-$i" >/dev/null 2>"$T/par-$i.err" &
        pids="$pids $!"
        i=$((i + 1))
done
for p in $pids; do
        wait "$p" || fail "a concurrent add failed: $(cat "$T"/par-*.err)"
done
expect 0 "list --json" "$H" service list --json
check_eq 10 "$(json 'len([s for s in d if s["name"].startswith("par-")])')" "10 concurrent adds all landed"

finish
