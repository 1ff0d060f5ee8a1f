# Helpers for whole-VM tests: boot the test guest (tools/mkguest) under
# cellvm and check what it printed.  Sourced by tests/vm/*.sh, which run
# where /dev/kvm exists (directly, or inside tools/kvmhost/run).
set -u
BUILD=${BUILD:-build}
# CELLVM=tools/bench/qemu_vm.sh runs a test's VMs under QEMU instead (its
# options are cellvm's): to check a test's guest side without cellvm.
CELLVM=${CELLVM:-$BUILD/bin/cellvm}
KERNEL=$BUILD/guest/vmlinuz
INITRD=$BUILD/guest/initramfs.cpio.gz
# GUEST_MODS=1: the guest loads its modules (virtio, SCSI, ext4, isofs...).
GUEST_MODS=${GUEST_MODS:-0}
# BOOT_INITRD: another initrd for boot (see guest_initrd).
BOOT_INITRD=
T=$(mktemp -d)
trap 'cleanup' EXIT
cleanup() {
    for p in $(jobs -p); do kill -9 "$p" 2>/dev/null; done
    rm -rf "$T"
}

fail() { echo "FAIL: $*"; exit 1; }

# The kernel command line for a guest that runs SNIPPET and powers off
# (GUEST_CMDLINE_EXTRA, ending in a space, adds kernel parameters).
guest_cmdline() {
    echo "console=ttyS0 quiet panic=-1 ${GUEST_CMDLINE_EXTRA:-}cellvm.mods=$GUEST_MODS cellvm.run=$(printf '%s' "$1" | base64 -w0 | tr '+/' '-_' | tr -d '=')"
}

# boot NAME SNIPPET [cellvm run options...]: runs the VM in the foreground
# with a deadline; its console (stdio) goes to $T/NAME.out, and cellvm's
# stderr after it once the VM has ended (written as they come, a device's
# message could land in the middle of a console line the test parses);
# returns cellvm's exit status.
boot() {
    name=$1 snippet=$2; shift 2
    timeout -k 5 ${VM_TIMEOUT:-300} "$CELLVM" run --kernel "$KERNEL" --initrd "${BOOT_INITRD:-$INITRD}" \
        --cmdline "$(guest_cmdline "$snippet")" --on-reboot stop "$@" \
        >"$T/$name.out" 2>"$T/$name.err" </dev/null
    boot_rc=$?
    cat "$T/$name.err" >>"$T/$name.out"
    return $boot_rc
}

# expect FILE PATTERN: the file has a line matching PATTERN (grep -E).
expect() {
    grep -Eq "$2" "$1" || { echo "--- $1:"; tail -40 "$1"; fail "no line matching '$2' in $1"; }
}

# memtotal_ok FILE MIB: the guest's MemTotal is within 15% below MIB.
memtotal_ok() {
    kb=$(sed -n 's/.*cellvm-guest: nproc=[0-9]* memtotal_kb=\([0-9]*\).*/\1/p' "$1" | head -1)
    [ -n "$kb" ] || fail "no memtotal line in $1"
    want=$(( $2 * 1024 ))
    [ "$kb" -le "$want" ] && [ "$kb" -ge $(( want * 85 / 100 )) ] ||
        fail "guest MemTotal ${kb} kB for a ${2} MiB VM"
}

# ------------------------------------------------------------- disk tests
# Guest-side shell functions for the disk tests, put in the guest as
# /disk.sh by disk_initrd; a boot's snippet sources it and calls them, e.g.
# boot w '. /disk.sh; ext4_write /dev/vda blk' --disk ...  Each prints its
# results as "TAG-WHAT: ..." lines and, when all went well, "TAG-ok".
write_guest_disk_lib() {
    cat >"$1" <<'GUEST'
# dev_check DEV TAG: DEV is a block device; prints TAG-size: its bytes.
dev_check() {
    if [ ! -b "$1" ]; then
        echo "$2-error: no block device $1; there are: $(ls /dev | grep -E '^(vd|sd|sr)[a-z0-9]*$' | tr '\n' ' ')"
        return 1
    fi
    echo "$2-size: $(blockdev --getsize64 "$1")"
}
# ext4_write DEV TAG: a new ext4 on DEV with a few files; prints
# TAG-sum: SHA256 NAME for each, then unmounts.
ext4_write() {
    dev_check "$1" "$2" || return 1
    mkfs.ext4 -q -F "$1" || { echo "$2-error: mkfs.ext4 $1 failed"; return 1; }
    mkdir -p "/mnt/$2"
    mount -t ext4 "$1" "/mnt/$2" || { echo "$2-error: mount $1 failed"; return 1; }
    (
        set -e
        cd "/mnt/$2"
        dd if=/dev/urandom of=big.bin bs=1M count=8 2>/dev/null
        echo "hello from the guest" >hello.txt
        mkdir dir
        head -c 100000 /dev/urandom >dir/mid.bin
        : >dir/empty
        sha256sum big.bin hello.txt dir/mid.bin dir/empty >/tmp/$2.sums
    ) || { echo "$2-error: writing files failed"; return 1; }
    sed "s/^/$2-sum: /" /tmp/$2.sums
    umount "/mnt/$2" || { echo "$2-error: umount failed"; return 1; }
    sync
    echo "$2-ok"
}
# ext4_read DEV TAG: mounts DEV's ext4; prints TAG-sum: lines as ext4_write.
ext4_read() {
    dev_check "$1" "$2" || return 1
    mkdir -p "/mnt/$2"
    mount -t ext4 "$1" "/mnt/$2" || { echo "$2-error: mount $1 failed"; return 1; }
    (cd "/mnt/$2" && sha256sum big.bin hello.txt dir/mid.bin dir/empty) >/tmp/$2.sums ||
        { echo "$2-error: reading files failed"; umount "/mnt/$2"; return 1; }
    sed "s/^/$2-sum: /" /tmp/$2.sums
    umount "/mnt/$2" || { echo "$2-error: umount failed"; return 1; }
    echo "$2-ok"
}
# raw_write DEV TAG SEEK MIB: MIB MiB of random data at MiB offset SEEK of
# DEV with O_DIRECT, read back with O_DIRECT; prints TAG-raw: SHA256 of
# what was written and TAG-rawback: of what was read back.
raw_write() {
    dev_check "$1" "$2" || return 1
    dd if=/dev/urandom of=/tmp/$2.raw bs=1M count="$4" 2>/dev/null
    echo "$2-raw: $(sha256sum </tmp/$2.raw | cut -d' ' -f1)"
    dd if=/tmp/$2.raw of="$1" bs=1M seek="$3" oflag=direct 2>/tmp/$2.err ||
        { cat /tmp/$2.err; echo "$2-error: dd to $1 failed"; return 1; }
    dd if="$1" of=/tmp/$2.back bs=1M skip="$3" count="$4" iflag=direct 2>/tmp/$2.err ||
        { cat /tmp/$2.err; echo "$2-error: dd from $1 failed"; return 1; }
    echo "$2-rawback: $(sha256sum </tmp/$2.back | cut -d' ' -f1)"
    rm -f /tmp/$2.raw /tmp/$2.back
    sync
    echo "$2-ok"
}
GUEST
}

# disk_initrd: sets BOOT_INITRD to the guest's initramfs plus /disk.sh
# (above) and /bin/diskbench (tools/bench/guest_initrd.sh); loads modules.
disk_initrd() {
    write_guest_disk_lib "$T/disk.sh"
    BOOT_INITRD=$T/initrd-disk.cpio
    sh tools/bench/guest_initrd.sh "$BOOT_INITRD" "$T/disk.sh:/disk.sh" ||
        fail "cannot build the guest's initrd"
    GUEST_MODS=1
}

# out_lines FILE TAG WHAT: the values of FILE's "TAG-WHAT: VALUE" lines,
# CRs removed, sorted.
out_lines() { tr -d '\r' <"$1" | sed -n "s/^$2-$3: //p" | LC_ALL=C sort; }

# guest_ok FILE TAG: the guest printed TAG-ok (else show its errors).
guest_ok() {
    tr -d '\r' <"$1" | grep -qx "$2-ok" && return 0
    echo "--- $1:"; tr -d '\r' <"$1" | tail -40
    fail "the guest's $2 step failed"
}

# qcow2_clean IMG [leaks-ok]: qemu-img check finds no corruption, and no
# leaked clusters either unless leaks-ok (exit 3 means leaks only).
qcow2_clean() {
    qemu-img check "$1" >"$T/check.out" 2>&1
    rc=$?
    [ "$rc" -eq 0 ] && return 0
    [ "$rc" -eq 3 ] && [ "${2:-}" = leaks-ok ] && return 0
    cat "$T/check.out"
    fail "qemu-img check $1 exited $rc"
}

# raw_copy IMG OUT: OUT is a raw image of IMG's contents (qcow2 or raw).
raw_copy() {
    qemu-img convert -O raw "$1" "$2" || fail "qemu-img convert $1 failed"
}

# ext4_host_sums RAW OUT: e2fsck -fn finds RAW's ext4 clean; OUT gets
# SHA256 NAME of the files ext4_write writes, read with debugfs, sorted.
ext4_host_sums() {
    e2fsck -fn "$1" >"$T/fsck.out" 2>&1 || { cat "$T/fsck.out"; fail "e2fsck -fn: $1 is not clean"; }
    : >"$2.new"
    for f in big.bin hello.txt dir/mid.bin dir/empty; do
        rm -f "$T/dump"
        debugfs -R "dump /$f $T/dump" "$1" >/dev/null 2>&1
        [ -f "$T/dump" ] || fail "debugfs finds no /$f in $1"
        echo "$(sha256sum <"$T/dump" | cut -d' ' -f1)  $f" >>"$2.new"
    done
    LC_ALL=C sort "$2.new" >"$2"
    rm -f "$2.new" "$T/dump"
}

# same WHAT A B: the two texts are equal and not empty.
same() {
    [ -n "$2" ] || fail "$1: nothing to compare"
    [ "$2" = "$3" ] || { printf '%s\n--- against:\n%s\n' "$2" "$3"; fail "$1 differ"; }
}

# ext4_roundtrip IFACE DEV: the disk_blk/disk_scsi test.  A new 256 MiB
# qcow2 on IFACE; boot 1 makes ext4 on DEV and writes files; on the host
# the image checks clean and the files' sums match the guest's; boot 2
# mounts it again and prints the same sums.
ext4_roundtrip() {
    img=$T/disk.qcow2
    qemu-img create -q -f qcow2 "$img" 256M || fail "qemu-img create failed"
    disk_initrd
    boot w ". /disk.sh; ext4_write $2 t" --cpus 1 --memory 512M --disk "$img,if=$1" ||
        { rc=$?; tail -40 "$T/w.out"; fail "VM (write) exited $rc"; }
    guest_ok "$T/w.out" t
    expect "$T/w.out" 'cellvm-guest: exit=0'
    same "the guest's disk size" "$(out_lines "$T/w.out" t size)" 268435456
    guest=$(out_lines "$T/w.out" t sum)
    qcow2_clean "$img"
    raw_copy "$img" "$T/disk.raw"
    ext4_host_sums "$T/disk.raw" "$T/host.sums"
    same "the files' sums in the guest and on the host" "$guest" "$(cat "$T/host.sums")"
    rm -f "$T/disk.raw"
    boot r ". /disk.sh; ext4_read $2 t" --cpus 1 --memory 512M --disk "$img,if=$1" ||
        { rc=$?; tail -40 "$T/r.out"; fail "VM (read) exited $rc"; }
    guest_ok "$T/r.out" t
    same "the files' sums at the first and the second boot" "$guest" "$(out_lines "$T/r.out" t sum)"
    qcow2_clean "$img"
}

# ---------------------------------------------------------- network tests
# Guest-side shell functions for the network tests, put in the guest as
# /net.sh by net_initrd.  Results are "TAG-WHAT: ..." lines, as above.
# The guest's busybox nc closes the connection at EOF on its stdin, so a
# receiving nc reads stdin from a FIFO opened read-write: never any data,
# never EOF; it ends at the peer's EOF.
write_guest_net_lib() {
    cat >"$1" <<'GUEST'
# net_up ADDR TAG: loads virtio_net and what it needs (when the init did
# not: only these, which saves seconds of a nested boot); the first
# interface but lo gets ADDR/24 and goes up; prints TAG-if: NAME MAC
# driver=DRIVER.
net_up() {
    if [ ! -d /sys/module/virtio_net ]; then
        for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci \
            failover net_failover virtio_net; do
            [ -d "/sys/module/$m" ] && continue
            insmod "/lib/modules/$(grep "/$m.ko\$" /lib/modules/load-order)" ||
                { echo "$2-error: insmod $m failed"; return 1; }
        done
    fi
    i=0 ifc=
    while [ -z "$ifc" ] && [ $i -lt 50 ]; do
        ifc=$(ls /sys/class/net | grep -vx lo | head -n 1)
        [ -n "$ifc" ] || sleep 0.1
        i=$((i + 1))
    done
    [ -n "$ifc" ] || { echo "$2-error: no network interface"; return 1; }
    drv=$(readlink "/sys/class/net/$ifc/device/driver")
    echo "$2-if: $ifc $(cat "/sys/class/net/$ifc/address") driver=${drv##*/}"
    ip addr add "$1/24" dev "$ifc" && ip link set "$ifc" up ||
        { echo "$2-error: cannot configure $ifc"; return 1; }
    [ -p /tmp/hold ] || mkfifo /tmp/hold
}
# ping_wait IP TAG: waits (60 s at most) for IP to answer a ping, then
# prints TAG-ping: the summary of 3 more.
ping_wait() {
    i=0
    until ping -c 1 -W 1 "$1" >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -lt 60 ] || { echo "$2-error: no ping reply from $1"; return 1; }
    done
    echo "$2-ping: $(ping -c 3 -i 0.2 -W 2 "$1" | grep 'packets transmitted')"
}
# fetch IP PORT FILE TAG: FILE gets what the listener at IP:PORT sends
# (tries to connect for 60 s: the peer may not listen yet).
fetch() {
    i=0
    until nc "$1" "$2" <>/tmp/hold >"$3" 2>/tmp/nc.err; do
        i=$((i + 1))
        [ $i -lt 120 ] || { cat /tmp/nc.err; echo "$4-error: cannot fetch from $1:$2"; return 1; }
        sleep 0.5
    done
}
# put IP PORT FILE TAG: sends FILE to the listener at IP:PORT (likewise).
put() {
    i=0
    until nc "$1" "$2" <"$3" 2>/tmp/nc.err; do
        i=$((i + 1))
        [ $i -lt 120 ] || { cat /tmp/nc.err; echo "$4-error: cannot send to $1:$2"; return 1; }
        sleep 0.5
    done
}
# serve PORT FILE: sends FILE to the first peer that connects to PORT.
serve() { nc -l -p "$1" <"$2" >/dev/null; }
# take PORT FILE: FILE gets what the first peer connecting to PORT sends.
take() { nc -l -p "$1" <>/tmp/hold >"$2"; }
# report FILE TAG WHAT: prints TAG-WHAT: MD5 BYTES of FILE.
report() { echo "$2-$3: $(md5sum <"$1" | cut -d' ' -f1) $(wc -c <"$1")"; }
# stamp TAG WHAT: prints TAG-at: the guest's uptime and WHAT (to see
# where the time goes in a slow run).
stamp() { echo "$1-at: $(cut -d' ' -f1 /proc/uptime) $2"; }
# random FILE MIB: MIB MiB of random data.
random() { dd if=/dev/urandom of="$1" bs=1M count="$2" 2>/dev/null; }
GUEST
}

# net_initrd: sets BOOT_INITRD to the guest's initramfs plus /net.sh; the
# guest loads no modules but net_up's, and boots with what saves time in
# a nested guest (tools/kvmhost/README.md).
net_initrd() {
    write_guest_net_lib "$T/net.sh"
    BOOT_INITRD=$T/initrd-net.cpio
    sh tools/bench/guest_initrd.sh "$BOOT_INITRD" "$T/net.sh:/net.sh" ||
        fail "cannot build the guest's initrd"
    GUEST_MODS=0
    GUEST_CMDLINE_EXTRA="tsc=reliable no_timer_check mitigations=off ${GUEST_CMDLINE_EXTRA:-}"
}

# NC: the host's netcat (busybox's, as in the guest).
NC=${NC:-busybox nc}

# host_report FILE: MD5 BYTES of FILE, as the guest's report prints them.
host_report() { echo "$(md5sum <"$1" | cut -d' ' -f1) $(wc -c <"$1")"; }

# bridge_up BR ADDR: a bridge BR with ADDR/24, up, in this namespace.
bridge_up() {
    ip link set lo up
    ip link add "$1" type bridge || fail "cannot create bridge $1 (modprobe bridge?)"
    ip addr add "$2/24" dev "$1" && ip link set "$1" up || fail "cannot configure bridge $1"
}

# wait_pid PID SECONDS: waits for PID (a job of this shell) to end; returns
# its status, or 124 (after killing it) when it did not end in time.
wait_pid() {
    i=0
    while kill -0 "$1" 2>/dev/null; do
        i=$((i + 1))
        [ $i -le $(($2 * 10)) ] || { kill -9 "$1" 2>/dev/null; wait "$1"; return 124; }
        sleep 0.1
    done
    wait "$1"
}
