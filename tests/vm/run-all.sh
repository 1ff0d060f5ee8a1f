# Runs whole-VM tests one after another on a host that has /dev/kvm: the
# ones named, or every tests/vm/*.sh but smp_64cpus.sh (vm_64cpus.sh runs
# it).  --list prints that default list.  Called by tests/integration/vm.sh
# (and make check-smp), inside the nested KVM host where the machine has no
# /dev/kvm of its own.
# A test that runs past VM_TEST_TIMEOUT seconds (default 600; the longest
# takes ~110 s in the nested host) is killed and fails.
all() { ls tests/vm/*.sh | grep -v -e /lib.sh -e /run-all.sh -e /in-kvmhost.sh -e /smp_64cpus.sh; }
if [ "${1:-}" = --list ]; then
    all
    exit 0
fi
[ $# -gt 0 ] || set -- $(all)
limit=${VM_TEST_TIMEOUT:-600}
failed=0
for t in "$@"; do
    start=$(date +%s)
    timeout -k 10 "$limit" sh "$t" >"$BUILD/vm-test.log" 2>&1
    rc=$?
    if [ $rc -eq 0 ]; then
        echo "  PASS $t ($(( $(date +%s) - start ))s)"
    else
        echo "  FAIL $t ($(( $(date +%s) - start ))s)"
        [ $rc -ne 124 ] || echo "    > FAIL: killed after ${limit}s"
        # The reason and cellvm's own messages first (CI views cut long
        # output), then the end of the log.
        grep -E '^(FAIL:|cellvm)' "$BUILD/vm-test.log" | head -20 | sed 's/^/    > /'
        sed 's/^/      /' "$BUILD/vm-test.log" | tail -40
        failed=$((failed + 1))
    fi
done
exit $failed
