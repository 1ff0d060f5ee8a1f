# The stock Debian kernel boots to the initramfs init and powers off; cellvm
# exits 0.  1 vCPU / 512 MiB with the console to a file; 4 vCPUs / 2 GiB with
# the console on stdio.
. tests/vm/lib.sh

boot one 'true' --cpus 1 --memory 512M --serial "file:$T/com1.txt" ||
    { rc=$?; cat "$T/one.out"; fail "1 vCPU VM exited $rc"; }
expect "$T/com1.txt" '^cellvm-guest: init started'
expect "$T/com1.txt" 'cellvm-guest: nproc=1 '
expect "$T/com1.txt" 'cellvm-guest: exit=0'
memtotal_ok "$T/com1.txt" 512
expect "$T/one.out" 'the guest powered off'

boot four 'true' --cpus 4 --memory 2G || { rc=$?; cat "$T/four.out"; fail "4 vCPU VM exited $rc"; }
expect "$T/four.out" 'cellvm-guest: nproc=4 '
expect "$T/four.out" 'cellvm-guest: exit=0'
memtotal_ok "$T/four.out" 2048
echo "ok: 1 and 4 vCPUs, 512 MiB and 2 GiB, file and stdio consoles"
