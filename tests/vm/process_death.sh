# SIGKILL to the UART process, or to the core, during boot stops the VM with
# a message naming the process and the signal, a non-zero exit, and no
# process left behind.  While the VM runs, both are under seccomp.
. tests/vm/lib.sh

# start_vm NAME: a VM whose guest sleeps, in the background; sets VM_PID.
start_vm() {
    "$CELLVM" run --kernel "$KERNEL" --initrd "$INITRD" --memory 256M \
        --cmdline "$(guest_cmdline 'sleep 600' | sed 's/ quiet//')" --serial "file:$T/$1.txt" \
        >"$T/$1.out" 2>&1 </dev/null &
    VM_PID=$!
}

# child_pid PARENT NAME: the pid of PARENT's child whose command is NAME.
child_pid() {
    for i in $(seq 600); do  # 60 s: a loaded nested host starts processes slowly
        for c in $(cat /proc/$1/task/*/children 2>/dev/null); do
            [ "$(cat /proc/$c/comm 2>/dev/null)" = "$2" ] && { echo "$c"; return 0; }
        done
        sleep 0.1
    done
    return 1
}

for victim in cellvm-dev-uart cellvm-core; do
    start_vm "$victim"
    pid=$(child_pid "$VM_PID" "$victim") ||
        { cat "$T/$victim.out"; fail "no $victim process under cellvm"; }
    # Wait until the guest prints (the kernel's first console lines), so
    # this is "during boot" and every process is up (not one still being
    # spawned), then check the sandbox of all of them.
    for i in $(seq 600); do [ -s "$T/$victim.txt" ] && break; sleep 0.1; done
    [ -s "$T/$victim.txt" ] || { cat "$T/$victim.out"; fail "the guest printed nothing in 60 s"; }
    # comm is cut to 15 characters: cellvm-dev-uart fits exactly.
    others=$(cat /proc/$VM_PID/task/*/children)
    for c in $others; do
        if ! grep -q '^Seccomp:[[:space:]]*2' /proc/$c/status 2>/dev/null; then
            echo "--- cellvm's output:"; cat "$T/$victim.out"
            echo "--- guest console:"; tail -20 "$T/$victim.txt"
            fail "child pid $c of cellvm ($(cat /proc/$c/comm 2>/dev/null || echo gone)) is not under seccomp"
        fi
    done
    kill -9 "$pid"
    # cellvm must end by itself; if it has not within 60 s, show where
    # everything is stuck instead of hanging the test run.
    for i in $(seq 600); do kill -0 "$VM_PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$VM_PID" 2>/dev/null; then
        echo "--- cellvm (pid $VM_PID) still runs 60 s after $victim was killed:"
        ps -eo pid,ppid,stat,wchan:32,comm | grep -e cellvm -e PID
        for p in $VM_PID $others; do
            echo "--- $p $(cat /proc/$p/comm 2>/dev/null) kernel stacks:"
            for t in /proc/$p/task/*; do echo "[$t]"; cat "$t/stack" 2>/dev/null; done
        done
        cat "$T/$victim.out"
        kill -9 "$VM_PID" $others 2>/dev/null
        fail "cellvm did not end after $victim was killed"
    fi
    wait "$VM_PID"; rc=$?
    [ "$rc" -ne 0 ] || fail "cellvm exited 0 after $victim was killed"
    case $victim in
    cellvm-dev-uart) expect "$T/$victim.out" 'cellvm-dev-uart \(com1\), pid [0-9]+: killed by signal 9' ;;
    cellvm-core) expect "$T/$victim.out" 'cellvm-core, pid [0-9]+: killed by signal 9' ;;
    esac
    for c in $others; do
        [ ! -e /proc/$c ] || fail "$(cat /proc/$c/comm 2>/dev/null) (pid $c) outlived the VM"
    done
    echo "ok: SIGKILL to $victim stops the VM (exit $rc)"
done
