# Helpers for whole-VM tests: boot the test guest (tools/mkguest) under
# cellvm and check what it printed.  Sourced by tests/vm/*.sh, which run
# where /dev/kvm exists (directly, or inside tools/kvmhost/run).
set -u
BUILD=${BUILD:-build}
CELLVM=$BUILD/bin/cellvm
KERNEL=$BUILD/guest/vmlinuz
INITRD=$BUILD/guest/initramfs.cpio.gz
T=$(mktemp -d)
trap 'cleanup' EXIT
cleanup() {
    for p in $(jobs -p); do kill -9 "$p" 2>/dev/null; done
    rm -rf "$T"
}

fail() { echo "FAIL: $*"; exit 1; }

# The kernel command line for a guest that runs SNIPPET and powers off.
guest_cmdline() {
    echo "console=ttyS0 quiet panic=-1 cellvm.mods=0 cellvm.run=$(printf '%s' "$1" | base64 -w0 | tr '+/' '-_' | tr -d '=')"
}

# boot NAME SNIPPET [cellvm run options...]: runs the VM in the foreground
# with a deadline; its console (stdio) and stderr go to $T/NAME.out;
# returns cellvm's exit status.
boot() {
    name=$1 snippet=$2; shift 2
    timeout -k 5 ${VM_TIMEOUT:-300} "$CELLVM" run --kernel "$KERNEL" --initrd "$INITRD" \
        --cmdline "$(guest_cmdline "$snippet")" --on-reboot stop "$@" \
        >"$T/$name.out" 2>&1 </dev/null
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
