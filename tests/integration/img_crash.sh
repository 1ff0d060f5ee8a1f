#!/bin/sh
# Crash consistency: img_writer writes, discards and write-zeroes a qcow2
# image in batches with a flush after each, logging every batch before it
# starts and each completed flush after it (fsynced).  It is killed with
# SIGKILL at random moments, 30 times, restarting on the same image (one
# writer thread, and four at once).
# After every kill: qemu-img check finds no corruption (leaks allowed: exit
# 0 or 3), and everything the log says was flushed reads back, both through
# qemu (qemu-img convert -O raw, then the verifier on the raw copy) and
# through cellvm's library.
. "$(dirname "$0")/lib/img.sh"
[ -x "$WRITER" ] || fail "$WRITER missing: build first"
ROUNDS=${IMG_CRASH_ROUNDS:-30}

crash_rounds() {
	# (run and fail use $what: names of our own here)
	name=$1 f=$2 log=$3 threads=$4
	i=0
	while [ $i -lt "$ROUNDS" ]; do
		i=$((i + 1))
		delay=$(awk -v s="$i$name" 'BEGIN { srand(length(s) * 7919 + s); printf "%.3f", 0.02 + rand() * 0.3 }')
		"$WRITER" crash -s "$i" --threads "$threads" --log "$log" "$f" 2>"$tmp/writer.err" &
		pid=$!
		sleep "$delay"
		kill -KILL $pid 2>/dev/null || fail "$name round $i: the writer was gone before the kill: $(cat "$tmp/writer.err")"
		wait $pid 2>/dev/null
		qemu-img check "$f" >"$tmp/check" 2>&1
		rc=$?
		[ $rc -eq 0 ] || [ $rc -eq 3 ] || {
			cat "$tmp/check" >&2
			fail "$name round $i (killed after ${delay}s): qemu-img check exits $rc"
		}
		rm -f "$tmp/copy.raw"
		run "$name round $i: qemu-img convert" qemu-img convert -O raw "$f" "$tmp/copy.raw"
		run "$name round $i: verify via qemu" "$WRITER" verify --log "$log" -f raw "$tmp/copy.raw"
		run "$name round $i: verify via cellvm" "$WRITER" verify --log "$log" "$f"
	done
	flushed=$(grep -c '^F ' "$log")
	started=$(grep -c '^B ' "$log")
	echo "$name: $ROUNDS kills, $started batches started, $flushed flushed; last: $(cat "$tmp/out")"
	[ "$flushed" -ge "$ROUNDS" ] || fail "$name: only $flushed batches flushed in $ROUNDS runs: the writer made no progress"
	[ "$started" -gt "$flushed" ] || fail "$name: no kill landed inside a batch"
}

run "create" "$IMG" create -q -f qcow2 -o cluster_size=4K "$tmp/a.qcow2" 16M
crash_rounds "4K clusters" "$tmp/a.qcow2" "$tmp/a.log" 1
run "create" "$IMG" create -q -f qcow2 -o cluster_size=64K,compat=0.10 "$tmp/b.qcow2" 32M
crash_rounds "v2 64K clusters" "$tmp/b.qcow2" "$tmp/b.log" 1
# Four writers at once (each in its own quarter of the image), allocating
# and flushing concurrently.
run "create" "$IMG" create -q -f qcow2 -o cluster_size=4K "$tmp/c.qcow2" 16M
crash_rounds "4 threads, 4K clusters" "$tmp/c.qcow2" "$tmp/c.log" 4
echo "img_crash: ok"
