# Two VMs talk to each other: first as ports of one bridge (--net
# bridge=br0, MACs given with mac=), then joined by a unix stream socket
# alone (--net stream=PATH,server / stream=PATH, MACs derived from --name).
# Each time they ping each other both ways, and 4 MiB of random data made
# in VM b go to VM a and back to b over TCP; the MD5 and byte count must be
# the same in all three places.
[ -n "${NET_TEST_NS:-}" ] || exec env NET_TEST_NS=1 unshare -n sh "$0" "$@"
. tests/vm/lib.sh
# Two VMs share the nested host's one vCPU: a pair took ~230 s there on
# 2026-12-07's machines, near lib.sh's 300 s.
VM_TIMEOUT=${VM_TIMEOUT:-420}
modprobe -q tun 2>/dev/null; modprobe -q bridge 2>/dev/null
bridge_up br0 10.0.2.1
net_initrd

# b makes the data, serves it on port 5000, takes it back on port 5001.
SNIPPET_B='. /net.sh
stamp b start
net_up 10.0.2.16 b || exit 1
random /tmp/data 4 || { echo b-error: no random data; exit 1; }
report /tmp/data b made
ping_wait 10.0.2.15 b || exit 1
stamp b pinged
serve 5000 /tmp/data || { echo b-error: serving failed; exit 1; }
take 5001 /tmp/back || { echo b-error: taking failed; exit 1; }
report /tmp/back b back
stamp b done
echo b-ok'
SNIPPET_A='. /net.sh
stamp a start
net_up 10.0.2.15 a || exit 1
ping_wait 10.0.2.16 a || exit 1
stamp a pinged
fetch 10.0.2.16 5000 /tmp/got a || exit 1
report /tmp/got a got
put 10.0.2.16 5001 /tmp/got a || exit 1
stamp a done
echo a-ok'

# both LABEL: the end of both VMs' output (one's failure may be the other's).
both() { for w in a b; do echo "--- VM $w:"; tr -d '\r' <"$T/$1-$w.out" | tail -25; done; }

# check LABEL: both guests went through; the sums agree.
check() {
    wait_pid "$pid_a" $((VM_TIMEOUT + 10)); rc_a=$?
    wait_pid "$pid_b" $((VM_TIMEOUT + 10)); rc_b=$?
    for v in a b; do
        rc=$(eval echo \$rc_$v)
        [ "$rc" -eq 0 ] || { both "$1"; fail "$1: VM $v exited $rc (124: deadline)"; }
        tr -d '\r' <"$T/$1-$v.out" | grep -qx "$v-ok" || { both "$1"; fail "$1: VM $v's guest steps failed"; }
        out_lines "$T/$1-$v.out" "$v" if | grep -q 'driver=virtio_net$' ||
            fail "$1: VM $v's interface is not virtio_net: $(out_lines "$T/$1-$v.out" "$v" if)"
        out_lines "$T/$1-$v.out" "$v" ping | grep -q ' 3 packets received' ||
            fail "$1: VM $v's ping: $(out_lines "$T/$1-$v.out" "$v" ping)"
    done
    made=$(out_lines "$T/$1-b.out" b made)
    [ "${made#* }" = 4194304 ] || fail "$1: b made '$made'"
    same "$1: MD5 and bytes b -> a" "$made" "$(out_lines "$T/$1-a.out" a got)"
    same "$1: MD5 and bytes a -> b" "$made" "$(out_lines "$T/$1-b.out" b back)"
    # Each guest's MAC, as it saw it.
    mac_a=$(out_lines "$T/$1-a.out" a if | cut -d' ' -f2)
    mac_b=$(out_lines "$T/$1-b.out" b if | cut -d' ' -f2)
    echo "$1: $(( $(date +%s) - start )) s; guest a: $(out_lines "$T/$1-a.out" a at | tr '\n' ' '); b: $(out_lines "$T/$1-b.out" b at | tr '\n' ' ')"
}

# One pair at a time: once with four nested VMs at once, the nested KVM
# host's kernel died (a stack overflow in its #GP handler under TCG).
# The bridge pair: both VMs at once.
start=$(date +%s)
boot bridge-b "$SNIPPET_B" --memory 256M --net bridge=br0,mac=52:54:00:00:00:0b &
pid_b=$!
boot bridge-a "$SNIPPET_A" --memory 256M --net bridge=br0,mac=52:54:00:00:00:0a &
pid_a=$!
check bridge
same "bridge: VM a's MAC" "$mac_a" 52:54:00:00:00:0a
same "bridge: VM b's MAC" "$mac_b" 52:54:00:00:00:0b
echo "ok: two VMs on bridge br0: ping both ways, 4 MiB there and back"

# The stream pair: the server first; its client once the socket exists.
start=$(date +%s)
boot stream-b "$SNIPPET_B" --memory 256M --name net-b --net "stream=$T/link.sock,server" &
pid_b=$!
for i in $(seq 300); do [ -S "$T/link.sock" ] && break; sleep 0.1; done
[ -S "$T/link.sock" ] || { cat "$T/stream-b.out"; fail "no socket $T/link.sock from the server VM"; }
boot stream-a "$SNIPPET_A" --memory 256M --name net-a --net "stream=$T/link.sock" &
pid_a=$!
check stream
# Default MACs: locally administered (52:...), one per name.
case $mac_a$mac_b in 52:*52:*) ;; *) fail "stream: default MACs $mac_a, $mac_b are not 52:..." ;; esac
[ "$mac_a" != "$mac_b" ] || fail "stream: both VMs got MAC $mac_a"
echo "ok: two VMs joined by a stream socket: ping both ways, 4 MiB there and back (MACs $mac_a, $mac_b)"
