#!/bin/sh
# TCP throughput between the host and a guest, cellvm against QEMU, in one
# run on the same host (where /dev/kvm exists, as root: it makes a network
# namespace, a bridge and TAPs; `make bench` calls it through the nested
# KVM host otherwise).  Same kernel, initrd (the test guest) and command
# line; 1 vCPU; one virtio-net adapter on bridge br0 (10.0.2.1/24 on the
# host side, 10.0.2.15 in the guest):
#   cellvm: --net bridge=br0 (its TAP, cellvm-dev-net)
#   QEMU:   -accel kvm -cpu host -M pc, -netdev tap,vhost=off (a TAP on the
#           bridge), virtio-net-pci; tools/bench/qemu_vm.sh
# NET_BENCH_MIB MiB (a file of zeros on the host) go through busybox nc,
# the guest connecting to the host's nc each time, and timed from its
# connect until its nc ends, by this host's clock (console lines stamped
# as they come; a guest's own clock, /proc/uptime, is shown too):
#   host -> guest, cold: into a file in the guest's tmpfs (the receiver's
#                  time), RAM the guest never touched since it booted: each
#                  page costs the VMM a first-touch fault (4 KiB pages for
#                  cellvm's shared-memory RAM, 2 MiB for QEMU's anonymous
#                  RAM with transparent huge pages), which this measures
#                  as much as the network;
#   host -> guest: the same again after removing that file: the network;
#   guest -> host: that file back (the sender's time: it ends once its
#                  last bytes are in its socket buffer, a few hundred KiB
#                  before the host has them).
# Both ends' byte counts must be NET_BENCH_MIB MiB.  (A first version sent
# dd's output through pipes and counted with wc: busybox wc -c reads a
# byte at a time and that, not the network, set the pace at 2-3 MB/s.)
#
# The nested KVM host is noisy (the same run moves by 30%), so one command
# does NET_BENCH_ROUNDS rounds, each booting every VMM of NET_BENCH_VMMS
# once in turn (cellvm, qemu, cellvm, qemu, ...), and reports every run,
# each round's ratio cellvm/QEMU and the median of those ratios (>= 1.0:
# cellvm at least as fast).  To explain a difference it also reports, per
# MiB moved, this host's CPU time (/proc/stat, /proc/PID/stat), the
# guest's virtio interrupts (/proc/interrupts before and after each
# transfer; both VMMs) and cellvm's device counters
# (CELLVM_NET_STATS, devices/net/net_stats.h: kicks, interrupts, polls,
# backend reads and writes), which it logs when idle: the guest sleeps 2 s
# around each transfer for that.
# Exits 1 when a VM failed (its numbers are n/a).
# usage: net_bench.sh   (BUILD, NET_BENCH_MIB (default 256),
#   NET_BENCH_ROUNDS (default 8: one round varies by 30% and more),
#   NET_BENCH_VMMS (default "cellvm qemu"; cellvm@NAME=VALUE@... boots cellvm
#   with that environment, to compare device settings in one run),
#   NET_BENCH_LOGS=DIR: keep each boot's stamped console as DIR/VMM.ROUND.txt)
[ -n "${NET_BENCH_NS:-}" ] || exec env NET_BENCH_NS=1 unshare -n sh "$0" "$@" ||
    { echo "net_bench: error: unshare -n failed (root?)" >&2; exit 1; }
. tests/vm/lib.sh
MIB=${NET_BENCH_MIB:-256}
ROUNDS=${NET_BENCH_ROUNDS:-8}
VMMS=${NET_BENCH_VMMS:-cellvm qemu}
die() { echo "net_bench: error: $*" >&2; exit 1; }

[ -f "$KERNEL" ] || die "$KERNEL missing: run tools/mkguest/mkguest"
# Transparent huge pages for shared memory: cellvm's guest RAM is a memfd
# (shared with its device processes) and cellvm-core asks for huge pages
# on it (MADV_HUGEPAGE), which the host grants only where shmem_enabled is
# "advise" (or "always"); QEMU's anonymous RAM gets them with the usual
# enabled=always|madvise.  Debian's default for shared memory is "never",
# so, as docs/vm-management.md asks of an operator, this run sets "advise"
# (NET_BENCH_SHMEM_THP, default advise; "keep" leaves this host's setting,
# to measure 4 KiB pages) and puts the old value back at the end.
THP=/sys/kernel/mm/transparent_hugepage/shmem_enabled
thp_was=$(sed 's/.*\[\(.*\)\].*/\1/' "$THP" 2>/dev/null)
thp_want=${NET_BENCH_SHMEM_THP:-advise}
[ "$thp_want" = keep ] || [ "$thp_want" = "$thp_was" ] || {
    echo "$thp_want" >"$THP" || die "cannot set $THP to $thp_want (NET_BENCH_SHMEM_THP=keep to leave it)"
    trap 'echo "$thp_was" >"$THP"; cleanup' EXIT
}
modprobe -q tun 2>/dev/null; modprobe -q bridge 2>/dev/null
ip link set lo up
ip link add br0 type bridge && ip addr add 10.0.2.1/24 dev br0 && ip link set br0 up ||
    die "cannot make bridge br0"
net_initrd
mkfifo "$T/hold" "$T/err"
dd if=/dev/zero of="$T/zero.bin" bs=1M count="$MIB" 2>/dev/null || die "no room for $MIB MiB in $T"
want=$((MIB * 1048576))
# The guest's tmpfs holds the data: half its RAM, so RAM is twice the data
# plus room for the guest itself.
MEM=$((MIB * 2 + 256))M
# The guest's side, in the initrd as /nb.sh (the kernel command line is
# too short for it).  irqs: "NAME COUNT" of each virtio interrupt but
# config (summed over the vCPUs); irqdiff BEFORE AFTER DIR prints
# "netbench-irq: DIR NAME=delta ...".
cat >"$T/nb.sh" <<'GUEST'
irqs() {
    awk '$NF ~ /^virtio/ && $NF !~ /config/ {
        n = 0; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) n += $i; print $NF, n }' /proc/interrupts
}
irqdiff() {
    echo "netbench-irq: $3$(awk 'NR == FNR { a[$1] = $2; next } { printf " %s=%d", $1, $2 - a[$1] }' "$1" "$2")"
}
net_up 10.0.2.15 nb || exit 1
ping_wait 10.0.2.1 nb || exit 1
d=$(ls -d /sys/bus/virtio/drivers/virtio_net/virtio* | head -n 1)
echo "netbench-info: clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource) features $(cat "$d/features") $(ls "$d/net")"
# xfer DIR COMMAND...: COMMAND timed, between interrupt snapshots, after
# 2 s of quiet (the device logs its counters); /tmp/d is the data.
xfer() {
    x=$1
    shift
    sleep 2
    irqs >/tmp/i0
    echo "netbench-mark: $x"
    t0=$(cut -d' ' -f1 /proc/uptime)
    "$@" || exit 1
    t1=$(cut -d' ' -f1 /proc/uptime)
    echo "netbench: $x $(stat -c %s /tmp/d) $t0 $t1"
    [ "$x" != g2h ] || sleep 2 # the last bytes leave the socket buffer
    irqs >/tmp/i1
    irqdiff /tmp/i0 /tmp/i1 "$x"
}
# The first transfer writes into guest RAM that was never touched since
# boot; the second into RAM freed by removing the first one's file.
xfer h2g-cold fetch 10.0.2.1 5001 /tmp/d nb
rm /tmp/d
xfer h2g fetch 10.0.2.1 5003 /tmp/d nb
xfer g2h put 10.0.2.1 5002 /tmp/d nb
sleep 2
echo netbench-mark: end
GUEST
sh tools/bench/guest_initrd.sh "$BOOT_INITRD" "$T/net.sh:/net.sh" "$T/nb.sh:/nb.sh" ||
    die "cannot build the guest's initrd"
SNIPPET=". /net.sh; . /nb.sh"
CMDLINE=$(guest_cmdline "$SNIPPET")
deadline=$((300 + MIB))

# cpu_snap: this host's CPU time so far, in clock ticks: "busy=N idle=N"
# (all CPUs, /proc/stat) then "COMM=N" summed over the processes of the
# VMMs, the host's busybox nc and ksoftirqd, and "COMM/flt=N", their page
# faults (those of guest RAM, as KVM maps it, count for the VMM).
cpu_snap() {
    awk '$1 == "cpu" { printf "busy=%d idle=%d", $2 + $3 + $4 + $7 + $8, $5 + $6 }' /proc/stat
    cat /proc/[0-9]*/stat 2>/dev/null | awk '{ c = $2; gsub(/[()]/, "", c)
        if (c ~ /^(cellvm|qemu-system|busybox|ksoftirqd)/) { t[c] += $14 + $15; f[c] += $10 } }
        END { for (c in t) printf " %s=%d %s/flt=%d", c, t[c], c, f[c] }'
    # KVM's counters (all VMs; one runs at a time): what the guest's
    # exits and interrupts cost it, which the device's counters cannot show.
    for k in $KVM_STATS; do
        [ -r "$KVM_DEBUG/$k" ] && printf ' kvm:%s=%s' "$k" "$(cat "$KVM_DEBUG/$k")"
    done
}
KVM_DEBUG=/sys/kernel/debug/kvm
KVM_STATS="exits io_exits mmio_exits irq_exits halt_exits halt_wakeup irq_injections irq_window_exits insn_emulation signal_exits"
[ -d "$KVM_DEBUG" ] || mount -t debugfs none /sys/kernel/debug 2>/dev/null

# stamp: each line of stdin after this host's time (seconds.nanoseconds):
# the transfers are timed by the host's clock too, from the console lines
# around them, in case a guest's clock is off (calibrated under emulation).
# Where a transfer starts and ends, a "cpu-snap:" line follows.
# (No tr or other filter before it: a pipe's stdio buffering would hold
# the lines back until the VM ends.)
stamp() {
    cr=$(printf '\r')
    while IFS= read -r l; do
        now=$(date +%s.%N)
        l=${l%"$cr"}
        printf '%s %s\n' "$now" "$l"
        case $l in
        netbench-mark:* | "netbench: "*) printf '%s cpu-snap: %s\n' "$now" "$(cpu_snap)" ;;
        esac
        case $l in
        "netbench-mark: g2h") printf '%s host-thp: %s\n' "$now" "$(awk \
            '/^(AnonHugePages|ShmemPmdMapped):/ { printf "%s %s kB ", $1, $2 }' /proc/meminfo)" ;;
        esac
    done
}

# run VMM R: one boot in round R; its console and its stderr, each line
# stamped, go to $T/VMM.R.txt (through two stampers appending whole lines:
# one pipe for both let a device's message land inside a console line),
# the size of what the host received to $T/VMM.R.host.  VMM is cellvm or
# qemu, or either with @NAME=VALUE... after it: that boot's environment
# (cellvm@CELLVM_NET_TX_IRQ_GAP_US=0 compares a device setting in one run).
run() {
    echo "net_bench: round $2: $1: booting" >&2
    case $1 in cellvm*) vmm=$BUILD/bin/cellvm ;; *) vmm=tools/bench/qemu_vm.sh ;; esac
    vars=
    case $1 in *@*) vars=$(echo "${1#*@}" | tr @ ' ') ;; esac
    $NC -l -p 5001 <"$T/zero.bin" >/dev/null 2>"$T/nc1" &
    src=$!
    $NC -l -p 5003 <"$T/zero.bin" >/dev/null 2>"$T/nc3" &
    src2=$!
    $NC -l -p 5002 <>"$T/hold" >"$T/g2h.bin" 2>"$T/nc2" &
    dst=$!
    : >"$T/$1.$2.txt"
    stamp <"$T/err" >>"$T/$1.$2.txt" &
    errs=$!
    # shellcheck disable=SC2086 # $vars: NAME=VALUE words
    { env $vars CELLVM_NET_STATS=1 QEMU_ACCEL=kvm timeout -k 5 $deadline "$vmm" run \
        --kernel "$KERNEL" --initrd "$BOOT_INITRD" --cpus 1 --memory "$MEM" --on-reboot stop \
        --cmdline "$CMDLINE" --net bridge=br0 2>"$T/err" </dev/null; echo $? >"$T/rc"; } |
        stamp >>"$T/$1.$2.txt"
    wait $errs
    rc=$(cat "$T/rc")
    [ -z "${NET_BENCH_LOGS:-}" ] || { mkdir -p "$NET_BENCH_LOGS" && cp "$T/$1.$2.txt" "$NET_BENCH_LOGS/"; }
    wait_pid $dst 30
    stat -c %s "$T/g2h.bin" >"$T/$1.$2.host"
    rm -f "$T/g2h.bin"
    kill $src $src2 2>/dev/null
    wait $src $src2 2>/dev/null
    echo "net_bench: round $2: $1: exit $rc; $(grep -E '^[0-9.]+ (netbench(-info)?|host-thp): ' "$T/$1.$2.txt" | cut -d' ' -f2- | tr '\n' ' ')host got $(cat "$T/$1.$2.host")" >&2
    return $rc
}

# mbs RUN DIR [host]: MB/s of DIR (h2g-cold, h2g or g2h) in RUN (VMM.ROUND),
# when all MIB MiB came (for g2h: at the host too): by the guest's clock, or with
# "host" by this host's, from the stamps of the console lines just before
# and after the transfer (they add a few ms).
mbs() {
    [ "$2" != g2h ] || [ "$(cat "$T/$1.host" 2>/dev/null)" = "$want" ] || return 0
    awk -v d="$2" -v want=$want -v clock="${3:-guest}" '
        $2 == "netbench-mark:" && $3 == d { h0 = $1 }
        $2 == "netbench:" && $3 == d && $4 == want && $6 > $5 {
            t = clock == "host" ? $1 - h0 : $6 - $5
            if (h0 != "" && t > 0) printf "%.1f", want / t / 1e6
            exit
        }' "$T/$1.txt" 2>/dev/null
}

# counts RUN DIR: per MiB of DIR, this host's CPU time (busy and idle, all
# CPUs; the VMMs' processes; 10 ms ticks) during the transfer, the guest's
# interrupts by name and (for cellvm) the device's counters, from its last
# stats line before the transfer's mark and the last before the next mark.
counts() {
    cut -d' ' -f2- "$T/$1.txt" 2>/dev/null | awk -v d="$2" -v mib="$MIB" '
        function grab(line, arr,   i, n, kv, f) {
            n = split(line, f, " ")
            for (i = 1; i <= n; i++)
                if (split(f[i], kv, "=") == 2) arr[kv[1]] = kv[2]
        }
        / stats: polls=/ { last = $0 }
        $1 == "netbench-mark:" {
            if ($2 == d) { before = last; inside = 1; cpu = 1 }
            else if (inside) { after = last; inside = 0 }
        }
        $1 == "netbench:" && $2 == d { cpu = 2 }
        $1 == "cpu-snap:" && cpu == 1 { c0 = $0 }
        $1 == "cpu-snap:" && cpu == 2 { c1 = $0; cpu = 0 }
        $1 == "netbench-irq:" && $2 == d {
            for (i = 3; i <= NF; i++) {
                split($i, kv, "="); name = kv[1]; sub(/^virtio[0-9]+-/, "", name)
                out = out sprintf(" %s %.1f", name, kv[2] / mib)
            }
        }
        END {
            if (c0 != "" && c1 != "") {
                grab(c0, p); grab(c1, q)
                printf "host CPU ms/MiB: busy %.0f idle %.0f;", (q["busy"] - p["busy"]) * 10 / mib,
                    (q["idle"] - p["idle"]) * 10 / mib
                for (n in q) if (n != "busy" && n != "idle" && n !~ /\/flt$/ && n !~ /^kvm:/)
                    printf " %s %.0f", n, (q[n] - p[n]) * 10 / mib
                printf "; page faults/MiB:"
                for (n in q) if (n ~ /\/flt$/ && q[n] > p[n])
                    printf " %s %.0f", substr(n, 1, length(n) - 4), (q[n] - p[n]) / mib
                printf "; "
                kvm = ""
                for (n in q) if (n ~ /^kvm:/) kvm = kvm sprintf(" %s %.1f", substr(n, 5), (q[n] - p[n]) / mib)
                if (kvm != "") printf "KVM/MiB:%s; ", kvm
            }
            if (out != "") printf "guest irqs/MiB:%s", out
            if (before != "" && after != "") {
                grab(before, b); grab(after, a)
                split("rx_kicks tx_kicks rx_irqs tx_irqs polls sleeps rx_reads rx_eagain tx_writes tx_eagain rx_frames tx_frames", k, " ")
                printf "; device/MiB:"
                for (i = 1; i in k; i++) printf " %s %.1f", k[i], (a[k[i]] - b[k[i]]) / mib
            }
        }'
}

failed=0
r=1
while [ $r -le "$ROUNDS" ]; do
    for v in $VMMS; do
        run "$v" $r
        rc=$?
        if [ "$rc" -ne 0 ] || [ -z "$(mbs "$v.$r" h2g-cold)" ] || [ -z "$(mbs "$v.$r" h2g)" ] ||
            [ -z "$(mbs "$v.$r" g2h)" ]; then
            echo "net_bench: $v (round $r) failed (exit $rc); its last lines:" >&2
            { cut -d' ' -f2- "$T/$v.$r.txt"; cat "$T/$v.$r.host"; } 2>/dev/null | tail -15 |
                sed 's/^/    /' >&2
            failed=1
        fi
    done
    r=$((r + 1))
done

# median: the middle of the numbers on stdin (the mean of the two middle
# ones for an even count), or nothing.
median() {
    sort -g | awk '{ v[NR] = $1 } END { if (NR) printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ratio C Q: C/Q with two decimals, or nothing when either is missing.
ratio() {
    [ -n "$1" ] && [ -n "$2" ] && awk "BEGIN { printf \"%.2f\", ($2 > 0 ? $1 / $2 : 0) }"
}

echo "net_bench: TCP through busybox nc, $MIB MiB each way; $ROUNDS rounds (cellvm, QEMU, ...)"
echo "  virtio-net on a TAP on bridge br0; 1 vCPU, $MEM; $(uname -r)"
echo "  QEMU: -accel kvm -M pc, -netdev tap,vhost=off; cellvm: --net bridge=br0"
echo "  MB/s timed by this host's clock (by the guest's in brackets); ratios by this host's"
echo "  this host's transparent huge pages: $(cat /sys/kernel/mm/transparent_hugepage/enabled), shared memory $(cat "$THP") (was $thp_was before this run)"
for v in $VMMS; do
    info=$(cut -d' ' -f2- "$T/$v.1.txt" 2>/dev/null | grep '^netbench-info: ' | head -n 1)
    [ -z "$info" ] || echo "  $v guest: ${info#netbench-info: }"
done
# Each VMM of NET_BENCH_VMMS but qemu against qemu.
for c in $VMMS; do
    [ "$c" != qemu ] || continue
    echo "  $c against qemu"
    for d in "host->guest, into untouched guest RAM:h2g-cold" "host->guest:h2g" "guest->host:g2h"; do
        name=${d%%:*} key=${d#*:}
        echo "  $name"
        printf '    %-6s %16s %16s %12s\n' round "${c%%@*}" QEMU "${c%%@*}/QEMU"
        : >"$T/ratios"
        : >"$T/gratios"
        r=1
        while [ $r -le "$ROUNDS" ]; do
            cm=$(mbs "$c.$r" "$key" host) q=$(mbs qemu.$r "$key" host)
            cg=$(mbs "$c.$r" "$key") qg=$(mbs qemu.$r "$key")
            rt=$(ratio "$cm" "$q")
            [ -z "$rt" ] || echo "$rt" >>"$T/ratios"
            rg=$(ratio "$cg" "$qg")
            [ -z "$rg" ] || echo "$rg" >>"$T/gratios"
            printf '    %-6s %16s %16s %12s\n' "$r" "${cm:-n/a} (${cg:-n/a})" "${q:-n/a} (${qg:-n/a})" \
                "${rt:-n/a} (${rg:-n/a})"
            for v in "$c" qemu; do
                cn=$(counts "$v.$r" "$key")
                [ -z "$cn" ] || echo "           $v: $cn"
            done
            r=$((r + 1))
        done
        m=$(median <"$T/ratios") mg=$(median <"$T/gratios")
        printf '    median %s/QEMU: %s (by the guests'"'"' clocks: %s)\n' "${c%%@*}" "${m:-n/a}" "${mg:-n/a}"
    done
done
exit $failed
