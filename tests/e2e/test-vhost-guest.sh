#!/bin/sh
# End-to-end test of hvsock-vhost with a real guest: Debian's kernel under
# QEMU TCG with vhost-user-vsock-pci served by hvsock-vhost. Inside the guest
# vsock-host-echo checks: an echo through a registered host service (socat on
# <uds>_5000), and quick RST refusals for an unregistered port (6000) and a
# registered but disabled one (5001).
#
#   tests/e2e/test-vhost-guest.sh     (BUILD_DIR: the meson build dir)
#   HVSOCK_E2E_CACHE=DIR   downloads and kernel (default ~/.cache/hvsock-e2e)
#   HVSOCK_E2E_TIMEOUT=S   QEMU's time limit (default 180)
# Exit 0 pass, 1 fail, 77 skip (a tool is missing).
set -eu
case "${1:-}" in
-h|--help) sed -n '2,12s/^# \{0,1\}//p' "$0"; exit 0 ;;
esac

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$top/build}
guest="$top/scripts/guest"
cache=${HVSOCK_E2E_CACHE:-$HOME/.cache/hvsock-e2e}
limit=${HVSOCK_E2E_TIMEOUT:-180}

for tool in qemu-system-x86_64:qemu-system-x86 cpio:cpio gcc:gcc apt-get:apt dpkg-deb:dpkg socat:socat; do
        command -v "${tool%%:*}" >/dev/null 2>&1 || {
                echo "SKIP: ${tool%%:*} not installed (Debian package ${tool#*:}; scripts/install-deps guest)"
                exit 77
        }
done
vhost="$build/src/vhost/hvsock-vhost"
hvsock="$build/src/cli/hvsock"
[ -x "$vhost" ] && [ -x "$hvsock" ] || { echo "FAIL: build first ($vhost, $hvsock)"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/hvsock-e2e-vhost.XXXXXX")
pids=""
cleanup() {
        for p in $pids; do kill "$p" 2>/dev/null || true; done
        wait 2>/dev/null || true
        rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export HVSOCK_CONFIG_DIR="$work/config" HVSOCK_RUNTIME_DIR="$work/run" HVSOCK_TRANSPORTS=local,hybrid
"$hvsock" service add echo --port 5000 >/dev/null
"$hvsock" service add off --port 5001 --disabled >/dev/null

"$guest/fetch-kernel" "$cache"
gcc -static -O2 -Wall -o "$work/vsock-host-echo" "$top/tests/e2e/guest/vsock-host-echo.c"
cat >"$work/scenario" <<'EOF2'
[ -c /dev/vsock ] || { echo "no /dev/vsock"; exit 1; }
ls /sys/bus/virtio/devices
rc=0
/bin/vsock-host-echo echo 5000 || rc=1
/bin/vsock-host-echo refused 6000 || rc=1
/bin/vsock-host-echo refused 5001 || rc=1
exit $rc
EOF2
"$guest/build-initramfs" "$cache" "$work/initrd.cpio.gz" \
        --add "$work/vsock-host-echo:/bin/vsock-host-echo" --init "$work/scenario"

# The host service: an echo server where hvsock-vhost forwards port 5000.
socat UNIX-LISTEN:"$work/vsock.sock_5000",fork EXEC:cat &
pids="$pids $!"
"$vhost" --socket "$work/vhost.sock" --guest-cid 3 --uds-path "$work/vsock.sock" 2>"$work/vhost.log" &
vpid=$!
pids="$pids $vpid"
for _ in $(seq 50); do
        [ -S "$work/vhost.sock" ] && [ -S "$work/vsock.sock_5000" ] && break
        sleep 0.1
done

echo 0 >"$work/status"
{ "$guest/run-qemu" --kernel "$cache/vmlinuz" --initrd "$work/initrd.cpio.gz" \
        --vhost-user-vsock "$work/vhost.sock" --timeout "$limit" </dev/null ||
        echo $? >"$work/status"; } | tee "$work/serial.log"
tr -d '\r' <"$work/serial.log" >"$work/serial.txt"

failed=0
for marker in HVSOCK-GUEST-MODULES-OK VHOST-ECHO-OK VHOST-REFUSED-OK "HVSOCK-GUEST-EXIT 0"; do
        grep -Eq "^$marker( |\$)" "$work/serial.txt" || { echo "FAIL: no '$marker' on the guest console"; failed=1; }
done
[ "$(grep -c '^VHOST-REFUSED-OK' "$work/serial.txt")" -eq 2 ] || { echo "FAIL: expected two quick refusals"; failed=1; }
[ "$(cat "$work/status")" -eq 0 ] || { echo "FAIL: run-qemu exited $(cat "$work/status")"; failed=1; }
# hvsock-vhost must have outlived QEMU and stop cleanly on SIGTERM.
if kill -0 "$vpid" 2>/dev/null; then
        kill -TERM "$vpid"
        st=0
        wait "$vpid" || st=$?
        [ "$st" -eq 0 ] || { echo "FAIL: hvsock-vhost exited $st on SIGTERM"; failed=1; }
else
        echo "FAIL: hvsock-vhost died"; failed=1
fi
if [ -s "$work/vhost.log" ]; then echo "hvsock-vhost stderr:"; cat "$work/vhost.log"; fi
[ "$failed" -eq 0 ] || exit 1
echo "PASS: guest -> host echo through hvsock-vhost; refusals in $(sed -n 's/^VHOST-REFUSED-OK //p' "$work/serial.txt" | tr '\n' ' ')ms"
