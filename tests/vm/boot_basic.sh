# The stock Debian kernel boots to the initramfs init and powers off; cellvm
# exits 0.  512 MiB with the console to a file; 2 GiB with the console on
# stdio.  (More vCPUs: smp_*.sh.)
. tests/vm/lib.sh

boot one 'true' --cpus 1 --memory 512M --serial "file:$T/com1.txt" ||
    { rc=$?; cat "$T/one.out"; fail "1 vCPU VM exited $rc"; }
expect "$T/com1.txt" '^cellvm-guest: init started'
expect "$T/com1.txt" 'cellvm-guest: nproc=1 '
expect "$T/com1.txt" 'cellvm-guest: exit=0'
memtotal_ok "$T/com1.txt" 512
expect "$T/one.out" 'the guest powered off'
# The kernel is quiet but for errors: the virtual hardware should give none.
if grep -E 'ACPI (Error|BIOS Error)' "$T/com1.txt"; then fail "the guest's ACPI complains"; fi

boot big 'true' --cpus 1 --memory 2G || { rc=$?; cat "$T/big.out"; fail "2 GiB VM exited $rc"; }
expect "$T/big.out" 'cellvm-guest: nproc=1 '
expect "$T/big.out" 'cellvm-guest: exit=0'
memtotal_ok "$T/big.out" 2048
echo "ok: 512 MiB and 2 GiB, file and stdio consoles"
