# cellvm run refuses bad input with one clear line and a non-zero exit,
# before any VM exists (no /dev/kvm needed: these fail first).
BUILD=${BUILD:-build}
CELLVM=$BUILD/bin/cellvm
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
tools/mkguest/mkguest >/dev/null 2>&1 || { echo "mkguest failed"; exit 1; }
K=$BUILD/guest/vmlinuz

# refused ERROR-PATTERN ARGS...: exit 2, exactly one line on stderr matching
# the pattern, nothing on stdout, and no process was started.
refused() {
    pat=$1; shift
    "$CELLVM" run "$@" >"$T/out" 2>"$T/err" </dev/null
    rc=$?
    [ $rc -eq 2 ] || { echo "FAIL: cellvm run $* exited $rc, want 2"; cat "$T/err"; exit 1; }
    [ "$(wc -l <"$T/err")" -eq 1 ] || { echo "FAIL: cellvm run $*: not one line:"; cat "$T/err"; exit 1; }
    grep -Eq -e "$pat" "$T/err" || { echo "FAIL: cellvm run $*: '$(cat "$T/err")' lacks '$pat'"; exit 1; }
    [ ! -s "$T/out" ] || { echo "FAIL: cellvm run $* printed on stdout"; exit 1; }
    echo "ok: $(cat "$T/err")"
}

head -c 100000 /dev/urandom >"$T/random"
head -c 600 "$K" >"$T/short"
dd if=/dev/zero of="$T/big.img" bs=1M count=300 2>/dev/null

refused 'no-such-file: No such file' --kernel "$T/no-such-file"
refused 'not a bzImage' --kernel "$T/random"
refused 'not a bzImage|truncated' --kernel "$T/short"
refused 'kernel is required' --memory 512M
refused '1 to 64 vCPUs' --kernel "$K" --cpus 0
refused '1 to 64 vCPUs' --kernel "$K" --cpus 65
refused '1 to 64 vCPUs' --kernel "$K" --cpus two
refused '16 MiB to 1 TiB' --kernel "$K" --memory 8M
refused "more than the host's" --kernel "$K" --memory 1T
refused 'not a size' --kernel "$K" --memory lots
refused 'does not fit' --kernel "$K" --initrd "$T/big.img" --memory 256M
refused 'initrd .*No such file' --kernel "$K" --initrd "$T/none.img"
refused 'expected stdio, file:PATH' --kernel "$K" --serial tcp:localhost:4444
refused 'at most 4 --serial' --kernel "$K" --serial none --serial none --serial none --serial none --serial none
refused 'restart or stop' --kernel "$K" --on-reboot maybe
refused 'unknown or incomplete option' --kernel "$K" --frobnicate
# --disk: the spec, the image and its backing chain are checked first.
qemu-img create -q -f qcow2 "$T/d.qcow2" 16M
qemu-img create -q -f qcow2 -b "$T/gone.qcow2" -F qcow2 "$T/orphan.qcow2" 16M 2>/dev/null ||
    { qemu-img create -q -f qcow2 "$T/gone.qcow2" 16M &&
      qemu-img create -q -f qcow2 -b "$T/gone.qcow2" -F qcow2 "$T/orphan.qcow2" && rm "$T/gone.qcow2"; }
printf 'QFI\373\000\000\000\003garbage' >"$T/bad.qcow2"
refused 'd.qcow2: .*No such file' --kernel "$K" --disk "$T/none/d.qcow2"
refused "unknown 'if=ide'" --kernel "$K" --disk "$T/d.qcow2,if=ide"
refused 'CD/DVD drive is on virtio-scsi' --kernel "$K" --disk "$T/d.qcow2,if=virtio-blk,media=cdrom"
refused 'no image path' --kernel "$K" --disk ",if=virtio-blk"
refused 'given twice' --kernel "$K" --disk "$T/d.qcow2" --disk "$T/d.qcow2"
refused 'bad.qcow2' --kernel "$K" --disk "$T/bad.qcow2"
refused 'backing file' --kernel "$K" --disk "$T/orphan.qcow2"
blk=
for i in $(seq 16); do blk="$blk --disk $T/d.qcow2,if=virtio-blk"; done
refused 'at most 15 virtio-blk disks' --kernel "$K" $blk
# --net: the adapter's options, then its backend's, all before anything opens.
refused "mac 'zz' is not six hex pairs" --kernel "$K" --net tap=t0,mac=zz
refused 'mac 52:54:00:12:34 is not|not six hex pairs' --kernel "$K" --net tap=t0,mac=52:54:00:12:34
refused 'mac 01:00:5e:00:00:01 is a multicast address' --kernel "$K" --net tap=t0,mac=01:00:5e:00:00:01
refused 'mac 00:00:00:00:00:00 is all zero' --kernel "$K" --net tap=t0,mac=00:00:00:00:00:00
refused "model 'e1000' is not offered \(only virtio\)" --kernel "$K" --net tap=t0,model=e1000
refused "network backend 'vde': unknown kind" --kernel "$K" --net vde=/tmp/sock
refused "unknown option 'server'" --kernel "$K" --net tap=t0,server
refused "mac 52:54:00:00:00:01 is also net0's" --kernel "$K" \
    --net tap=t0,mac=52:54:00:00:00:01 --net tap=t1,mac=52:54:00:00:00:01
refused 'the same backend as net0' --kernel "$K" --net tap=t0 --net tap=t0
nets=
for i in $(seq 0 15); do nets="$nets --net tap=t$i"; done
refused 'tap=t15: at most 15 network adapters' --kernel "$K" $nets
refused '--uuid 1234: not a UUID' --kernel "$K" --uuid 1234
refused '--name: empty' --kernel "$K" --name ''
# Backends are opened after the options are checked and before any process
# starts: one that cannot be had is refused the same way (also without
# /dev/kvm, so cellvm must not look for it first).
refused 'net0 \(--net stream=.*\): stream .*no such socket' --kernel "$K" --net "stream=$T/nobody"
# A /dev/kvm with no hardware virtualization under it (kvm-pvm) cannot run
# a stock guest: cellvm says so rather than start a VM that hangs silently.
if [ -c /dev/kvm ] && ! sh tools/kvmhost/kvm-usable; then
    timeout 30 "$CELLVM" run --kernel "$K" >"$T/out" 2>"$T/err" </dev/null
    rc=$?
    { [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q 'no hardware virtualization' "$T/err"; } ||
        { echo "FAIL: cellvm on a /dev/kvm without vmx/svm: exit $rc"; cat "$T/err"; exit 1; }
    echo "ok: $(cat "$T/err")"
else
    echo "note: not checked here (no /dev/kvm, or one on vmx/svm): a /dev/kvm without hardware virtualization is refused"
fi
"$CELLVM" --help | grep -q 'run ' || { echo "FAIL: cellvm --help"; exit 1; }
"$CELLVM" run --help | grep -q -- '--disk PATH' || { echo "FAIL: cellvm run --help"; exit 1; }
"$CELLVM" run --help | grep -q -- '--net SPEC' || { echo "FAIL: cellvm run --help: --net"; exit 1; }
echo "ok: help texts"
