#!/bin/sh
# tests/vm/in-kvmhost.sh, which runs the whole-VM tests in the nested KVM
# host, survives a host that dies: the tests that host did not finish run
# in a new one, the test it died in is named, and after KVMHOST_TRIES dead
# hosts it gives up with exit 125.  A host "dies" here the way a wedged one
# looks from outside: kernel.sched_rt_runtime_us=-1 lets a SCHED_FIFO busy
# loop keep its only CPU, so its heartbeat stops, and tools/kvmhost/run's
# watchdog must kill it (125) well before its --timeout (124).
set -u
BUILD=${BUILD:-build}
export BUILD
tools/mkguest/mkguest >&2 || exit 1
# In the build folder: the nested host sees the repository read-write, so
# a marker left by one host is there for the next.
case $BUILD in /*) where=$BUILD ;; *) where=$(pwd -P)/$BUILD ;; esac
tmp=$(mktemp -d "$where/retry.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
fail() {
    echo "FAIL: $*" >&2
    [ -f "$tmp/out" ] && { echo "--- its output:" >&2; cat "$tmp/out" >&2; }
    exit 1
}
starve='echo -1 >/proc/sys/kernel/sched_rt_runtime_us && exec chrt -f 99 sh -c "while :; do :; done"'
cat >"$tmp/first.sh" <<EOF
echo ran >>$tmp/first.ran
EOF
cat >"$tmp/kills_once.sh" <<EOF
[ -e $tmp/killed ] && exit 0
touch $tmp/killed
$starve
EOF
cat >"$tmp/last.sh" <<EOF
echo ran >>$tmp/last.ran
EOF
cat >"$tmp/kills_always.sh" <<EOF
$starve
EOF
in_host() { KVMHOST_STALL=15 sh tests/vm/in-kvmhost.sh 1 512M 300 "$@" >"$tmp/out" 2>&1; }

# The first host dies in kills_once.sh; a second runs it and last.sh.
in_host "$tmp/first.sh" "$tmp/kills_once.sh" "$tmp/last.sh"
rc=$?
[ $rc -eq 0 ] || fail "a host that died once, then passed, gave exit $rc, not 0"
grep -q "^in-kvmhost: host 1 of 3 died in $tmp/kills_once.sh\$" "$tmp/out" ||
    fail "the dead host's test is not named"
grep -q "^in-kvmhost: running again in a new nested host: $tmp/kills_once.sh $tmp/last.sh\$" "$tmp/out" ||
    fail "not rerun: the unfinished tests"
grep -q "^  PASS $tmp/kills_once.sh " "$tmp/out" || fail "kills_once.sh did not pass in the second host"
[ "$(cat "$tmp/first.ran")" = ran ] || fail "first.sh, which passed, ran again (or never)"
[ "$(cat "$tmp/last.ran")" = ran ] || fail "last.sh did not run exactly once"

# A test that kills every host: two hosts, then exit 125.
KVMHOST_TRIES=2 in_host "$tmp/kills_always.sh"
rc=$?
[ $rc -eq 125 ] || fail "two dead hosts gave exit $rc, not 125"
grep -q "^in-kvmhost: host 2 of 2 died in $tmp/kills_always.sh\$" "$tmp/out" ||
    fail "no 'host 2 of 2 died' line"
[ "$(grep -c '^in-kvmhost: running again' "$tmp/out")" -eq 1 ] ||
    fail "not exactly one rerun with KVMHOST_TRIES=2"
grep -q 'the KVM host stalled: no heartbeat for [0-9]* s' "$tmp/out" ||
    fail "no 'stalled' message for a starved host"
grep -q 'the end of its console log' "$tmp/out" || fail "no console log shown for a stalled host"
grep -q 'its processes' "$tmp/out" || fail "a stalled host's process list is not shown"
# Two hosts side by side on one queue (tests/integration/vm.sh): each test
# runs once, in one of them, with its result in the queue.
mkdir "$tmp/queue"
for n in 1 2 3 4; do
    echo "echo ran >>$tmp/q$n.ran; sleep 1" >"$tmp/q$n.sh"
done
for h in 1 2; do
    VM_TEST_QUEUE=$tmp/queue KVMHOST_STALL=15 sh tests/vm/in-kvmhost.sh 1 512M 300 \
        "$tmp/q1.sh" "$tmp/q2.sh" "$tmp/q3.sh" "$tmp/q4.sh" >"$tmp/host$h.out" 2>&1 &
done
wait
for n in 1 2 3 4; do
    [ "$(cat "$tmp/q$n.ran" 2>/dev/null)" = ran ] ||
        { cat "$tmp/host1.out" "$tmp/host2.out"; fail "q$n.sh did not run exactly once in two hosts on one queue"; }
    [ "$(cat "$tmp/queue/q$n/result")" = PASS ] || fail "no PASS result for q$n.sh in the queue"
    [ "$(cat "$tmp/host1.out" "$tmp/host2.out" | grep -c "^  PASS $tmp/q$n.sh ")" -eq 1 ] ||
        fail "q$n.sh is not reported by exactly one host"
done
echo "ok: a dead nested host's unfinished tests run in a new one, named; gives up after KVMHOST_TRIES; two hosts share a queue"
