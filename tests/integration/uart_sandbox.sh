#!/bin/sh
# The device process runs confined: seccomp filter mode (Seccomp: 2),
# no_new_privs, and in namespaces other than ours (at least net and pid, and
# every one devrun says it made).  With --no-sandbox it says loudly that it
# runs without its sandbox, and has no filter of its own and our namespaces.
T=30 # upper bound for any one step, seconds
show='$tmp/*/stderr $tmp/*/status'
at_exit='exec 3>&- 4>&-'
. tests/integration/lib/common.sh
need_devrun

# The device stays alive while we look at it: devrun reads its script from
# a fifo, and the script ends only when the test closes it.
for mode in sandbox no-sandbox; do
	mkdir "$tmp/$mode"
	mkfifo "$tmp/$mode/script"
	opt=
	[ $mode = no-sandbox ] && opt=--no-sandbox
	timeout $T "$DEVRUN" $opt uart --backend "file:$tmp/$mode/out" <"$tmp/$mode/script" \
		>"$tmp/$mode/stdout" 2>"$tmp/$mode/stderr" &
	bg="$bg $!"
	eval "devrun_$(echo $mode | tr - _)=\$!"
done
# (opening a fifo waits for its reader: devrun above)
exec 3>"$tmp/sandbox/script" 4>"$tmp/no-sandbox/script"
# send FD LINE: a script line to devrun (an error, not SIGPIPE, if it is gone)
send() {
	(
		trap '' PIPE
		echo "$2" >&"$1"
	) || fail "cannot send a line to devrun (fd $1): it ended early"
}
send 3 "in 0x3fd 1 expect 0x60"
send 4 "in 0x3fd 1 expect 0x60"

field() { sed -n "s/^$1:[[:space:]]*//p" "$2"; }
ns() { readlink "$1/ns/$2"; }

# device_pid MODE: the pid from devrun's "... pid N ready; ..." line.
device_pid() { sed -n 's/.* pid \([0-9][0-9]*\) ready.*/\1/p' "$tmp/$1/stderr" | head -1; }
have_pid() { [ -n "$(device_pid "$1")" ]; }

# ---- sandboxed --------------------------------------------------------------
wait_for $T have_pid sandbox || fail "sandbox: no 'pid N ready' line from devrun"
pid=$(device_pid sandbox)
cp "/proc/$pid/status" "$tmp/sandbox/status" || fail "sandbox: cannot read /proc/$pid/status"
grep -q 'cellvm-dev-uart' "/proc/$pid/cmdline" || fail "sandbox: pid $pid is not cellvm-dev-uart"
st=$tmp/sandbox/status
[ "$(field Seccomp "$st")" = 2 ] || fail "sandbox: Seccomp is '$(field Seccomp "$st")', expected 2 (filter)"
[ "$(field NoNewPrivs "$st")" = 1 ] || fail "sandbox: NoNewPrivs is '$(field NoNewPrivs "$st")', expected 1"
ours=$(field Seccomp_filters /proc/self/status)
theirs=$(field Seccomp_filters "$st")
if [ -n "$ours" ] && [ -n "$theirs" ]; then
	[ "$theirs" -gt "$ours" ] || fail "sandbox: the device has $theirs seccomp filters, we have $ours"
fi
for n in net pid; do
	a=$(ns /proc/self "$n") b=$(ns "/proc/$pid" "$n")
	[ -n "$a" ] && [ -n "$b" ] || fail "sandbox: cannot read the $n namespace links ('$a', '$b')"
	[ "$a" != "$b" ] || fail "sandbox: the device shares our $n namespace ($a)"
done
# Every namespace devrun says it made is one the device does not share with us.
made=$(sed -n 's/.*sandbox: seccomp, namespaces \([a-z,]*\).*/\1/p' "$tmp/sandbox/stderr" | head -1)
[ -n "$made" ] || fail "sandbox: devrun does not say which namespaces it made"
for n in $(echo "$made" | tr , ' '); do
	a=$(ns /proc/self "$n") b=$(ns "/proc/$pid" "$n")
	[ "$a" != "$b" ] || fail "sandbox: devrun says '$n' namespace made, but the device shares ours ($a)"
done
echo "ok: sandboxed device pid $pid: Seccomp 2, NoNewPrivs 1, namespaces $made"

# ---- --no-sandbox -----------------------------------------------------------
wait_for $T have_pid no-sandbox || fail "no-sandbox: no 'pid N ready' line from devrun"
pid=$(device_pid no-sandbox)
cp "/proc/$pid/status" "$tmp/no-sandbox/status" || fail "no-sandbox: cannot read /proc/$pid/status"
st=$tmp/no-sandbox/status
grep -q 'WITHOUT its sandbox' "$tmp/no-sandbox/stderr" ||
	fail "no-sandbox: the device does not warn that it runs WITHOUT its sandbox"
grep -q 'sandbox: OFF' "$tmp/no-sandbox/stderr" || fail "no-sandbox: devrun does not say 'sandbox: OFF'"
# No filter of its own: what we have (0 unless the test itself runs confined).
[ "$(field Seccomp "$st")" = "$(field Seccomp /proc/self/status)" ] ||
	fail "no-sandbox: Seccomp is '$(field Seccomp "$st")', ours is '$(field Seccomp /proc/self/status)'"
[ "$(field Seccomp_filters "$st")" = "$(field Seccomp_filters /proc/self/status)" ] ||
	fail "no-sandbox: the device has its own seccomp filters"
[ "$(ns /proc/self net)" = "$(ns "/proc/$pid" net)" ] || fail "no-sandbox: the device is in another net namespace"
echo "ok: --no-sandbox device pid $pid: warned, Seccomp $(field Seccomp "$st"), our namespaces"

# End both scripts: the devices shut down.
send 3 "in 0x3fd 1 expect 0x60"
send 4 "in 0x3fd 1 expect 0x60"
exec 3>&- 4>&-
for mode in sandbox no_sandbox; do
	eval "p=\$devrun_$mode"
	wait "$p"
	rc=$?
	[ $rc -eq 0 ] || fail "$mode: cellvm-devrun exited $rc"
done
bg=
echo "ok: both devices shut down cleanly"
