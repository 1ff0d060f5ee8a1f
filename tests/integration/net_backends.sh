#!/bin/sh
# The supervisor's network backends (tools/cellvm/net_backend.c), through
# tests/helpers/net_backend_probe:
#  - bridge=BR in a network namespace of our own: the TAP made is up and a
#    port of BR while the probe lives, and gone (with its port) once the
#    probe exits, closes, or is SIGKILLed;
#  - tap=NAME on an existing TAP, which stays after;
#  - the error messages for a missing bridge or TAP, a non-bridge, a busy
#    TAP, no CAP_NET_ADMIN;
#  - stream=PATH[,server]: two probes exchange frames without privileges,
#    and the bytes on the wire have QEMU's framing (4-byte big-endian
#    length).
# The namespace parts need root and /dev/net/tun; without them they are
# reported SKIPPED (the stream parts still run).
T=10 # upper bound for any one step, seconds
NS=cvnet$$
ns_made=
bg_signal=KILL
at_exit='[ -z "$ns_made" ] || ip netns del "$NS" 2>/dev/null'
show='$tmp/*.out $tmp/*.err'
. tests/integration/lib/common.sh
PROBE=$BUILD/test-bin/net_backend_probe
[ -x "$PROBE" ] || fail "$PROBE missing: build first (make all)"

# --- stream: no privileges needed ------------------------------------------

# A server probe waits for one peer and prints the frame it gets; the
# client sends one.
"$PROBE" --recv stream="$tmp/s1,server" >"$tmp/srv.out" 2>"$tmp/srv.err" &
srv=$!
bg="$bg $srv"
wait_for $T listening "$tmp/s1" || fail "stream: the server probe does not listen on $tmp/s1"
timeout $T "$PROBE" --send "hello from the client" stream="$tmp/s1" >"$tmp/cli.out" 2>"$tmp/cli.err" ||
	fail "stream: the client probe failed"
wait "$srv" || fail "stream: the server probe failed"
bg=
[ "$(sed -n 2p "$tmp/srv.out")" = "hello from the client" ] || fail "stream: the server got the wrong frame"
[ -e "$tmp/s1" ] && fail "stream: the server left its socket file"
echo "ok: stream server and client"

# The other way, and the bytes on the wire: QEMU's framing.
need_socat
timeout $T socat UNIX-LISTEN:"$tmp/s2" OPEN:"$tmp/wire",creat 2>"$tmp/socat.err" &
bg="$bg $!"
wait_for $T listening "$tmp/s2" || fail "stream: socat does not listen"
timeout $T "$PROBE" --send "hi" stream="$tmp/s2" >"$tmp/cli2.out" 2>"$tmp/cli2.err" ||
	fail "stream: the client probe failed against socat"
wait_for $T test -s "$tmp/wire" || fail "stream: socat got nothing"
sleep 0.2
wire=$(od -An -tx1 "$tmp/wire" | tr -s ' \n' ' ')
want=" 00 00 00 10 ff ff ff ff ff ff 02 00 00 00 00 00 88 b5 68 69 "
[ "$wire" = "$want" ] || fail "stream: on the wire:$wire, expected:$want"
echo "ok: stream framing on the wire"

out=$("$PROBE" stream="$tmp/none" 2>&1) && fail "stream: connecting to nothing worked"
case $out in *"stream $tmp/none: no such socket"*) ;; *) fail "stream: message '$out'" ;; esac
echo "ok: stream errors"

# --- TAP and bridge: root, in a namespace of our own -----------------------

if [ "$(id -u)" -ne 0 ] || [ ! -c /dev/net/tun ] || ! command -v ip >/dev/null; then
	echo "SKIPPED: the TAP and bridge parts need root, /dev/net/tun and ip (iproute2)" >&2
	exit 77 # tools/run-tests.sh reports it as SKIP
fi
ip netns add "$NS" || fail "ip netns add $NS"
ns_made=1
inns() { ip netns exec "$NS" "$@"; }
inns ip link add br0 type bridge || fail "no bridge in the namespace"
inns ip link set br0 up
has_link() { inns ip link show "$1" >/dev/null 2>&1; }
no_link() { ! has_link "$1"; }
no_ports() { [ -z "$(inns ip -o link show master br0)" ]; }

# Made, checked (up, in /sys/class/net/br0/brif/), gone when the probe exits.
out=$(timeout $T ip netns exec "$NS" "$PROBE" bridge=br0 2>"$tmp/b1.err") || fail "bridge: the probe failed: $out"
[ "$out" = "tap cvtap0" ] || fail "bridge: probe said '$out'"
no_link cvtap0 || fail "bridge: cvtap0 is still there after the probe exited"
no_ports || fail "bridge: br0 still has ports"
echo "ok: bridge TAP made, a port of br0, gone at exit"

# run_hold NAME SPEC: a probe that holds its backend until fd 3 closes.
run_hold() {
	mkfifo "$tmp/$1.in"
	exec 3<>"$tmp/$1.in"
	ip netns exec "$NS" "$PROBE" --hold "$2" <"$tmp/$1.in" >"$tmp/$1.out" 2>"$tmp/$1.err" 3>&- &
	held=$!
	bg="$bg $held"
	wait_for $T grep -q '^tap ' "$tmp/$1.out" || fail "$1: the probe did not start"
	tap=$(sed -n 's/^tap //p' "$tmp/$1.out")
}

run_hold hold bridge=br0,ifname=vm1
[ "$tap" = vm1 ] || fail "hold: the TAP is '$tap', expected vm1"
inns ip -o link show master br0 | grep -q ' vm1:' || fail "hold: vm1 is not a port of br0"
inns ip -o link show vm1 | grep -q 'UP' || fail "hold: vm1 is not up"
exec 3>&-
wait "$held" || fail "hold: the probe failed"
bg=
wait_for $T no_link vm1 || fail "hold: vm1 outlived the probe"
no_ports || fail "hold: br0 still has ports"
echo "ok: bridge TAP held, then closed"

# SIGKILL: the kernel closes the fd, the TAP goes, and its bridge port.
run_hold kill bridge=br0
inns ip -o link show master br0 | grep -q " $tap:" || fail "kill: $tap is not a port of br0"
kill -9 "$held"
wait "$held" 2>/dev/null
bg=
exec 3>&-
wait_for $T no_link "$tap" || fail "kill: $tap outlived the SIGKILLed probe"
no_ports || fail "kill: br0 still has ports after SIGKILL"
echo "ok: bridge TAP gone after SIGKILL"

# tap=NAME: an existing TAP is used, and left as it was.
inns ip tuntap add tap7 mode tap || fail "ip tuntap add tap7"
out=$(timeout $T ip netns exec "$NS" "$PROBE" tap=tap7 2>&1) || fail "tap: the probe failed: $out"
[ "$out" = "tap tap7" ] || fail "tap: probe said '$out'"
has_link tap7 || fail "tap: tap7 was removed"
run_hold busy tap=tap7
out=$(timeout $T ip netns exec "$NS" "$PROBE" tap=tap7 2>&1) && fail "tap: a second open of tap7 worked"
case $out in *"tap7: busy"*) ;; *) fail "tap busy: message '$out'" ;; esac
exec 3>&-
wait "$held"
bg=
echo "ok: tap=NAME"

# check_err SPEC MESSAGE [CMD...]: the probe fails with MESSAGE.
check_err() {
	_spec=$1 _msg=$2
	shift 2
	out=$(timeout $T ip netns exec "$NS" "$@" "$PROBE" "$_spec" 2>&1) && fail "$_spec: worked"
	case $out in *"$_msg"*) ;; *) fail "$_spec: got '$out', expected '$_msg'" ;; esac
}
check_err bridge=nobr0 "net_backend_probe: bridge nobr0: no such bridge"
check_err bridge=lo "net_backend_probe: bridge lo: not a bridge"
check_err tap=notap0 "net_backend_probe: notap0: no such interface"
check_err tap=lo "net_backend_probe: lo: not a TAP interface"
check_err bridge=br0,ifname=tap7 "net_backend_probe: bridge br0: tap7 already exists"
no_ports || fail "errors: br0 got a port"
no_link cvtap0 || fail "errors: a TAP was left behind"
# Without CAP_NET_ADMIN: as nobody, /dev/net/tun (0600) is closed; as
# root without the capability, TUNSETIFF itself says no.
check_err tap=tap7 "/dev/net/tun: permission denied" setpriv --reuid=65534 --regid=65534 --clear-groups
# (A TAP with no owner may be opened by anyone who can open /dev/net/tun;
# one owned by another user needs CAP_NET_ADMIN.)
inns ip tuntap add tap8 mode tap user 4321 || fail "ip tuntap add tap8"
check_err tap=tap8 "net_backend_probe: tap8: permission denied (needs CAP_NET_ADMIN, or a TAP owned by this user)" setpriv --bounding-set=-net_admin
check_err bridge=br0 "net_backend_probe: bridge br0: permission denied (needs CAP_NET_ADMIN)" setpriv --bounding-set=-net_admin
echo "ok: error messages"
