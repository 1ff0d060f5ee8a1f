#!/bin/sh
# The file backend: every byte the guest writes to THR reaches the output
# file, in order, with FIFOs off and on; the file is appended to, never
# truncated (a second run adds to what the first wrote).
T=30 # upper bound for any one run, seconds
show='$tmp/stdout $tmp/stderr'
. tests/integration/lib/common.sh
need_devrun

# The bytes a guest sends, as text (printf %b) and as script lines.
# Not periodic, so a lost or repeated stretch cannot go unnoticed.
awk 'BEGIN { for (i = 0; i < 60; i++) printf "%c", 33 + (i * 37) % 94; printf "\n" }' \
	>"$tmp/payload"

# script_for FILE FCR: writes a script sending "hello\n" then the payload.
script_for() {
	{
		echo "# FCR: $2"
		echo "out 0x3fa 1 $2"
		# hello\n
		for b in 0x68 0x65 0x6c 0x6c 0x6f 0x0a; do echo "out 0x3f8 1 $b"; done
		od -An -v -tx1 "$tmp/payload" | tr -s ' ' '\n' | sed '/^$/d; s/^/out 0x3f8 1 0x/'
		# The file takes everything at once: THR and the shift register empty.
		echo "in 0x3fd 1 expect 0x60"
	} >"$1"
}
script_for "$tmp/fifo-off.txt" 0x00
script_for "$tmp/fifo-on.txt" 0x07

out=$tmp/com1.txt
printf 'left by an earlier run\nno newline at the end' >"$out"
cp "$out" "$tmp/expected"

for s in fifo-off fifo-on; do
	timeout $T "$DEVRUN" --script "$tmp/$s.txt" uart --port com1 --backend "file:$out" \
		>"$tmp/stdout" 2>"$tmp/stderr"
	rc=$?
	[ $rc -eq 0 ] || fail "$s: cellvm-devrun exited $rc"
	{ printf 'hello\n'; cat "$tmp/payload"; } >>"$tmp/expected"
	# Compare after each run: the device's output has reached the file
	# when devrun returns (the device wrote it before answering the LSR read).
	cmp "$tmp/expected" "$out" || {
		echo "expected:" >&2; od -c "$tmp/expected" >&2
		echo "got:" >&2; od -c "$out" >&2
		fail "$s: the output file does not hold the earlier content followed by the guest's bytes"
	}
done
echo "ok: $(wc -c <"$out") bytes, appended in order over two runs"
