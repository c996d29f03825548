#!/bin/sh
# hvsock nc as an OpenSSH ProxyCommand over the local transport: an sshd in
# inetd mode sits behind `hvsock nc -l`, the client reaches it through
# `ssh -o ProxyCommand='hvsock nc loopback SERVICE'`, runs a command and
# moves a binary file both ways. Skips (77) without OpenSSH client and server;
# SSHD may name the server binary.
. "$(dirname "$0")/lib.sh"

SSHD=${SSHD:-$(command -v sshd || echo /usr/sbin/sshd)}
command -v ssh >/dev/null || skip "ssh (openssh-client) is not installed"
command -v ssh-keygen >/dev/null || skip "ssh-keygen is not installed"
[ -x "$SSHD" ] || skip "sshd (openssh-server) is not installed; set SSHD to its path to run this test"
command -v sha256sum >/dev/null || skip "sha256sum is not installed"
user=$(id -un)

# sshd refuses to run as root without its privilege separation directory.
# As root we make it, as its systemd unit would (RuntimeDirectory=sshd).
if [ "$(id -u)" = 0 ] && [ ! -d /run/sshd ]; then
        mkdir -p -m 0755 /run/sshd || skip "sshd needs /run/sshd and it cannot be made"
fi

mkdir -p "$T/ssh"
chmod 700 "$T/ssh"
ssh-keygen -q -t ed25519 -N '' -f "$T/ssh/host" || fail "making the host key"
ssh-keygen -q -t ed25519 -N '' -f "$T/ssh/client" || fail "making the client key"
cp "$T/ssh/client.pub" "$T/ssh/authorized_keys"
chmod 600 "$T/ssh/authorized_keys"
cat >"$T/ssh/sshd_config" <<EOF2
HostKey $T/ssh/host
AuthorizedKeysFile $T/ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
PidFile none
LogLevel ERROR
EOF2
"$SSHD" -t -f "$T/ssh/sshd_config" 2>"$T/sshd-t.err" ||
        skip "this sshd does not accept a test configuration: $(cat "$T/sshd-t.err")"

"$H" service add ssh-test --port 2222 >/dev/null || fail "service add"

# The server: every connection gets its own sshd -i, fed by hvsock nc -l
# through two fifos (each process holds only its own ends). Both open s.in
# first, so neither blocks on a fifo whose other end waits behind the first.
serve_one() {
        rm -f "$T/s.in" "$T/s.out"
        mkfifo "$T/s.in" "$T/s.out"
        bg sh -c 'exec "$SSHD" -i -f "$T/ssh/sshd_config" -E "$T/sshd.log" >"$T/s.in" <"$T/s.out"'
        listen_sh "$T/nc-$1.err" 'exec "$H" nc -v -l loopback ssh-test <"$T/s.in" >"$T/s.out"'
}
export SSHD

# ssh_run CMD...: runs CMD in the "VM" over ssh (through lib.sh's run).
ssh_run() {
        run ssh -F none -i "$T/ssh/client" -o IdentitiesOnly=yes -o BatchMode=yes \
                -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
                -o ProxyCommand="$H nc %h ssh-test" "$user@loopback" "$@"
}

serve_one 1
ssh_run echo hello over hvsock
[ "$RC" = 0 ] || { show_output; cat "$T/sshd.log" >&2 2>/dev/null; fail "ssh through hvsock nc: expected exit 0, got $RC"; }
pass "ssh with hvsock nc as ProxyCommand runs a command"
check_out "hello over hvsock" "the command's output comes back"

head -c 2000000 /dev/urandom >"$T/blob"
serve_one 2
IN=$T/blob ssh_run "cat >'$T/blob.remote'"
check_eq 0 "$RC" "ssh uploads 2 MB through hvsock nc"
check_eq "$(sha256sum <"$T/blob" | cut -d' ' -f1)" "$(sha256sum <"$T/blob.remote" | cut -d' ' -f1)" \
        "the upload arrives intact"

serve_one 3
ssh_run "cat '$T/blob'"
check_eq 0 "$RC" "ssh downloads 2 MB through hvsock nc"
check_eq "$(sha256sum <"$T/blob" | cut -d' ' -f1)" "$(sha256sum <"$T/out" | cut -d' ' -f1)" \
        "the download arrives intact"

finish
