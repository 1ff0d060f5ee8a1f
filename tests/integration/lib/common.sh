# Shared by the integration tests that run device processes and peers
# (sourced, after the test sets what it wants below).  Gives:
#   $BUILD, $DEVRUN (cellvm-devrun), $tmp (a scratch directory)
#   $bg       PIDs of background processes, killed at exit ($bg_signal,
#             default TERM), before $tmp goes
#   $at_exit  a command run first at exit (close fds, delete a netns)
#   $show     the files fail shows (globs, expanded when it fails; empty
#             ones left out); $on_fail, a command it runs after them
#   fail MSG          "FAIL: MSG" and those files on stderr, exit 1
#   wait_for SECS CMD...  runs CMD every 50 ms until it succeeds; 1 if not
#   listening PATH    a unix socket listens on PATH (in our net namespace)
#   need_socat, need_devrun   fail with what to do when missing
set -u
BUILD=${BUILD:-build}
DEVRUN=$BUILD/bin/cellvm-devrun

tmp=$(mktemp -d) || exit 1
bg=
bg_signal=${bg_signal:-TERM}
at_exit=${at_exit:-}
show=${show:-}
on_fail=${on_fail:-}
cleanup() {
	[ -z "$at_exit" ] || eval "$at_exit"
	for p in $bg; do kill -s "$bg_signal" "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

fail() {
	echo "FAIL: $*" >&2
	for f in $(eval echo "$show"); do
		[ -s "$f" ] && { echo "--- $f" >&2; cat "$f" >&2; }
	done
	[ -z "$on_fail" ] || eval "$on_fail" >&2
	exit 1
}

wait_for() {
	_n=$(($1 * 20))
	shift
	until "$@"; do
		_n=$((_n - 1))
		[ $_n -gt 0 ] || return 1
		sleep 0.05
	done
}

listening() { grep -q " 00010000 0001 01 [0-9]* $1\$" /proc/net/unix; }

need_socat() { command -v socat >/dev/null || fail "socat is not installed (tools/deps.sh)"; }
need_devrun() { [ -x "$DEVRUN" ] || fail "$DEVRUN missing: build first"; }
