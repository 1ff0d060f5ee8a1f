# A guest with 64 vCPUs boots and sees them all.
. tests/vm/lib.sh
VM_TIMEOUT=900
boot many 'true' --cpus 64 --memory 1G || { tail -30 "$T/many.out"; fail "64 vCPU VM exited $?"; }
expect "$T/many.out" 'cellvm-guest: nproc=64 '
expect "$T/many.out" 'cellvm-guest: exit=0'
echo "ok: 64 vCPUs"
