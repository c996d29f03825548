#!/bin/sh
# `make install` layout: headers, libhvsock.so, hvsock.pc, the tools, the
# man pages and the PAM service of hvsock-sessiond land under DESTDIR; a
# program builds against them through pkg-config and runs; the shared
# library exports only hvsock_ symbols.
set -eu
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT

meson install -C "$BUILD_DIR" --no-rebuild --destdir "$dest" >"$dest.log" 2>&1 || {
        cat "$dest.log"; rm -f "$dest.log"; echo "FAIL: meson install"; exit 1; }
rm -f "$dest.log"

fail() { echo "FAIL: $*"; exit 1; }
pc=$(find "$dest" -name hvsock.pc | head -1)
[ -n "$pc" ] || fail "no hvsock.pc installed"
for f in include/hvsock/hvsock.h include/hvsock/guid.h bin/hvsock bin/hvsock-vhost sbin/hvsock-sessiond \
        share/man/man1/hvsock.1 share/man/man1/hvsock-vhost.1; do
        find "$dest" -path "*/$f" | grep -q . || fail "$f not installed"
done

# The PAM service goes where PAM reads it (/etc/pam.d by default, whatever
# the prefix), under the name the daemon uses, with Debian's common stacks.
pamconfdir=$(meson introspect --buildoptions "$BUILD_DIR" |
        python3 -c 'import json, sys; print([o["value"] for o in json.load(sys.stdin) if o["name"] == "pamconfdir"][0])')
pam="$dest$pamconfdir/hvsock-sessiond"
[ -f "$pam" ] || fail "the PAM service is not installed at $pamconfdir/hvsock-sessiond"
grep -q '^#define SESSION_PAM_SERVICE "hvsock-sessiond"$' "$SOURCE_DIR/src/session/auth-pam.h" ||
        fail "the daemon's PAM service name is not the installed file's"
for stack in common-auth common-account common-session; do
        grep -q "^@include $stack\$" "$pam" || fail "the PAM service does not include $stack"
done
so=$(find "$dest" -name 'libhvsock.so.0*' -type f | head -1)
[ -n "$so" ] || fail "libhvsock.so.0 not installed"

# Only the public API is exported.
# (__odr_asan.* are AddressSanitizer's own markers in the ASan build.)
bad=$(nm -D --defined-only "$so" | awk '{print $3}' | grep -v -e '^hvsock_' -e '^HVSOCK_GUID_' \
        -e '^__odr_asan\.' || true)
[ -z "$bad" ] || fail "libhvsock.so exports non-API symbols: $bad"
nm -D --defined-only "$so" | grep -q ' hvsock__' && fail "internal hvsock__ symbols exported"

export PKG_CONFIG_PATH="$(dirname "$pc")" PKG_CONFIG_SYSROOT_DIR="$dest"
cflags=$(pkg-config --cflags hvsock)
libs=$(pkg-config --libs hvsock)
# A sanitized library (the ASan build of `make check`) needs its runtime first.
san=""
ldd "$so" | grep -q libasan && san="-fsanitize=address,undefined"
cc -Wall -Werror $san -o "$dest/example" "$SOURCE_DIR/tests/integration/data/example.c" $cflags $libs \
        || fail "example does not build against the installed library"
out=$(LD_LIBRARY_PATH="$(dirname "$so")" "$dest/example")
expect="00000ac9-facb-11e6-bd58-64006a7986d3 service ID maps to no vsock port (not a VSOCK-template GUID and not registered) 36"
[ "$out" = "$expect" ] || fail "example printed '$out', expected '$expect'"
echo "PASS: install layout, PAM service, pkg-config, exported symbols"
