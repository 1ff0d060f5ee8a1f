#!/bin/sh
# A syscall outside the device's seccomp policy kills it with SIGSYS, and
# devrun says so and exits 3: for socket, open and execve (made by the
# test-only hook at the device's first guest access).  The release binary
# has no such hook and refuses --test-trap with a clear message.
set -u
BUILD=${BUILD:-build}
DEVRUN=$BUILD/bin/cellvm-devrun
TESTDEV=$BUILD/test-bin/cellvm-dev-uart
T=30 # upper bound for any one run, seconds

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

fail() {
	echo "FAIL: $*" >&2
	for f in "$tmp"/stdout "$tmp"/stderr; do
		[ -f "$f" ] && { echo "--- $f" >&2; cat "$f" >&2; }
	done
	exit 1
}
[ -x "$DEVRUN" ] || fail "$DEVRUN missing: build first"
[ -x "$TESTDEV" ] || fail "$TESTDEV missing: build first (make all)"

cat >"$tmp/script.txt" <<'EOF'
in 0x3fd 1 expect 0x60
out 0x3f8 1 0x41
in 0x3fd 1 expect 0x60
EOF

# The test binary without a trap works: what kills it below is the trap.
timeout $T "$DEVRUN" --device-bin "$TESTDEV" --script "$tmp/script.txt" uart \
	--backend "file:$tmp/out" >"$tmp/stdout" 2>"$tmp/stderr"
rc=$?
[ $rc -eq 0 ] || fail "the test binary without --test-trap: devrun exited $rc"
[ "$(cat "$tmp/out")" = A ] || fail "the test binary without --test-trap did not write 'A'"
rm -f "$tmp/out"

for trap in socket open execve; do
	timeout $T "$DEVRUN" --device-bin "$TESTDEV" --test-trap $trap --script "$tmp/script.txt" \
		uart --backend "file:$tmp/out" >"$tmp/stdout" 2>"$tmp/stderr"
	rc=$?
	[ $rc -eq 3 ] || fail "--test-trap $trap: devrun exited $rc, expected 3 (the device failed)"
	grep -q SIGSYS "$tmp/stderr" || fail "--test-trap $trap: devrun does not say SIGSYS"
	grep -qi seccomp "$tmp/stderr" || fail "--test-trap $trap: devrun does not mention seccomp"
	grep -q 'line 1' "$tmp/stderr" || fail "--test-trap $trap: devrun does not name the line (1)"
	# The device died at its first access: nothing after it ran.
	! grep -q 'out 0x3f8' "$tmp/stdout" || fail "--test-trap $trap: the script went on after the kill"
	[ ! -s "$tmp/out" ] || fail "--test-trap $trap: the device wrote output"
	echo "ok: --test-trap $trap: $(grep SIGSYS "$tmp/stderr" | head -1)"
done

# The release binary: no hooks, so no trap; it must refuse, not ignore it.
timeout $T "$DEVRUN" --test-trap socket --script "$tmp/script.txt" uart >"$tmp/stdout" 2>"$tmp/stderr"
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "release binary with --test-trap: devrun exited $rc"
grep -qi 'test hooks' "$tmp/stderr" && grep -qi 'not' "$tmp/stderr" ||
	fail "release binary with --test-trap: no clear message that it has no test hooks"
! grep -q SIGSYS "$tmp/stderr" || fail "release binary with --test-trap: it ran the trap"
! grep -q 'in 0x3fd' "$tmp/stdout" || fail "release binary with --test-trap: the script ran"
echo "ok: release binary refuses --test-trap (exit $rc): $(grep -i 'test hooks' "$tmp/stderr" | head -1)"
