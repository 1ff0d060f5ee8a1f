# A qcow2 overlay with a two-level backing chain (overlay -> mid.qcow2 ->
# base.raw, relative names), as the disk: cellvm opens the chain and hands
# it to the sandboxed device, which cannot open files itself.  The guest
# reads the base's data through the overlay, writes 1 MiB; on the host the
# backing files are unchanged and the overlay reads as the guest saw it.
# One boot.
. tests/vm/lib.sh
mkdir "$T/chain"
head -c $((4 << 20)) /dev/urandom >"$T/chain/base.raw"
(cd "$T/chain" && qemu-img create -q -f qcow2 -b base.raw -F raw mid.qcow2 &&
    qemu-img create -q -f qcow2 -b mid.qcow2 -F qcow2 top.qcow2) || fail "qemu-img create failed"
base=$(sha256sum <"$T/chain/base.raw" | cut -d' ' -f1)
mid=$(sha256sum <"$T/chain/mid.qcow2" | cut -d' ' -f1)
disk_initrd
boot backing 'echo "before: $(dd if=/dev/vda bs=1M count=4 iflag=direct 2>/dev/null | sha256sum | cut -d" " -f1)"
dd if=/dev/urandom of=/dev/vda bs=1M seek=1 count=1 oflag=direct 2>/dev/null
echo "after: $(dd if=/dev/vda bs=1M count=4 iflag=direct 2>/dev/null | sha256sum | cut -d" " -f1)"
echo backing-ok' --cpus 1 --memory 256M --disk "$T/chain/top.qcow2,if=virtio-blk" ||
    { rc=$?; tail -40 "$T/backing.out"; fail "VM exited $rc"; }
o=$T/backing.out
expect "$o" "^before: $base"
expect "$o" 'backing-ok'
after=$(sed -n 's/^after: //p' "$o" | tr -d '\r')
[ -n "$after" ] && [ "$after" != "$base" ] || fail "the guest's write did not show ($after)"
[ "$(sha256sum <"$T/chain/base.raw" | cut -d' ' -f1)" = "$base" ] || fail "base.raw changed"
[ "$(sha256sum <"$T/chain/mid.qcow2" | cut -d' ' -f1)" = "$mid" ] || fail "mid.qcow2 changed"
qemu-img check -q "$T/chain/top.qcow2" || fail "qemu-img check top.qcow2"
qemu-img convert -O raw "$T/chain/top.qcow2" "$T/top.raw" || fail "qemu-img convert"
host=$(head -c $((4 << 20)) "$T/top.raw" | sha256sum | cut -d" " -f1)
[ "$host" = "$after" ] || fail "the host reads $host through the chain, the guest read $after"
echo "ok: a two-level backing chain opened by cellvm, read and written by the guest"
