# Whole-VM tests (tests/vm/): directly where /dev/kvm exists, otherwise all
# of them inside one boot of the nested KVM host (tests/vm/in-kvmhost.sh).
BUILD=${BUILD:-build}
export BUILD
tools/mkguest/mkguest >&2 || exit 1
if sh tools/kvmhost/kvm-usable; then
    exec sh tests/vm/run-all.sh
fi
# One vCPU: the two-vCPU nested host failed about once per suite run (its
# own kernel panicking, guests triple-faulting or stalling: TCG's nested
# SVM, docs/architecture.md); one vCPU costs ~15% more time (691-756 s,
# against 520-610 s).  Deadline 3000 s: on 2026-12-07's machines the
# nested host ran about twice as slowly (test 10 of 16 after 17 minutes).
exec sh tests/vm/in-kvmhost.sh 1 6G 3000 $(sh tests/vm/run-all.sh --list)
