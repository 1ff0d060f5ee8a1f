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
# The tests are taken from a queue (run-all.sh's VM_TEST_QUEUE): a folder
# of its own, or VM_TEST_QUEUE's when set, which several of these scripts
# running side by side share (tests/integration/vm.sh): each test then runs
# in whichever host is free first.
cpus=$1 memory=$2 deadline=$3
shift 3
tries=${KVMHOST_TRIES:-3}
out=$(mktemp)
queue=${VM_TEST_QUEUE:-}
own_queue=
if [ -z "$queue" ]; then
    # In the build folder: the nested host sees it read-write at the same path.
    case ${BUILD:-build} in /*) where=${BUILD:-build} ;; *) where=$(pwd -P)/${BUILD:-build} ;; esac
    queue=$(mktemp -d "$where/vm-queue.XXXXXX") || exit 1
    own_queue=$queue
fi
me=$$
trap 'rm -f "$out"; [ -z "$own_queue" ] || rm -rf "$own_queue"' EXIT
failed=0 try=1 left="$*"
while :; do
    tools/kvmhost/run --cpus "$cpus" --memory "$memory" --timeout "$deadline" --stall "${KVMHOST_STALL:-120}" \
        -- env VM_TEST_QUEUE="$queue" VM_TEST_HOST=$me sh tests/vm/run-all.sh $left >"$out" 2>&1
    rc=$?
    cat "$out"
    ! grep -q '^  FAIL ' "$out" || failed=1
    [ $rc -eq 125 ] || break
    # The test this host died in (it took it and it has no result) goes
    # back to the queue; then the tests no host has taken run in a new one.
    dead=
    for t in $left; do
        c=$queue/$(basename "$t" .sh)
        if [ -d "$c" ] && [ ! -f "$c/result" ] && [ "$(cat "$c/host" 2>/dev/null)" = "$me" ]; then
            dead=$t
            rm -rf "$c"
        fi
    done
    rest=
    for t in $left; do
        [ -d "$queue/$(basename "$t" .sh)" ] || rest="$rest $t"
    done
    if [ -z "$rest" ]; then
        # Nothing left for a new host: the other hosts took the rest.
        [ -n "$dead" ] || rc=0
        break
    fi
    set -- $rest
    echo "in-kvmhost: host $try of $tries died in ${dead:-$1}"
    grep -E -m 4 'BUG|panic|Oops|soft lockup|blocked for more' "${BUILD:-build}/kvmhost/console.log" | sed 's/^/    /'
    [ $try -lt "$tries" ] || break
    try=$((try + 1))
    left=$rest
    echo "in-kvmhost: running again in a new nested host:$left"
done
[ $failed -eq 0 ] || exit 1
exit $rc
