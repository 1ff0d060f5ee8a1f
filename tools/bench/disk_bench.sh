#!/bin/sh
# Disk I/O in the guest, cellvm against QEMU, in one run on the same host
# (where /dev/kvm exists; `make bench` calls it through the nested KVM host
# otherwise) and the same qcow2 image: 256 MiB, every cluster allocated and
# filled once with non-zero data, so that reads read real data in both.
# Same kernel, initrd (the test guest + diskbench, tools/bench/guest/) and
# command line; 1 vCPU, 512 MiB; the disk is virtio-blk (/dev/vda):
#   cellvm: --disk IMG,if=virtio-blk (buffered pread/pwrite on the image)
#   QEMU:   -accel kvm -cpu host -M pc, virtio-blk-pci on
#           -drive format=qcow2,cache=writeback,aio=threads (QEMU's default
#           cache mode: buffered I/O on the image too), tools/bench/qemu_vm.sh
# The guest runs diskbench on /dev/vda with O_DIRECT, queue depth 1: seq-read
# 1M, seq-write 1M, rand-read 4k, rand-write 4k, DISK_BENCH_SECONDS each.
# Prints a table of both and the ratio cellvm/QEMU (>= 1.0: cellvm at least
# as fast); exits 1 when a VM failed (its numbers are n/a).
# usage: disk_bench.sh   (BUILD, DISK_BENCH_SECONDS (default 5),
#   DISK_BENCH_SIZE (default 256M), DISK_BENCH_VMMS (default "cellvm qemu"),
#   DISK_BENCH_ACCEL=tcg: QEMU without KVM, to check this script elsewhere)
set -u
BUILD=${BUILD:-build}
SECONDS_EACH=${DISK_BENCH_SECONDS:-5}
SIZE=${DISK_BENCH_SIZE:-256M}
VMMS=${DISK_BENCH_VMMS:-cellvm qemu}
K=$BUILD/guest/vmlinuz
T=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$T"' EXIT
trap 'exit 1' HUP INT TERM
die() { echo "disk_bench: error: $*" >&2; exit 1; }

command -v qemu-img >/dev/null || die "qemu-img missing (tools/deps.sh)"
[ -f "$K" ] || die "$K missing: run tools/mkguest/mkguest"
sh tools/bench/guest_initrd.sh "$T/initrd.cpio" || die "cannot build the guest's initrd"

# The image: a raw file of non-zero bytes converted to qcow2, so every
# cluster is allocated and holds data.
bytes=$(numfmt --from=iec "$SIZE") || die "DISK_BENCH_SIZE: $SIZE?"
tr '\000' '\245' </dev/zero | head -c "$bytes" >"$T/fill.raw"
qemu-img convert -f raw -O qcow2 "$T/fill.raw" "$T/disk.qcow2" || die "qemu-img convert failed"
rm -f "$T/fill.raw"
# MiB the qcow2 maps to data (all of it).
alloc=$(qemu-img map --output=json "$T/disk.qcow2" | tr '{' '\n' | grep '"data": true' |
    sed -n 's/.*"length": \([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print int(s / 1048576) }')

b64() { printf '%s' "$1" | base64 -w0 | tr '+/' '-_' | tr -d '='; }
CMDLINE="console=ttyS0 quiet panic=-1 cellvm.mods=1 cellvm.run=$(b64 "diskbench --seconds $SECONDS_EACH /dev/vda; echo diskbench-status: \$?")"
deadline=$((120 + 8 * SECONDS_EACH))

# run VMM: boots the guest; its console goes to $T/VMM.out.
run() {
    if [ "$1" = cellvm ]; then
        timeout -k 5 $deadline "$BUILD/bin/cellvm" run --kernel "$K" --initrd "$T/initrd.cpio" \
            --cpus 1 --memory 512M --on-reboot stop --cmdline "$CMDLINE" \
            --disk "$T/disk.qcow2,if=virtio-blk"
    else
        QEMU_ACCEL=${DISK_BENCH_ACCEL:-kvm} QEMU_CACHE=writeback timeout -k 5 $deadline sh tools/bench/qemu_vm.sh \
            --kernel "$K" --initrd "$T/initrd.cpio" --cpus 1 --memory 512M --on-reboot stop \
            --cmdline "$CMDLINE" --disk "$T/disk.qcow2,if=virtio-blk"
    fi >"$T/$1.out" 2>&1 </dev/null
}

# value VMM TEST: the number diskbench printed for TEST ("seq-read 1M"...).
value() {
    cat "$T/$1.out" 2>/dev/null | tr -d '\r' | sed -n "s/^diskbench: $2: \([0-9.]*\) .*/\1/p" | head -n 1
}

failed=0
for v in $VMMS; do
    run "$v"
    rc=$?
    if [ "$rc" -ne 0 ] || ! tr -d '\r' <"$T/$v.out" | grep -qx 'diskbench-status: 0'; then
        echo "disk_bench: $v failed (exit $rc); its last lines:" >&2
        tr -d '\r' <"$T/$v.out" | tail -15 | sed 's/^/    /' >&2
        failed=1
    fi
done

echo "disk_bench: qcow2 $SIZE ($alloc MiB allocated: every cluster filled once), virtio-blk /dev/vda,"
echo "  O_DIRECT in the guest, queue depth 1, $SECONDS_EACH s per test; 1 vCPU, 512 MiB; $(uname -r)"
echo "  QEMU: -accel ${DISK_BENCH_ACCEL:-kvm} -M pc, cache=writeback, aio=threads; cellvm: buffered pread/pwrite"
printf '  %-14s %14s %14s %12s\n' test cellvm QEMU cellvm/QEMU
for t in "seq-read 1M:MiB/s" "seq-write 1M:MiB/s" "rand-read 4k:IOPS" "rand-write 4k:IOPS"; do
    name=${t%%:*} unit=${t#*:}
    c=$(value cellvm "$name") q=$(value qemu "$name")
    ratio=n/a
    [ -n "$c" ] && [ -n "$q" ] && ratio=$(awk "BEGIN { printf \"%.2f\", ($q > 0 ? $c / $q : 0) }")
    printf '  %-14s %14s %14s %12s\n' "$name" "${c:-n/a} ${c:+$unit}" "${q:-n/a} ${q:+$unit}" "$ratio"
done
exit $failed
