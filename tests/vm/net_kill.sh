# SIGKILL to the network device process (cellvm-dev-net) of a VM on a
# bridge, its guest's link up and idle: cellvm stops the VM, exits non-zero
# with a message naming the process and the signal, removes the TAP it
# made for --net bridge=, and leaves no process behind.
# Under QEMU (CELLVM=tools/bench/qemu_vm.sh) the victim is QEMU itself and
# only the exit status, the TAP and the processes are checked.
[ -n "${NET_TEST_NS:-}" ] || exec env NET_TEST_NS=1 unshare -n sh "$0" "$@"
. tests/vm/lib.sh
modprobe -q tun 2>/dev/null; modprobe -q bridge 2>/dev/null
bridge_up br0 10.0.2.1
net_initrd
case $CELLVM in
*qemu_vm.sh) victim=qemu-system-x86 qemu=1 ;;  # comm: 15 characters
*) victim=cellvm-dev-net qemu= ;;
esac

"$CELLVM" run --kernel "$KERNEL" --initrd "$BOOT_INITRD" --memory 256M --on-reboot stop \
    --cmdline "$(guest_cmdline '. /net.sh; net_up 10.0.2.15 k || exit 1; echo k-up; sleep 600')" \
    --serial "file:$T/kill.txt" --net bridge=br0 >"$T/kill.out" 2>&1 </dev/null &
VM_PID=$!
# Until the guest's link is up: the device is in use when it dies.
for i in $(seq 1200); do
    cat "$T/kill.txt" 2>/dev/null | tr -d '\r' | grep -qx k-up && break
    kill -0 "$VM_PID" 2>/dev/null || break
    sleep 0.1
done
cat "$T/kill.txt" 2>/dev/null | tr -d '\r' | grep -qx k-up ||
    { cat "$T/kill.out"; tail -20 "$T/kill.txt" 2>/dev/null; fail "the guest's link never came up"; }
# The TAP cellvm made is the bridge's only port.
taps=$(ip -o link show master br0 | cut -d: -f2 | sed 's/@.*//; s/ //g')
[ "$(echo "$taps" | wc -w)" -eq 1 ] || fail "bridge br0's ports: '$taps' (want the VM's TAP alone)"
[ -n "$qemu" ] || case $taps in cvtap*) ;; *) fail "the VM's TAP is $taps, not cvtap*" ;; esac
pid=
for c in $(cat /proc/$VM_PID/task/*/children 2>/dev/null); do
    [ "$(cat /proc/$c/comm 2>/dev/null)" = "$victim" ] && pid=$c
done
[ -n "$pid" ] || { ps -eo pid,ppid,comm | grep -e cellvm -e qemu -e PID; fail "no $victim process under $CELLVM (pid $VM_PID)"; }
others=$(cat /proc/$VM_PID/task/*/children 2>/dev/null)
[ -n "$qemu" ] || grep -q '^Seccomp:[[:space:]]*2' /proc/$pid/status ||
    fail "$victim (pid $pid) is not under seccomp"
kill -KILL "$pid"
for i in $(seq 600); do kill -0 "$VM_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$VM_PID" 2>/dev/null; then
    ps -eo pid,ppid,stat,wchan:32,comm | grep -e cellvm -e qemu -e PID
    cat "$T/kill.out"
    kill -9 "$VM_PID" $others 2>/dev/null
    fail "$CELLVM did not end within 60 s after $victim was killed"
fi
wait "$VM_PID"
rc=$?
[ "$rc" -ne 0 ] || { cat "$T/kill.out"; fail "$CELLVM exited 0 after $victim was killed"; }
[ -n "$qemu" ] || expect "$T/kill.out" "cellvm-dev-net.*pid $pid.*killed by signal 9"
! ip link show dev "$taps" >/dev/null 2>&1 || fail "TAP $taps outlived the VM"
[ -z "$(ip -o link show master br0)" ] || fail "bridge br0 still has ports: $(ip -o link show master br0)"
for c in $others; do
    [ ! -e /proc/$c ] || fail "$(cat /proc/$c/comm 2>/dev/null) (pid $c) outlived the VM"
done
echo "ok: SIGKILL to $victim stops the VM (exit $rc), TAP $taps removed${qemu:+ (QEMU: no message checked)}"
