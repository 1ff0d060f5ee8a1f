/* cellvm-dev-disk: one virtio-blk disk or one virtio-scsi controller. */
#include "devices/disk/disk_dev.h"

int main(int argc, char **argv)
{
	return device_main(&disk_device_ops, argc, argv);
}
