#!/bin/sh
# Crash consistency: img_writer writes, discards and write-zeroes a qcow2
# image in batches with a flush after each, logging every batch before it
# starts and each completed flush after it (fsynced).  It is killed with
# SIGKILL at random moments, 30 times, restarting on the same image (one
# writer thread, and four at once; and on a lazy_refcounts image, which is
# left dirty and must be repaired when the library opens it again).
# After every kill: qemu-img check finds no corruption (leaks allowed: exit
# 0 or 3), and everything the log says was flushed reads back, both through
# qemu (qemu-img convert -O raw, then the verifier on the raw copy) and
# through cellvm's library.
. "$(dirname "$0")/lib/img.sh"
[ -x "$WRITER" ] || fail "$WRITER missing: build first"
ROUNDS=${IMG_CRASH_ROUNDS:-30}

crash_rounds() {
	# (run and fail use $what: names of our own here)
	name=$1 f=$2 log=$3 threads=$4 lazy=${5:-} rounds=${6:-$ROUNDS}
	i=0 dirty=0
	while [ $i -lt "$rounds" ]; do
		i=$((i + 1))
		delay=$(awk -v s="$i$name" 'BEGIN { srand(length(s) * 7919 + s); printf "%.3f", 0.02 + rand() * 0.3 }')
		"$WRITER" crash -s "$i" --threads "$threads" --log "$log" "$f" 2>"$tmp/writer.err" &
		pid=$!
		sleep "$delay"
		kill -KILL $pid 2>/dev/null || fail "$name round $i: the writer was gone before the kill: $(cat "$tmp/writer.err")"
		wait $pid 2>/dev/null
		if [ "$lazy" = lazy ]; then
			# Lazy refcounts are stale after a crash by design: the
			# data must read back as it is; the next open for
			# writing repairs the refcounts, then qemu must agree.
			qemu-img info -U --output=json "$f" | grep -q '"dirty-flag": true' &&
				dirty=$((dirty + 1))
			rm -f "$tmp/copy.raw"
			run "$name round $i: qemu-img convert (dirty)" qemu-img convert -O raw "$f" "$tmp/copy.raw"
			run "$name round $i: verify (dirty)" "$WRITER" verify --log "$log" -f raw "$tmp/copy.raw"
			run "$name round $i: reopen" "$WRITER" reopen "$f"
		fi
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
	[ "$lazy" != lazy ] || [ $dirty -gt 0 ] || fail "$name: no kill left the image dirty"
	echo "$name: $rounds kills ($dirty left a dirty image), $started batches started, $flushed flushed; last: $(cat "$tmp/out")"
	[ "$flushed" -ge "$rounds" ] || fail "$name: only $flushed batches flushed in $rounds runs: the writer made no progress"
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
# lazy_refcounts: after each kill the image is dirty; reopened for writing
# by the library before qemu-img check.
run "create" "$IMG" create -q -f qcow2 -o cluster_size=4K,lazy_refcounts=on "$tmp/d.qcow2" 16M
crash_rounds "lazy_refcounts, 2 threads" "$tmp/d.qcow2" "$tmp/d.log" 2 lazy $((ROUNDS / 2))
echo "img_crash: ok"
