# As disk_blk.sh, over virtio-scsi (--disk IMG,if=virtio-scsi: /dev/sda).
. tests/vm/lib.sh
ext4_roundtrip virtio-scsi /dev/sda
echo "ok: ext4 on a virtio-scsi qcow2 disk, checked on the host and at a second boot"
