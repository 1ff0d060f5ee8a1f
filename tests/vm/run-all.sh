# Runs whole-VM tests one after another on a host that has /dev/kvm: the
# ones named, or every tests/vm/*.sh but smp_64cpus.sh (vm_64cpus.sh runs
# it).  --list prints that default list.  Called by tests/integration/vm.sh
# (and make check-smp), inside the nested KVM host where the machine has no
# /dev/kvm of its own.
# A test that runs past VM_TEST_TIMEOUT seconds (default 900; the longest,
# net_two_vms, took 461 s in the nested host on 2026-12-07) is killed and
# fails.
# VM_TEST_QUEUE=DIR (tests/vm/in-kvmhost.sh sets it): several hosts share
# one list.  A test runs only in the host that first makes DIR/NAME (mkdir
# is atomic, also through the nested host's 9p), which gets "host" (the
# VM_TEST_HOST that took it) and, once it ended, "result" (PASS or FAIL).
all() { ls tests/vm/*.sh | grep -v -e /lib.sh -e /run-all.sh -e /in-kvmhost.sh -e /smp_64cpus.sh; }
if [ "${1:-}" = --list ]; then
    all
    exit 0
fi
[ $# -gt 0 ] || set -- $(all)
limit=${VM_TEST_TIMEOUT:-900}
queue=${VM_TEST_QUEUE:-}
log=$(mktemp) || exit 1
trap 'rm -f "$log"' EXIT
failed=0
for t in "$@"; do
    claim=
    if [ -n "$queue" ]; then
        claim=$queue/$(basename "$t" .sh)
        mkdir "$claim" 2>/dev/null || continue # another host has it
        echo "${VM_TEST_HOST:-}" >"$claim/host"
    fi
    start=$(date +%s)
    timeout -k 10 "$limit" sh "$t" >"$log" 2>&1
    rc=$?
    if [ $rc -eq 0 ]; then
        result=PASS
        echo "  PASS $t ($(( $(date +%s) - start ))s)"
    else
        result=FAIL
        echo "  FAIL $t ($(( $(date +%s) - start ))s)"
        [ $rc -ne 124 ] || echo "    > FAIL: killed after ${limit}s"
        # The reason and cellvm's own messages first (CI views cut long
        # output), then the end of the log.
        grep -E '^(FAIL:|cellvm)' "$log" | head -20 | sed 's/^/    > /'
        sed 's/^/      /' "$log" | tail -40
        failed=$((failed + 1))
    fi
    [ -z "$claim" ] || echo "$result" >"$claim/result"
done
exit $failed
