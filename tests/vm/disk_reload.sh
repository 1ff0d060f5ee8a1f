# The disk devices survive what a driver does to them: unloaded and loaded
# again (a virtio reset, then a new initialisation), the PCI function
# removed and found again by a bus rescan; and they work on INTx (the
# level-triggered, resampled irqfd) when the guest has no MSI (pci=nomsi).
# A raw disk on virtio-blk and one on virtio-scsi; the data the guest
# reads must be the host's each time, and a write must land.  Two boots.
. tests/vm/lib.sh
head -c $((4 << 20)) /dev/urandom >"$T/b.raw"
head -c $((4 << 20)) /dev/urandom >"$T/s.raw"
bsum=$(sha256sum <"$T/b.raw" | cut -d' ' -f1)
ssum=$(sha256sum <"$T/s.raw" | cut -d' ' -f1)
disk_initrd
sums='for d in vda sda; do echo "$d-$1: $(dd if=/dev/$d bs=1M iflag=direct 2>/dev/null | sha256sum | cut -d" " -f1)"; done'
boot reload "sums() { $sums; }
sums first
rmmod virtio_blk && rmmod virtio_scsi && echo unloaded
ls /sys/block | tr '\n' ' '; echo
modprobe virtio_blk && modprobe virtio_scsi && echo loaded
for i in 1 2 3 4 5 6 7 8 9 10; do [ -b /dev/sda ] && [ -b /dev/vda ] && break; sleep 1; done
sums reloaded
for f in /sys/bus/pci/devices/*; do [ \$(cat \$f/vendor) = 0x1af4 ] && echo 1 > \$f/remove; done
echo removed: \$(ls /sys/block | tr '\n' ' ')
echo 1 > /sys/bus/pci/rescan
for i in 1 2 3 4 5 6 7 8 9 10; do [ -b /dev/sda ] && [ -b /dev/vda ] && break; sleep 1; done
sums rescanned
echo reload-ok" --cpus 2 --memory 512M \
    --disk "$T/b.raw,if=virtio-blk" --disk "$T/s.raw,if=virtio-scsi" ||
    { rc=$?; tail -40 "$T/reload.out"; fail "VM exited $rc"; }
o=$T/reload.out
expect "$o" '^unloaded'
expect "$o" '^loaded'
expect "$o" '^removed:[[:space:]]*$'
for phase in first reloaded rescanned; do
    expect "$o" "vda-$phase: $bsum"
    expect "$o" "sda-$phase: $ssum"
done
expect "$o" 'reload-ok'
expect "$o" 'cellvm-guest: exit=0'

# INTx: no MSI in the guest.  Read both disks, write 1 MiB to each, read it back.
head -c $((1 << 20)) /dev/urandom >"$T/new.bin"
nsum=$(sha256sum <"$T/new.bin" | cut -d' ' -f1)
GUEST_CMDLINE_EXTRA="pci=nomsi " boot intx "sums() { $sums; }
sums intx
grep -E 'virtio|IO-APIC.*(1[6-9]|2[0-3])-fasteoi' /proc/interrupts | head -4
for d in vda sda; do
    dd if=/dev/urandom of=/tmp/x bs=1M count=1 2>/dev/null
    echo \"\$d-wrote: \$(sha256sum </tmp/x | cut -d' ' -f1)\"
    dd if=/tmp/x of=/dev/\$d bs=1M seek=2 oflag=direct 2>/dev/null
    echo \"\$d-read: \$(dd if=/dev/\$d bs=1M skip=2 count=1 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)\"
done
echo intx-ok" --cpus 2 --memory 512M \
    --disk "$T/b.raw,if=virtio-blk" --disk "$T/s.raw,if=virtio-scsi" ||
    { rc=$?; tail -40 "$T/intx.out"; fail "VM exited $rc"; }
o=$T/intx.out
expect "$o" "vda-intx: $bsum"
expect "$o" "sda-intx: $ssum"
expect "$o" 'IO-APIC.*fasteoi.*virtio'
for d in vda sda; do
    w=$(sed -n "s/^$d-wrote: //p" "$o" | tr -d '\r')
    [ -n "$w" ] || fail "no $d-wrote line"
    expect "$o" "^$d-read: $w"
    # and on the host
    got=$(dd if="$T/$( [ $d = vda ] && echo b || echo s).raw" bs=1M skip=2 count=1 2>/dev/null | sha256sum | cut -d' ' -f1)
    [ "$got" = "$w" ] || fail "$d: the host reads $got where the guest wrote $w"
done
expect "$o" 'intx-ok'
echo "ok: driver reload, PCI remove/rescan, and INTx (pci=nomsi) on virtio-blk and virtio-scsi"
