/* Host side of a UART; see uart_host.h. */
#include "devices/uart/uart_host.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

const struct uart_port_info uart_com_ports[4] = {
	{"com1", 0x3f8, 4},
	{"com2", 0x2f8, 3},
	{"com3", 0x3e8, 4},
	{"com4", 0x2e8, 3},
};

/* The device puts the terminal in raw mode and restores it when it exits;
 * if it is killed it cannot, so the host restores it too. */
static struct termios saved_tty;
static bool tty_saved;

static void restore_terminal(void)
{
	if (tty_saved)
		tcsetattr(0, TCSANOW, &saved_tty);
}

static void save_terminal(void)
{
	if (tty_saved || !isatty(0) || tcgetattr(0, &saved_tty) < 0)
		return;
	tty_saved = true;
	atexit(restore_terminal);
}

static int unix_socket(struct devhost *h, const char *path, bool server)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(h->err, sizeof(h->err), "unix socket path too long: %s", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(h->err, sizeof(h->err), "socket: %s", strerror(errno));
		return -1;
	}
	int rc;
	if (server) {
		unlink(path); /* a stale socket from an earlier run */
		rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
		if (rc == 0)
			rc = listen(fd, 1);
	} else {
		rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	}
	if (rc < 0) {
		snprintf(h->err, sizeof(h->err), "unix:%s: %s: %s", path,
			 server ? "listen" : "connect", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int uart_host_backend(struct devhost *h, const char *spec)
{
	char desc[128];
	snprintf(desc, sizeof(desc), "%s", spec);
	if (strncmp(spec, "file:", 5) == 0 && spec[5]) {
		int fd = open(spec + 5, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0) {
			snprintf(h->err, sizeof(h->err), "%s: %s", spec, strerror(errno));
			return -1;
		}
		return devhost_add_backend(h, CELLVM__BACKEND__KIND__FILE, -1, fd, desc);
	}
	if (strncmp(spec, "unix:", 5) == 0 && spec[5]) {
		char path[sizeof(((struct sockaddr_un *)0)->sun_path) + sizeof(",server")];
		if (strlen(spec + 5) >= sizeof(path)) {
			snprintf(h->err, sizeof(h->err), "unix socket path too long: %s", spec + 5);
			return -1;
		}
		snprintf(path, sizeof(path), "%s", spec + 5);
		char *comma = strchr(path, ',');
		bool server = false;
		if (comma) {
			if (strcmp(comma, ",server") != 0) {
				snprintf(h->err, sizeof(h->err),
					 "%s: the only unix option is ',server'", spec);
				return -1;
			}
			*comma = 0;
			server = true;
		}
		int fd = unix_socket(h, path, server);
		if (fd < 0)
			return -1;
		return devhost_add_backend(h, server ? CELLVM__BACKEND__KIND__SOCKET_SERVER
						     : CELLVM__BACKEND__KIND__SOCKET,
					   fd, -1, desc);
	}
	if (strcmp(spec, "stdio") == 0) {
		save_terminal();
		int in = dup(0), out = dup(1);
		if (in < 0 || out < 0) {
			snprintf(h->err, sizeof(h->err), "stdio: %s", strerror(errno));
			return -1;
		}
		return devhost_add_backend(h, CELLVM__BACKEND__KIND__TERMINAL, in, out, desc);
	}
	if (strcmp(spec, "none") == 0)
		return 0;
	snprintf(h->err, sizeof(h->err),
		 "unknown serial backend '%s' (file:PATH, unix:PATH[,server], stdio, none)", spec);
	return -1;
}

static int parse_num(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strncmp(s, "0x", 2) == 0 ? strtoul(s + 2, &end, 16)
						    : strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

int uart_host_configure(struct devhost *h, int argc, char **argv)
{
	unsigned long port = 0x3f8, irq = 0;
	bool have_irq = false;
	const char *backend = "none";
	for (int i = 0; i < argc; i++) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (!val) {
			snprintf(h->err, sizeof(h->err), "uart: %s needs a value", opt);
			return -1;
		}
		i++;
		if (strcmp(opt, "--port") == 0) {
			bool named = false;
			for (int k = 0; k < 4; k++)
				if (strcmp(val, uart_com_ports[k].name) == 0) {
					port = uart_com_ports[k].port;
					named = true;
				}
			if (!named && (parse_num(val, 0xfff8, &port) < 0)) {
				snprintf(h->err, sizeof(h->err),
					 "uart: bad --port '%s' (com1..com4 or a port number)", val);
				return -1;
			}
		} else if (strcmp(opt, "--irq") == 0) {
			if (parse_num(val, 23, &irq) < 0) {
				snprintf(h->err, sizeof(h->err), "uart: bad --irq '%s' (0..23)", val);
				return -1;
			}
			have_irq = true;
		} else if (strcmp(opt, "--backend") == 0) {
			backend = val;
		} else {
			snprintf(h->err, sizeof(h->err),
				 "uart: unknown option '%s' (--port, --irq, --backend)", opt);
			return -1;
		}
	}
	if (!have_irq) {
		irq = 4;
		for (int k = 0; k < 4; k++)
			if (uart_com_ports[k].port == port)
				irq = uart_com_ports[k].irq;
	}
	if (devhost_add_range(h, CELLVM__ADDR_RANGE__KIND__PIO, port, 8) < 0 ||
	    devhost_add_irq(h, (uint32_t)irq) < 0)
		return -1;
	return uart_host_backend(h, backend);
}
