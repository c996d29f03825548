#!/bin/sh
# The VM Session Service in a real guest (issue 4): hvsock-sessiond, linked
# statically, runs in the Debian guest under QEMU TCG (`--listen any`, on
# the guest's AF_VSOCK), hvsock-vhost is its vsock device, and the host
# reaches it through the VM registered with `hvsock vm add e2e-vm --uds`:
#
#   hvsock exec e2e-vm -- uname -r      the guest's kernel release
#   exit codes                          a code, a signal (128+N), a missing command (127)
#   separate streams                    stdout and stderr apart
#   stdin streaming                     4 MiB through a remote cat, SHA-256 compared
#   output while running                a second session releases the first
#   hvsock shell e2e-vm                 a login shell fed from a file (streams), and
#                                       on a real pseudo-terminal (python3's pty):
#                                       /dev/pts/N there, window size, exit status,
#                                       this terminal restored
#   --auth host and guest users         hvsock exec loopback inside the guest
#                                       (vsock loopback) is refused, even as root
#
#   tests/e2e/test-session-guest.sh   (BUILD_DIR: the meson build dir)
#   HVSOCK_E2E_CACHE=DIR   downloads and kernel (default ~/.cache/hvsock-e2e)
#   HVSOCK_E2E_TIMEOUT=S   QEMU's time limit (default 300)
# Exit 0 pass, 1 fail, 77 skip (a tool is missing).
set -eu
case "${1:-}" in
-h|--help) sed -n '2,21s/^# \{0,1\}//p' "$0"; exit 0 ;;
esac

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$top/build}
guest="$top/scripts/guest"
cache=${HVSOCK_E2E_CACHE:-$HOME/.cache/hvsock-e2e}
limit=${HVSOCK_E2E_TIMEOUT:-300}
. "$top/tests/e2e/lib.sh"

for tool in qemu-system-x86_64:qemu-system-x86 cpio:cpio gcc:gcc apt-get:apt dpkg-deb:dpkg \
        sha256sum:coreutils python3:python3; do
        command -v "${tool%%:*}" >/dev/null 2>&1 || {
                echo "SKIP: ${tool%%:*} not installed (Debian package ${tool#*:}; scripts/install-deps guest)"
                exit 77
        }
done
vhost="$build/src/vhost/hvsock-vhost"
hvsock="$build/src/cli/hvsock"
for b in "$vhost" "$hvsock"; do
        [ -x "$b" ] || { echo "FAIL: build first ($b)"; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/hvsock-e2e-session.XXXXXX")
trap 'e2e_cleanup; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
failed=0
fail() { echo "FAIL: $*"; failed=1; }
ok() { echo "  ok: $*"; }

export HVSOCK_CONFIG_DIR="$work/config" HVSOCK_RUNTIME_DIR="$work/run" HVSOCK_TRANSPORTS=local,hybrid
uds="$work/vsock.sock"
"$hvsock" vm add e2e-vm --uds "$uds" >/dev/null

"$guest/fetch-kernel" "$cache"
# The guest has no libc: the daemon is linked statically from the sources,
# with the archives of libuuid (uuid-dev) and libcrypto (libssl-dev, for the
# copy checksums), and without PAM (Debian has no static libaudit for
# libpam.a; this test uses --auth host). It never runs on this machine.
src="$top/src"
if ! gcc -static -O2 -std=gnu11 -D_GNU_SOURCE -DHVSOCK_VERSION='"e2e"' -DHVSOCK_NO_PAM \
        -I"$top/include" -I"$src/basic" -I"$src/lib" -I"$src/session" \
        "$src"/basic/*.c "$src"/lib/*.c "$src"/session/*.c \
        -luuid -lcrypto -lpthread -o "$work/hvsock-sessiond" 2>"$work/gcc.log"; then
        if grep -q "cannot find -luuid" "$work/gcc.log"; then
                echo "SKIP: no static libuuid (Debian package uuid-dev)"
                exit 77
        fi
        cat "$work/gcc.log"
        echo "FAIL: cannot link hvsock-sessiond statically"
        exit 1
fi
# The hvsock tool too: a user of the guest attacks the daemon with it.
if ! gcc -static -O2 -std=gnu11 -D_GNU_SOURCE -DHVSOCK_VERSION='"e2e"' -DHVSOCK_NO_PAM \
        -I"$top/include" -I"$src/basic" -I"$src/lib" -I"$src/session" -I"$src/cli" \
        "$src"/basic/*.c "$src"/lib/*.c $(ls "$src"/session/*.c | grep -v /sessiond.c) "$src"/cli/*.c \
        -luuid -lcrypto -lpthread -o "$work/hvsock" 2>"$work/gcc-cli.log"; then
        cat "$work/gcc-cli.log"
        echo "FAIL: cannot link hvsock statically"
        exit 1
fi

cat >"$work/scenario" <<'EOF'
[ -c /dev/vsock ] || { echo "no /dev/vsock"; exit 1; }
# Terminals for hvsock shell; a home for the login shell.
mkdir -p /dev/pts /root
mount -t devpts devpts /dev/pts
echo 'root:x:0:0:root:/root:/bin/sh' >/etc/passwd
HVSOCK_TRANSPORTS=vsock hvsock-sessiond --listen any 2>/tmp/sessiond.log &
sd=$!
n=0
until grep -q "listening on" /tmp/sessiond.log; do
        n=$((n + 1))
        [ $n -le 600 ] || { cat /tmp/sessiond.log; exit 1; }
        sleep 0.1
done
echo E2E-SESSIOND-READY
# The host ends the scenario through a session of its own.
until [ -e /tmp/done ]; do sleep 0.2; done
sed 's/^/sessiond: /' /tmp/sessiond.log
kill "$sd"
wait "$sd"
echo E2E-SESSION-DONE
EOF
"$guest/build-initramfs" "$cache" "$work/initrd.cpio.gz" \
        --add "$work/hvsock-sessiond:/usr/sbin/hvsock-sessiond" --add "$work/hvsock:/usr/bin/hvsock" \
        --init "$work/scenario" >/dev/null

"$vhost" --socket "$work/vhost.sock" --guest-cid 3 --uds-path "$uds" --vm e2e-vm 2>"$work/vhost.log" &
vpid=$!
e2e_pids="$e2e_pids $vpid"
e2e_wait_for "$work/vhost.sock" 10

echo "== booting the guest with hvsock-sessiond"
t0=$(date +%s)
"$guest/run-qemu" --kernel "$cache/vmlinuz" --initrd "$work/initrd.cpio.gz" \
        --vhost-user-vsock "$work/vhost.sock" --timeout "$limit" --pidfile "$work/qemu.pid" \
        </dev/null >"$work/serial.log" 2>&1 &
qpid=$!
e2e_wait_marker "$work/serial.log" E2E-SESSIOND-READY "$qpid" 240 || { cat "$work/serial.log"; exit 1; }
echo "   hvsock-sessiond listens in the guest after $(($(date +%s) - t0)) s"

# run NAME CMD...: runs CMD with stdin from $IN (default /dev/null); stdout
# in $work/NAME.out, stderr in $work/NAME.err, the exit status in $rc.
run() {
        name=$1
        shift
        rc=0
        "$@" <"${IN:-/dev/null}" >"$work/$name.out" 2>"$work/$name.err" || rc=$?
}

echo "== hvsock exec e2e-vm"
run uname "$hvsock" exec e2e-vm -- uname -r
want=$(cat "$cache/kernel-release")
if [ $rc -eq 0 ] && [ "$(cat "$work/uname.out")" = "$want" ]; then
        ok "hvsock exec e2e-vm -- uname -r: $want"
else
        fail "uname -r in the guest: exit $rc, '$(cat "$work/uname.out")' (expected '$want'); $(cat "$work/uname.err")"
fi

run code "$hvsock" exec e2e-vm -- sh -c 'exit 7'
[ $rc -eq 7 ] && ok "a remote exit 7 is the client's status" || fail "sh -c 'exit 7': exit $rc"
run sig "$hvsock" exec e2e-vm -- sh -c 'kill -TERM $$'
[ $rc -eq 143 ] && ok "a remote SIGTERM gives 143" || fail "kill -TERM \$\$: exit $rc"
run missing "$hvsock" exec e2e-vm -- no-such-command-hvsock
if [ $rc -eq 127 ] && grep -q "not found" "$work/missing.err"; then
        ok "a missing command gives 127: $(cat "$work/missing.err")"
else
        fail "a missing command: exit $rc, $(cat "$work/missing.err")"
fi

run streams "$hvsock" exec e2e-vm -- sh -c 'echo to-out; echo to-err >&2; exit 3'
if [ $rc -eq 3 ] && [ "$(cat "$work/streams.out")" = to-out ] && [ "$(cat "$work/streams.err")" = to-err ]; then
        ok "stdout and stderr come back apart"
else
        fail "separate streams: exit $rc, stdout '$(cat "$work/streams.out")', stderr '$(cat "$work/streams.err")'"
fi

head -c 4194304 /dev/urandom >"$work/stdin.bin"
IN="$work/stdin.bin" run cat "$hvsock" exec e2e-vm -- cat
if [ $rc -eq 0 ] && [ "$(sha256sum <"$work/stdin.bin" | cut -d' ' -f1)" = "$(sha256sum <"$work/cat.out" | cut -d' ' -f1)" ]; then
        ok "4 MiB of stdin through a remote cat, SHA-256 the same"
else
        fail "stdin through cat: exit $rc, $(wc -c <"$work/cat.out") bytes back; $(cat "$work/cat.err")"
fi

# The first session prints, then waits for a file that a second session
# creates only once the first line is here: output is not held until exit.
"$hvsock" exec e2e-vm -- sh -c 'echo first; while [ ! -e /tmp/go ]; do sleep 0.1; done; echo second' \
        >"$work/live.out" 2>"$work/live.err" &
live=$!
n=0
until grep -q first "$work/live.out" 2>/dev/null; do
        n=$((n + 1))
        [ $n -le 1200 ] || break
        kill -0 "$live" 2>/dev/null || break
        sleep 0.1
done
if grep -q first "$work/live.out" && ! grep -q second "$work/live.out"; then
        ok "the first line arrived while the command still ran"
else
        fail "streaming: '$(cat "$work/live.out")' $(cat "$work/live.err")"
fi
run go "$hvsock" exec e2e-vm -- touch /tmp/go
rc_live=0
wait "$live" || rc_live=$?
if [ $rc -eq 0 ] && [ $rc_live -eq 0 ] && [ "$(cat "$work/live.out")" = "first
second" ]; then
        ok "a second session at the same time released it; both lines, exit 0"
else
        fail "two sessions: exit $rc and $rc_live, '$(cat "$work/live.out")'"
fi

echo "== hvsock cp to and from e2e-vm"
head -c 3145728 /dev/urandom >"$work/cp.bin"
mkdir -p "$work/tree/sub dir"
printf 'x' >"$work/tree/sub dir/a file"
: >"$work/tree/empty"
run cpin "$hvsock" cp "$work/cp.bin" e2e-vm:/tmp/cp.bin
run cpdir "$hvsock" cp -r "$work/tree" e2e-vm:/tmp/
run cpout "$hvsock" cp e2e-vm:/tmp/cp.bin "$work/cp.back"
run cpdirout "$hvsock" cp -r e2e-vm:/tmp/tree "$work/tree.back"
if [ -f "$work/cp.back" ] &&
   [ "$(sha256sum <"$work/cp.bin" | cut -d' ' -f1)" = "$(sha256sum <"$work/cp.back" | cut -d' ' -f1)" ]; then
        ok "3 MiB copied into the guest and back, SHA-256 the same"
else
        fail "cp round trip: $(cat "$work/cpin.err" "$work/cpout.err")"
fi
if diff -r "$work/tree" "$work/tree.back" >"$work/cpdiff" 2>&1; then
        ok "a directory tree copied into the guest and back with -r is identical"
else
        fail "cp -r round trip: $(cat "$work/cpdiff" "$work/cpdir.err" "$work/cpdirout.err")"
fi

echo "== hvsock shell e2e-vm"
printf 'echo X-$((2+3)); echo "$0"; exit 6\n' >"$work/script"
IN="$work/script" run shell "$hvsock" shell e2e-vm
if [ $rc -eq 6 ] && [ "$(head -n 1 "$work/shell.out")" = X-5 ] && [ "$(tail -n 1 "$work/shell.out")" = -sh ]; then
        ok "a login shell (-sh) fed from a file; its exit 6 is the client's"
else
        fail "a shell fed from a file: exit $rc, '$(cat "$work/shell.out")' $(cat "$work/shell.err")"
fi

cat >"$work/drive-shell.py" <<'EOF'
import fcntl, os, pty, re, select, struct, subprocess, sys, termios, time

hvsock = sys.argv[1]
m, s = pty.openpty()
fcntl.ioctl(s, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
cooked = subprocess.run(["stty", "-g"], stdin=s, capture_output=True, text=True).stdout


def ctty():
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


p = subprocess.Popen([hvsock, "shell", "e2e-vm"], stdin=s, stdout=s, stderr=s, preexec_fn=ctty,
                     env=dict(os.environ, TERM="vt100"))
buf = b""


def expect(pattern):
    global buf
    end = time.monotonic() + 120  # a guard against a hang, not a timing check
    rx = re.compile(pattern.encode())
    while not rx.search(buf):
        if time.monotonic() > end:
            sys.exit("no %r in:\n%s" % (pattern, buf.decode(errors="replace")))
        if select.select([m], [], [], 1)[0]:
            buf += os.read(m, 65536)
    print("  ok: " + rx.search(buf).group(0).decode().strip())


os.write(m, b"echo T=$(tty) S=$(stty size) E=$TERM\r")
expect(r"T=/dev/pts/\d+ S=33 101 E=vt100")
fcntl.ioctl(m, termios.TIOCSWINSZ, struct.pack("HHHH", 44, 120, 0, 0))
os.write(m, b"echo W=$(stty size)\r")
expect(r"W=44 120")
os.write(m, b"exit 3\r")
rc = p.wait(120)
if rc != 3:
    sys.exit("exit 3 in the shell: hvsock shell exited %d" % rc)
print("  ok: exit 3 in the shell is the client's status")
after = subprocess.run(["stty", "-g"], stdin=s, capture_output=True, text=True).stdout
if after != cooked:
    sys.exit("the terminal was not restored: %s / %s" % (cooked, after))
print("  ok: the terminal settings are restored")
EOF
python3 "$work/drive-shell.py" "$hvsock" || fail "hvsock shell on a pseudo-terminal"

echo "== --auth host and the guest's own users (vsock loopback, CID 1)"
# A user of the guest reaches the daemon over vsock loopback: that is not the
# host the hypervisor vouches for, so it is refused, whoever asks.
attack='HVSOCK_TRANSPORTS=vsock HVSOCK_RUNTIME_DIR=/tmp/lo-run-$(id -u) hvsock exec loopback -- id -u'
for who in nobody root; do
        run lo "$hvsock" exec e2e-vm -- sh -c '
                grep -q "^nobody:" /etc/passwd || echo "nobody:x:65534:65534:nobody:/:/bin/sh" >>/etc/passwd
                exec su "$1" -s /bin/sh -c "$2"' sh "$who" "$attack"
        if [ $rc -eq 255 ] && [ ! -s "$work/lo.out" ] &&
                grep -q "accepts vsock connections only from the host (CID 2); CID 1 is refused" "$work/lo.err"; then
                ok "as $who in the guest, hvsock exec loopback is refused: $(cat "$work/lo.err")"
        else
                fail "hvsock exec loopback as $who in the guest: exit $rc, '$(cat "$work/lo.out")' $(cat "$work/lo.err")"
        fi
done

echo "== ending the guest through a session"
run done "$hvsock" exec e2e-vm -- touch /tmp/done
[ $rc -eq 0 ] || fail "touch /tmp/done: exit $rc $(cat "$work/done.err")"
e2e_wait_marker "$work/serial.log" "HVSOCK-GUEST-EXIT" "$qpid" 120 || failed=1
wait "$qpid" || fail "run-qemu exited $?"
e2e_expect "$work/serial.log" E2E-SESSION-DONE 1 || failed=1
e2e_expect "$work/serial.log" "HVSOCK-GUEST-EXIT 0" 1 || failed=1
tr -d '\r' <"$work/serial.log" | grep "^sessiond: " | sed 's/^/  /' | tail -n 20
kill -0 "$vpid" 2>/dev/null || fail "hvsock-vhost died"

if [ $failed -ne 0 ]; then
        echo "--- serial log:"
        tr -d '\r' <"$work/serial.log" | tail -n 40
        echo "--- hvsock-vhost log:"
        tail -n 20 "$work/vhost.log"
        exit 1
fi
echo "PASS: test-session-guest"
