# Whole-VM tests (tests/vm/): directly where /dev/kvm exists, otherwise all
# of them inside one boot of the nested KVM host (tools/kvmhost/run).
BUILD=${BUILD:-build}
export BUILD
tools/mkguest/mkguest >&2 || exit 1
if [ -c /dev/kvm ]; then
    exec sh tests/vm/run-all.sh
fi
tests=$(ls tests/vm/*.sh | grep -v -e /lib.sh -e /run-all.sh -e /smp_64cpus.sh)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# The deadline keeps a wedged nested host from stalling make check.  One
# vCPU: the two-vCPU nested host failed about once per suite run (its own
# kernel panicking, guests triple-faulting or stalling: TCG's nested SVM,
# docs/architecture.md); one vCPU costs ~15% more time (691 s, against
# 520-610 s).
host() { tools/kvmhost/run --cpus 1 --memory 6G --timeout 1500 -- sh tests/vm/run-all.sh "$@"; }
host $tests >"$out" 2>&1
rc=$?
cat "$out"
[ $rc -eq 125 ] || exit $rc
# 125: the nested host itself died.  Its kernel (TCG's nested SVM) has
# panicked now and then under load ("stack guard page was hit" in its #GP
# handler, in KVM_RUN; docs/architecture.md).  The tests it did not finish
# run once more in a new host; the ones that failed stay failed.
left=
for t in $tests; do
    grep -Eq "^  (PASS|FAIL) $t " "$out" || left="$left $t"
done
[ -n "$left" ] || exit 125
echo "vm.sh: the nested KVM host died; its log:"
grep -E -m 4 'BUG|panic|Oops' "$BUILD/kvmhost/console.log" | sed 's/^/    /'
echo "vm.sh: running again in a new nested host:$left"
host $left
rc=$?
! grep -q '^  FAIL ' "$out" || exit 1
exit $rc
