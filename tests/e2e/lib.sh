# Helpers for the e2e scripts that run a guest in the background and talk to
# it while it runs. Sourced; the caller sets $work and calls e2e_cleanup at exit.
# shellcheck shell=sh

e2e_pids=""

# e2e_bg CMD...: starts CMD in the background and remembers it for cleanup.
e2e_bg() {
        "$@" &
        e2e_pids="$e2e_pids $!"
}

e2e_cleanup() {
        for p in $e2e_pids; do kill "$p" 2>/dev/null || true; done
        [ -f "$work/qemu.pid" ] && kill -KILL "$(cat "$work/qemu.pid")" 2>/dev/null || true
        wait 2>/dev/null || true
}

# e2e_wait_for FILE SECONDS: waits until FILE exists (a socket, a log).
e2e_wait_for() {
        n=$(($2 * 10))
        while [ "$n" -gt 0 ]; do
                [ -e "$1" ] && return 0
                sleep 0.1
                n=$((n - 1))
        done
        echo "FAIL: $1 did not appear within $2 s"
        return 1
}

# e2e_wait_marker LOG MARKER PID SECONDS [COUNT]: waits until COUNT lines
# (default 1) of LOG start with MARKER. Fails when PID (the guest's run-qemu)
# ends first, or after SECONDS: a guard against a hung guest, not a timing
# check.
e2e_wait_marker() {
        n=$(($4 * 5))
        while [ "$n" -gt 0 ]; do
                e2e_has_marker "$1" "$2" "${5:-1}" && return 0
                if ! kill -0 "$3" 2>/dev/null; then
                        e2e_has_marker "$1" "$2" "${5:-1}" && return 0
                        echo "FAIL: the guest ended before printing '$2' ${5:-1} time(s)"
                        return 1
                fi
                sleep 0.2
                n=$((n - 1))
        done
        echo "FAIL: no '$2' (${5:-1} time(s)) from the guest within $4 s"
        return 1
}

# e2e_has_marker LOG MARKER COUNT: LOG has at least COUNT lines starting with MARKER.
e2e_has_marker() {
        [ "$(tr -d '\r' 2>/dev/null <"$1" | grep -c "^$2")" -ge "$3" ]
}

# e2e_expect FILE MARKER [COUNT]: FILE has COUNT (default 1 or more) lines
# starting with MARKER.
e2e_expect() {
        c=$(tr -d '\r' <"$1" | grep -c "^$2" || true)
        if [ -n "${3:-}" ] && [ "$c" -ne "$3" ]; then
                echo "FAIL: $(basename "$1"): $c lines '$2', expected $3"
                return 1
        fi
        if [ "$c" -eq 0 ]; then
                echo "FAIL: $(basename "$1"): no '$2'"
                return 1
        fi
        tr -d '\r' <"$1" | grep "^$2" | sed "s/^/  $(basename "$1"): /"
}
