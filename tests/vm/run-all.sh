# Runs every whole-VM test in this folder, one after another, on a host that
# has /dev/kvm.  Called by tests/integration/vm.sh, inside the nested KVM
# host where the machine has no /dev/kvm of its own.
failed=0
for t in tests/vm/[a-z]*.sh; do
    case $t in */lib.sh|*/run-all.sh) continue ;; esac
    start=$(date +%s)
    if sh "$t" >"$BUILD/vm-test.log" 2>&1; then
        echo "  PASS $t ($(( $(date +%s) - start ))s)"
    else
        echo "  FAIL $t ($(( $(date +%s) - start ))s)"
        sed 's/^/      /' "$BUILD/vm-test.log" | tail -40
        failed=$((failed + 1))
    fi
done
exit $failed
