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
# NET_BENCH_MIB MiB of zeros go through busybox nc each way, timed on the
# receiving side from its connect to EOF:
#   host -> guest: the guest connects to the host's nc and counts the bytes
#                  (wc -c); time from the guest's /proc/uptime;
#   guest -> host: the guest's nc listens, the host connects and counts;
#                  time from the host's clock.
# Prints MB/s (10^6 bytes) of both and the ratio cellvm/QEMU (>= 1.0:
# cellvm at least as fast); exits 1 when a VM failed (its numbers are n/a).
# usage: net_bench.sh   (BUILD, NET_BENCH_MIB (default 512),
#   NET_BENCH_VMMS (default "cellvm qemu"))
[ -n "${NET_BENCH_NS:-}" ] || exec env NET_BENCH_NS=1 unshare -n sh "$0" "$@" ||
    { echo "net_bench: error: unshare -n failed (root?)" >&2; exit 1; }
. tests/vm/lib.sh
MIB=${NET_BENCH_MIB:-512}
VMMS=${NET_BENCH_VMMS:-cellvm qemu}
die() { echo "net_bench: error: $*" >&2; exit 1; }

[ -f "$KERNEL" ] || die "$KERNEL missing: run tools/mkguest/mkguest"
modprobe -q tun 2>/dev/null; modprobe -q bridge 2>/dev/null
ip link set lo up
ip link add br0 type bridge && ip addr add 10.0.2.1/24 dev br0 && ip link set br0 up ||
    die "cannot make bridge br0"
net_initrd
mkfifo "$T/hold"
count=$((MIB * 16))  # 64 KiB blocks
# The guest: link up, host -> guest (timed here), then guest -> host (the
# host times it once it sees netbench-listening; nc cannot tell when it
# listens, so the host retries its connect).
SNIPPET=". /net.sh
net_up 10.0.2.15 nb || exit 1
ping_wait 10.0.2.1 nb || exit 1
t0=\$(cut -d' ' -f1 /proc/uptime)
n=\$(nc 10.0.2.1 5001 <>/tmp/hold | wc -c)
t1=\$(cut -d' ' -f1 /proc/uptime)
echo \"netbench: h2g \$n \$t0 \$t1\"
echo netbench-listening
dd if=/dev/zero bs=64k count=$count 2>/dev/null | nc -l -p 5002 >/dev/null
echo netbench-sent"
CMDLINE=$(guest_cmdline "$SNIPPET")
deadline=$((300 + MIB))

now() { date +%s.%N; }

# run VMM: one boot; its console goes to $T/VMM.txt, the host's results
# (netbench: g2h BYTES SECONDS) to $T/VMM.host.
run() {
    if [ "$1" = cellvm ]; then vmm=$BUILD/bin/cellvm; else vmm=tools/bench/qemu_vm.sh; fi
    dd if=/dev/zero bs=64k count=$count 2>/dev/null | $NC -l -p 5001 >/dev/null 2>"$T/$1.nc1" &
    src=$!
    : >"$T/$1.host"
    QEMU_ACCEL=kvm timeout -k 5 $deadline "$vmm" run --kernel "$KERNEL" --initrd "$BOOT_INITRD" \
        --cpus 1 --memory 512M --on-reboot stop --cmdline "$CMDLINE" --serial "file:$T/$1.txt" \
        --net bridge=br0 >"$T/$1.out" 2>&1 </dev/null &
    vm=$!
    until cat "$T/$1.txt" 2>/dev/null | tr -d '\r' | grep -qx netbench-listening; do
        kill -0 $vm 2>/dev/null || break
        sleep 0.2
    done
    # Retry until the guest's nc listens (a refused connect returns at
    # once with nothing read).
    i=0
    while kill -0 $vm 2>/dev/null && [ $i -lt 100 ]; do
        t0=$(now)
        n=$($NC 10.0.2.15 5002 <>"$T/hold" 2>/dev/null | wc -c)
        t1=$(now)
        [ "$n" -gt 0 ] && { echo "netbench: g2h $n $t0 $t1" >"$T/$1.host"; break; }
        i=$((i + 1))
        sleep 0.1
    done
    wait $vm
    rc=$?
    kill $src 2>/dev/null
    wait $src 2>/dev/null
    return $rc
}

# mbs VMM DIR: MB/s of DIR (h2g or g2h), when all MIB MiB came.
mbs() {
    cat "$T/$1.txt" "$T/$1.host" 2>/dev/null | tr -d '\r' |
        awk -v d="$2" -v want=$((MIB * 1048576)) \
            '$1 == "netbench:" && $2 == d && $3 == want && $5 > $4 { printf "%.0f", $3 / ($5 - $4) / 1e6; exit }'
}

failed=0
for v in $VMMS; do
    run "$v"
    rc=$?
    if [ "$rc" -ne 0 ] || [ -z "$(mbs "$v" h2g)" ] || [ -z "$(mbs "$v" g2h)" ]; then
        echo "net_bench: $v failed (exit $rc); its last lines:" >&2
        { cat "$T/$v.out"; tr -d '\r' <"$T/$v.txt"; cat "$T/$v.host"; } 2>/dev/null | tail -15 | sed 's/^/    /' >&2
        failed=1
    fi
done

echo "net_bench: TCP through busybox nc, $MIB MiB of zeros each way, timed by the receiver;"
echo "  virtio-net on a TAP on bridge br0; 1 vCPU, 512 MiB; $(uname -r)"
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
