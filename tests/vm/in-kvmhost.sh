# Runs whole-VM tests (tests/vm/run-all.sh) inside one nested KVM host
# (tools/kvmhost/run), for a machine without /dev/kvm:
#   in-kvmhost.sh CPUS MEMORY TIMEOUT TEST...
# The deadline keeps a wedged host from stalling make check.  When the host
# itself dies (exit 125: its kernel panicked, or it stopped, which TCG's
# nested SVM does now and then under load; docs/architecture.md, "Known
# problems"), the tests it did not finish run once more in a new host; the
# ones that failed stay failed.
cpus=$1 memory=$2 deadline=$3
shift 3
out=$(mktemp)
trap 'rm -f "$out"' EXIT
host() {
    tools/kvmhost/run --cpus "$cpus" --memory "$memory" --timeout "$deadline" --stall 180 \
        -- sh tests/vm/run-all.sh "$@"
}
host "$@" >"$out" 2>&1
rc=$?
cat "$out"
[ $rc -eq 125 ] || exit $rc
left=
for t in "$@"; do
    grep -Eq "^  (PASS|FAIL) $t " "$out" || left="$left $t"
done
[ -n "$left" ] || exit 125
echo "in-kvmhost: the nested KVM host died; its log:"
grep -E -m 4 'BUG|panic|Oops|soft lockup|blocked for more' "$BUILD/kvmhost/console.log" | sed 's/^/    /'
echo "in-kvmhost: running again in a new nested host:$left"
host $left
rc=$?
! grep -q '^  FAIL ' "$out" || exit 1
exit $rc
