/* cellvm-dev-uart: one 16550A serial port in its own sandboxed process. */
#include "devices/common/device.h"
#include "devices/uart/uart_dev.h"

int main(int argc, char **argv)
{
	return device_main(&uart_device_ops, argc, argv);
}
