#!/bin/sh
# cellvm run --net: the supervisor's side before and after a VM, without a
# network device process or KVM being needed:
#  - stream=PATH,server: cellvm says it waits for a peer and waits; SIGINT or
#    SIGTERM then stops it with status 0, and the socket file is gone;
#  - bridge=BR (root, in a network namespace of our own): the TAP cellvm
#    made is a port of BR while it waits for a stream peer, and is gone after
#    SIGINT; and gone too when the VM ends after the peer came (however it
#    ends here: no /dev/kvm, no cellvm-dev-net yet, or a guest that panics
#    and reboots with --on-reboot stop).
# Without root, /dev/net/tun or ip the bridge part is reported SKIPPED.
T=10 # upper bound for any one step, seconds
NS=cvsup$$
ns_made=
bg_signal=KILL
at_exit='[ -z "$ns_made" ] || ip netns del "$NS" 2>/dev/null'
show='$tmp/err'
. tests/integration/lib/common.sh
CELLVM=$BUILD/bin/cellvm
said() { grep -q "$1" "$tmp/err"; }
tools/mkguest/mkguest >/dev/null 2>&1 || fail "mkguest failed"
K=$BUILD/guest/vmlinuz

# stop_while_waiting SIGNAL NAME [PREFIX...]: cellvm waits for a stream peer,
# gets SIGNAL, and must end with 0, having said NAME.
stop_while_waiting() {
	sig=$1 name=$2
	shift 2
	: >"$tmp/err"
	"$@" "$CELLVM" run --kernel "$K" --serial none $extra --net "stream=$tmp/s,server" \
		</dev/null >/dev/null 2>"$tmp/err" &
	pid=$!
	bg="$bg $pid"
	wait_for $T said "net[0-9]*: waiting for a peer on $tmp/s" || fail "$sig: cellvm does not say it waits"
	[ -S "$tmp/s" ] || fail "$sig: no socket at $tmp/s"
	[ -z "$check" ] || $check || fail "$sig: while waiting: $check"
	kill -"$sig" "$pid"
	wait "$pid"
	rc=$?
	bg=
	[ $rc -eq 0 ] || fail "$sig while waiting: exit $rc, want 0"
	said "cellvm: $name: stopping the VM" || fail "$sig: cellvm does not say it stops"
	[ -e "$tmp/s" ] && fail "$sig: the socket file stayed"
	echo "ok: $sig while waiting for a stream peer${extra:+ (with$extra)}"
}

extra= check=
stop_while_waiting INT Interrupt
stop_while_waiting TERM Terminated

if [ "$(id -u)" != 0 ] || [ ! -c /dev/net/tun ] || ! command -v ip >/dev/null; then
	echo "SKIPPED: the bridge parts need root, /dev/net/tun and ip (iproute2)" >&2
	exit 77 # tools/run-tests.sh reports it as SKIP
fi
ip netns add "$NS" || fail "ip netns add $NS"
ns_made=1
inns() { ip netns exec "$NS" "$@"; }
inns ip link add br0 type bridge || fail "no bridge support"
inns ip link set br0 up
taps() { inns ip -o link show | grep -c 'cvtap' ; }
tap_on_br0() { inns ip -o link show master br0 | grep -q 'cvtap0'; }

# The bridge's TAP is made before the stream wait, and goes on SIGINT.
extra=" --net bridge=br0" check=tap_on_br0
stop_while_waiting INT Interrupt ip netns exec "$NS"
[ "$(taps)" -eq 0 ] || fail "SIGINT: a cvtap stayed: $(inns ip -o link show | grep cvtap)"
echo "ok: the TAP made on br0 is gone after SIGINT"

# The peer comes; the VM then ends one way or another, the TAP with it.
need_socat
: >"$tmp/err"
ip netns exec "$NS" timeout 60 "$CELLVM" run --kernel "$K" --serial none --on-reboot stop \
	--cmdline "console=ttyS0 panic=-1" --memory 128M \
	--net bridge=br0 --net "stream=$tmp/s,server" </dev/null >/dev/null 2>"$tmp/err" &
pid=$!
bg="$bg $pid"
wait_for $T said "waiting for a peer" || fail "cellvm does not say it waits"
tap_on_br0 || fail "no cvtap0 on br0 while waiting"
timeout $T socat -u OPEN:/dev/null UNIX-CONNECT:"$tmp/s" || fail "socat could not connect"
wait "$pid"
rc=$?
bg=
[ $rc -ne 124 ] || fail "the VM did not end in 60 s"
[ "$(taps)" -eq 0 ] || fail "a cvtap stayed after the VM (exit $rc)"
echo "ok: the TAP made on br0 is gone after the VM (exit $rc: $(tail -1 "$tmp/err"))"
