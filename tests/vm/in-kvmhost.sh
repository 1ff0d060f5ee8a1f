# Runs whole-VM tests (tests/vm/run-all.sh) inside one nested KVM host
# (tools/kvmhost/run), for a machine without /dev/kvm:
#   in-kvmhost.sh CPUS MEMORY TIMEOUT TEST...
# The deadline keeps a wedged host from stalling make check.  When the host
# itself dies (exit 125: its kernel panicked, or it stopped, which TCG's
# nested SVM does now and then under load; docs/architecture.md, "Known
# problems"), the tests it did not finish run in a new host, up to
# KVMHOST_TRIES hosts in all (default 3); a test that failed stays failed.
# A host is dead when its heartbeat stops for KVMHOST_STALL seconds (120).
# The test a host died in is named, so that a test which kills hosts
# shows up as the same name twice.
cpus=$1 memory=$2 deadline=$3
shift 3
tries=${KVMHOST_TRIES:-3}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
failed=0 try=1 left="$*"
while :; do
    tools/kvmhost/run --cpus "$cpus" --memory "$memory" --timeout "$deadline" --stall "${KVMHOST_STALL:-120}" \
        -- sh tests/vm/run-all.sh $left >"$out" 2>&1
    rc=$?
    cat "$out"
    ! grep -q '^  FAIL ' "$out" || failed=1
    [ $rc -eq 125 ] || break
    # The tests this host did not finish; the first of them was running.
    rest=
    for t in $left; do
        grep -Eq "^  (PASS|FAIL) $t " "$out" || rest="$rest $t"
    done
    [ -n "$rest" ] || break
    set -- $rest
    echo "in-kvmhost: host $try of $tries died in $1"
    grep -E -m 4 'BUG|panic|Oops|soft lockup|blocked for more' "${BUILD:-build}/kvmhost/console.log" | sed 's/^/    /'
    [ $try -lt "$tries" ] || break
    try=$((try + 1))
    left=$rest
    echo "in-kvmhost: running again in a new nested host:$left"
done
[ $failed -eq 0 ] || exit 1
exit $rc
