/* The fixed-feature power button: PWRBTN_STS in PM1 status and the SCI,
 * a level-triggered line on ACPI_SCI_IRQ (the MADT says active high) held
 * up while an enabled status bit is set. */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm-core/vm.h"

void vm_sci_update(struct vm *vm)
{
	bool level = pm1_sci_level(&vm->pm1);
	if (level == vm->sci_asserted)
		return;
	struct kvm_irq_level irq = {.irq = ACPI_SCI_IRQ, .level = level};
	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0) {
		control_send_log(vm->control_fd, CELLVM__LOG__LEVEL__ERROR,
				 "KVM_IRQ_LINE (SCI, IRQ %d, level %d): %s", ACPI_SCI_IRQ, level,
				 strerror(errno));
		return;
	}
	vm->sci_asserted = level;
}

void vm_press_power_button(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	pm1_press_power_button(&vm->pm1);
	bool enabled = vm->pm1.enable & PM1_PWRBTN;
	vm_sci_update(vm);
	pthread_mutex_unlock(&vm->lock);
	control_send_log(vm->control_fd, CELLVM__LOG__LEVEL__INFO,
			 "power button pressed%s",
			 enabled ? "" : " (the guest has not enabled it: no ACPI button driver?)");
}
