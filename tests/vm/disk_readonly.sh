# Read-only disks (--disk ...,readonly): a raw one on virtio-blk (/dev/vda)
# and a qcow2 one on virtio-scsi (/dev/sda).  The guest sees both read-only
# (blockdev --getro), reads the data the host put there, a dd write to each
# fails, and a SCSI WRITE(10) sent to /dev/sda through SG_IO (past the guest
# kernel's read-only check: tools/bench/guest/scsi_write.c) is refused by
# the device; neither image file changes.  One boot.
. tests/vm/lib.sh
head -c $((8 << 20)) /dev/urandom >"$T/ro.raw"
head -c $((6 << 20)) /dev/urandom >"$T/src.raw"
qemu-img convert -f raw -O qcow2 "$T/src.raw" "$T/ro.qcow2" || fail "qemu-img convert failed"
raw_sum=$(sha256sum <"$T/ro.raw" | cut -d' ' -f1)
src_sum=$(sha256sum <"$T/src.raw" | cut -d' ' -f1)
qcow2_sum=$(sha256sum <"$T/ro.qcow2" | cut -d' ' -f1)
disk_initrd
boot ro '. /disk.sh
for d in vda sda; do
    dev_check /dev/$d $d || exit 1
    echo "$d-ro: $(blockdev --getro /dev/$d)"
    echo "$d-data: $(dd if=/dev/$d bs=1M iflag=direct 2>/dev/null | sha256sum | cut -d" " -f1)"
    dd if=/dev/zero of=/dev/$d bs=4k count=1 oflag=direct
    echo "$d-dd-status: $?"
done
scsi_write /dev/sda
echo "sda-scsi-write-status: $?"
echo "ro-ok"' --cpus 1 --memory 512M \
    --disk "$T/ro.raw,if=virtio-blk,readonly" --disk "$T/ro.qcow2,if=virtio-scsi,readonly" ||
    { rc=$?; tail -40 "$T/ro.out"; fail "VM exited $rc"; }
o=$T/ro.out
guest_ok "$o" ro
expect "$o" 'cellvm-guest: exit=0'
same "vda's size" "$(out_lines "$o" vda size)" $((8 << 20))
same "sda's size" "$(out_lines "$o" sda size)" $((6 << 20))
same "vda read-only in the guest" "$(out_lines "$o" vda ro)" 1
same "sda read-only in the guest" "$(out_lines "$o" sda ro)" 1
same "vda's data in the guest and in the image" "$(out_lines "$o" vda data)" "$raw_sum"
same "sda's data in the guest and in the image" "$(out_lines "$o" sda data)" "$src_sum"
for d in vda sda; do
    st=$(out_lines "$o" $d dd-status)
    [ -n "$st" ] && [ "$st" != 0 ] || fail "dd to the read-only $d: exit status '$st', want a failure"
done
expect "$o" '^scsi-write: refused'
same "scsi_write's exit status (3: refused by the device)" "$(out_lines "$o" sda scsi-write-status)" 3
same "ro.raw before and after" "$raw_sum" "$(sha256sum <"$T/ro.raw" | cut -d' ' -f1)"
same "ro.qcow2 before and after" "$qcow2_sum" "$(sha256sum <"$T/ro.qcow2" | cut -d' ' -f1)"
echo "ok: read-only virtio-blk and virtio-scsi disks: read, writes refused ($(tr -d '\r' <"$o" | grep '^scsi-write:')), images unchanged"
