#!/bin/sh
# The demo: boots Debian's stock kernel with a busybox initramfs under
# cellvm, 2 vCPUs and 512 MiB, with its console on this terminal.  The guest
# prints its banner and a few facts, then powers off and the command ends.
# Where this machine has no /dev/kvm, the VM runs inside the nested KVM host
# (tools/kvmhost/run), which costs a few seconds more.
set -e
BUILD=${BUILD:-build}
export BUILD
tools/mkguest/mkguest
snippet='echo; echo "Hello from a cellvm guest: $(nproc) vCPUs, $(sed -n "s/MemTotal: *//p" /proc/meminfo) RAM, kernel $(uname -r)"; echo'
cmdline="console=ttyS0 panic=-1 $(tools/mkguest/mkguest --cmdline-for "$snippet")"
set -- "$BUILD/bin/cellvm" run --kernel "$BUILD/guest/vmlinuz" \
    --initrd "$BUILD/guest/initramfs.cpio.gz" --cpus 2 --memory 512M \
    --cmdline "$cmdline" --serial stdio
if sh tools/kvmhost/kvm-usable; then
    exec "$@"
fi
echo "demo: no /dev/kvm here that runs a stock guest (tools/kvmhost/kvm-usable): running the VM inside the nested KVM host (tools/kvmhost/run)" >&2
exec tools/kvmhost/run --cpus 2 --memory 2G -- "$@"
