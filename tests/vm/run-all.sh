# Runs whole-VM tests one after another on a host that has /dev/kvm: the
# ones named, or every tests/vm/*.sh but smp_64cpus.sh (vm_64cpus.sh runs it).  Called
# by tests/integration/vm.sh (and make check-smp), inside the nested KVM
# host where the machine has no /dev/kvm of its own.
failed=0
[ $# -gt 0 ] || set -- $(ls tests/vm/*.sh | grep -v -e /lib.sh -e /run-all.sh -e /smp_64cpus.sh)
for t in "$@"; do
    start=$(date +%s)
    if sh "$t" >"$BUILD/vm-test.log" 2>&1; then
        echo "  PASS $t ($(( $(date +%s) - start ))s)"
    else
        echo "  FAIL $t ($(( $(date +%s) - start ))s)"
        # The reason and cellvm's own messages first (CI views cut long
        # output), then the end of the log.
        grep -E '^(FAIL:|cellvm)' "$BUILD/vm-test.log" | head -20 | sed 's/^/    > /'
        sed 's/^/      /' "$BUILD/vm-test.log" | tail -40
        failed=$((failed + 1))
    fi
done
exit $failed
