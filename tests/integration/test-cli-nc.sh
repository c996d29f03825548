#!/bin/sh
# hvsock nc over the local transport (loopback) and the hybrid transport (a
# socat-based fake muxer): binary-clean transfers both ways, half-close in
# both directions, -k, refusals, SERVICE by name/port/GUID, write errors.
. "$(dirname "$0")/lib.sh"

command -v sha256sum >/dev/null || skip "sha256sum is not installed"

sum() {
        sha256sum <"$1" | cut -d' ' -f1
}

# server_rc NAME: the exit status a server script wrote to $T/NAME.rc.
server_rc() {
        cat "$T/$1.rc" 2>/dev/null || echo none
}

head -c 3000000 /dev/urandom >"$T/in.bin"
head -c 2500000 /dev/urandom >"$T/in2.bin"

# ---- client -> server file, checksummed ----
listen_sh "$T/s1.err" '"$H" nc -v -l loopback 5000 </dev/null >"$T/recv.bin"'
srv=$BG
IN=$T/in.bin expect 0 "client sends a 3 MB file" "$H" nc loopback 5000
check_stdout_empty "the client prints nothing (the server sent nothing)"
wait_exit "$srv" "server of the file transfer"
check_eq 0 "$RC" "the server exits 0 after one connection"
check_eq "$(sum "$T/in.bin")" "$(sum "$T/recv.bin")" "the received file has the same SHA-256"
check_contains "$T/s1.err" "connection from VM e0e16197-dd56-4a10-9195-5ee7a155a838" "-v reports the peer on stderr"

# ---- server -> client file ----
listen_sh "$T/s2.err" '"$H" nc -v -l loopback 5000 <"$T/in.bin"'
srv=$BG
expect 0 "client receives a 3 MB file" "$H" nc loopback 5000
check_eq "$(sum "$T/in.bin")" "$(sum "$T/out")" "the file the client received has the same SHA-256"
wait_exit "$srv" "server sending the file"
check_eq 0 "$RC" "the sending server exits 0"

# ---- both directions at once (no deadlock when both sides push) ----
listen_sh "$T/s3.err" '"$H" nc -v -l loopback 5001 <"$T/in.bin" >"$T/recv2.bin"'
srv=$BG
IN=$T/in2.bin expect 0 "both sides send 2.5-3 MB at once" "$H" nc loopback 5001
check_eq "$(sum "$T/in.bin")" "$(sum "$T/out")" "client got the server's file"
wait_exit "$srv" "server of the two-way transfer"
check_eq 0 "$RC" "the two-way server exits 0"
check_eq "$(sum "$T/in2.bin")" "$(sum "$T/recv2.bin")" "server got the client's file"

# ---- request, client EOF, then the server's reply ----
# The server's handler reads the whole request (until the client's EOF
# reaches it), and only then answers; the client must get all of it. Two
# fifos connect nc and the handler so that each process holds only its own
# ends (a pipeline's subshell would keep the pipe open and hide the EOF).
# Both open the fifos in the same order, so the opens pair up. nc runs as
# a background job so the redirections are made in its own process (dash
# makes them in the parent shell for a foreground command).
mkfifo "$T/f1" "$T/f1b"
bg sh -c '{ cat >"$T/req"; printf "got %s bytes\n" "$(wc -c <"$T/req")"; } >"$T/f1" <"$T/f1b"'
listen_sh "$T/s4.err" '"$H" nc -v -l loopback 5002 <"$T/f1" >"$T/f1b" & wait $!; echo $? >"$T/s4.rc"'
srv=$BG
printf 'hello world' >"$T/request"
IN=$T/request expect 0 "request/response client" "$H" nc loopback 5002
check_out "got 11 bytes" "the reply sent after the client's EOF arrives in full"
wait_exit "$srv" "request/response server"
check_eq "hello world" "$(cat "$T/req")" "the server got the whole request"
check_eq 0 "$(server_rc s4)" "the request/response server exits 0"

# ---- server EOF first, then the client's reply ----
printf 'greetings from the server\n' >"$T/greeting"
listen_sh "$T/s5.err" '"$H" nc -v -l loopback 5003 <"$T/greeting" >"$T/thanks"; echo $? >"$T/s5.rc"'
srv=$BG
mkfifo "$T/f2" "$T/f2b"
bg sh -c '{ cat >"$T/greet_recv"; echo "thanks for $(wc -c <"$T/greet_recv") bytes"; } >"$T/f2" <"$T/f2b"'
run sh -c 'exec "$H" nc loopback 5003 <"$T/f2" >"$T/f2b"'
check_eq 0 "$RC" "the replying client exits 0"
check_eq "greetings from the server" "$(cat "$T/greet_recv")" "the client got the greeting"
wait_exit "$srv" "greeting server"
check_eq "thanks for 26 bytes" "$(cat "$T/thanks")" "the server got the reply sent after its own EOF"
check_eq 0 "$(server_rc s5)" "the greeting server exits 0"

# ---- -k: two clients one after the other ----
listen_sh "$T/s6.err" '"$H" nc -v -l -k loopback 5004 </dev/null >"$T/k.out"'
srv=$BG
printf one >"$T/one"
printf two >"$T/two"
IN=$T/one expect 0 "first client of -k" "$H" nc loopback 5004
IN=$T/two expect 0 "second client of -k" "$H" nc loopback 5004
check_eq onetwo "$(cat "$T/k.out")" "-k relayed both clients in order"
kill -0 "$srv" 2>/dev/null || fail "the -k server exited after two clients"
pass "the -k server keeps listening"
check_eq 2 "$(grep -c 'connection from' "$T/s6.err")" "-k reported two connections"
kill -TERM "-$srv"
wait "$srv" 2>/dev/null

# ---- refused ----
TIMEOUT=5 expect 1 "connecting where nothing listens" "$H" nc loopback 5999
check_err "refused" "the message says refused"
check_err "'loopback'" "the message names the VM"
check_err "'5999'" "the message names the service"
check_stdout_empty "nothing on stdout when refused"
expect 1 "after a one-shot server, the port is free (refused)" "$H" nc loopback 5000
check_err "refused" "the one-shot listener is gone"

# ---- SERVICE by name, port and GUID; VM by name/GUID ----
"$H" service add "Echo Service" --port 5005 >/dev/null || fail "service add"
custom=$("$H" service add custom --id 5d1e4e7c-8c3b-4a35-9d67-0e3e2a0f1b11 --port 5006) || fail "service add custom"
echo data >"$T/data"
n=0
# listen-as connect-as
for pair in "Echo Service|5005" "5005|echo service" "0000138d-facb-11e6-bd58-64006a7986d3|Echo Service" \
            "custom|$custom" "$custom|CUSTOM"; do
        n=$((n + 1))
        l=${pair%%|*}
        c=${pair#*|}
        SVC=$l listen_sh "$T/n$n.err" '"$H" nc -v -l loopback "$SVC" </dev/null >"$T/n.out"'
        srv=$BG
        IN=$T/data expect 0 "listen as '$l', connect as '$c'" "$H" nc loopback "$c"
        wait_exit "$srv" "server listening as '$l'"
        check_eq data "$(cat "$T/n.out")" "data arrives (listen '$l', connect '$c')"
done
listen_sh "$T/n-any.err" '"$H" nc -v -l any 5005 </dev/null >"$T/n.out"'
srv=$BG
IN=$T/data expect 0 "listening on 'any' accepts a loopback client" "$H" nc e0e16197-dd56-4a10-9195-5ee7a155a838 5005
wait_exit "$srv" "server on any"
check_eq data "$(cat "$T/n.out")" "data arrives through the 'any' listener (client by VM GUID)"
expect 1 "an unknown service name" "$H" nc loopback nosuchservice
check_err "'nosuchservice'" "the message names the service"
expect 1 "a GUID that maps to no port" "$H" nc loopback 0f0e0d0c-0b0a-4908-8706-050403020100
check_err "'0f0e0d0c-0b0a-4908-8706-050403020100'" "the message names the service ID"
expect 1 "an unknown VM name" "$H" nc nosuchvm 5005
check_err "'nosuchvm'" "the message names the VM"
expect 2 "a port out of range" "$H" nc loopback 0x80000000
check_err "'0x80000000'" "the message names the port"

# ---- a write error ends nc with exit 1 ----
head -c 20000000 /dev/zero >"$T/zero.bin"
listen_sh "$T/s7.err" '{ "$H" nc -v -l loopback 5008 </dev/null; echo $? >"$T/s7.rc"; } | head -c 10 >/dev/null'
srv=$BG
IN=$T/zero.bin expect 1 "the client fails when the server goes away mid-stream" "$H" nc loopback 5008
wait_exit "$srv" "server whose output closed"
check_eq 1 "$(server_rc s7)" "the server fails when its stdout is closed (EPIPE)"
check_contains "$T/s7.err" "writing standard output" "the server says what failed"

# ---- hybrid transport through a socat fake muxer ----
if command -v socat >/dev/null; then
        cat >"$T/muxer.sh" <<'MUXER'
# A fake hybrid vsock muxer: reads "CONNECT <port>", answers OK, then
# serves an upper-casing echo as if a guest listened on that port.
IFS=' ' read -r cmd port
[ "$cmd" = CONNECT ] || exit 1
echo "$port" >"$T/muxer.port"
printf 'OK 1073741824\n'
exec tr a-z A-Z
MUXER
        hyb=$("$H" vm add hyb --uds "$T/hyb.sock") || fail "vm add hyb"
        "$H" vm add dead --uds "$T/dead.sock" >/dev/null || fail "vm add dead"
        bg socat UNIX-LISTEN:"$T/hyb.sock",fork EXEC:"sh $T/muxer.sh"
        bg socat UNIX-LISTEN:"$T/dead.sock",fork EXEC:true
        wait_sock() {
                i=0
                while [ ! -S "$1" ]; do
                        i=$((i + 1))
                        [ $i -le 200 ] || fail "socat did not create $1"
                        sleep 0.05
                done
        }
        wait_sock "$T/hyb.sock"
        wait_sock "$T/dead.sock"
        printf 'hello hybrid vsock\n' >"$T/hello"
        IN=$T/hello expect 0 "nc to a hybrid VM by name" "$H" nc hyb 5009
        check_out "HELLO HYBRID VSOCK" "the reply comes back through the muxer"
        check_eq 5009 "$(cat "$T/muxer.port")" "the muxer got CONNECT with the service's port"
        IN=$T/hello expect 0 "nc to a hybrid VM by ID and service name" "$H" nc "$hyb" "Echo Service"
        check_out "HELLO HYBRID VSOCK" "the reply comes back again"
        check_eq 5005 "$(cat "$T/muxer.port")" "the service name became its port"
        TIMEOUT=10 expect 1 "a muxer that closes without OK" "$H" nc dead 5009
        check_err "refused" "a close without reply is a refusal"
        # Guest to host: the muxer connects to <uds>_<port>.
        listen_sh "$T/s8.err" '"$H" nc -v -l hyb 5010 </dev/null >"$T/guest.out"'
        srv=$BG
        printf 'from the guest' | timeout 10 socat - UNIX-CONNECT:"$T/hyb.sock_5010" ||
                fail "socat could not reach the hybrid listener at $T/hyb.sock_5010"
        wait_exit "$srv" "hybrid listener"
        check_eq 0 "$RC" "the hybrid listener exits 0"
        check_eq "from the guest" "$(cat "$T/guest.out")" "a guest connection through <uds>_<port> arrives"
else
        fail "socat is not installed (scripts/install-deps check installs it); the hybrid checks need it"
fi

finish
