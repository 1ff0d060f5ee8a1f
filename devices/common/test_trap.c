/* Release builds: no test hooks.  A Setup asking for a test trap is refused.
 * (Test builds link devices/common/test_trap_hooks.c instead.) */
#include "devices/common/device.h"

bool device_test_trap_available(void)
{
	return false;
}

void device_test_trap(const char *what)
{
	(void)what;
}
