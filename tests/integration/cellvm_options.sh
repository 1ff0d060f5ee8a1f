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
    grep -Eq "$pat" "$T/err" || { echo "FAIL: cellvm run $*: '$(cat "$T/err")' lacks '$pat'"; exit 1; }
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
"$CELLVM" --help | grep -q 'run ' || { echo "FAIL: cellvm --help"; exit 1; }
"$CELLVM" run --help | grep -q -- '--disk PATH' || { echo "FAIL: cellvm run --help"; exit 1; }
echo "ok: help texts"
