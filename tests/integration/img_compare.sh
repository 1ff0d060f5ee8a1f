#!/bin/sh
# cellvm-img compare and qemu-img compare say the same (output and exit
# status) on equal images, a difference in one byte, in a backing file, in
# the tail of a larger image, and in strict mode; errors exit 2.
. "$(dirname "$0")/lib/img.sh"

# same WHAT ARGS...: both tools print the same and exit the same.
same() {
	what=$1
	shift
	qemu-img compare "$@" >"$tmp/q" 2>&1
	qrc=$?
	"$IMG" compare "$@" >"$tmp/c" 2>"$tmp/cerr"
	crc=$?
	[ $qrc -eq $crc ] || fail "$what: qemu-img compare exits $qrc, cellvm-img $crc: $(cat "$tmp/c" "$tmp/cerr")"
	cmp "$tmp/q" "$tmp/c" >/dev/null || fail "$what: output differs: $(diff "$tmp/q" "$tmp/c")"
	echo "$what: exit $crc, $(cat "$tmp/c")"
}

run "a" qemu-img create -q -f qcow2 -o cluster_size=4096 "$tmp/a.qcow2" 8M
qio "$tmp/a.qcow2" "write -P 1 0 1M" "write -P 2 5M 4k"
run "a.raw" qemu-img convert -O raw "$tmp/a.qcow2" "$tmp/a.raw"
same "equal, qcow2 and raw" "$tmp/a.qcow2" "$tmp/a.raw"
same "equal, -f -F" -f qcow2 -F raw "$tmp/a.qcow2" "$tmp/a.raw"

# one byte, in the middle of a sector
cp "$tmp/a.raw" "$tmp/b.raw"
printf 'x' | dd of="$tmp/b.raw" bs=1 seek=$((5 * 1048576 + 1000)) conv=notrunc 2>/dev/null
same "one byte differs" "$tmp/a.qcow2" "$tmp/b.raw"
[ $crc -eq 1 ] || fail "one byte differs: exit $crc"
# a byte where the qcow2 image is unallocated
cp "$tmp/a.raw" "$tmp/c.raw"
printf 'y' | dd of="$tmp/c.raw" bs=1 seek=$((7 * 1048576 + 3)) conv=notrunc 2>/dev/null
same "differs where unallocated" "$tmp/a.qcow2" "$tmp/c.raw"

# through a backing file
run "overlay" qemu-img create -q -f qcow2 -b a.qcow2 -F qcow2 "$tmp/o.qcow2"
same "overlay equals its backing" "$tmp/o.qcow2" "$tmp/a.raw"
qio "$tmp/o.qcow2" "write -P 9 4096 512"
same "overlay changed" "$tmp/o.qcow2" "$tmp/a.raw"

# sizes differ: zeroes past the end are equal, data is not, strict fails
cp "$tmp/a.raw" "$tmp/long.raw"
truncate -s 12M "$tmp/long.raw"
same "larger, zero tail" "$tmp/a.qcow2" "$tmp/long.raw"
same "larger, zero tail, reversed" "$tmp/long.raw" "$tmp/a.qcow2"
same "larger, strict" -s "$tmp/a.qcow2" "$tmp/long.raw"
printf 'z' | dd of="$tmp/long.raw" bs=1 seek=$((10 * 1048576 + 700)) conv=notrunc 2>/dev/null
same "larger, data in the tail" "$tmp/a.qcow2" "$tmp/long.raw"

# strict: same contents, different allocation
run "sparse" qemu-img create -q -f qcow2 "$tmp/s1.qcow2" 1M
run "zeroed" qemu-img create -q -f qcow2 "$tmp/s2.qcow2" 1M
qio "$tmp/s2.qcow2" "write -P 0 0 64k"
same "zeroes written vs unallocated" "$tmp/s1.qcow2" "$tmp/s2.qcow2"
same "zeroes written vs unallocated, strict" -s "$tmp/s1.qcow2" "$tmp/s2.qcow2"

# errors: exit 2
expect_rc 2 "missing file" "$IMG" compare "$tmp/a.qcow2" "$tmp/nonexistent"
expect_rc 2 "bad format" "$IMG" compare -f vmdk "$tmp/a.qcow2" "$tmp/a.raw"
expect_rc 2 "one file" "$IMG" compare "$tmp/a.qcow2"
echo "img_compare: ok"
