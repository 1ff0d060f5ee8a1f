/* The UART device process: the 16550A model wired to a backend. */
#ifndef CELLVM_DEVICES_UART_UART_DEV_H
#define CELLVM_DEVICES_UART_UART_DEV_H

#include "devices/common/device.h"

extern const struct device_ops uart_device_ops;

#endif
