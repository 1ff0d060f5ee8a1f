#!/bin/sh
# Images written by cellvm's library pass qemu's checks: img_writer runs a
# seeded random sequence of writes, write-zeroes, discards, flushes and
# growths on a qcow2 image and the same on a raw reference; afterwards
# qemu-img check finds no errors and no leaks and qemu-img compare finds
# the image equal to the reference.  Also over raw and qcow2 backing files,
# for v2 and v3 and several cluster sizes, and for cellvm-img convert
# (plain and -c compressed) and resize.
. "$(dirname "$0")/lib/img.sh"
[ -x "$WRITER" ] || fail "$WRITER missing: build first"

# qemu_clean WHAT IMAGE: qemu-img check exit 0 (no corruption, no leak).
qemu_clean() {
	qemu-img check "$2" >"$tmp/check" 2>&1 || {
		cat "$tmp/check" >&2
		fail "$1: qemu-img check $2 is not clean"
	}
}
# qemu_equal WHAT A B: qemu-img compare says equal.
qemu_equal() {
	qemu-img compare "$2" "$3" >"$tmp/cmp" 2>&1 || {
		cat "$tmp/cmp" >&2
		fail "$1: qemu-img compare $2 $3"
	}
}

# writes WHAT SEED CREATE_OPTS SIZE [BACKING FMT]: a fresh image, a random
# run, the checks.
writes() {
	what=$1 seed=$2 opts=$3 size=$4
	f=$tmp/w.qcow2 ref=$tmp/w.ref
	rm -f "$f" "$ref"
	if [ $# -ge 6 ]; then
		run "$what: create" "$IMG" create -q -f qcow2 -o "$opts" -b "$5" -F "$6" "$f"
		run "$what: reference" qemu-img convert -O raw "$f" "$ref"
	else
		run "$what: create" "$IMG" create -q -f qcow2 -o "$opts" "$f" "$size"
		run "$what: reference" qemu-img create -q -f raw "$ref" "$size"
	fi
	run "$what: img_writer" "$WRITER" ops -s "$seed" -n 1500 --resize "$f" "$ref"
	qemu_clean "$what" "$f"
	qemu_equal "$what" "$f" "$ref"
	# and cellvm-img compare agrees with qemu
	run "$what: cellvm-img compare" "$IMG" compare "$f" "$ref"
}

writes "v3 64K" 1 cluster_size=64K 16M
writes "v3 4K" 2 cluster_size=4K 16M
writes "v3 512" 3 cluster_size=512 4M
writes "v3 2M" 4 cluster_size=2M 24M
writes "v2 64K" 5 compat=0.10 16M
writes "v2 4K" 6 compat=0.10,cluster_size=4K 8M
writes "refcount_bits=1" 7 refcount_bits=1,cluster_size=4K 8M
writes "lazy_refcounts" 8 lazy_refcounts=on,cluster_size=4K 8M

# A lazy_refcounts image left dirty by a killed qemu-io (stale refcounts):
# opening it for writing must repair it before allocating.
f=$tmp/dirty.qcow2
run "create" qemu-img create -q -f qcow2 -o lazy_refcounts=on,cluster_size=4096 "$f" 8M
qemu-io -f qcow2 -c "write -P 0xee 1M 256k" -c "write -P 0xef 5M 8k" -c abort "$f" >/dev/null 2>&1
qemu-img check "$f" >/dev/null 2>&1 && fail "dirty lazy image: qemu-io abort left it consistent (test setup)"
run "reference" qemu-img convert -O raw "$f" "$tmp/dirty.ref"
run "img_writer on a dirty image" "$WRITER" ops -s 9 -n 800 "$f" "$tmp/dirty.ref"
qemu_clean "dirty lazy image after writes" "$f"
qemu_equal "dirty lazy image after writes" "$f" "$tmp/dirty.ref"

# An image with an internal snapshot: writes copy shared clusters, the
# snapshot still reads as it was (qemu-img convert -l), check stays clean.
f=$tmp/snap.qcow2
run "create" qemu-img create -q -f qcow2 -o cluster_size=4096 "$f" 4M
qio "$f" "write -P 0x21 0 3M"
run "snapshot" qemu-img snapshot -c before "$f"
run "reference" qemu-img convert -O raw "$f" "$tmp/snap.before"
cp "$tmp/snap.before" "$tmp/snap.ref"
run "img_writer over a snapshot" "$WRITER" ops -s 10 -n 600 "$f" "$tmp/snap.ref"
qemu_clean "writes over a snapshot" "$f"
qemu_equal "writes over a snapshot" "$f" "$tmp/snap.ref"
run "snapshot read back" qemu-img convert -l before -O raw "$f" "$tmp/snap.after"
cmp "$tmp/snap.before" "$tmp/snap.after" >/dev/null || fail "writes over a snapshot changed the snapshot"

# Over backing files: a raw base and a qcow2 chain of two.
run "base" qemu-img create -q -f raw "$tmp/base.raw" 8M
qemu-io -f raw -c "write -P 0x31 0 5M" -c "write -P 0x32 6M 1M" "$tmp/base.raw" >/dev/null ||
	fail "qemu-io on base.raw"
run "mid" qemu-img create -q -f qcow2 -o cluster_size=4096 -b base.raw -F raw "$tmp/mid.qcow2"
qio "$tmp/mid.qcow2" "write -P 0x41 1M 1M" "write -z 6M 64k"
writes "v3 over raw" 11 cluster_size=64K 0 base.raw raw
writes "v3 over qcow2<-raw" 12 cluster_size=4K 0 mid.qcow2 qcow2
writes "v2 over qcow2<-raw" 13 compat=0.10,cluster_size=64K 0 mid.qcow2 qcow2
# the backing files were not written
qemu_clean "mid after use as a backing file" "$tmp/mid.qcow2"

# ---- concurrent writers: cellvm-img bench -w at queue depth 32 (32 threads
# allocating clusters at once) covers a fresh image with a pattern ----------
for cs in 4K 64K; do
	rm -f "$tmp/par.qcow2"
	run "create" "$IMG" create -q -f qcow2 -o cluster_size=$cs "$tmp/par.qcow2" 16M
	run "bench -w -d 32" "$IMG" bench -w -d 32 -c 4096 -s 4K -S $((7919 * 4096)) --pattern=92 "$tmp/par.qcow2"
	qemu_clean "bench -w -d 32, $cs clusters" "$tmp/par.qcow2"
	qemu-io -f qcow2 -c "read -P 92 0 16M" "$tmp/par.qcow2" >"$tmp/qio" 2>&1 &&
		! grep -q "Pattern verification failed" "$tmp/qio" ||
		fail "bench -w -d 32, $cs clusters: the pattern does not read back: $(head -5 "$tmp/qio")"
	run "bench -d 32 (reads)" "$IMG" bench -d 32 -c 8192 -s 4K "$tmp/par.qcow2"
done

# ---- convert's outputs -------------------------------------------------------------
run "source" "$IMG" create -q -f qcow2 "$tmp/src.qcow2" 16M
run "source ref" qemu-img create -q -f raw "$tmp/src.ref" 16M
run "fill source" "$WRITER" ops -s 21 -n 800 "$tmp/src.qcow2" "$tmp/src.ref"
for o in "qcow2" "qcow2 -o cluster_size=4K,compat=0.10" "qcow2 -c" \
	"qcow2 -c -o compression_type=zstd,cluster_size=512" "raw"; do
	rm -f "$tmp/conv"
	# shellcheck disable=SC2086
	run "convert -O $o" "$IMG" convert -O $o "$tmp/src.qcow2" "$tmp/conv"
	case $o in qcow2*) qemu_clean "convert -O $o" "$tmp/conv" ;; esac
	qemu_equal "convert -O $o" "$tmp/conv" "$tmp/src.ref"
done
# -c really compresses: qemu sees compressed clusters
run "convert -c" "$IMG" convert -O qcow2 -c "$tmp/src.qcow2" "$tmp/conv"
qemu-img check --output=json "$tmp/conv" | grep -q '"compressed-clusters": [1-9]' ||
	fail "convert -c: qemu-img check counts no compressed clusters"
# the output stays sparse: a 16M image with little data is small
run "sparse" "$IMG" create -q -f qcow2 "$tmp/sp.qcow2" 64M
qio "$tmp/sp.qcow2" "write -P 1 1M 64k" "write -z 8M 1M"
run "convert sparse" "$IMG" convert -O raw "$tmp/sp.qcow2" "$tmp/sp.raw"
used=$(du -k "$tmp/sp.raw" | cut -f1)
[ "$used" -le 1024 ] || fail "convert -O raw wrote zeroes: $used KiB used for 64K of data"
run "convert sparse qcow2" "$IMG" convert -O qcow2 "$tmp/sp.qcow2" "$tmp/sp2.qcow2"
run "map" qemu-img map --output=json "$tmp/sp2.qcow2"
[ "$(grep -c '"data": true' "$tmp/out")" -eq 1 ] ||
	fail "convert -O qcow2 allocated zero ranges: $(cat "$tmp/out")"

# ---- resize -----------------------------------------------------------------------
run "resize +" "$IMG" resize "$tmp/src.qcow2" +3M
run "ref +" qemu-img resize -q -f raw "$tmp/src.ref" 19M
qemu_clean "resize" "$tmp/src.qcow2"
qemu_equal "resize" "$tmp/src.qcow2" "$tmp/src.ref"
[ "$(qemu-img info --output=json "$tmp/src.qcow2" | jfield /dev/stdin virtual-size)" = 19922944 ] ||
	fail "resize +3M: qemu-img sees the wrong size"
run "resize raw" "$IMG" resize -f raw --shrink "$tmp/src.ref" 1M
[ "$(stat -c %s "$tmp/src.ref")" = 1048576 ] || fail "resize --shrink of a raw file"
expect_rc 1 "shrink without --shrink" "$IMG" resize "$tmp/src.qcow2" 1M
grep -q -- --shrink "$tmp/err" || fail "shrink without --shrink: the error does not mention --shrink"
echo "img_cellvm_writes: ok"
