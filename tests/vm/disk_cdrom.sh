# A CD-ROM (--disk ISO,media=cdrom: virtio-scsi, read-only): the guest mounts
# /dev/sr0 as iso9660 and reads a file with the host's sha256, reads the
# whole device with the ISO's sha256, and a write to /dev/sr0 fails cleanly
# (dd exits non-zero, the guest goes on and powers off), and so does a SCSI
# WRITE(10) sent through SG_IO, past the guest kernel's checks
# (tools/bench/guest/scsi_write.c): the device refuses it; the ISO on the
# host is unchanged.
. tests/vm/lib.sh
command -v genisoimage >/dev/null || fail "genisoimage missing (tools/deps.sh installs it)"
mkdir -p "$T/iso"
head -c 3000000 /dev/urandom >"$T/iso/data.bin"
echo "a small text file" >"$T/iso/readme.txt"
genisoimage -quiet -R -J -V CELLVMTEST -o "$T/cd.iso" "$T/iso" || fail "genisoimage failed"
file_sum=$(sha256sum <"$T/iso/data.bin" | cut -d' ' -f1)
iso_sum=$(sha256sum <"$T/cd.iso" | cut -d' ' -f1)
iso_size=$(stat -c %s "$T/cd.iso")
disk_initrd
boot cd '. /disk.sh; dev_check /dev/sr0 cd || exit 1
mkdir -p /mnt/cd && mount -t iso9660 /dev/sr0 /mnt/cd || { echo "cd-error: mount failed"; exit 1; }
echo "cd-file: $(sha256sum </mnt/cd/data.bin | cut -d" " -f1)"
umount /mnt/cd
echo "cd-dev: $(dd if=/dev/sr0 bs=64k iflag=direct 2>/dev/null | sha256sum | cut -d" " -f1)"
dd if=/dev/zero of=/dev/sr0 bs=2048 count=1 seek=0 oflag=direct
echo "cd-write-status: $?"
scsi_write /dev/sr0
echo "cd-scsi-write-status: $?"
echo "cd-ok"' --cpus 1 --memory 512M --disk "$T/cd.iso,media=cdrom" ||
    { rc=$?; tail -40 "$T/cd.out"; fail "VM exited $rc"; }
guest_ok "$T/cd.out" cd
expect "$T/cd.out" 'cellvm-guest: exit=0'
same "the ISO's size and the guest's /dev/sr0" "$(out_lines "$T/cd.out" cd size)" "$iso_size"
same "sha256 of data.bin on the host and in the guest" "$file_sum" "$(out_lines "$T/cd.out" cd file)"
same "sha256 of the ISO and of the guest's /dev/sr0" "$iso_sum" "$(out_lines "$T/cd.out" cd dev)"
st=$(out_lines "$T/cd.out" cd write-status)
case $st in
'') fail "the guest printed no status for its write to /dev/sr0" ;;
0) fail "a write to the CD-ROM succeeded in the guest" ;;
esac
expect "$T/cd.out" '^scsi-write: refused'
same "scsi_write's exit status (3: refused by the device)" "$(out_lines "$T/cd.out" cd scsi-write-status)" 3
same "sha256 of the ISO before and after the VM" "$iso_sum" "$(sha256sum <"$T/cd.iso" | cut -d' ' -f1)"
echo "ok: ISO read through /dev/sr0 (iso9660 and raw), writes fail (dd exit $st; $(tr -d '\r' <"$T/cd.out" | grep '^scsi-write:')), the ISO is unchanged"
