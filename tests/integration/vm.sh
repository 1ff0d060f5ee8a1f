# Whole-VM tests (tests/vm/): directly where /dev/kvm exists, otherwise
# inside two nested KVM hosts side by side (tests/vm/in-kvmhost.sh), one
# vCPU each, which take the tests from one queue.
BUILD=${BUILD:-build}
export BUILD
tools/mkguest/mkguest >&2 || exit 1
if sh tools/kvmhost/kvm-usable; then
    exec sh tests/vm/run-all.sh
fi
# One vCPU per host: the two-vCPU nested host failed about once per suite
# run (its own kernel panicking, guests triple-faulting or stalling: TCG's
# nested SVM, docs/architecture.md), and two one-vCPU hosts use both of a
# 2-core machine's cores.  Deadline 3000 s: on 2026-12-07's machines the
# nested host ran about twice as slowly as before.
# The longest tests first (seconds in one host on 2026-12-07: net_two_vms
# 461, net_host 314, vm_lifecycle 241, disk_kill 127, net_kill 114), so
# that the two hosts end at about the same time.
first="net_two_vms net_host vm_lifecycle disk_kill net_kill"
list=
for n in $first; do list="$list tests/vm/$n.sh"; done
for t in $(sh tests/vm/run-all.sh --list); do
    case " $list " in *" $t "*) ;; *) list="$list $t" ;; esac
done
case $BUILD in /*) where=$BUILD ;; *) where=$(pwd -P)/$BUILD ;; esac
queue=$(mktemp -d "$where/vm-queue.XXXXXX") || exit 1
trap 'rm -rf "$queue"' EXIT
# The guest programs some tests put in their initrd are built here, once,
# rather than by both hosts at once under emulation.
sh tools/bench/guest_initrd.sh --extra-only "$queue/extra.cpio" || exit 1
for h in 1 2; do
    VM_TEST_QUEUE=$queue sh tests/vm/in-kvmhost.sh 1 6G 3000 $list >"$queue/host$h.out" 2>&1 &
done
wait
for h in 1 2; do
    echo "nested host $h:"
    cat "$queue/host$h.out"
done
# The verdict is the queue's: every test ran, and passed.
failed=0
for t in $list; do
    r=$(cat "$queue/$(basename "$t" .sh)/result" 2>/dev/null)
    [ "$r" = PASS ] && continue
    [ -n "$r" ] || echo "NOT RUN: $t (its hosts died or ran out of time)"
    failed=$((failed + 1))
done
echo "whole-VM tests: $failed of $(echo $list | wc -w) did not pass"
[ $failed -eq 0 ]
