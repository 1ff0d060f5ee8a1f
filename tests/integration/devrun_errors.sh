#!/bin/sh
# cellvm-devrun's errors: a failed expectation exits 1 naming the line; a
# bad script line exits 2 naming file:line; bad options exit 2 with a clear
# message; a backend path that cannot be opened is named.
T=30 # upper bound for any one run, seconds
show='$tmp/stdout $tmp/stderr'
. tests/integration/lib/common.sh
need_devrun

# expect_run WANT_RC WHAT ARGS...: runs devrun (stdin from $tmp/stdin),
# checks its exit status.
expect_run() {
	want=$1 what=$2
	shift 2
	timeout $T "$DEVRUN" "$@" <"$tmp/stdin" >"$tmp/stdout" 2>"$tmp/stderr"
	rc=$?
	[ $rc -eq "$want" ] || fail "$what: exit $rc, expected $want"
}
# stderr_has WHAT TEXT: devrun's stderr contains TEXT (fixed string).
stderr_has() {
	grep -qF -- "$2" "$tmp/stderr" || fail "$1: stderr does not contain '$2'"
}
: >"$tmp/stdin"
ok=$tmp/ok.txt
echo "in 0x3fd 1 expect 0x60" >"$ok"

# ---- the good case, for reference -------------------------------------------
expect_run 0 "a passing script" --script "$ok" uart
stderr_has "a passing script" "ready"

# ---- failed expectations: exit 1, the line named, the script stopped ----------
cat >"$tmp/expect.txt" <<'EOF'
# LSR of an idle UART is 0x60
in 0x3fd 1 expect 0x60

in 0x3fd 1 expect 0x61
out 0x3f8 1 0x41
EOF
expect_run 1 "failed expectation" --script "$tmp/expect.txt" uart --backend "file:$tmp/out"
stderr_has "failed expectation" "line 4"
stderr_has "failed expectation" "0x60"
stderr_has "failed expectation" "0x61"
! grep -q 'out 0x3f8' "$tmp/stdout" || fail "failed expectation: the script went on after line 4"
[ ! -s "$tmp/out" ] || fail "failed expectation: line 5 ran (the output file has data)"

printf 'in 0x3fd 1\nwait-irq 100\n' >"$tmp/noirq.txt"
expect_run 1 "missing interrupt" --script "$tmp/noirq.txt" uart
stderr_has "missing interrupt" "line 2"

# ---- bad script lines: exit 2, FILE:LINE named --------------------------------
printf 'in 0x3fd 1\n\nfrobnicate 0x3f8 1\nin 0x3fd 1\n' >"$tmp/unknown.txt"
expect_run 2 "unknown command" --script "$tmp/unknown.txt" uart
stderr_has "unknown command" "$tmp/unknown.txt:3"
stderr_has "unknown command" "frobnicate"
[ "$(grep -c 'in 0x3fd' "$tmp/stdout")" -eq 1 ] || fail "unknown command: the lines after it ran"

printf 'out 0x3f8 1\n' >"$tmp/args.txt"
expect_run 2 "missing argument" --script "$tmp/args.txt" uart
stderr_has "missing argument" "$tmp/args.txt:1"

printf 'out 0x3f8 1 0x100\n' >"$tmp/wide.txt"
expect_run 2 "value too wide" --script "$tmp/wide.txt" uart
stderr_has "value too wide" "$tmp/wide.txt:1"

# A script from stdin is named "stdin".
printf 'in 0x3fd 1\nbogus\n' >"$tmp/stdin"
expect_run 2 "unknown command on stdin" uart
stderr_has "unknown command on stdin" "stdin:2"
: >"$tmp/stdin"

# ---- bad options: exit 2, a clear message, no device started ------------------
no_device() {
	! grep -q ' ready' "$tmp/stderr" || fail "$1: a device was started"
}
expect_run 2 "unknown device" --script "$ok" floppy
stderr_has "unknown device" "unknown device 'floppy'"
no_device "unknown device"

expect_run 2 "bad --port" --script "$ok" uart --port com9
stderr_has "bad --port" "bad --port 'com9'"
no_device "bad --port"
expect_run 2 "--port out of range" --script "$ok" uart --port 0x10000
stderr_has "--port out of range" "bad --port '0x10000'"
expect_run 2 "--port without value" --script "$ok" uart --port
stderr_has "--port without value" "--port"

expect_run 2 "bad --irq" --script "$ok" uart --irq 99
stderr_has "bad --irq" "bad --irq '99'"

expect_run 2 "unknown uart option" --script "$ok" uart --speed 9600
stderr_has "unknown uart option" "'--speed'"

expect_run 2 "unknown backend" --script "$ok" uart --backend tcp:localhost:23
stderr_has "unknown backend" "unknown serial backend 'tcp:localhost:23'"
no_device "unknown backend"
expect_run 2 "unix option" --script "$ok" uart --backend "unix:$tmp/s,client"
stderr_has "unix option" ",server"

expect_run 2 "bad --timeout-ms" --timeout-ms soon --script "$ok" uart
stderr_has "bad --timeout-ms" "bad number 'soon'"

expect_run 2 "unknown devrun option" --frobnicate --script "$ok" uart
stderr_has "unknown devrun option" "frobnicate"

expect_run 2 "no device" --script "$ok"
stderr_has "no device" "usage"

expect_run 2 "missing script" --script "$tmp/nonexistent.txt" uart
stderr_has "missing script" "$tmp/nonexistent.txt"
no_device "missing script"

# ---- backends that cannot be opened: the path named ---------------------------
expect_run 2 "file in a missing directory" --script "$ok" uart --backend "file:$tmp/no/such/dir/com1.txt"
stderr_has "file in a missing directory" "$tmp/no/such/dir/com1.txt"
stderr_has "file in a missing directory" "No such file or directory"
no_device "file in a missing directory"
[ ! -e "$tmp/no" ] || fail "file in a missing directory: the directory was created"

expect_run 2 "unix socket nobody listens on" --script "$ok" uart --backend "unix:$tmp/nobody.sock"
stderr_has "unix socket nobody listens on" "$tmp/nobody.sock"
no_device "unix socket nobody listens on"

expect_run 2 "server socket in a missing directory" --script "$ok" uart \
	--backend "unix:$tmp/no/such/dir/com1.sock,server"
stderr_has "server socket in a missing directory" "$tmp/no/such/dir/com1.sock"

# (exit 3 today: the spawned child fails to exec; 2 would do as well)
timeout $T "$DEVRUN" --device-bin "$tmp/cellvm-dev-nothing" --script "$ok" uart \
	<"$tmp/stdin" >"$tmp/stdout" 2>"$tmp/stderr"
rc=$?
[ $rc -eq 2 ] || [ $rc -eq 3 ] || fail "missing device binary: exit $rc, expected 2 or 3"
stderr_has "missing device binary" "$tmp/cellvm-dev-nothing"
echo "ok: all devrun errors reported as expected"
