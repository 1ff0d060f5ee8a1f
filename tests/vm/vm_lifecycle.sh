# A managed VM's life (docs/vm-management.md) in a temporary root with the
# test guest: create -> set (more RAM, a disk, a serial file) -> start ->
# COM1 output in the VM's .txt -> console attaches -> info/list say running
# -> pause (the guest's counter stops) / resume (it goes on) -> a second
# start is refused -> stop: the power button, and the guest powers off by
# itself -> list says stopped; restart gives a new supervisor; SIGKILL to
# it leaves no process and list says stopped; start --foreground and stop
# as the systemd unit runs them; delete removes the directory.
. tests/vm/lib.sh

R=$T/root
vm() { "$CELLVM" "$@" --root "$R"; }
# count FILE: the guest's "tick N" lines so far.
ticks() { tr -d '\r' <"$1" | grep -c '^tick [0-9]*$'; }
# wait_for FILE PATTERN SECONDS
wait_for() {
    i=0
    while ! tr -d '\r' <"$1" 2>/dev/null | grep -Eq "$2"; do
        i=$((i + 1))
        [ "$i" -le $(( $3 * 2 )) ] || { echo "--- $1:"; tail -20 "$1"; cat "$dir/cellvm.log"; fail "no '$2' in $1 after $3 s"; }
        sleep 0.5
    done
}

# The guest: the kernel's ACPI button driver and evdev; a counter; then it
# waits for the power button's key event and returns (init powers off).
mods=$(ls -d $BUILD/guest/kernel-pkg/lib/modules/*/kernel/drivers)
sh tools/bench/guest_initrd.sh "$T/initrd.cpio" "$mods/acpi/button.ko:/button.ko" \
    "$mods/input/evdev.ko:/evdev.ko" >/dev/null || fail "cannot build the guest's initrd"
snippet='insmod /evdev.ko; insmod /button.ko
ev=; for d in /sys/class/input/event*; do [ "$(cat $d/device/name)" = "Power Button" ] && ev=/dev/input/${d##*/}; done
echo "guest: power button is ${ev:-missing}"
( i=0; while :; do echo "tick $i"; i=$((i + 1)); sleep 1; done ) &
dd if=$ev of=/dev/null bs=24 count=1 2>/dev/null
echo "guest: power button pressed"'

vm create lc --distribution other --cpus 1 --memsize 256M --disk-size 100M >/dev/null || fail "create"
vm set lc --kernel "$PWD/$KERNEL" --initrd "$T/initrd.cpio" --cmdline "$(guest_cmdline "$snippet")" \
    >/dev/null || fail "set --kernel"
vm set lc --memsize 512M >/dev/null || fail "set --memsize"
vm set lc --device-add hdd --size 100M >/dev/null || fail "set --device-add hdd"
vm set lc --device-add serial >/dev/null || fail "set --device-add serial"
vm set lc --device-del net0 >/dev/null || fail "set --device-del net0" # no bridge here
dir=$(ls -d "$R"/*-*)
com1=$dir/serial0.txt

vm start lc >"$T/start.out" 2>&1 || { cat "$T/start.out"; fail "start"; }
expect "$T/start.out" "^Started VM 'lc'"
wait_for "$com1" '^tick 2$' 90
expect "$com1" 'guest: power button is /dev/input/event'
memtotal_ok "$com1" 512
vm info lc >"$T/info.out" || fail "info"
expect "$T/info.out" 'running'
expect "$T/info.out" '^Supervisor: +pid [0-9]+, up [0-9]+ s, boot 1 '
vm info lc --json >"$T/info.json" || fail "info --json"
expect "$T/info.json" '"state": "running", "supervisor": \{"pid": [0-9]+, "uptime_ms": [0-9]+, "boots": 1\}'
vm list >"$T/list.out" || fail "list"
expect "$T/list.out" ' lc +running '

# The console: what the guest prints reaches a client (input ends: detach).
(sleep 3) | vm console lc >"$T/console.out" 2>"$T/console.err" || { cat "$T/console.err"; fail "console"; }
expect "$T/console.out" '^tick [0-9]+'
expect "$T/console.err" 'detached'

vm pause lc >/dev/null || fail "pause"
vm list >"$T/list.out"
expect "$T/list.out" ' lc +paused '
sleep 1
n1=$(ticks "$com1")
sleep 3
n2=$(ticks "$com1")
[ "$n1" -eq "$n2" ] || fail "the guest went on counting while paused ($n1 -> $n2 ticks)"
vm resume lc >/dev/null || fail "resume"
sleep 4
n3=$(ticks "$com1")
[ "$n3" -gt "$n2" ] || fail "the guest did not count again after resume ($n2 -> $n3 ticks)"

if vm start lc >"$T/start2.out" 2>&1; then fail "a second start of a running VM succeeded"; fi
expect "$T/start2.out" 'already running'

vm stop lc --timeout 60 >"$T/stop.out" 2>&1 || { cat "$T/stop.out"; fail "stop"; }
expect "$T/stop.out" "powered off \(the guest shut down\)"
expect "$com1" 'guest: power button pressed'
expect "$com1" 'cellvm-guest: exit=0'
expect "$dir/cellvm.log" 'the guest powered off'
vm list --all >"$T/list.out"
expect "$T/list.out" ' lc +stopped '

# restart: the power button, the guest powers off, a new supervisor boots
# it again.
# (The .txt file is appended to: wait for this boot's line, not the first's.)
buttons() { tr -d '\r' <"$com1" | grep -c '^guest: power button is /dev/input/event'; }
# wait_button N0 WHAT: until a boot after the N0 seen so far has loaded
# its button driver (90 s).
wait_button() {
    i=0
    while [ "$(buttons)" -le "$1" ]; do
        i=$((i + 1))
        [ $i -le 180 ] || fail "$2: the guest did not load its button driver in 90 s"
        sleep 0.5
    done
}
n0=$(buttons)
vm start lc >/dev/null 2>&1 || fail "start again"
first=$(sed -n 's/^--- cellvm start (pid \([0-9]*\)).*/\1/p' "$dir/cellvm.log" | tail -1)
wait_button "$n0" "start again"
vm restart lc --timeout 60 >"$T/restart.out" 2>&1 || { cat "$T/restart.out"; fail "restart"; }
expect "$T/restart.out" "powered off \(the guest shut down\)"
expect "$T/restart.out" "^Started VM 'lc'"
pid=$(sed -n 's/^--- cellvm start (pid \([0-9]*\)).*/\1/p' "$dir/cellvm.log" | tail -1)
[ -n "$pid" ] && [ "$pid" != "$first" ] || fail "restart: no new supervisor (pid $first, then '$pid')"
! kill -0 "$first" 2>/dev/null || fail "restart: the first supervisor $first still runs"
vm list >"$T/list.out"
expect "$T/list.out" ' lc +running '

# SIGKILL to the supervisor: its children go (PDEATHSIG), the lock too.
kids=$(pgrep -P "$pid")
[ -n "$kids" ] || fail "the supervisor $pid has no child processes"
kill -9 "$pid"
sleep 2
for k in $pid $kids; do
    ! kill -0 "$k" 2>/dev/null || fail "process $k ($(cat /proc/$k/comm)) outlived its supervisor"
done
vm list --all >"$T/list.out"
expect "$T/list.out" ' lc +stopped '

# As cellvm@.service runs it: ExecStart, the supervisor in the foreground;
# ExecStop, stop by the power button; the foreground command then exits 0
# (what systemd's Restart=on-failure takes for a clean end).
n0=$(buttons)
vm start lc --foreground >"$T/fg.out" 2>&1 &
fg=$!
wait_button "$n0" "start --foreground (its output: $T/fg.out)"
vm list >"$T/list.out"
expect "$T/list.out" ' lc +running '
vm stop lc --timeout 60 >"$T/stop.out" 2>&1 || { cat "$T/stop.out" "$T/fg.out"; fail "stop (foreground)"; }
wait_pid "$fg" 30
rc=$?
[ "$rc" -eq 0 ] || { cat "$T/fg.out"; fail "start --foreground exited $rc after the guest powered off"; }
expect "$T/fg.out" 'the guest powered off'

vm delete lc >/dev/null || fail "delete"
[ ! -e "$dir" ] || fail "delete left $dir"
echo "ok: create, set, start, console, pause/resume, refused start, power-button stop, restart, SIGKILL, foreground start/stop, delete"
