# The 64-vCPU boot (tests/vm/smp_64cpus.sh): directly where /dev/kvm
# exists, otherwise in a nested KVM host of its own with ONE vCPU.  With
# two, TCG's nested SVM broke now and then under 64 guest vCPUs (the host
# kernel's #GP handler recursing on a bad GS base in KVM_RUN; guest XCR0
# lost, then a triple fault); with one it did not (docs/architecture.md,
# "Known problems").
BUILD=${BUILD:-build}
export BUILD
tools/mkguest/mkguest >&2 || exit 1
if sh tools/kvmhost/kvm-usable; then
    exec sh tests/vm/run-all.sh tests/vm/smp_64cpus.sh
fi
exec sh tests/vm/in-kvmhost.sh 1 3G 1200 tests/vm/smp_64cpus.sh
