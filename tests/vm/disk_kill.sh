# SIGKILL to the disk's device process (cellvm-dev-disk) while the guest
# writes to its qcow2 image without pause: cellvm stops the VM, exits
# non-zero with a message naming the process, the disk and the image path,
# leaves no process behind, and the image has no corruption (qemu-img check:
# leaked clusters, exit 3, are acceptable; corruption, exit 2, is not).
. tests/vm/lib.sh
img=$T/kill.qcow2
qemu-img create -q -f qcow2 "$img" 256M || fail "qemu-img create failed"
disk_initrd
# 64 KiB O_DIRECT writes at random offsets over the whole disk, so that
# clusters keep being allocated (L2 tables, refcounts) when the kill comes.
"$CELLVM" run --kernel "$KERNEL" --initrd "$BOOT_INITRD" --memory 256M --on-reboot stop \
    --cmdline "$(guest_cmdline '. /disk.sh; dev_check /dev/vda kill || exit 1
i=0
while :; do
    dd if=/dev/urandom of=/dev/vda bs=64k count=4 seek=$((RANDOM % 4096)) oflag=direct 2>/dev/null ||
        { echo "kill-error: dd failed"; exit 1; }
    i=$((i + 1))
    [ $i -eq 20 ] && echo "kill-writing"
done')" --serial "file:$T/kill.txt" --disk "$img,if=virtio-blk" \
    >"$T/kill.out" 2>&1 </dev/null &
VM_PID=$!
for i in $(seq 1200); do  # 120 s for the guest to boot and start writing
    cat "$T/kill.txt" 2>/dev/null | tr -d '\r' | grep -qx 'kill-writing' && break
    kill -0 "$VM_PID" 2>/dev/null || break
    sleep 0.1
done
cat "$T/kill.txt" 2>/dev/null | tr -d '\r' | grep -qx 'kill-writing' ||
    { cat "$T/kill.out"; tail -20 "$T/kill.txt" 2>/dev/null; fail "the guest never started writing"; }
# The cellvm-dev-disk under this cellvm (comm: 15 characters, exactly).
pid=
for c in $(cat /proc/$VM_PID/task/*/children 2>/dev/null); do
    [ "$(cat /proc/$c/comm 2>/dev/null)" = cellvm-dev-disk ] && pid=$c
done
[ -n "$pid" ] || { ps -eo pid,ppid,comm | grep -e cellvm -e PID; fail "no cellvm-dev-disk process under cellvm (pid $VM_PID)"; }
others=$(cat /proc/$VM_PID/task/*/children 2>/dev/null)
# While this VM writes to the image, a second VM may not open it (the
# image lock); nothing of the second VM is left running.
timeout 60 "$CELLVM" run --kernel "$KERNEL" --initrd "$INITRD" --disk "$img,if=virtio-blk" \
    >"$T/second.out" 2>&1 </dev/null
rc2=$?
if [ "$rc2" -eq 0 ] || [ "$rc2" -eq 124 ]; then
    tail -30 "$T/second.out"
    # Was the first VM (the lock's holder) still there?
    kill -0 "$VM_PID" 2>/dev/null && echo "the first VM is still running" ||
        { echo "the first VM had ended:"; cat "$T/kill.out"; tail -20 "$T/kill.txt"; }
    fail "a second VM on the same image exited $rc2"
fi
expect "$T/second.out" "in use by another VM or program"
sleep 1  # a second more of writes
kill -KILL "$pid"
for i in $(seq 600); do kill -0 "$VM_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$VM_PID" 2>/dev/null; then
    ps -eo pid,ppid,stat,wchan:32,comm | grep -e cellvm -e PID
    cat "$T/kill.out"
    kill -9 "$VM_PID" $others 2>/dev/null
    fail "cellvm did not end within 60 s after cellvm-dev-disk was killed"
fi
wait "$VM_PID"
rc=$?
[ "$rc" -ne 0 ] || { cat "$T/kill.out"; fail "cellvm exited 0 after cellvm-dev-disk was killed"; }
expect "$T/kill.out" "cellvm-dev-disk \\(vda: $img\\), pid $pid: killed by signal 9"
for c in $others; do
    [ ! -e /proc/$c ] || fail "$(cat /proc/$c/comm 2>/dev/null) (pid $c) outlived the VM"
done
qcow2_clean "$img" leaks-ok
echo "ok: SIGKILL to cellvm-dev-disk mid-write stops the VM (exit $rc); qemu-img check: $(tail -1 "$T/check.out")"
