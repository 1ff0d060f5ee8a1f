# A guest with 4 vCPUs and 2 GiB boots, sees them all, and powers off.
. tests/vm/lib.sh
boot four 'true' --cpus 4 --memory 2G || { rc=$?; cat "$T/four.out"; fail "4 vCPU VM exited $rc"; }
expect "$T/four.out" 'cellvm-guest: nproc=4 '
expect "$T/four.out" 'cellvm-guest: exit=0'
memtotal_ok "$T/four.out" 2048
echo "ok: 4 vCPUs, 2 GiB"
