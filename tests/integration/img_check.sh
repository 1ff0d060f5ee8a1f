#!/bin/sh
# cellvm-img check agrees with qemu-img check: exit status and counts on a
# clean image, with a planted leak, with a planted corruption (a refcount
# zeroed under a used cluster), with both; -r leaks fixes leaks so that
# qemu-img check is clean afterwards, -r all fixes the corruption; a raw
# image cannot be checked (63).
. "$(dirname "$0")/lib/img.sh"

# be16 FILE OFFSET VALUE: writes a big-endian 16-bit VALUE.
be16() {
	printf "$(printf '\\%03o\\%03o' $(($3 >> 8)) $(($3 & 255)))" |
		dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}
# be64 FILE OFFSET: reads a big-endian 64-bit number.
be64() {
	v=0
	for b in $(od -A n -t u1 -j "$2" -N 8 "$1"); do
		v=$(( (v << 8) | b ))   # shell arithmetic: 64 bits, exact
	done
	echo $v
}

# agree WHAT IMAGE: same exit status and the same counts in JSON.
agree() {
	qemu-img check --output=json "$2" >"$tmp/q.json" 2>/dev/null
	qrc=$?
	"$IMG" check --output=json "$2" >"$tmp/c.json" 2>"$tmp/c.err"
	crc=$?
	[ $qrc -eq $crc ] || fail "$1: qemu-img check exits $qrc, cellvm-img check $crc ($(cat "$tmp/c.err"))"
	for k in corruptions leaks check-errors total-clusters allocated-clusters image-end-offset \
		compressed-clusters fragmented-clusters; do
		[ "$(jfield "$tmp/q.json" "$k")" = "$(jfield "$tmp/c.json" "$k")" ] ||
			fail "$1: $k: qemu-img says '$(jfield "$tmp/q.json" "$k")', cellvm-img '$(jfield "$tmp/c.json" "$k")'"
	done
	# The whole JSON and summary are qemu's too.
	sed 's/"qcow2",$/"qcow2"/' "$tmp/q.json" >"$tmp/q2.json"
	sed 's/"qcow2",$/"qcow2"/' "$tmp/c.json" >"$tmp/c2.json"
	cmp -s "$tmp/q2.json" "$tmp/c2.json" || fail "$1: JSON differs: $(diff "$tmp/q2.json" "$tmp/c2.json")"
	qemu-img check "$2" 2>/dev/null >"$tmp/q.txt"
	"$IMG" check "$2" 2>/dev/null >"$tmp/c.txt"
	cmp -s "$tmp/q.txt" "$tmp/c.txt" || fail "$1: the summary differs: $(diff "$tmp/q.txt" "$tmp/c.txt")"
	expect_rc $qrc "$1 (human output)" "$IMG" check "$2"
	return 0
}

# A small image with 512-byte clusters so a refcount is easy to find:
# header, L1, refcount table, one refcount block.
mk() {
	rm -f "$1"
	run "create" qemu-img create -q -f qcow2 -o cluster_size=512 "$1" 64k
	qio "$1" "write -P 1 0 4k" "write -P 2 32k 1k"
	reftable=$(be64 "$1" 48)
	refblock=$(be64 "$1" "$reftable")
	[ "$refblock" -gt 0 ] || fail "could not find the refcount block (test setup)"
}

f=$tmp/clean.qcow2
mk "$f"
agree "clean" "$f"
expect_rc 0 "clean" "$IMG" check "$f"
grep -q "No errors were found on the image." "$tmp/out" || fail "clean: no 'No errors' line"

# A leak: a cluster past the end of the used ones, with refcount 1.
f=$tmp/leak.qcow2
mk "$f"
size=$(stat -c %s "$f")
n=$((size / 512))
truncate -s $(((n + 2) * 512)) "$f"
be16 "$f" $((refblock + 2 * n)) 1
be16 "$f" $((refblock + 2 * (n + 1))) 1
agree "two leaked clusters" "$f"
expect_rc 3 "leaks" "$IMG" check "$f"
grep -q "2 leaked clusters were found" "$tmp/out" || fail "leaks: no '2 leaked clusters' line: $(cat "$tmp/out")"
cp "$f" "$tmp/leak2.qcow2"
run "check -r leaks" "$IMG" check -r leaks "$f"
qemu-img check "$f" >"$tmp/q" 2>&1 || fail "after -r leaks qemu-img check is not clean: $(cat "$tmp/q")"
qemu-img compare "$f" "$tmp/clean.qcow2" >/dev/null || fail "-r leaks changed the contents"
run "check -r leaks --output=json" "$IMG" check -r leaks --output=json "$tmp/leak2.qcow2"
[ "$(jfield "$tmp/out" leaks-fixed)" = 2 ] || fail "-r leaks --output=json: leaks-fixed is not 2: $(cat "$tmp/out")"

# A corruption: a data cluster's refcount set to 0.
f=$tmp/corrupt.qcow2
mk "$f"
data=$(qemu-img map --output=json "$f" | sed -n 's/.*"offset": \([0-9]*\).*/\1/p' | head -n 1)
[ -n "$data" ] || fail "no data cluster found (test setup)"
be16 "$f" $((refblock + 2 * (data / 512))) 0
agree "a refcount too low" "$f"
expect_rc 2 "corruption" "$IMG" check "$f"
grep -q "errors were found on the image" "$tmp/out" || fail "corruption: no 'errors were found' line"
# -r leaks leaves it corrupt; -r all repairs it, and qemu agrees
expect_rc 2 "-r leaks on a corruption" "$IMG" check -r leaks "$f"
run "check -r all" "$IMG" check -r all "$f"
qemu-img check "$f" >"$tmp/q" 2>&1 || fail "after -r all qemu-img check is not clean: $(cat "$tmp/q")"
qemu-img compare "$f" "$tmp/clean.qcow2" >/dev/null || fail "-r all changed the contents"

# Both: exit 2 (corruptions win over leaks).
f=$tmp/both.qcow2
cp "$tmp/leak2.qcow2" "$f"
be16 "$f" $((refblock + 2 * (data / 512))) 0
agree "leak and corruption" "$f"

# A refcount too high on a used cluster is a leak for qemu too.
f=$tmp/high.qcow2
mk "$f"
be16 "$f" $((refblock + 2 * (data / 512))) 2
agree "a refcount too high" "$f"

# Compressed clusters are counted.
run "compress" qemu-img convert -c -O qcow2 "$tmp/clean.qcow2" "$tmp/z.qcow2"
agree "compressed" "$tmp/z.qcow2"

# an empty image
run "empty" qemu-img create -q -f qcow2 "$tmp/e.qcow2" 0
agree "empty image" "$tmp/e.qcow2"
qemu-img check --output=json "$tmp/e.qcow2" >"$tmp/q.json"
"$IMG" check --output=json "$tmp/e.qcow2" | cmp -s - "$tmp/q.json" || fail "empty image: JSON differs"

# raw: nothing to check
run "raw" qemu-img create -q -f raw "$tmp/r.raw" 1M
expect_rc 63 "raw" "$IMG" check "$tmp/r.raw"
[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "raw: not one line of error"
echo "img_check: ok"
