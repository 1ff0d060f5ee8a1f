#!/bin/sh
# tools/kvmhost/run's watchdog, which keeps a wedged nested KVM host from
# stalling make check: a host that keeps beating runs past --stall, and
# --timeout ends a live one with exit 124.  A host whose heartbeat stops
# (exit 125) is vm_host_retry.sh's, with in-kvmhost.sh on top.
set -u
BUILD=${BUILD:-build}
export BUILD
tools/mkguest/mkguest >&2 || exit 1
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
fail() {
    echo "FAIL: $*" >&2
    [ -f "$tmp/err" ] && { echo "--- its stderr:" >&2; cat "$tmp/err" >&2; }
    exit 1
}
run() { tools/kvmhost/run --cpus 1 --memory 512M "$@" 2>"$tmp/err"; }

# Alive for twice --stall: the heartbeat keeps it going; COMMAND's status.
run --stall 10 --timeout 120 -- sh -c 'sleep 20; exit 3'
rc=$?
[ $rc -eq 3 ] || fail "a live host running 20 s with --stall 10 gave exit $rc, not the command's 3"

run --timeout 10 -- sleep 100
rc=$?
[ $rc -eq 124 ] || fail "--timeout 10 on 'sleep 100' gave exit $rc, not 124"
grep -q 'timed out after 10s (its last heartbeat: uptime [0-9.]* s' "$tmp/err" ||
    fail "no timeout message with the last heartbeat"
echo "ok: heartbeat keeps a live host, --timeout (124)"
