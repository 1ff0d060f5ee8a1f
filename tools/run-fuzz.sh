#!/bin/sh
# Runs each libFuzzer harness for SECONDS on its corpus in tools/fuzz/corpus/NAME
# (new inputs go to build/fuzz-corpus/NAME, never into the repo), after first
# replaying the kept regression inputs in tools/fuzz/regressions/NAME.
# usage: run-fuzz.sh SECONDS HARNESS...
secs=$1; shift
for f in "$@"; do
    name=$(basename "$f"); name=${name#fuzz_}
    seeds=tools/fuzz/corpus/$name
    regress=tools/fuzz/regressions/$name
    work=build/fuzz-corpus/$name
    mkdir -p "$work"
    if [ -d "$regress" ] && [ -n "$(ls -A "$regress")" ]; then
        "$f" -runs=0 "$regress"/* >/dev/null 2>build/fuzz-$name-regress.log || {
            echo "FAIL fuzz $name: a kept regression input crashes"; tail -40 build/fuzz-$name-regress.log; exit 1; }
    fi
    echo "fuzz $name: ${secs}s"
    "$f" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix=build/fuzz-"$name"- \
        "$work" "$seeds" >build/fuzz-"$name".log 2>&1 || {
        echo "FAIL fuzz $name: see build/fuzz-$name.log"; tail -60 build/fuzz-"$name".log; exit 1; }
    grep -E 'stat::number_of_executed_units' build/fuzz-"$name".log | sed "s/^/    /"
done
