#!/bin/sh
# Hostile and broken images: truncated files, bad header fields, tables
# pointing outside the file, L2 and compressed entries pointing nowhere,
# backing files that are missing or loop.  Every command that touches them
# exits non-zero (or, for check, reports the damage) with a one-line error
# naming the file, and never dies of a signal.
. "$(dirname "$0")/lib/img.sh"

# put FILE OFFSET NBYTES VALUE: VALUE big-endian in NBYTES bytes at OFFSET.
put() {
	i=0 v=$4 bytes=""
	while [ $i -lt "$3" ]; do
		bytes="$(printf '\\%03o' $((v & 255)))$bytes"
		v=$((v >> 8))
		i=$((i + 1))
	done
	printf "$bytes" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}
get64() {
	v=0
	for b in $(od -A n -t u1 -j "$2" -N 8 "$1"); do
		v=$(( (v << 8) | b ))   # shell arithmetic: 64 bits, exact
	done
	echo $v
}

# refused WHAT CMD...: non-zero exit below 128 (no signal), one line on
# stderr that names the image.
refused() {
	what=$1
	shift
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ $rc -ne 0 ] || fail "$what: '$*' succeeded"
	[ $rc -lt 128 ] || fail "$what: '$*' died of a signal (exit $rc): $(head -c 2000 "$tmp/err")"
	[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "$what: '$*': not one line of error: $(head -c 2000 "$tmp/err")"
	grep -q "$(basename "$img")" "$tmp/err" || fail "$what: the error does not name the file: $(cat "$tmp/err")"
}

# all_refuse WHAT: info, check, convert, map and compare on $img all refuse.
all_refuse() {
	refused "$1: info" "$IMG" info "$img"
	refused "$1: convert" "$IMG" convert -O raw "$img" "$tmp/out.raw"
	refused "$1: map" "$IMG" map "$img"
	refused "$1: compare" "$IMG" compare "$img" "$good"
	refused "$1: bench" "$IMG" bench -c 100 "$img"
	"$IMG" check "$img" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ $rc -ne 0 ] && [ $rc -lt 128 ] || fail "$1: check exits $rc"
}

good=$tmp/good.qcow2
run "create" qemu-img create -q -f qcow2 -o cluster_size=4096 "$good" 1M
qemu-io -f qcow2 -c "write -P 7 0 64k" "$good" >/dev/null || fail "qemu-io"
img=$tmp/bad.qcow2
fresh() { cp "$good" "$img"; }

# ---- header fields --------------------------------------------------------------
for n in 4 20 71 103; do
	fresh; truncate -s $n "$img"
	all_refuse "truncated to $n bytes"
done
fresh; put "$img" 4 4 4;          all_refuse "version 4"
fresh; put "$img" 4 4 1;          all_refuse "version 1"
fresh; put "$img" 20 4 8;         all_refuse "cluster_bits 8"
fresh; put "$img" 20 4 22;        all_refuse "cluster_bits 22"
fresh; put "$img" 20 4 63;        all_refuse "cluster_bits 63"
fresh; put "$img" 24 8 $((1 << 62)); all_refuse "virtual size 2^62"
fresh; put "$img" 36 4 $((1 << 30)); all_refuse "L1 size 2^30"
fresh; put "$img" 40 8 $((1 << 40)); all_refuse "L1 table past the end"
fresh; put "$img" 40 8 12345;     all_refuse "L1 table unaligned"
fresh; put "$img" 48 8 $((1 << 40)); all_refuse "refcount table past the end"
fresh; put "$img" 56 4 $((1 << 30)); all_refuse "refcount table clusters 2^30"
fresh; put "$img" 72 8 1024;      all_refuse "unknown incompatible feature (bit 10)"
fresh; put "$img" 96 4 7;         all_refuse "refcount order 7"
fresh; put "$img" 100 4 50;       all_refuse "header length 50"
fresh; put "$img" 100 4 $((1 << 20)); all_refuse "header length 1M"
fresh; put "$img" 8 8 $((1 << 40)); put "$img" 16 4 10; all_refuse "backing name past the end"
fresh; put "$img" 8 8 200; put "$img" 16 4 5000; all_refuse "backing name 5000 bytes"
fresh; put "$img" 64 8 $((1 << 40)); put "$img" 60 4 1; all_refuse "snapshot table past the end"
fresh; put "$img" 60 4 100000;    all_refuse "100000 snapshots"

# ---- tables -------------------------------------------------------------------------
l1=$(get64 "$good" 40)
l2=$(( $(get64 "$good" "$l1") & 0x00fffffffffffe00 ))
[ "$l2" -gt 0 ] || fail "no L2 table found (test setup)"
fresh; put "$img" "$l1" 8 $(( (1 << 63) | (1 << 40) ))
refused "L2 table past the end: convert" "$IMG" convert -O raw "$img" "$tmp/out.raw"
refused "L2 table past the end: compare" "$IMG" compare "$img" "$good"
expect_rc 2 "L2 table past the end: check" "$IMG" check "$img"
fresh; put "$img" "$l1" 8 $(( (1 << 63) | 4097 ))
refused "L2 table unaligned: convert" "$IMG" convert -O raw "$img" "$tmp/out.raw"
fresh; put "$img" "$l2" 8 $(( (1 << 63) | (1 << 40) ))
# (reads there give zeroes, as in qemu; check reports it as qemu does)
expect_rc 2 "data cluster past the end: check" "$IMG" check "$img"
fresh; put "$img" "$l2" 8 $(( (1 << 62) | (1 << 40) ))
refused "compressed cluster past the end: convert" "$IMG" convert -O raw "$img" "$tmp/out.raw"
fresh; put "$img" "$l2" 8 $(( (1 << 62) | 1 ))
# a compressed cluster of garbage (the header's bytes): inflate fails
refused "compressed garbage: convert" "$IMG" convert -O raw "$img" "$tmp/out.raw"
# a refcount table entry past the end: writes must not go there
fresh; rt=$(get64 "$good" 48); put "$img" "$rt" 8 $((1 << 40))
# As qemu-img check: corruptions (exit 2), the same count.
qemu-img check --output=json "$img" >"$tmp/q.json" 2>/dev/null
"$IMG" check --output=json "$img" >"$tmp/c.json" 2>/dev/null
rc=$?
[ $rc -eq 2 ] || fail "refcount block past the end: check exits $rc, not 2"
q=$(grep '"corruptions"' "$tmp/q.json") c=$(grep '"corruptions"' "$tmp/c.json")
[ -n "$q" ] && [ "$q" = "$c" ] || fail "refcount block past the end: qemu-img says $q, cellvm-img $c"
"$IMG" check "$img" >"$tmp/out" 2>"$tmp/err"
grep -q "outside" "$tmp/err" || fail "refcount block past the end: check does not say so: $(tail -3 "$tmp/err")"
"$IMG" resize "$img" +1M >"$tmp/out" 2>"$tmp/err"
[ $? -lt 128 ] || fail "refcount block past the end: resize died of a signal"
[ "$(stat -c %s "$img")" -lt $((1 << 30)) ] || fail "refcount block past the end: the file grew to $(stat -c %s "$img")"

# ---- backing files ------------------------------------------------------------------
run "loop" qemu-img create -q -f qcow2 -b loop1.qcow2 -F qcow2 -u "$tmp/loop2.qcow2" 1M
run "loop" qemu-img create -q -f qcow2 -b loop2.qcow2 -F qcow2 -u "$tmp/loop1.qcow2" 1M
img=$tmp/loop1.qcow2
refused "backing loop: convert" "$IMG" convert -O raw "$img" "$tmp/out.raw"
refused "backing loop: info --backing-chain" "$IMG" info --backing-chain "$img"
run "missing" qemu-img create -q -f qcow2 -b gone.qcow2 -F qcow2 -u "$tmp/orphan.qcow2" 1M
img=$tmp/orphan.qcow2
refused "missing backing file: convert" "$IMG" convert -O raw "$img" "$tmp/out.raw"
run "info without the backing file" "$IMG" info "$img"

# ---- not images at all -------------------------------------------------------------
img=$tmp/nonexistent.qcow2
refused "missing file: info" "$IMG" info "$img"
refused "missing file: check" "$IMG" check "$img"
img=$tmp/dir.qcow2
mkdir "$img"
refused "a directory: info" "$IMG" info "$img"
img=$tmp/garbage.qcow2
head -c 65536 /dev/urandom >"$img"
refused "random bytes as qcow2" "$IMG" info -f qcow2 "$img"
echo "img_bad_input: ok"
