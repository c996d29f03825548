#!/bin/sh
# The local-transport demo (scripts/demo-local) must keep working: run it and
# check what it shows. The VM demo has its own test in tests/e2e.
set -eu
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if ! HVSOCK_BIN="$HVSOCK_BIN" "$SOURCE_DIR/scripts/demo-local" "$BUILD_DIR" >"$out" 2>&1; then
        cat "$out"
        echo "FAIL: the demo exited non-zero"
        exit 1
fi
cat "$out"
for expect in "HELLO OVER A HYPER-V STYLE SOCKET" "refused" "demo: done"; do
        if ! grep -q "$expect" "$out"; then
                echo "FAIL: the demo output lacks '$expect'"
                exit 1
        fi
done
echo "PASS: demo-local"
