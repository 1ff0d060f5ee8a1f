#!/bin/sh
# qemu_vm.sh: boots a VM with QEMU from the `cellvm run` options that the
# whole-VM tests and the benchmarks use, so that the same guest, disks and
# command line run under QEMU: to compare (tools/bench/disk_bench.sh) and to
# check a test's guest side where cellvm lacks a device, or where there is
# no /dev/kvm (TCG).  Drop-in for cellvm in tests/vm/lib.sh:
#     CELLVM=tools/bench/qemu_vm.sh sh tests/vm/disk_blk.sh
#
# usage: qemu_vm.sh [run] --kernel K [--initrd I] [--cmdline C] [--cpus N]
#            [--memory SIZE] [--serial stdio|file:PATH] [--on-reboot stop]
#            [--disk PATH[,if=virtio-blk|virtio-scsi][,media=disk|cdrom]
#                        [,readonly][,serial=STR]]...
#            [--name NAME]
#            [--net tap=NAME|bridge=BR[,ifname=NAME]|stream=PATH[,server]
#                       [,mac=XX:XX:XX:XX:XX:XX][,model=virtio]]...
# --disk is cellvm's: default if=virtio-scsi; virtio-blk disks become
# virtio-blk-pci functions in option order (/dev/vda...), virtio-scsi ones
# targets 0, 1... of one virtio-scsi-pci controller (/dev/sda..., /dev/sr0...);
# the format (qcow2 or raw) comes from the file's first bytes.
# --net is cellvm's too: each a virtio-net-pci function on
#   tap=NAME     an existing TAP (-netdev tap,ifname=NAME,vhost=off);
#   bridge=BR    a TAP made here (ifname=, else qvtapPID_N), attached to BR
#                and removed when QEMU ends (so QEMU runs as a child then);
#   stream=PATH  QEMU's -netdev stream on a unix socket, server=on with
#                ,server (QEMU does not wait for the peer before the guest
#                runs, unlike cellvm).
# The MAC: mac=, else one derived from --name and the index (52:...), else
# QEMU's default.
# Environment:
#   QEMU_ACCEL   kvm or tcg (default: kvm when /dev/kvm is usable, else tcg)
#   QEMU_CACHE   the drives' cache mode (default writeback: like cellvm,
#                buffered I/O on the image file; aio=threads)
#   QEMU_MACHINE (default pc)
#   QEMU         the binary (default qemu-system-x86_64)
# Exit status: QEMU's (0 when the guest powers off); 2 on bad options.
set -u
die() {
    echo "qemu_vm: error: $*" >&2
    for t in ${taps:-}; do ip link del "$t" 2>/dev/null; done
    exit 2
}

accel=${QEMU_ACCEL:-}
if [ -z "$accel" ]; then
    if [ -r /dev/kvm ] && [ -w /dev/kvm ] && sh "$(dirname "$0")/../kvmhost/kvm-usable"; then accel=kvm; else accel=tcg; fi
fi
case $accel in
kvm) cpu=host ;;
tcg) cpu=max ;;
*) die "QEMU_ACCEL must be kvm or tcg" ;;
esac
cache=${QEMU_CACHE:-writeback}

[ "${1:-}" = run ] && shift
kernel= initrd= cmdline= cpus=1 memory=512M serial=stdio noreboot=
nblk=0 nscsi=0 n=0 nnet=0 vmname= taps=
# The drive and device options, built up as positional parameters at the end.
set -- "$@" --end-of-options--
while [ "$1" != --end-of-options-- ]; do
    opt=$1
    shift
    case $opt in
    --kernel | --initrd | --cmdline | --cpus | --memory | --serial | --on-reboot | --disk | --net | --name)
        [ "$1" != --end-of-options-- ] || die "$opt wants a value" ;;
    esac
    case $opt in
    --kernel) kernel=$1; shift ;;
    --initrd) initrd=$1; shift ;;
    --cmdline) cmdline=$1; shift ;;
    --cpus) cpus=$1; shift ;;
    --memory) memory=$1; shift ;;
    --serial) serial=$1; shift ;;
    --on-reboot)
        [ "$1" = stop ] && noreboot=-no-reboot
        shift ;;
    --disk)
        spec=$1
        shift
        path=${spec%%,*} iface=virtio-scsi media=disk ro= dserial=
        rest=${spec#"$path"}
        IFS=,
        for o in $rest; do
            case $o in
            '') ;;
            if=virtio-blk | if=virtio-scsi) iface=${o#if=} ;;
            media=disk | media=cdrom) media=${o#media=} ;;
            readonly) ro=1 ;;
            serial=*) dserial=${o#serial=} ;;
            *) unset IFS; die "--disk $spec: unknown option $o" ;;
            esac
        done
        unset IFS
        [ -f "$path" ] || die "--disk $spec: no file $path"
        [ "$media" = cdrom ] && { [ "$iface" = virtio-scsi ] || die "--disk $spec: media=cdrom needs if=virtio-scsi"; ro=1; }
        if [ "$(head -c 4 "$path" | od -An -tx1 | tr -d ' \n')" = 514649fb ]; then fmt=qcow2; else fmt=raw; fi
        drive="file=$path,if=none,id=d$n,format=$fmt,cache=$cache,aio=threads"
        [ -n "$ro" ] && drive="$drive,readonly=on"
        set -- "$@" -drive "$drive"
        if [ "$iface" = virtio-blk ]; then
            dev="virtio-blk-pci,drive=d$n"
            nblk=$((nblk + 1))
        else
            [ "$nscsi" -eq 0 ] && set -- "$@" -device virtio-scsi-pci,id=scsi0
            if [ "$media" = cdrom ]; then dev=scsi-cd; else dev=scsi-hd; fi
            dev="$dev,drive=d$n,bus=scsi0.0,channel=0,scsi-id=$nscsi,lun=0"
            nscsi=$((nscsi + 1))
        fi
        [ -n "$dserial" ] && dev="$dev,serial=$dserial"
        set -- "$@" -device "$dev"
        n=$((n + 1))
        ;;
    --name) vmname=$1; shift ;;
    --net)
        spec=$1
        shift
        kind=${spec%%,*}
        rest=${spec#"$kind"}
        mac= server=off ifname=
        IFS=,
        for o in $rest; do
            case $o in
            '' | model=virtio) ;;
            mac=*) mac=${o#mac=} ;;
            server) server=on ;;
            ifname=*) ifname=${o#ifname=} ;;
            *) unset IFS; die "--net $spec: unknown option $o" ;;
            esac
        done
        unset IFS
        case $kind in
        tap=?*)
            netdev="tap,ifname=${kind#tap=},script=no,downscript=no,vhost=off" ;;
        bridge=?*)
            # Made here rather than by QEMU's bridge helper, which needs
            # its ACL file; the name fits IFNAMSIZ (15).
            br=${kind#bridge=}
            [ -n "$ifname" ] || ifname=qvtap$$_$nnet
            ip tuntap add dev "$ifname" mode tap || die "--net $spec: cannot create TAP $ifname"
            taps="$taps $ifname"
            { ip link set "$ifname" master "$br" && ip link set "$ifname" up; } ||
                { ip link del "$ifname"; die "--net $spec: cannot attach $ifname to bridge $br"; }
            netdev="tap,ifname=$ifname,script=no,downscript=no,vhost=off" ;;
        stream=?*)
            netdev="stream,addr.type=unix,addr.path=${kind#stream=},server=$server" ;;
        *) die "--net $spec: tap=NAME, bridge=BR or stream=PATH" ;;
        esac
        if [ -z "$mac" ] && [ -n "$vmname" ]; then
            mac=52:$(printf '%s:%s' "$vmname" "$nnet" | md5sum | cut -c1-10 | sed 's/../&:/g; s/:$//')
        fi
        set -- "$@" -netdev "$netdev,id=n$nnet" -device "virtio-net-pci,netdev=n$nnet${mac:+,mac=$mac}"
        nnet=$((nnet + 1))
        ;;
    *) die "unknown option $opt" ;;
    esac
done
shift  # --end-of-options--
[ -n "$kernel" ] || die "--kernel is required"
[ "$nblk" -le 15 ] && [ "$nscsi" -le 15 ] || die "at most 15 virtio-blk and 15 virtio-scsi disks"
[ "$nnet" -le 15 ] || die "at most 15 --net"
case $serial in
stdio | file:*) ;;
*) die "--serial stdio or file:PATH" ;;
esac
# QEMU's -m wants M or G, as cellvm's --memory does.
set -- ${QEMU:-qemu-system-x86_64} -accel "$accel" -cpu "$cpu" -M "${QEMU_MACHINE:-pc}" \
    -smp "$cpus" -m "$memory" -nodefaults -display none -serial "$serial" $noreboot \
    -kernel "$kernel" ${initrd:+-initrd "$initrd"} -append "$cmdline" "$@"
[ -n "$taps" ] || exec "$@"
# TAPs made here: QEMU runs as a child (stdin passed on: an asynchronous
# command's is /dev/null otherwise), signals go on to it, and the TAPs are
# removed however it ends.
exec 3<&0
"$@" <&3 3<&- &
qpid=$!
trap 'kill -TERM $qpid 2>/dev/null' HUP INT TERM
while :; do
    wait $qpid
    rc=$?
    kill -0 $qpid 2>/dev/null || break  # else wait was cut short by a signal
done
for t in $taps; do ip link del "$t" 2>/dev/null; done
exit $rc
