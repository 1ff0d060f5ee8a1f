#!/bin/sh
# A socket peer that goes away must not take the device with it.  The peer
# sends 16 bytes and leaves; they fill the RX FIFO, so the device has no
# reason to look at the socket again and has not seen it close.  The guest
# then writes to THR: the write meets a closed socket (EPIPE).  The device
# must live on: the byte is discarded, the guest still reads the 16 bytes,
# devrun ends cleanly, and with the server backend the next client is
# served.  Sandboxed and with --no-sandbox (where the device is not the init
# of a pid namespace, so a SIGPIPE at its default action would kill it).
T=30 # upper bound for any one step, seconds
show='$case_dir/stdout $case_dir/stderr $case_dir/*.err'
at_exit='exec 3>&-'
. tests/integration/lib/common.sh
case_dir=$tmp
need_socat
need_devrun

# devrun reads its script from a fifo (fd 3), line by line as the test sends
# them, so the guest can act after the peer is gone.
start_devrun() { # OPTS BACKEND
	mkfifo "$case_dir/script"
	timeout $T "$DEVRUN" $1 uart --port com1 --backend "$2" <"$case_dir/script" \
		>"$case_dir/stdout" 2>"$case_dir/stderr" &
	devrun=$!
	bg="$bg $devrun"
	exec 3>"$case_dir/script"
}
send() { # LINE...: script lines for devrun (an error, not SIGPIPE, if it is gone)
	for l; do
		(
			trap '' PIPE
			echo "$l" >&3
		) 2>/dev/null || {
			exec 3>&-
			wait "$devrun"
			fail "cellvm-devrun ended (exit $?) before the script did (at '$l')"
		}
	done
}
# out_seen TEXT: devrun has printed TEXT (fixed string) on stdout.
out_seen() { grep -qF -- "$1" "$case_dir/stdout"; }
finish() { # NAME: end the script; devrun must exit 0
	exec 3>&-
	wait "$devrun"
	rc=$?
	bg=
	[ $rc -eq 0 ] || fail "$1: cellvm-devrun exited $rc (the device did not survive its peer)"
}
# listening PATH: a unix socket listens on PATH (in our net namespace).
listening() { grep -q " 00010000 0001 01 [0-9]* $1\$" /proc/net/unix; }

SETUP='out 0x3fa 1 0x07
out 0x3fc 1 0x08
out 0x3f9 1 0x01'
payload=abcdefghijklmnop # exactly the FIFO's 16 bytes
read_fifo() {
	for b in 0x61 0x62 0x63 0x64 0x65 0x66 0x67 0x68 0x69 0x6a 0x6b 0x6c 0x6d 0x6e 0x6f 0x70; do
		send "in 0x3f8 1 expect $b"
	done
}

# ---- unix:PATH: the peer is a listener -----------------------------------
connect_case() { # NAME [DEVRUN-OPTS]
	case_dir=$tmp/$1
	mkdir "$case_dir"
	printf '%s\n' 'dd bs=1 count=1 of=/dev/null 2>/dev/null' "printf $payload" \
		>"$case_dir/peer.sh"
	timeout $T socat UNIX-LISTEN:"$case_dir/sock" EXEC:"sh $case_dir/peer.sh" \
		2>"$case_dir/peer.err" &
	peer=$!
	bg="$bg $peer"
	wait_for $T listening "$case_dir/sock" || fail "$1: socat does not listen on its socket"
	start_devrun "${2-}" "unix:$case_dir/sock"
	# '!' makes the peer send its 16 bytes and leave.
	send "$SETUP" "out 0x3f8 1 0x21" "wait-irq 10000" "in 0x3fd 1 expect 0x61"
	wait "$peer" || fail "$1: socat failed"
	send "out 0x3f8 1 0x41"       # to a closed socket
	send "in 0x3fd 1 expect 0x61" # alive, THR empty: the byte discarded
	read_fifo
	send "in 0x3fd 1 expect 0x60" "out 0x3f8 1 0x42" "in 0x3fd 1 expect 0x60"
	finish "$1"
	grep -q 'peer closed' "$case_dir/stderr" || fail "$1: no 'peer closed' warning from the device"
	echo "ok: $1"
}

# ---- unix:PATH,server: the peer is a client -------------------------------
server_case() { # NAME [DEVRUN-OPTS]
	case_dir=$tmp/$1
	mkdir "$case_dir"
	start_devrun "${2-}" "unix:$case_dir/sock,server"
	send "$SETUP" "in 0x3f9 1 expect 0x01"
	wait_for $T out_seen "in 0x3f9/1 -> 0x1" || fail "$1: the guest did not finish its setup"
	# Client 1 sends its 16 bytes and leaves.
	printf %s "$payload" >"$case_dir/client1.in"
	timeout $T socat -u "$case_dir/client1.in" UNIX-CONNECT:"$case_dir/sock" \
		2>"$case_dir/client1.err" || fail "$1: client 1: socat failed"
	send "wait-irq 10000" "in 0x3fd 1 expect 0x61"
	send "out 0x3f8 1 0x41"       # to a closed socket
	send "in 0x3fd 1 expect 0x61" # alive, THR empty: the byte discarded
	read_fifo
	# Client 2 sends Z, then takes one byte of the guest's answer.
	printf '%s\n' 'printf Z' "exec dd bs=1 count=1 of=$case_dir/client2.out 2>/dev/null" \
		>"$case_dir/client2.sh"
	timeout $T socat UNIX-CONNECT:"$case_dir/sock" EXEC:"sh $case_dir/client2.sh" \
		2>"$case_dir/client2.err" &
	client2=$!
	bg="$bg $client2"
	# Wait for Z without racing its arrival: IER off and on makes an edge
	# now if Z is in already, else when it comes.
	send "out 0x3f9 1 0x00" "out 0x3f9 1 0x01" "in 0x3f9 1 expect 0x01" "wait-irq 10000"
	send "in 0x3f8 1 expect 0x5a" "out 0x3f8 1 0x42" "in 0x3fd 1 expect 0x60"
	wait "$client2" || fail "$1: client 2: socat failed"
	[ "$(cat "$case_dir/client2.out")" = B ] || fail "$1: client 2 did not get the guest's 'B'"
	finish "$1"
	echo "ok: $1"
}

# Each case in a subshell with its own cleanup: one failing does not hide
# the others.
failed=
run() { # FUNCTION NAME [DEVRUN-OPTS]
	(
		bg=
		cleanup_case() {
			exec 3>&-
			for p in $bg; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
		}
		trap cleanup_case EXIT
		"$@"
	) || failed="$failed $2"
}
run connect_case connect-sandbox
run connect_case connect-no-sandbox --no-sandbox
run server_case server-sandbox
run server_case server-no-sandbox --no-sandbox
[ -z "$failed" ] || {
	echo "FAIL:$failed" >&2
	exit 1
}
