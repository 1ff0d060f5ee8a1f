#!/bin/sh
# The listening socket backend (unix:PATH,server): devrun listens, a client
# connects after the device started, its bytes reach the guest (with the RX
# interrupt) and the guest's bytes reach it.  Output while no client is
# connected is discarded; after the first client leaves a second one is
# served.
T=30 # upper bound for any one step, seconds
show='$tmp/stdout $tmp/stderr $tmp/client1.err $tmp/client2.err'
. tests/integration/lib/common.sh
need_socat
need_devrun

sock=$tmp/com1.sock
cat >"$tmp/script.txt" <<'EOF'
out 0x3fa 1 0x07         # FCR: FIFOs on, trigger level 1
out 0x3fc 1 0x08         # MCR: OUT2
out 0x3f8 1 0x78         # 'x' with nobody connected: discarded
in 0x3fd 1 expect 0x60   # ... without blocking the transmitter
out 0x3f9 1 0x01         # IER: received data available
in 0x3f9 1 expect 0x01   # (the test connects once it sees this line)
wait-irq 10000           # client 1 sends "hi"
in 0x3fa 1 expect 0xc4
in 0x3f8 1 expect 0x68
in 0x3f8 1 expect 0x69
in 0x3fd 1 expect 0x60
out 0x3f8 1 0x6f         # "ok\n" to client 1
out 0x3f8 1 0x6b
out 0x3f8 1 0x0a
wait-irq 10000           # client 2 sends "2"
in 0x3fa 1 expect 0xc4
in 0x3f8 1 expect 0x32
in 0x3fd 1 expect 0x60
out 0x3f8 1 0x32         # "2!\n" to client 2
out 0x3f8 1 0x21
out 0x3f8 1 0x0a
in 0x3fd 1 expect 0x60
EOF

timeout $T "$DEVRUN" --script "$tmp/script.txt" uart --port com1 --backend "unix:$sock,server" \
	>"$tmp/stdout" 2>"$tmp/stderr" &
devrun=$!
bg="$bg $devrun"

ready() { grep -q 'in 0x3f9/1 -> 0x1' "$tmp/stdout"; }
wait_for $T ready || fail "the guest did not get to its setup's end"
[ -S "$sock" ] || fail "$sock is not a listening socket"

# Each client sends its bytes, then reads exactly the 3 bytes of its answer
# and leaves.
cat >"$tmp/client1.sh" <<EOF
printf hi
exec dd bs=1 count=3 of="$tmp/client1.out" 2>/dev/null
EOF
cat >"$tmp/client2.sh" <<EOF
printf 2
exec dd bs=1 count=3 of="$tmp/client2.out" 2>/dev/null
EOF
timeout $T socat UNIX-CONNECT:"$sock" EXEC:"sh $tmp/client1.sh" 2>"$tmp/client1.err" ||
	fail "client 1: socat failed"
printf 'ok\n' | cmp -s - "$tmp/client1.out" ||
	fail "client 1 received '$(cat "$tmp/client1.out")', expected 'ok\\n'"
timeout $T socat UNIX-CONNECT:"$sock" EXEC:"sh $tmp/client2.sh" 2>"$tmp/client2.err" ||
	fail "client 2: socat failed"
printf '2!\n' | cmp -s - "$tmp/client2.out" ||
	fail "client 2 received '$(cat "$tmp/client2.out")', expected '2!\\n'"

wait "$devrun"
rc=$?
bg=
[ $rc -eq 0 ] || fail "cellvm-devrun exited $rc"
echo "ok: two clients served one after the other"
