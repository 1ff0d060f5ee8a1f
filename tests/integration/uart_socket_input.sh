#!/bin/sh
# The unix socket backend (the device connects to a listener): input from
# the peer raises the RX interrupt and is read from RBR in order, with FIFOs
# on (trigger level 1) and off; the guest's THR bytes reach the peer.
T=30 # upper bound for any one step, seconds
show='$case_dir/stdout $case_dir/stderr $case_dir/peer.err'
. tests/integration/lib/common.sh
case_dir=$tmp
need_socat
need_devrun

# run_case NAME: plays $case_dir/script.txt against a device connected to a
# socat listener.  The peer waits for the guest's first byte (sent once the
# guest has programmed FCR, which clears the FIFOs, and enabled its
# interrupt), then sends ABC, then records all else the guest sends.
run_case() {
	case_dir=$tmp/$1
	sock=$case_dir/sock
	cat >"$case_dir/peer.sh" <<EOF
dd bs=1 count=1 of="$case_dir/go" 2>/dev/null
printf ABC
exec cat >"$case_dir/peer-out"
EOF
	timeout $T socat UNIX-LISTEN:"$sock" EXEC:"sh $case_dir/peer.sh" 2>"$case_dir/peer.err" &
	peer=$!
	bg="$bg $peer"
	wait_for $T listening "$sock" || fail "$1: socat does not listen on $sock"
	timeout $T "$DEVRUN" --script "$case_dir/script.txt" uart --port com1 \
		--backend "unix:$sock" >"$case_dir/stdout" 2>"$case_dir/stderr"
	rc=$?
	[ $rc -eq 0 ] || fail "$1: cellvm-devrun exited $rc"
	# The device has closed its end: the peer gets EOF and writes out.
	wait "$peer"
	prc=$?
	bg=
	[ $prc -eq 0 ] || fail "$1: socat exited $prc"
	[ "$(cat "$case_dir/go")" = "!" ] || fail "$1: the peer did not get the guest's first byte '!'"
	[ "$(cat "$case_dir/peer-out")" = "xyz" ] ||
		fail "$1: the peer received '$(cat "$case_dir/peer-out")' after '!', expected 'xyz'"
	grep -q 'irq 4' "$case_dir/stdout" || fail "$1: no 'irq 4' in devrun's output"
	echo "ok: $1"
}

mkdir "$tmp/fifo-on" "$tmp/fifo-off"

cat >"$tmp/fifo-on/script.txt" <<'EOF'
out 0x3fa 1 0x07         # FCR: FIFOs on, both cleared, RX trigger level 1
out 0x3fc 1 0x08         # MCR: OUT2, the IRQ output gate
out 0x3f9 1 0x01         # IER: received data available
in 0x3fa 1 expect 0xc1   # IIR: FIFOs on, nothing pending
no-irq 100
out 0x3f8 1 0x21         # '!': the peer now sends ABC
wait-irq 5000
in 0x3fa 1 expect 0xc4   # IIR: received data available
in 0x3fd 1 expect 0x61   # LSR: DR, THR empty
in 0x3f8 1 expect 0x41
in 0x3f8 1 expect 0x42
in 0x3f8 1 expect 0x43
in 0x3fd 1 expect 0x60   # LSR: DR clear, no overrun
in 0x3fa 1 expect 0xc1   # IIR: nothing pending
out 0x3f8 1 0x78         # xyz to the peer
out 0x3f8 1 0x79
out 0x3f8 1 0x7a
in 0x3fd 1 expect 0x60   # the socket took them
EOF

# FIFOs off: the RBR holds one byte; each next one comes (with its own
# interrupt) only once the guest has read the last.
cat >"$tmp/fifo-off/script.txt" <<'EOF'
out 0x3fc 1 0x08         # MCR: OUT2
out 0x3f9 1 0x01         # IER: received data available
in 0x3fa 1 expect 0x01   # IIR: no FIFOs, nothing pending
no-irq 100
out 0x3f8 1 0x21         # '!': the peer now sends ABC
wait-irq 5000
in 0x3fa 1 expect 0x04   # IIR: received data available
in 0x3f8 1 expect 0x41
wait-irq 5000
in 0x3fa 1 expect 0x04
in 0x3f8 1 expect 0x42
wait-irq 5000
in 0x3fa 1 expect 0x04
in 0x3f8 1 expect 0x43
in 0x3fd 1 expect 0x60   # LSR: DR clear, no overrun
in 0x3fa 1 expect 0x01
no-irq 100               # nothing more came
out 0x3f8 1 0x78
out 0x3f8 1 0x79
out 0x3f8 1 0x7a
in 0x3fd 1 expect 0x60
EOF

run_case fifo-on
run_case fifo-off
