# Helpers shared by scripts/guest/*. Sourced, never run; the caller sets $prog.
# $prog is the caller's and GUEST_MODULES is read by fetch-kernel:
# shellcheck shell=sh disable=SC2034,SC2154

die() {
        echo "$prog: $*" >&2
        exit 1
}

usage_error() {
        echo "$prog: $*" >&2
        echo "Try '$prog --help'." >&2
        exit 2
}

need_tool() {
        command -v "$1" >/dev/null 2>&1 ||
                die "'$1' not found (Debian package $2; scripts/install-deps guest)"
}

# The guest's vsock stack, in load order: each module needs the ones before it.
# vsock_loopback gives the guest CID 1 without any device attached.
GUEST_MODULES="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
vsock vmw_vsock_virtio_transport_common vsock_loopback vmw_vsock_virtio_transport"

# Refreshes the package lists. Root only: fail with the command to run
# rather than half-working from stale or missing lists.
apt_refresh() {
        [ "$(id -u)" -eq 0 ] ||
                die "apt package lists are missing or stale; run: sudo apt-get update"
        echo "$prog: apt-get update"
        apt-get update -qq
}

# deb_download PKG DIR: prints the path of PKG's .deb in DIR, downloading it
# only when no version of it is there yet (the cache). Returns 1 on failure.
deb_download() {
        for f in "$2/$1"_*.deb; do
                [ -f "$f" ] && { echo "$f"; return 0; }
        done
        echo "$prog: downloading $1" >&2
        # apt-get download writes to the current directory. Its sandbox user
        # (_apt) may not reach a cache under $HOME; root then downloads itself
        # and warns, which is harmless, so drop that one line.
        (cd "$2" && apt-get download -q "$1" 2>&1 >/dev/null) |
                grep -v 'unsandboxed as root' >&2 || true
        for f in "$2/$1"_*.deb; do
                [ -f "$f" ] && { echo "$f"; return 0; }
        done
        return 1
}

# cache_lock DIR: holds an exclusive lock on DIR/.lock (fd 9) until the
# caller exits. Tests run in parallel: two of them refreshing one cache (a new
# kernel package appeared) would otherwise swap modules/ under each other.
# The wait is bounded: a download takes minutes at worst.
cache_lock() {
        need_tool flock util-linux
        exec 9>"$1/.lock"
        flock -w 900 9 || die "$1 is locked by another run for 15 minutes; giving up"
}
