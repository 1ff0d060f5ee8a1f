# A virtio-blk disk (--disk IMG,if=virtio-blk) on a new qcow2 image: the
# guest makes ext4 on /dev/vda and writes files; on the host qemu-img check
# finds the image clean, e2fsck -fn the file system, and debugfs reads the
# files with the sums the guest printed; a second boot reads them back.
. tests/vm/lib.sh
ext4_roundtrip virtio-blk /dev/vda
echo "ok: ext4 on a virtio-blk qcow2 disk, checked on the host and at a second boot"
