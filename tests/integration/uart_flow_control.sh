#!/bin/sh
# Flow control on the socket backend: the peer sends 100 bytes at once, far
# more than the RX FIFO holds, to a guest that reads slowly.  The device
# must take from the socket only what the FIFO has room for: all 100 bytes
# arrive, in order, and the guest never sees an overrun (LSR OE).
# With FIFOs on (16 bytes) and off (the single RBR).
T=60 # upper bound for any one step, seconds
N=100
show='$case_dir/stderr $case_dir/peer.err'
on_fail='[ -f "$case_dir/stdout" ] && { echo "--- $case_dir/stdout (end)"; tail -20 "$case_dir/stdout"; }'
. tests/integration/lib/common.sh
case_dir=$tmp
need_socat
need_devrun

# The payload: not periodic (37 and 94 are coprime), so a lost stretch of
# any length below 94 shows as a wrong byte.
awk -v n=$N 'BEGIN { for (i = 0; i < n; i++) printf "%c", 33 + (i * 37) % 94 }' >"$tmp/payload"
[ "$(wc -c <"$tmp/payload")" -eq $N ] || fail "payload is not $N bytes"

# make_script FILE FCR: the guest program.
#
# Waiting for each byte without racing the device (which refills the FIFO
# on its own time) and without sleeping: the guest turns IER off and on.
# With data in the FIFO that makes a rising edge at once; with none, the
# edge comes when the next byte arrives.  The IER read after the writes
# makes sure any edge they made is signalled before wait-irq looks, so an
# edge seen by wait-irq always means unread data: the LSR check before each
# RBR read expects DR and no overrun.
make_script() {
	{
		echo "out 0x3fa 1 $2         # FCR"
		echo "out 0x3fc 1 0x08       # MCR: OUT2"
		echo "out 0x3f9 1 0x01       # IER: received data available"
		echo "out 0x3f8 1 0x21       # '!': the peer now sends the $N bytes"
		echo "wait-irq 10000"
		echo "sleep 300              # a slow guest: the FIFO fills, the rest must wait"
		i=0
		od -An -v -tx1 "$tmp/payload" | tr -s ' ' '\n' | sed '/^$/d' | while read -r b; do
			echo "# byte $i"
			echo "out 0x3f9 1 0x00"
			echo "out 0x3f9 1 0x01"
			echo "in 0x3f9 1 expect 0x01"
			echo "wait-irq 10000"
			echo "in 0x3fd 1 expect 0x61   # LSR: DR, no overrun"
			echo "in 0x3f8 1 expect 0x$b"
			i=$((i + 1))
			# now and then the guest is busy elsewhere
			[ $((i % 20)) -eq 0 ] && echo "sleep 20"
		done
		echo "in 0x3fd 1 expect 0x60     # all read, no overrun ever"
		echo "no-irq 200                 # and nothing more came"
		echo "out 0x3f8 1 0x2e           # '.': done"
		echo "in 0x3fd 1 expect 0x60"
	} >"$1"
}

run_case() {
	case_dir=$tmp/$1
	mkdir "$case_dir"
	make_script "$case_dir/script.txt" "$2"
	sock=$case_dir/sock
	cat >"$case_dir/peer.sh" <<EOF
dd bs=1 count=1 of="$case_dir/go" 2>/dev/null
cat "$tmp/payload"
exec cat >"$case_dir/peer-out"
EOF
	timeout $T socat UNIX-LISTEN:"$sock" EXEC:"sh $case_dir/peer.sh" 2>"$case_dir/peer.err" &
	peer=$!
	bg="$bg $peer"
	wait_for $T listening "$sock" || fail "$1: socat does not listen on $sock"
	timeout $T "$DEVRUN" -q --script "$case_dir/script.txt" uart --port com1 \
		--backend "unix:$sock" >"$case_dir/stdout" 2>"$case_dir/stderr"
	rc=$?
	[ $rc -eq 0 ] || fail "$1: cellvm-devrun exited $rc"
	wait "$peer"
	prc=$?
	bg=
	[ $prc -eq 0 ] || fail "$1: socat exited $prc"
	[ "$(cat "$case_dir/peer-out")" = "." ] || fail "$1: the peer did not get the guest's '.'"
	echo "ok: $1: $N bytes in order, no overrun"
}

run_case fifo-on 0x07
run_case fifo-off 0x00
