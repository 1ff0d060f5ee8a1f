# A guest with 64 vCPUs boots and sees them all.  Slow in the nested host
# (1 to 5 minutes: 64 vCPU threads share one CPU), hence the deadline.
# Run by tests/integration/vm_64cpus.sh in a nested host of its own (one
# vCPU, see there), not with the other whole-VM tests.
. tests/vm/lib.sh
VM_TIMEOUT=500
boot many 'true' --cpus 64 --memory 1G || { rc=$?; tail -30 "$T/many.out"; fail "64 vCPU VM exited $rc"; }
expect "$T/many.out" 'cellvm-guest: nproc=64 '
expect "$T/many.out" 'cellvm-guest: exit=0'
echo "ok: 64 vCPUs"
