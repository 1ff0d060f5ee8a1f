# Four disks at once, two virtio-blk and two virtio-scsi, each of its own
# size so that the guest's names can be checked against the option order:
#   vda  qcow2 64 MiB  ext4 with files   (sums checked with debugfs)
#   vdb  raw   48 MiB  4 MiB of random data at 3 MiB, O_DIRECT
#   sda  raw   40 MiB  5 MiB of random data at 7 MiB, O_DIRECT
#   sdb  qcow2 72 MiB  ext4 with files
# vda and sdb have a serial=, which the guest reads in sysfs.
# On the host: the qcow2 images check clean, the ext4 files and the raw
# ranges have the sums the guest printed.  One boot.
. tests/vm/lib.sh
qemu-img create -q -f qcow2 "$T/a.qcow2" 64M &&
    qemu-img create -q -f raw "$T/b.raw" 48M &&
    qemu-img create -q -f raw "$T/c.raw" 40M &&
    qemu-img create -q -f qcow2 "$T/d.qcow2" 72M || fail "qemu-img create failed"
disk_initrd
boot four '. /disk.sh; s=0
ext4_write /dev/vda vda || s=1
raw_write /dev/vdb vdb 3 4 || s=1
raw_write /dev/sda sda 7 5 || s=1
ext4_write /dev/sdb sdb || s=1
echo "vda-serial: $(cat /sys/block/vda/serial)"
echo "sdb-serial: $(tail -c +5 /sys/block/sdb/device/vpd_pg80)"
exit $s' --cpus 1 --memory 512M \
    --disk "$T/a.qcow2,if=virtio-blk,serial=cellvm-a" --disk "$T/c.raw,if=virtio-scsi" \
    --disk "$T/b.raw,if=virtio-blk" --disk "$T/d.qcow2,serial=cellvm-d" ||
    { rc=$?; tail -40 "$T/four.out"; fail "VM exited $rc"; }
o=$T/four.out
for d in vda vdb sda sdb; do guest_ok "$o" $d; done
expect "$o" 'cellvm-guest: exit=0'
same "vda's size" "$(out_lines "$o" vda size)" $((64 << 20))
same "vdb's size" "$(out_lines "$o" vdb size)" $((48 << 20))
same "sda's size" "$(out_lines "$o" sda size)" $((40 << 20))
same "sdb's size" "$(out_lines "$o" sdb size)" $((72 << 20))
same "vda's serial=, in /sys/block/vda/serial" "$(out_lines "$o" vda serial)" cellvm-a
same "sdb's serial=, in its VPD page 0x80 (/sys/block/sdb/device/vpd_pg80)" \
    "$(out_lines "$o" sdb serial)" cellvm-d
for d in vdb:b.raw:3:4 sda:c.raw:7:5; do
    IFS=: read -r dev img seek mib <<EOT
$d
EOT
    want=$(out_lines "$o" "$dev" raw)
    same "$dev: what the guest wrote and read back" "$want" "$(out_lines "$o" "$dev" rawback)"
    same "$dev: what the guest wrote and what $img holds" "$want" \
        "$(dd if="$T/$img" bs=1M skip="$seek" count="$mib" 2>/dev/null | sha256sum | cut -d' ' -f1)"
    # Nothing else was written: the rest of the image still reads as zeros.
    zeros=$(head -c $((seek << 20)) /dev/zero | sha256sum | cut -d' ' -f1)
    same "$dev: the first $seek MiB of $img (zeros)" "$zeros" \
        "$(head -c $((seek << 20)) "$T/$img" | sha256sum | cut -d' ' -f1)"
done
for d in vda:a.qcow2 sdb:d.qcow2; do
    dev=${d%%:*} img=${d#*:}
    qcow2_clean "$T/$img"
    raw_copy "$T/$img" "$T/$dev.raw"
    ext4_host_sums "$T/$dev.raw" "$T/$dev.sums"
    same "$dev: the files' sums in the guest and on the host" "$(out_lines "$o" "$dev" sum)" "$(cat "$T/$dev.sums")"
    rm -f "$T/$dev.raw"
done
echo "ok: 2 virtio-blk + 2 virtio-scsi disks (qcow2 ext4, raw O_DIRECT), in option order, checked on the host"
