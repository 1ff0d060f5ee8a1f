#!/bin/sh
# cellvm-img create makes images qemu agrees with: qemu-img info and
# cellvm-img info (JSON) give the same virtual-size, cluster-size, format,
# backing-filename, compat, lazy-refcounts and refcount-bits, and qemu-img
# check is clean.  Also: cellvm-img info and map against qemu-img's on
# qemu-made images, size suffixes, and refused options.
. "$(dirname "$0")/lib/img.sh"

FIELDS="virtual-size cluster-size format backing-filename backing-filename-format compat lazy-refcounts refcount-bits compression-type dirty-flag"

# agree WHAT IMAGE: the two infos agree on FIELDS.
agree() {
	qemu-img info --output=json "$2" >"$tmp/q.json" 2>&1 || fail "$1: qemu-img info failed: $(cat "$tmp/q.json")"
	run "$1: cellvm-img info" "$IMG" info --output=json "$2"
	cp "$tmp/out" "$tmp/c.json"
	for k in $FIELDS; do
		[ "$(jfield "$tmp/q.json" "$k")" = "$(jfield "$tmp/c.json" "$k")" ] ||
			fail "$1: $k: qemu-img says '$(jfield "$tmp/q.json" "$k")', cellvm-img '$(jfield "$tmp/c.json" "$k")'"
	done
}

# created WHAT ARGS...: cellvm-img create ARGS (file $tmp/n.qcow2), then
# info agreement and a clean qemu-img check.
created() {
	what=$1
	shift
	rm -f "$tmp/n.qcow2"
	run "$what: create" "$IMG" create "$@"
	agree "$what" "$tmp/n.qcow2"
	qemu-img check "$tmp/n.qcow2" >"$tmp/check" 2>&1 || fail "$what: qemu-img check: $(cat "$tmp/check")"
}

created "default qcow2" -f qcow2 "$tmp/n.qcow2" 1G
[ "$(jfield "$tmp/c.json" cluster-size)" = 65536 ] || fail "default cluster size is not 64K"
created "512-byte clusters" -f qcow2 -o cluster_size=512 "$tmp/n.qcow2" 100M
created "2M clusters" -f qcow2 -o cluster_size=2M "$tmp/n.qcow2" 3G
created "v2" -f qcow2 -o compat=0.10 "$tmp/n.qcow2" 10M
created "lazy" -f qcow2 -o compat=1.1,lazy_refcounts=on "$tmp/n.qcow2" 10M
created "refcount_bits=1" -f qcow2 -o refcount_bits=1 "$tmp/n.qcow2" 10M
created "refcount_bits=64" -f qcow2 -o refcount_bits=64,cluster_size=4K "$tmp/n.qcow2" 10M
created "zstd" -f qcow2 -o compression_type=zstd "$tmp/n.qcow2" 10M
created "size 0" -f qcow2 "$tmp/n.qcow2" 0
qemu-img map --output=json "$tmp/n.qcow2" >"$tmp/qm" 2>&1 || fail "qemu-img map of an empty image"
run "map of an empty image" "$IMG" map --output=json "$tmp/n.qcow2"
cmp "$tmp/out" "$tmp/qm" >/dev/null || fail "map of an empty image differs: $(diff "$tmp/out" "$tmp/qm")"
created "odd size" -f qcow2 "$tmp/n.qcow2" 1000001
[ "$(jfield "$tmp/c.json" virtual-size)" = 1000448 ] || fail "1000001 bytes is not rounded up to 1000448"
created "size suffix t" -f qcow2 "$tmp/n.qcow2" 2t
created "size 1.5G" -f qcow2 "$tmp/n.qcow2" 1.5G
[ "$(jfield "$tmp/c.json" virtual-size)" = 1610612736 ] || fail "1.5G is not 1610612736 bytes"
created "preallocation=metadata" -f qcow2 -o preallocation=metadata "$tmp/n.qcow2" 64M
created "preallocation=full" -f qcow2 -o preallocation=full,cluster_size=4K "$tmp/n.qcow2" 8M

run "base" qemu-img create -q -f raw "$tmp/base.raw" 5M
created "raw backing" -f qcow2 -b base.raw -F raw "$tmp/n.qcow2"
[ "$(jfield "$tmp/c.json" virtual-size)" = 5242880 ] || fail "raw backing: the size is not the backing file's"
created "raw backing, -o" -f qcow2 -o backing_file=base.raw,backing_fmt=raw "$tmp/n.qcow2" 7M
run "mid" qemu-img create -q -f qcow2 -b base.raw -F raw "$tmp/mid.qcow2"
created "qcow2 backing" -f qcow2 -b mid.qcow2 -F qcow2 "$tmp/n.qcow2"

# raw images: info agrees, the size is the file's
rm -f "$tmp/r.raw"
run "raw create" "$IMG" create -f raw "$tmp/r.raw" 3M
[ "$(stat -c %s "$tmp/r.raw")" = 3145728 ] || fail "raw create: the file is not 3M"
agree "raw" "$tmp/r.raw"

# --backing-chain: three images, in order
run "chain" "$IMG" info --backing-chain "$tmp/n.qcow2"
[ "$(grep -c '^image: ' "$tmp/out")" = 3 ] || fail "info --backing-chain does not list 3 images"
run "chain json" "$IMG" info --output=json --backing-chain "$tmp/n.qcow2"
[ "$(grep -c '"filename"' "$tmp/out")" = 3 ] || fail "info --output=json --backing-chain does not list 3 images"

# ---- info and map of qemu-made images equal qemu-img's ------------------------
run "q" qemu-img create -q -f qcow2 -o cluster_size=4096 "$tmp/q.qcow2" 4M
qio "$tmp/q.qcow2" "write -P 1 0 64k" "write -z 128k 64k" "write -P 2 1M 4k"
run "snapshot" qemu-img snapshot -c snap1 "$tmp/q.qcow2"
agree "qemu-made with a snapshot" "$tmp/q.qcow2"
# more map cases: preallocated metadata (data clusters in file holes), zero
# clusters that keep their host cluster, zero clusters in a backing file
run "prealloc" "$IMG" create -q -f qcow2 -o preallocation=metadata "$tmp/pm.qcow2" 2M
qio "$tmp/pm.qcow2" "write -P 3 64k 4k"
run "zk" qemu-img create -q -f qcow2 -o cluster_size=4096 "$tmp/zk.qcow2" 1M
qio "$tmp/zk.qcow2" "write -P 1 0 64k" "write -z 8k 16k" "write -z -u 40k 4k" "write -z 128k 8k"
run "zt" qemu-img create -q -f qcow2 -b zk.qcow2 -F qcow2 "$tmp/zt.qcow2"
qio "$tmp/zt.qcow2" "write -P 2 12k 4k"
for f in pm.qcow2 zk.qcow2 zt.qcow2; do
	qemu-img map --output=json "$tmp/$f" >"$tmp/qm" 2>&1 || fail "qemu-img map $f"
	run "map $f" "$IMG" map --output=json "$tmp/$f"
	cmp "$tmp/out" "$tmp/qm" >/dev/null ||
		fail "map --output=json $f differs from qemu-img's: $(diff "$tmp/out" "$tmp/qm")"
done

for f in q.qcow2 n.qcow2 mid.qcow2 base.raw; do
	for o in human json; do
		qemu-img info --output=$o --backing-chain "$tmp/$f" >"$tmp/qi" 2>&1 || fail "qemu-img info $f"
		run "info $f" "$IMG" info --output=$o --backing-chain "$tmp/$f"
		cmp "$tmp/out" "$tmp/qi" >/dev/null ||
			fail "info --output=$o --backing-chain $f differs from qemu-img's: $(diff "$tmp/out" "$tmp/qi")"
		qemu-img map --output=$o "$tmp/$f" >"$tmp/qm" 2>&1 || fail "qemu-img map $f"
		run "map $f" "$IMG" map --output=$o "$tmp/$f"
		cmp "$tmp/out" "$tmp/qm" >/dev/null ||
			fail "map --output=$o $f differs from qemu-img's: $(diff "$tmp/out" "$tmp/qm")"
	done
done

# compressed clusters: JSON as qemu's; the human form refuses, as qemu's does
run "compress" qemu-img convert -c -O qcow2 "$tmp/q.qcow2" "$tmp/qc.qcow2"
qemu-img map --output=json "$tmp/qc.qcow2" >"$tmp/qm" 2>&1 || fail "qemu-img map qc.qcow2"
run "map compressed" "$IMG" map --output=json "$tmp/qc.qcow2"
cmp "$tmp/out" "$tmp/qm" >/dev/null || fail "map --output=json of a compressed image differs: $(diff "$tmp/out" "$tmp/qm")"
qemu-img map "$tmp/qc.qcow2" >/dev/null 2>&1 && fail "qemu-img map (human) of a compressed image succeeded (test setup)"
expect_rc 1 "human map of a compressed image" "$IMG" map "$tmp/qc.qcow2"
[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "human map of a compressed image: not one line of error"

# bench prints qemu-img bench's lines (the time aside)
run "bench image" qemu-img create -q -f qcow2 "$tmp/b.qcow2" 16M
for a in "-c 10" "-w -c 100 -d 4 --flush-interval=10" "-c 50 -d 1 -s 64K -S 128K -o 4K" \
	"-w -c 20 -t writethrough --pattern=9"; do
	# shellcheck disable=SC2086
	qemu-img bench $a "$tmp/b.qcow2" 2>&1 | sed 's/in [0-9.]* seconds/in T seconds/' >"$tmp/qb"
	# shellcheck disable=SC2086
	run "bench $a" "$IMG" bench $a "$tmp/b.qcow2"
	sed 's/in [0-9.]* seconds/in T seconds/' "$tmp/out" | cmp -s - "$tmp/qb" ||
		fail "bench $a: output differs from qemu-img's: $(cat "$tmp/out" "$tmp/qb")"
	grep -q '^Run completed in [0-9]*\.[0-9][0-9][0-9] seconds\.$' "$tmp/out" || fail "bench $a: no summary line"
done
qemu-io -f qcow2 -c "read -P 9 0 80k" "$tmp/b.qcow2" | grep -q "Pattern verification failed" &&
	fail "bench -w --pattern=9 did not write the pattern"

# ---- refused: bad sizes and options, one line each, non-zero exit -------------
refused() {
	what=$1
	shift
	"$@" >"$tmp/out" 2>"$tmp/err" && fail "$what: accepted"
	[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "$what: the error is not one line: $(cat "$tmp/err")"
	[ -s "$tmp/err" ] || fail "$what: no message"
}
refused "size abc" "$IMG" create -f qcow2 "$tmp/x.qcow2" abc
refused "size 1KB" "$IMG" create -f qcow2 "$tmp/x.qcow2" 1KB
refused "size -1" "$IMG" create -f qcow2 "$tmp/x.qcow2" -- -1
refused "size 99999E" "$IMG" create -f qcow2 "$tmp/x.qcow2" 99999E
refused "no size" "$IMG" create -f qcow2 "$tmp/x.qcow2"
refused "cluster_size=3000" "$IMG" create -f qcow2 -o cluster_size=3000 "$tmp/x.qcow2" 1M
refused "cluster_size=4M" "$IMG" create -f qcow2 -o cluster_size=4M "$tmp/x.qcow2" 1M
refused "cluster_size=256" "$IMG" create -f qcow2 -o cluster_size=256 "$tmp/x.qcow2" 1M
refused "compat=2" "$IMG" create -f qcow2 -o compat=2 "$tmp/x.qcow2" 1M
refused "lazy on v2" "$IMG" create -f qcow2 -o compat=0.10,lazy_refcounts=on "$tmp/x.qcow2" 1M
refused "refcount_bits=3" "$IMG" create -f qcow2 -o refcount_bits=3 "$tmp/x.qcow2" 1M
refused "compression_type=lz4" "$IMG" create -f qcow2 -o compression_type=lz4 "$tmp/x.qcow2" 1M
refused "unknown option" "$IMG" create -f qcow2 -o frobnicate=1 "$tmp/x.qcow2" 1M
refused "format vmdk" "$IMG" create -f vmdk "$tmp/x.qcow2" 1M
refused "raw with cluster_size" "$IMG" create -f raw -o cluster_size=4K "$tmp/x.raw" 1M
refused "raw with a backing file" "$IMG" create -f raw -b base.raw "$tmp/x.raw" 1M
refused "backing file missing" "$IMG" create -f qcow2 -b nonexistent.qcow2 -F qcow2 "$tmp/x.qcow2"
refused "unknown command" "$IMG" frobnicate
refused "info of a missing file" "$IMG" info "$tmp/nonexistent"
refused "info --output=xml" "$IMG" info --output=xml "$tmp/q.qcow2"
refused "bench -d 0" "$IMG" bench -d 0 "$tmp/q.qcow2"
refused "bench -t bogus" "$IMG" bench -t bogus "$tmp/q.qcow2"
refused "bench -s 1X" "$IMG" bench -s 1X "$tmp/q.qcow2"
refused "bench --flush-interval < depth" "$IMG" bench -w -d 4 --flush-interval=2 "$tmp/q.qcow2"
refused "bench --flush-interval on reads" "$IMG" bench --flush-interval=2 "$tmp/q.qcow2"
refused "bench past the end" "$IMG" bench -c 10 -o 1G "$tmp/q.qcow2"
refused "convert -c to raw" "$IMG" convert -c -O raw "$tmp/q.qcow2" "$tmp/x.raw"
refused "resize by junk" "$IMG" resize "$tmp/q.qcow2" +1Q
# --help everywhere
run "help" "$IMG" --help
for c in create info check convert resize map snapshot compare bench; do
	run "$c --help" "$IMG" $c --help
	grep -q "usage: cellvm-img $c" "$tmp/out" || fail "$c --help has no usage line"
	grep -qi "example" "$tmp/out" || fail "$c --help has no example"
done
echo "img_create_info: ok"
