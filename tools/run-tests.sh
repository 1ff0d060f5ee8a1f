#!/bin/sh
# Runs test programs, one after another, and reports each one's result.
# usage: run-tests.sh unit|integration TEST...
# Integration tests are shell scripts; they get $BUILD (the build directory).
# Exit status 77 means "could not run (all of) it here": reported as SKIP
# with the test's last line, counted apart, never as a pass.
kind=$1; shift
failed=0 n=0 skipped=0
for t in "$@"; do
    n=$((n + 1))
    log=$(mktemp)
    start=$(date +%s)
    if [ "$kind" = integration ]; then
        BUILD=${BUILD:-build} sh "$t" >"$log" 2>&1
    else
        "$t" >"$log" 2>&1
    fi
    rc=$?
    secs=$(( $(date +%s) - start ))
    if [ $rc -eq 0 ]; then
        echo "PASS $t (${secs}s)"
    elif [ $rc -eq 77 ]; then
        echo "SKIP $t (${secs}s): $(tail -1 "$log")"
        skipped=$((skipped + 1))
    else
        echo "FAIL $t (exit $rc, ${secs}s)"
        sed 's/^/    /' "$log" | tail -60
        failed=$((failed + 1))
    fi
    rm -f "$log"
done
note=
[ $skipped -eq 0 ] || note=", $skipped SKIPPED (see above)"
echo "$kind: $((n - failed - skipped))/$n passed$note"
[ $failed -eq 0 ]
