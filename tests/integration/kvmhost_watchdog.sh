#!/bin/sh
# tools/kvmhost/run's watchdog, which keeps a wedged nested KVM host from
# stalling make check: a host that keeps beating runs past --stall; one
# whose user space can no longer run (a real-time busy loop on its only
# CPU, the way a wedged host looks from outside) is killed with exit 125
# and says why; --timeout ends a live one with exit 124.
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

# Starved: kernel.sched_rt_runtime_us=-1 lets a SCHED_FIFO loop keep the
# CPU, so the heartbeat stops; the stall watchdog must fire well before
# --timeout (which would be exit 124).
run --stall 15 --timeout 150 -- sh -c \
    'echo -1 >/proc/sys/kernel/sched_rt_runtime_us && exec chrt -f 99 sh -c "while :; do :; done"'
rc=$?
[ $rc -eq 125 ] || fail "a starved host gave exit $rc, not 125"
grep -q 'the KVM host stalled: no heartbeat for [0-9]* s' "$tmp/err" ||
    fail "no 'stalled' message for a starved host"
grep -q 'the end of its console log' "$tmp/err" || fail "no console log shown for a stalled host"

run --timeout 10 -- sleep 100
rc=$?
[ $rc -eq 124 ] || fail "--timeout 10 on 'sleep 100' gave exit $rc, not 124"
grep -q 'timed out after 10s (its last heartbeat: uptime [0-9.]* s' "$tmp/err" ||
    fail "no timeout message with the last heartbeat"
echo "ok: heartbeat keeps a live host, a starved one is killed (125), --timeout (124)"
