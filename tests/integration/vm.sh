# Whole-VM tests (tests/vm/): directly where /dev/kvm exists, otherwise all
# of them inside one boot of the nested KVM host (tools/kvmhost/run).
BUILD=${BUILD:-build}
export BUILD
tools/mkguest/mkguest >&2 || exit 1
if [ -c /dev/kvm ]; then
    exec sh tests/vm/run-all.sh
fi
# The deadline keeps a wedged nested host from stalling make check.
exec tools/kvmhost/run --cpus 2 --memory 6G --timeout 1500 -- sh tests/vm/run-all.sh
