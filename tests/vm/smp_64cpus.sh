# A guest with 64 vCPUs boots and sees them all (make check-smp; see
# smp_4cpus.sh for why it is not in make check yet).
. tests/vm/lib.sh
VM_TIMEOUT=900
boot many 'true' --cpus 64 --memory 1G || { rc=$?; tail -30 "$T/many.out"; fail "64 vCPU VM exited $rc"; }
expect "$T/many.out" 'cellvm-guest: nproc=64 '
expect "$T/many.out" 'cellvm-guest: exit=0'
echo "ok: 64 vCPUs"
