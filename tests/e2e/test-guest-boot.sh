#!/bin/sh
# End-to-end smoke test of the real-guest harness: fetch Debian's kernel,
# build an initramfs, boot it under QEMU TCG with NO vsock device, and check
# inside the guest that the vsock modules load and that vsock loopback
# (CID 1) carries 64 MiB intact. Everything vsock happens inside the guest.
#
#   tests/e2e/test-guest-boot.sh
#   HVSOCK_E2E_CACHE=DIR        downloads and kernel (default ~/.cache/hvsock-e2e)
#   HVSOCK_E2E_LOOP_MIB=N       bytes to move through CID 1 (default 64)
#   HVSOCK_E2E_TIMEOUT=S        QEMU's time limit (default 180)
# Exit 0 pass, 1 fail, 77 skip (a tool is missing).
set -eu
case "${1:-}" in
-h|--help) sed -n '2,11s/^# \{0,1\}//p' "$0"; exit 0 ;;
esac

top=$(cd "$(dirname "$0")/../.." && pwd)
guest="$top/scripts/guest"
cache=${HVSOCK_E2E_CACHE:-$HOME/.cache/hvsock-e2e}
mib=${HVSOCK_E2E_LOOP_MIB:-64}
limit=${HVSOCK_E2E_TIMEOUT:-180}

for tool in qemu-system-x86_64:qemu-system-x86 cpio:cpio gcc:gcc apt-get:apt dpkg-deb:dpkg; do
        command -v "${tool%%:*}" >/dev/null 2>&1 || {
                echo "SKIP: ${tool%%:*} not installed (Debian package ${tool#*:}; scripts/install-deps guest)"
                exit 77
        }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/hvsock-e2e.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

ms() { date +%s%3N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }

t0=$(ms)
"$guest/fetch-kernel" "$cache"
t1=$(ms)

# Built here, run only in the guest: it refuses to start without the guest's
# /etc/hvsock-guest, and this script never executes it.
gcc -static -O2 -Wall -o "$work/vsock-loop" "$top/tests/e2e/guest/vsock-loop.c"
cat >"$work/scenario" <<EOF
# Every module the harness loads must be live (insmod succeeding is not
# proof enough: a module can load and then fail its init quietly).
for m in \$(cat /lib/modules/order); do
        grep -q "^\$m " /proc/modules || { echo "module \$m not loaded"; exit 1; }
done
[ -c /dev/vsock ] || { echo "no /dev/vsock"; exit 1; }
/bin/vsock-loop $mib
EOF
"$guest/build-initramfs" "$cache" "$work/initrd.cpio.gz" \
        --add "$work/vsock-loop:/bin/vsock-loop" --init "$work/scenario"
t2=$(ms)

# sh has no pipefail: run-qemu's status travels through a file past tee.
echo 0 >"$work/status"
{ "$guest/run-qemu" --kernel "$cache/vmlinuz" --initrd "$work/initrd.cpio.gz" \
        --timeout "$limit" </dev/null || echo $? >"$work/status"; } | tee "$work/serial.log"
status=$(cat "$work/status")
t3=$(ms)
# The serial console ends lines with CR LF.
tr -d '\r' <"$work/serial.log" >"$work/serial.txt"

echo "timing: fetch-kernel $(secs "$t0" "$t1") s, build-initramfs $(secs "$t1" "$t2") s," \
        "boot-run-poweroff $(secs "$t2" "$t3") s (kernel $(cat "$cache/kernel-release"))"

failed=0
for marker in HVSOCK-GUEST-MODULES-OK VSOCK-LOOPBACK-OK "HVSOCK-GUEST-EXIT 0"; do
        grep -Eq "^$marker( |\$)" "$work/serial.txt" || { echo "FAIL: no '$marker' on the guest console"; failed=1; }
done
[ "$status" -eq 0 ] || { echo "FAIL: run-qemu exited $status"; failed=1; }
[ "$failed" -eq 0 ] || exit 1
echo "PASS: guest vsock loopback $(sed -n 's/^VSOCK-LOOPBACK-OK //p' "$work/serial.txt") MB/s"
