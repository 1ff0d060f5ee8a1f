/* libcellvm: attaching to a running VM's serial console.  The supervisor
 * relays COM1 between the UART process and one client of
 * <dir>/console.sock (tools/cellvm/console_tee.c). */
#include "tools/libcellvm/cellvm.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "tools/libcellvm/internal.h"

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Input for the guest: everything before the detach key.  1 when it was
 * there. */
static int forward_input(int sock, const char *buf, size_t n, int *rc)
{
	const char *stop = memchr(buf, CELLVM_CONSOLE_DETACH, n);
	size_t len = stop ? (size_t)(stop - buf) : n;
	if (len && write_all(sock, buf, len) < 0) {
		*rc = 1; /* the VM went away */
		return 1;
	}
	return stop != NULL;
}

int cellvm_console(const char *dir, int in_fd, int out_fd, char *err, size_t errlen)
{
	int sock = lcv_connect(dir, CELLVM_CONSOLE_SOCKET, err, errlen);
	if (sock < 0)
		return -1;
	struct termios saved, raw;
	bool tty = isatty(in_fd) && tcgetattr(in_fd, &saved) == 0;
	if (tty) {
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(in_fd, TCSANOW, &raw);
	}
	int rc = 0;
	bool in_open = true;
	char buf[4096];
	for (;;) {
		struct pollfd p[2] = {{.fd = sock, .events = POLLIN},
				      {.fd = in_open ? in_fd : -1, .events = POLLIN}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			rc = lcv_fail(err, errlen, "poll: %s", strerror(errno));
			break;
		}
		if (p[0].revents) {
			ssize_t n = read(sock, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				rc = 1; /* the supervisor closed it: the VM ended */
				break;
			}
			if (write_all(out_fd, buf, (size_t)n) < 0) {
				rc = lcv_fail(err, errlen, "writing the console's output: %s",
					      strerror(errno));
				break;
			}
		}
		if (p[1].revents) {
			ssize_t n = read(in_fd, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				/* End of input: detach (a script's console session). */
				break;
			}
			if (forward_input(sock, buf, (size_t)n, &rc))
				break;
		}
	}
	if (tty)
		tcsetattr(in_fd, TCSANOW, &saved);
	close(sock);
	return rc;
}
