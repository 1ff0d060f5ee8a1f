/* cellvm-dev-net: one virtio-net adapter over a TAP or a stream socket. */
#include "devices/net/net_dev.h"

int main(int argc, char **argv)
{
	return device_main(&net_device_ops, argc, argv);
}
