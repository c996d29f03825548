#!/bin/sh
# The README's main command, the VM demo (scripts/demo), must keep working:
# run it against this build and check what it shows at each step.
# Exit 0 pass, 1 fail, 77 skip (a tool is missing).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$top/build}
for tool in qemu-system-x86_64:qemu-system-x86 cpio:cpio gcc:gcc apt-get:apt dpkg-deb:dpkg; do
        command -v "${tool%%:*}" >/dev/null 2>&1 || {
                echo "SKIP: ${tool%%:*} not installed (Debian package ${tool#*:}; scripts/install-deps guest)"
                exit 77
        }
done
out=$(mktemp)
trap 'rm -f "$out"' EXIT
st=0
"$top/scripts/demo" "$build" >"$out" 2>&1 </dev/null || st=$?
cat "$out"
[ $st -eq 0 ] || { echo "FAIL: the VM demo exited $st"; exit 1; }
failed=0
for expect in \
        "guest| guest: the host answered: HELLO FROM THE GUEST" \
        "guest| guest: connect to port 5001 reset by the host after" \
        "guest demo-vm (Linux " \
        "you said 'hello from the host'" \
        "service '7999': Connection refused" \
        "guest| guest: powering off" \
        "QEMU exited" \
        "hvsock-vhost stopped" \
        "demo: done"; do
        grep -qF "$expect" "$out" || { echo "FAIL: the demo output lacks '$expect'"; failed=1; }
done
[ $failed -eq 0 ] || exit 1
echo "PASS: VM demo"
