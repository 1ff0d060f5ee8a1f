#!/bin/sh
# Boot time and memory of one VM, cellvm against QEMU, in one run on the same
# host (where /dev/kvm exists; `make bench` calls it through the nested KVM
# host otherwise).
#   boot: from starting the VMM to the guest init's first console line
#         ("cellvm-guest: init started"), same kernel, initrd and command line,
#         1 vCPU, 128 MiB; median of RUNS runs each, interleaved.
#   memory: PSS of all of the VMM's processes while the guest idles, its
#         guest RAM mapping left out (smaps), 1 vCPU / 128 MiB.
# usage: vm_boot.sh [RUNS]
set -u
RUNS=${1:-5}
BUILD=${BUILD:-build}
K=$BUILD/guest/vmlinuz I=$BUILD/guest/initramfs.cpio.gz
T=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$T"' EXIT
b64() { printf '%s' "$1" | base64 -w0 | tr '+/' '-_' | tr -d '='; }
CMDLINE="console=ttyS0 quiet panic=-1 cellvm.mods=0"

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# boot_ms VMM: ms from start to the init's first line; the guest powers off.
boot_ms() {
    start=$(now_ms)
    if [ "$1" = cellvm ]; then
        "$BUILD/bin/cellvm" run --kernel "$K" --initrd "$I" --cpus 1 --memory 128M \
            --on-reboot stop --serial stdio --cmdline "$CMDLINE cellvm.run=$(b64 true)" </dev/null
    else
        qemu-system-x86_64 -accel kvm -cpu host -smp 1 -m 128 -nodefaults -no-reboot \
            -display none -serial stdio -kernel "$K" -initrd "$I" \
            -append "$CMDLINE cellvm.run=$(b64 true)" </dev/null
    fi 2>/dev/null | while IFS= read -r line; do
        case $line in *"cellvm-guest: init started"*) echo $(( $(now_ms) - start )) ;; esac
    done
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

for i in $(seq "$RUNS"); do
    boot_ms cellvm >>"$T/cellvm.boot"
    boot_ms qemu >>"$T/qemu.boot"
done
cb=$(median <"$T/cellvm.boot") qb=$(median <"$T/qemu.boot")

# pss_kb PID...: PSS of the processes, without mappings of 100 MiB or more
# (the guest RAM: cellvm's memfd, QEMU's anonymous RAM block).
pss_kb() {
    for p in "$@"; do cat "/proc/$p/smaps"; done 2>/dev/null | awk '
        function hex(s,   i, v) {
            v = 0
            for (i = 1; i <= length(s); i++)
                v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
            return v
        }
        /^[0-9a-f]+-[0-9a-f]+ / { split($1, a, "-"); big = hex(a[2]) - hex(a[1]) >= 100 * 1048576 }
        /^Pss:/ { if (!big) s += $2 }
        END { print s + 0 }'
}
descendants() { # pid: it and every process under it
    echo "$1"
    for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do descendants "$c"; done
}

"$BUILD/bin/cellvm" run --kernel "$K" --initrd "$I" --cpus 1 --memory 128M --serial "file:$T/c.txt" \
    --cmdline "$CMDLINE cellvm.run=$(b64 'sleep 1000')" </dev/null >/dev/null 2>&1 &
cp=$!
qemu-system-x86_64 -accel kvm -cpu host -smp 1 -m 128 -nodefaults -no-reboot -display none \
    -serial "file:$T/q.txt" -kernel "$K" -initrd "$I" \
    -append "$CMDLINE cellvm.run=$(b64 'sleep 1000')" </dev/null >/dev/null 2>&1 &
qp=$!
for i in $(seq 600); do
    grep -q 'init started' "$T/c.txt" 2>/dev/null && grep -q 'init started' "$T/q.txt" 2>/dev/null && break
    sleep 0.2
done
sleep 2
cm=$(pss_kb $(descendants $cp)) qm=$(pss_kb $qp)
procs=$(for p in $(descendants $cp); do cat /proc/$p/comm; done | tr '\n' ' ')
kill $cp $qp
wait 2>/dev/null

echo "vm_boot: 1 vCPU, 128 MiB, $RUNS runs each, $( [ -e /proc/sys/kernel/osrelease ] && uname -r )"
echo "  boot to init, median: cellvm $cb ms, QEMU $qb ms; ratio $(awk "BEGIN { printf \"%.2f\", $cb / $qb }")x (target <= 0.8x)"
echo "    cellvm runs: $(tr '\n' ' ' <"$T/cellvm.boot")"
echo "    QEMU runs:   $(tr '\n' ' ' <"$T/qemu.boot")"
echo "  memory (PSS without guest RAM): cellvm $cm KiB ($procs), QEMU $qm KiB; ratio $(awk "BEGIN { printf \"%.2f\", $cm / $qm }")x (target: cellvm <= 5120 KiB)"
