#!/bin/sh
# Images made by qemu-img and filled by qemu-io read the same through
# cellvm's library as through qemu: cellvm-img convert -O raw is
# byte-identical to qemu-img convert -O raw.  Covers cluster sizes 512 to
# 2M, qcow2 v2 and v3, compressed clusters, zero clusters, backing chains
# (raw and qcow2 backings, depth 2), internal snapshots and lazy refcounts
# (also left dirty by a killed writer).
. "$(dirname "$0")/lib/img.sh"

# fill IMAGE SIZE_KIB: known data at scattered places, some zeroed.
fill() {
	qio "$1" "write -P 0x5a 0 3k" "write -P 0xa5 65536 100k" \
		"write -P 0x11 $(( $2 * 1024 / 2 - 7 * 512 )) 9k" \
		"write -z $(( 65536 + 4096 )) 8k" "write -P 0x77 $(( $2 * 1024 - 512 )) 512"
}

# ---- cluster sizes, v2 and v3 -----------------------------------------------
for cs in 512 4096 65536 2097152; do
	for compat in 0.10 1.1; do
		f=$tmp/c$cs-$compat.qcow2
		run "create" qemu-img create -q -f qcow2 -o cluster_size=$cs,compat=$compat "$f" 4M
		fill "$f" 4096
		same_as_qemu "cluster_size=$cs compat=$compat" "$f"
	done
done

# ---- refcount widths, a non-cluster-aligned size ------------------------------
for rb in 1 8 64; do
	f=$tmp/rb$rb.qcow2
	run "create" qemu-img create -q -f qcow2 -o refcount_bits=$rb,cluster_size=4096 "$f" 3000K
	fill "$f" 3000
	same_as_qemu "refcount_bits=$rb" "$f"
done

# ---- compressed (zlib and zstd) -------------------------------------------------
run "create" qemu-img create -q -f qcow2 "$tmp/src.qcow2" 4M
fill "$tmp/src.qcow2" 4096
for ct in zlib zstd; do
	for cs in 512 65536; do
		f=$tmp/z-$ct-$cs.qcow2
		run "compress" qemu-img convert -c -O qcow2 -o compression_type=$ct,cluster_size=$cs \
			"$tmp/src.qcow2" "$f"
		qemu-img map --output=json "$f" | grep -q '"offset"' && : # (compressed: no offsets)
		same_as_qemu "compressed $ct cluster_size=$cs" "$f"
	done
done
# A compressed image with later writes over compressed clusters.
cp "$tmp/z-zlib-65536.qcow2" "$tmp/zw.qcow2"
qio "$tmp/zw.qcow2" "write -P 0x99 70000 5000" "write -z 0 1k"
same_as_qemu "compressed then overwritten" "$tmp/zw.qcow2"

# ---- backing chains: raw <- qcow2 <- qcow2, and qcow2 <- qcow2 <- qcow2 -------
run "base" qemu-img create -q -f raw "$tmp/base.raw" 4M
qemu-io -f raw -c "write -P 0x31 0 2M" -c "write -P 0x32 3M 512k" "$tmp/base.raw" >/dev/null ||
	fail "qemu-io on base.raw"
run "mid" qemu-img create -q -f qcow2 -o cluster_size=4096 -b base.raw -F raw "$tmp/mid.qcow2"
qio "$tmp/mid.qcow2" "write -P 0x41 1M 300k" "write -z 3M 64k"
run "top" qemu-img create -q -f qcow2 -b mid.qcow2 -F qcow2 "$tmp/top.qcow2" 6M
qio "$tmp/top.qcow2" "write -P 0x51 1100k 8k" "write -P 0x52 5M 4k" "discard 0 64k"
same_as_qemu "chain raw<-qcow2<-qcow2" "$tmp/top.qcow2"
same_as_qemu "chain raw<-qcow2" "$tmp/mid.qcow2"

run "base2" qemu-img create -q -f qcow2 -o compat=0.10 "$tmp/b2.qcow2" 2M
qio "$tmp/b2.qcow2" "write -P 0x61 0 2M"
run "mid2" qemu-img create -q -f qcow2 -o cluster_size=512 -b b2.qcow2 -F qcow2 "$tmp/m2.qcow2"
qio "$tmp/m2.qcow2" "write -P 0x62 4096 4096"
run "top2" qemu-img create -q -f qcow2 -b m2.qcow2 -F qcow2 "$tmp/t2.qcow2"
qio "$tmp/t2.qcow2" "write -z 0 8k" "write -P 0x63 1M 1"
same_as_qemu "chain qcow2 v2<-qcow2<-qcow2" "$tmp/t2.qcow2"

# ---- internal snapshots: the active layer after snapshots and writes ---------
f=$tmp/snap.qcow2
run "create" qemu-img create -q -f qcow2 -o cluster_size=4096 "$f" 4M
fill "$f" 4096
run "snapshot" qemu-img snapshot -c first "$f"
qio "$f" "write -P 0xcc 0 64k" "discard 65536 64k"
run "snapshot" qemu-img snapshot -c second "$f"
qio "$f" "write -P 0xdd 2M 4k"
same_as_qemu "after two snapshots" "$f"
# each snapshot as it was (convert -l)
for sn in first second 1; do
	rm -f "$tmp/ours.raw" "$tmp/qemus.raw"
	run "convert -l $sn" "$IMG" convert -l "$sn" -O raw "$f" "$tmp/ours.raw"
	run "qemu-img convert -l $sn" qemu-img convert -l "$sn" -O raw "$f" "$tmp/qemus.raw"
	cmp "$tmp/ours.raw" "$tmp/qemus.raw" >/dev/null || fail "convert -l $sn differs from qemu-img's"
done
expect_rc 1 "convert -l of a missing snapshot" "$IMG" convert -l nosuch -O raw "$f" "$tmp/x.raw"
"$IMG" snapshot -l "$f" >"$tmp/ours.snap" || fail "snapshot -l exited $?"
qemu-img snapshot -l "$f" >"$tmp/qemus.snap"
cmp "$tmp/ours.snap" "$tmp/qemus.snap" >/dev/null ||
	fail "snapshot -l differs from qemu-img's: $(diff "$tmp/ours.snap" "$tmp/qemus.snap")"

# ---- lazy refcounts, clean and left dirty by a killed qemu-io -------------------
f=$tmp/lazy.qcow2
run "create" qemu-img create -q -f qcow2 -o lazy_refcounts=on,cluster_size=4096 "$f" 4M
fill "$f" 4096
same_as_qemu "lazy_refcounts" "$f"
# qemu-io's "abort" ends the process without closing the image: the dirty
# bit stays set and the refcounts are stale.
qemu-io -f qcow2 -c "write -P 0xee 1M 256k" -c "write -P 0xef 3M 8k" -c abort "$f" \
	>/dev/null 2>&1
[ "$(qemu-img info --output=json -U "$f" | grep -c '"dirty-flag": true')" = 1 ] ||
	fail "lazy: qemu-io abort did not leave the image dirty (test setup)"
run "info of a dirty image" "$IMG" info --output=json "$f"
[ "$(jfield "$tmp/out" dirty-flag)" = true ] || fail "lazy: cellvm-img info does not say dirty-flag: true"
# convert reads it as qemu does (qemu repairs the refcounts on open).
same_as_qemu "lazy_refcounts, dirty" "$f"

# ---- a raw image -------------------------------------------------------------------
same_as_qemu "raw" "$tmp/base.raw"
echo "img_qemu_images: ok"
