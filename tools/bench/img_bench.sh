#!/bin/sh
# Image I/O: cellvm-img bench against qemu-img bench on the same images,
# same options, same cache mode.  Prints a table of both times (median of
# REPS runs) and their ratio qemu/cellvm (>= 1.0: cellvm at least as fast).
#
# Cases: 4 KiB "random" reads and writes at queue depth 1 and 32, and
# 64 KiB sequential reads and writes, each on a fully allocated image (read
# once before, so the host cache is warm) and on a fresh, empty image (a
# new copy for every run: writes take the allocation path).  qemu-img bench
# has no random mode: "random" is a stride of 7919 clusters of 4 KiB
# (a prime), wrapping modulo the image size, which visits every 4 KiB block
# once in a scattered order; cellvm-img bench wraps the same way.
#
# usage: BUILD=build sh tools/bench/img_bench.sh   (or make bench)
#   IMG_BENCH_SIZE (default 256M), IMG_BENCH_REPS (default 3),
#   IMG_BENCH_CACHE (default writeback), IMG_BENCH_DIR (default: mktemp -d)
set -u
BUILD=${BUILD:-build}
IMG=$BUILD/bin/cellvm-img
SIZE=${IMG_BENCH_SIZE:-256M}
REPS=${IMG_BENCH_REPS:-3}
CACHE=${IMG_BENCH_CACHE:-writeback}
STRIDE=$((7919 * 4096))

[ -x "$IMG" ] || { echo "img_bench: $IMG missing: build first" >&2; exit 1; }
command -v qemu-img >/dev/null || { echo "img_bench: qemu-img missing" >&2; exit 1; }
dir=${IMG_BENCH_DIR:-$(mktemp -d)}
mkdir -p "$dir"
trap 'rm -rf "$dir"' EXIT
trap 'exit 1' HUP INT TERM

# The fully allocated image: every cluster written once by qemu.
qemu-img create -q -f qcow2 "$dir/full.qcow2" "$SIZE" || exit 1
qemu-img bench -w -t "$CACHE" -c $(( $(qemu-img info --output=json "$dir/full.qcow2" |
	sed -n 's/.*"virtual-size": \([0-9]*\).*/\1/p') / 65536 )) -s 64K -d 16 --pattern=7 \
	"$dir/full.qcow2" >/dev/null || exit 1
qemu-img create -q -f qcow2 "$dir/empty.qcow2" "$SIZE" || exit 1

# seconds TOOL IMAGE ARGS...: one run's time from the summary line.
seconds() {
	tool=$1 image=$2
	shift 2
	out=$("$tool" bench -f qcow2 -t "$CACHE" "$@" "$image" 2>&1) || {
		echo "img_bench: $tool bench $* $image failed: $out" >&2
		exit 1
	}
	echo "$out" | sed -n 's/^Run completed in \([0-9.]*\) seconds\.$/\1/p'
}

# measure TOOL KIND ARGS...: the median of REPS runs.  KIND full: the
# allocated image (warmed by a read of it); fresh: a new empty copy each run.
measure() {
	tool=$1 kind=$2
	shift 2
	r=0
	while [ $r -lt "$REPS" ]; do
		r=$((r + 1))
		if [ "$kind" = fresh ]; then
			cp "$dir/empty.qcow2" "$dir/run.qcow2"
			image=$dir/run.qcow2
		else
			cat "$dir/full.qcow2" >/dev/null
			image=$dir/full.qcow2
		fi
		seconds "$tool" "$image" "$@"
	done | sort -n | awk '{ t[NR] = $1 } END { print t[int((NR + 1) / 2)] }'
}

printf '| case | image | qemu-img bench (s) | cellvm-img bench (s) | qemu/cellvm |\n'
printf '| --- | --- | ---: | ---: | ---: |\n'
row() {
	name=$1 rkind=$2
	shift 2
	q=$(measure qemu-img "$rkind" "$@")
	c=$(measure "$IMG" "$rkind" "$@")
	awk -v n="$name" -v k="$rkind" -v q="$q" -v c="$c" 'BEGIN {
		printf "| %s | %s | %.3f | %.3f | %.2f |\n", n, k, q, c, (c > 0 ? q / c : 0) }'
}
for kind in full fresh; do
	row "4K random read, QD1"   $kind -c 20000 -d 1  -s 4K -S $STRIDE
	row "4K random read, QD32"  $kind -c 20000 -d 32 -s 4K -S $STRIDE
	row "4K random write, QD1"  $kind -c 20000 -d 1  -s 4K -S $STRIDE -w
	row "4K random write, QD32" $kind -c 20000 -d 32 -s 4K -S $STRIDE -w
	row "64K sequential read"   $kind -c 4000  -d 1  -s 64K -S 64K
	row "64K sequential write"  $kind -c 4000  -d 1  -s 64K -S 64K -w
done
echo "(image $SIZE qcow2, 64 KiB clusters; -t $CACHE for both; median of $REPS runs)"
