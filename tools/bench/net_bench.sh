#!/bin/sh
# TCP throughput between the host and a guest, cellvm against QEMU, in one
# run on the same host (where /dev/kvm exists, as root: it makes a network
# namespace, a bridge and TAPs; `make bench` calls it through the nested
# KVM host otherwise).  Same kernel, initrd (the test guest) and command
# line; 1 vCPU, 512 MiB; one virtio-net adapter on bridge br0 (10.0.2.1/24
# on the host side, 10.0.2.15 in the guest):
#   cellvm: --net bridge=br0 (its TAP, cellvm-dev-net)
#   QEMU:   -accel kvm -cpu host -M pc, -netdev tap,vhost=off (a TAP on the
#           bridge), virtio-net-pci; tools/bench/qemu_vm.sh
# NET_BENCH_MIB MiB (a file of zeros on the host) go through busybox nc
# each way, the guest connecting to the host's nc both times, and timed
# in the guest (/proc/uptime) from its connect until its nc ends:
#   host -> guest: into a file in the guest's tmpfs (the receiver's time);
#   guest -> host: that file back (the sender's time: it ends once its
#                  last bytes are in its socket buffer, a few hundred KiB
#                  before the host has them).
# Both ends' byte counts must be NET_BENCH_MIB MiB.  (A first version sent
# dd's output through pipes and counted with wc: busybox wc -c reads a
# byte at a time and that, not the network, set the pace at 2-3 MB/s.)
# Prints MB/s (10^6 bytes) of both and the ratio cellvm/QEMU (>= 1.0:
# cellvm at least as fast); exits 1 when a VM failed (its numbers are n/a).
# usage: net_bench.sh   (BUILD, NET_BENCH_MIB (default 256),
#   NET_BENCH_VMMS (default "cellvm qemu"))
[ -n "${NET_BENCH_NS:-}" ] || exec env NET_BENCH_NS=1 unshare -n sh "$0" "$@" ||
    { echo "net_bench: error: unshare -n failed (root?)" >&2; exit 1; }
. tests/vm/lib.sh
MIB=${NET_BENCH_MIB:-256}
VMMS=${NET_BENCH_VMMS:-cellvm qemu}
die() { echo "net_bench: error: $*" >&2; exit 1; }

[ -f "$KERNEL" ] || die "$KERNEL missing: run tools/mkguest/mkguest"
modprobe -q tun 2>/dev/null; modprobe -q bridge 2>/dev/null
ip link set lo up
ip link add br0 type bridge && ip addr add 10.0.2.1/24 dev br0 && ip link set br0 up ||
    die "cannot make bridge br0"
net_initrd
mkfifo "$T/hold"
dd if=/dev/zero of="$T/zero.bin" bs=1M count="$MIB" 2>/dev/null || die "no room for $MIB MiB in $T"
want=$((MIB * 1048576))
# The guest's tmpfs holds the data: half its RAM, so RAM is twice the data
# plus room for the guest itself.
MEM=$((MIB * 2 + 256))M
SNIPPET=". /net.sh
net_up 10.0.2.15 nb || exit 1
ping_wait 10.0.2.1 nb || exit 1
t0=\$(cut -d' ' -f1 /proc/uptime)
fetch 10.0.2.1 5001 /tmp/d nb || exit 1
t1=\$(cut -d' ' -f1 /proc/uptime)
echo \"netbench: h2g \$(stat -c %s /tmp/d) \$t0 \$t1\"
t0=\$(cut -d' ' -f1 /proc/uptime)
put 10.0.2.1 5002 /tmp/d nb || exit 1
t1=\$(cut -d' ' -f1 /proc/uptime)
echo \"netbench: g2h \$(stat -c %s /tmp/d) \$t0 \$t1\""
CMDLINE=$(guest_cmdline "$SNIPPET")
deadline=$((300 + MIB))

# run VMM: one boot; its console goes to $T/VMM.txt, the size of what the
# host received to $T/VMM.host.
run() {
    echo "net_bench: $1: booting" >&2
    if [ "$1" = cellvm ]; then vmm=$BUILD/bin/cellvm; else vmm=tools/bench/qemu_vm.sh; fi
    $NC -l -p 5001 <"$T/zero.bin" >/dev/null 2>"$T/$1.nc1" &
    src=$!
    $NC -l -p 5002 <>"$T/hold" >"$T/g2h.bin" 2>"$T/$1.nc2" &
    dst=$!
    QEMU_ACCEL=kvm timeout -k 5 $deadline "$vmm" run --kernel "$KERNEL" --initrd "$BOOT_INITRD" \
        --cpus 1 --memory "$MEM" --on-reboot stop --cmdline "$CMDLINE" \
        --net bridge=br0 >"$T/$1.txt" 2>&1 </dev/null
    rc=$?
    wait_pid $dst 30
    stat -c %s "$T/g2h.bin" >"$T/$1.host"
    rm -f "$T/g2h.bin"
    kill $src 2>/dev/null
    wait $src 2>/dev/null
    echo "net_bench: $1: exit $rc; $(tr -d '\r' <"$T/$1.txt" | grep '^netbench: ' | tr '\n' ' ')host got $(cat "$T/$1.host")" >&2
    return $rc
}

# mbs VMM DIR: MB/s of DIR (h2g or g2h), when all MIB MiB came (for
# g2h: at the host too).
mbs() {
    [ "$2" = h2g ] || [ "$(cat "$T/$1.host" 2>/dev/null)" = "$want" ] || return 0
    tr -d '\r' <"$T/$1.txt" 2>/dev/null |
        awk -v d="$2" -v want=$want \
            '$1 == "netbench:" && $2 == d && $3 == want && $5 > $4 { printf "%.0f", want / ($5 - $4) / 1e6; exit }'
}

failed=0
for v in $VMMS; do
    run "$v"
    rc=$?
    if [ "$rc" -ne 0 ] || [ -z "$(mbs "$v" h2g)" ] || [ -z "$(mbs "$v" g2h)" ]; then
        echo "net_bench: $v failed (exit $rc); its last lines:" >&2
        { tr -d '\r' <"$T/$v.txt"; cat "$T/$v.host"; } 2>/dev/null | tail -15 | sed 's/^/    /' >&2
        failed=1
    fi
done

echo "net_bench: TCP through busybox nc, $MIB MiB each way, timed in the guest;"
echo "  virtio-net on a TAP on bridge br0; 1 vCPU, $MEM; $(uname -r)"
echo "  QEMU: -accel kvm -M pc, -netdev tap,vhost=off; cellvm: --net bridge=br0"
printf '  %-14s %14s %14s %12s\n' direction cellvm QEMU cellvm/QEMU
for d in "host->guest:h2g" "guest->host:g2h"; do
    name=${d%%:*} key=${d#*:}
    c=$(mbs cellvm "$key") q=$(mbs qemu "$key")
    ratio=n/a
    [ -n "$c" ] && [ -n "$q" ] && ratio=$(awk "BEGIN { printf \"%.2f\", ($q > 0 ? $c / $q : 0) }")
    printf '  %-14s %14s %14s %12s\n' "$name" "${c:-n/a} ${c:+MB/s}" "${q:-n/a} ${q:+MB/s}" "$ratio"
done
exit $failed
