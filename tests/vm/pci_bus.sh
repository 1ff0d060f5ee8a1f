# The guest finds the PCI host bridge (vmm-core/pci.c) through the DSDT's
# PCI0 and configuration mechanism #1, and nothing else on bus 0 yet.
. tests/vm/lib.sh
boot pci 'd=/sys/bus/pci/devices/0000:00:00.0; echo "pci-host: $(cat $d/vendor) $(cat $d/device) $(cat $d/class)"; echo "pci-functions: $(ls /sys/bus/pci/devices | wc -l)"' \
    --cpus 1 --memory 256M || { rc=$?; cat "$T/pci.out"; fail "VM exited $rc"; }
expect "$T/pci.out" 'pci-host: 0x1b36 0x0008 0x060000'
expect "$T/pci.out" 'pci-functions: 1'
expect "$T/pci.out" 'cellvm-guest: exit=0'
echo "ok: the guest sees the host bridge at 00:00.0"
