#!/bin/sh
# hvsock shell against hvsock-sessiond over the local transport, driven
# through a real pseudo-terminal (python3's pty module): the login shell on a
# remote terminal, TERM, the window size and its changes (SIGWINCH), ^C,
# the exit status, and this terminal's settings restored after a normal
# exit, an error, SIGTERM and SIGHUP. Without a terminal on stdin, plain
# streams.
. "$(dirname "$0")/lib.sh"

SESSIOND=${SESSIOND_BIN:-$BUILD_DIR/src/session/hvsock-sessiond}
[ -x "$SESSIOND" ] || fail "hvsock-sessiond is not built at $SESSIOND"
command -v python3 >/dev/null || skip "python3 is not installed"
login_shell=$(getent passwd "$(id -u)" | cut -d: -f7)
case $login_shell in
"" | */nologin | */false) skip "this user has no login shell ('$login_shell')" ;;
esac
[ -x "$login_shell" ] || skip "this user's login shell '$login_shell' is not executable"
export HVSOCK_TRANSPORTS=local

bg "$SESSIOND" --listen loopback 2>"$T/d.err"
D=$BG
wait_file_text "$T/d.err" "listening on"

# ---- arguments ----
expect 2 "no VM" "$H" shell
check_err "missing argument" "the message says what is missing"
expect 2 "an empty --user" "$H" shell loopback --user ''
expect 0 "shell --help" "$H" shell --help
check_contains "$T/out" "pseudo-terminal" "the help describes the terminal"

# ---- standard input that is not a terminal: streams, no raw mode ----
printf 'echo X-$((1+2)); echo to-err >&2; exit 4\n' >"$T/script"
IN=$T/script expect 4 "a shell fed from a file exits with its status" "$H" shell loopback
check_out "X-3" "its stdout"
check_eq "to-err" "$(cat "$T/err")" "its stderr comes separately (no terminal merges them)"
printf 'tty; echo "$0"\n' >"$T/script"
IN=$T/script expect 0 "no terminal without one here" "$H" shell loopback
check_contains "$T/out" "not a tty" "the remote shell has no terminal"
check_eq "-" "$(tail -n 1 "$T/out" | cut -c1)" "it is a login shell (argv[0] starts with '-')"
IN=$T/script expect 0 "a command instead of the login shell" "$H" shell loopback -- sh -c 'echo cmd-ran'
check_out "cmd-ran" "the command ran"
HVSOCK_RUNTIME_DIR=$T/nothing expect 255 "no daemon" "$H" shell loopback
check_err "is hvsock-sessiond running there?" "the message gives a hint"

# ---- through a real pseudo-terminal ----
cat >"$T/drive.py" <<'EOF'
import fcntl, os, pty, re, select, signal, struct, subprocess, sys, termios, time

H = os.environ["H"]
LIMIT = 60  # seconds for any one expected output: a hang fails, slowness does not
checks = 0


def ok(what):
    global checks
    checks += 1
    print("ok - %s" % what, flush=True)


def die(what):
    print("FAIL: %s" % what, file=sys.stderr, flush=True)
    sys.exit(1)


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def stty_g(fd):
    return subprocess.run(["stty", "-g"], stdin=fd, capture_output=True, text=True, check=True).stdout.strip()


class Session:
    """hvsock shell ARGS on a fresh pseudo-terminal, as its controlling
    terminal and foreground job (so window changes send it SIGWINCH)."""

    def __init__(self, *args, rows=24, cols=80):
        self.master, self.slave = pty.openpty()
        set_size(self.slave, rows, cols)
        self.cooked = stty_g(self.slave)
        self.buf = b""
        self.pos = 0
        env = dict(os.environ, TERM="vt100")
        slave = self.slave

        def ctty():
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen([H, "shell", "loopback", *args], stdin=slave, stdout=slave, stderr=slave,
                                     env=env, preexec_fn=ctty)

    def expect(self, pattern, what):
        rx = re.compile(pattern.encode())
        end = time.monotonic() + LIMIT
        while True:
            m = rx.search(self.buf, self.pos)
            if m:
                self.pos = m.end()
                ok(what)
                return m.group(1).decode() if rx.groups else m.group(0).decode()
            left = end - time.monotonic()
            if left <= 0:
                die("%s: no %r within %d s; output so far:\n%s" % (what, pattern, LIMIT,
                                                                    self.buf.decode(errors="replace")))
            r, _, _ = select.select([self.master], [], [], min(left, 1.0))
            if r:
                try:
                    data = os.read(self.master, 65536)
                except OSError:
                    data = b""
                if not data:
                    die("%s: the terminal closed; output so far:\n%s" % (what, self.buf.decode(errors="replace")))
                self.buf += data

    def type(self, line):
        os.write(self.master, line.encode())

    def wait(self):
        try:
            rc = self.proc.wait(LIMIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            die("hvsock shell did not end; output:\n%s" % self.buf.decode(errors="replace"))
        return rc

    def check_raw(self):
        if stty_g(self.slave) == self.cooked:
            die("the terminal is not in raw mode during the session")
        ok("the terminal is in raw mode during the session")

    def check_restored(self, how):
        after = stty_g(self.slave)
        if after != self.cooked:
            die("%s: terminal settings not restored: before %s, after %s" % (how, self.cooked, after))
        ok("%s: the terminal settings are restored (stty -g the same)" % how)

    def close(self):
        os.close(self.master)
        os.close(self.slave)


# A whole interactive session.
s = Session(rows=24, cols=80)
s.type("echo M1-$((6*7))\r")
s.expect(r"M1-42", "a typed command runs and its output comes back")
s.check_raw()
s.type('echo M2="$0"\r')
argv0 = s.expect(r"M2=([-\w./]+)", "the shell names itself")
if not argv0.startswith("-"):
    die("not a login shell: $0 is %r" % argv0)
ok("it is the user's login shell, run as a login shell ($0 %s)" % argv0)
s.type("echo M3=$(tty)\r")
remote = s.expect(r"M3=(/dev/pts/\d+)", "the remote shell has a terminal (tty shows /dev/pts/N)")
if remote == os.ttyname(s.slave):
    die("the remote terminal %s is the client's own" % remote)
ok("it is a terminal of its own (%s, the client's is %s)" % (remote, os.ttyname(s.slave)))
s.type("echo M4-$TERM\r")
s.expect(r"M4-vt100", "TERM is the client's")
s.type("echo M5-$(stty size)\r")
s.expect(r"M5-24 80", "the initial window size is the client's (stty size)")
# The kernel marks SIGWINCH pending for the client before this returns, so
# the client sends the new size ahead of the next keystrokes it reads.
set_size(s.master, 40, 100)
s.type("echo M6-$(stty size)\r")
s.expect(r"M6-40 100", "a window change reaches the remote terminal (SIGWINCH, WINSIZE)")
# The job says it runs (the typed line has the quotes, its output not), so
# the ^C lands on it and not on the shell still reading the line.
s.type("sh -c 'echo M7-\"r\"un; exec sleep 300'\r")
s.expect(r"M7-run", "a foreground job runs in the remote terminal")
s.type("\x03")
s.type("echo M7-$?\r")
s.expect(r"M7-(130)", "^C interrupts the remote foreground job (status 130)")
s.type("exit 3\r")
rc = s.wait()
if rc != 3:
    die("exit 3 in the remote shell: hvsock shell exited %d" % rc)
ok("exit 3 in the remote shell: hvsock shell exits 3")
s.check_restored("after a normal exit")
s.close()

# A command on a terminal, with its status.
s = Session("--", "sh", "-c", 'echo M8=$(tty); exit 5')
s.expect(r"M8=(/dev/pts/\d+)", "a command also gets a terminal")
if s.wait() != 5:
    die("the command's status 5 is not hvsock shell's")
ok("the command's exit status comes back")
s.check_restored("after a command")
s.close()

# Signals that end the client.
for sig in (signal.SIGTERM, signal.SIGHUP):
    s = Session()
    s.type("echo M9-$((2+3))\r")
    s.expect(r"M9-5", "a session to end with %s" % sig.name)
    s.check_raw()
    s.proc.send_signal(sig)
    rc = s.wait()
    if rc != -sig:
        die("%s: hvsock shell ended with %d" % (sig.name, rc))
    ok("%s ends hvsock shell" % sig.name)
    s.check_restored("after %s" % sig.name)
    s.close()

# An error from the daemon after raw mode was entered.
s = Session("--user", "no-such-user-hvsock")
s.expect(r"unknown user 'no-such-user-hvsock'", "an unknown user is reported")
rc = s.wait()
if rc != 255:
    die("an unknown user: hvsock shell exited %d" % rc)
ok("a failed session exits 255")
s.check_restored("after a failed session")
s.close()

print("CHECKS %d" % checks)
EOF
python3 "$T/drive.py" >"$T/drive.out" 2>"$T/drive.err"
rc=$?
cat "$T/drive.out"
[ $rc = 0 ] || { cat "$T/drive.err" >&2; fail "the pseudo-terminal session (see above)"; }
CHECKS=$((CHECKS + $(grep -c '^ok - ' "$T/drive.out")))

# ---- the daemon is left with no children ----
i=0
while [ -n "$(ps -o pid= --ppid "$D")" ]; do
        i=$((i + 1))
        [ $i -le 200 ] || { ps -o pid,stat,args --ppid "$D" >&2; fail "the daemon still has children after 10 s"; }
        sleep 0.05
done
pass "the daemon has no children once the shells ended"
kill -0 "$D" || fail "the daemon died"
pass "the daemon is still running"

finish
