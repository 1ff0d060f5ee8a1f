/* The supervisor's console relay; see console_tee.h. */
#include "tools/cellvm/console_tee.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static const char busy_msg[] = "cellvm: another console client is attached\r\n";

int console_tee_spec_ok(const char *spec)
{
	if (strncmp(spec, "console:", 8) != 0)
		return 0;
	const char *comma = strchr(spec + 8, ',');
	return comma && comma > spec + 8 && comma[1];
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void drop_client(struct console_tee *t)
{
	if (t->ev_client)
		event_free(t->ev_client);
	t->ev_client = NULL;
	if (t->client_fd >= 0)
		close(t->client_fd);
	t->client_fd = -1;
}

/* The guest wrote: to the file always, to the client when it keeps up (a
 * client that does not read loses output; the file has it all). */
static void on_dev(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct console_tee *t = arg;
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		console_tee_detach(t); /* the UART process is gone */
		return;
	}
	write_all(t->log_fd, buf, (size_t)n);
	if (t->client_fd >= 0 && send(t->client_fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
	    errno != EAGAIN)
		drop_client(t);
}

static void on_client(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct console_tee *t = arg;
	char buf[1024];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		drop_client(t);
		return;
	}
	if (t->dev_fd >= 0)
		write_all(t->dev_fd, buf, (size_t)n);
}

static void on_listen(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct console_tee *t = arg;
	int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return;
	if (t->client_fd >= 0) {
		write_all(c, busy_msg, sizeof(busy_msg) - 1);
		close(c);
		return;
	}
	t->client_fd = c;
	t->ev_client = event_new(t->base, c, EV_READ | EV_PERSIST, on_client, t);
	if (!t->ev_client || event_add(t->ev_client, NULL) < 0)
		drop_client(t);
}

int console_tee_open(struct console_tee *t, struct event_base *base, const char *spec, char *err,
		     size_t errlen)
{
	memset(t, 0, sizeof(*t));
	t->base = base;
	t->log_fd = t->listen_fd = t->client_fd = t->dev_fd = -1;
	char file[4096];
	snprintf(file, sizeof(file), "%s", spec + 8);
	char *comma = strchr(file, ',');
	if (!comma) {
		snprintf(err, errlen, "%s: expected console:FILE,SOCKET", spec);
		return -1;
	}
	*comma = 0;
	const char *sock = comma + 1;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(sock) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: socket path too long", sock);
		return -1;
	}
	snprintf(t->sock_path, sizeof(t->sock_path), "%s", sock);
	strcpy(sa.sun_path, sock);
	t->log_fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (t->log_fd < 0) {
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
		return -1;
	}
	t->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	unlink(sock); /* a stale socket of an earlier run */
	/* Only the owner may type into the guest's console. */
	mode_t old = umask(077);
	int rc = t->listen_fd < 0 ? -1 : bind(t->listen_fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0 || listen(t->listen_fd, 4) < 0) {
		snprintf(err, errlen, "console socket %s: %s", sock, strerror(errno));
		console_tee_close(t);
		return -1;
	}
	t->ev_listen = event_new(base, t->listen_fd, EV_READ | EV_PERSIST, on_listen, t);
	if (!t->ev_listen || event_add(t->ev_listen, NULL) < 0) {
		snprintf(err, errlen, "console socket %s: libevent failed", sock);
		console_tee_close(t);
		return -1;
	}
	return 0;
}

int console_tee_attach(struct console_tee *t, int *uart_fd, char *err, size_t errlen)
{
	int sv[2];
	console_tee_detach(t);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(err, errlen, "console: socketpair: %s", strerror(errno));
		return -1;
	}
	t->dev_fd = sv[0];
	t->ev_dev = event_new(t->base, t->dev_fd, EV_READ | EV_PERSIST, on_dev, t);
	if (!t->ev_dev || event_add(t->ev_dev, NULL) < 0) {
		snprintf(err, errlen, "console: libevent failed");
		close(sv[1]);
		console_tee_detach(t);
		return -1;
	}
	*uart_fd = sv[1];
	return 0;
}

void console_tee_detach(struct console_tee *t)
{
	if (t->ev_dev)
		event_free(t->ev_dev);
	t->ev_dev = NULL;
	if (t->dev_fd >= 0)
		close(t->dev_fd);
	t->dev_fd = -1;
}

void console_tee_close(struct console_tee *t)
{
	console_tee_detach(t);
	drop_client(t);
	if (t->ev_listen)
		event_free(t->ev_listen);
	t->ev_listen = NULL;
	if (t->listen_fd >= 0) {
		close(t->listen_fd);
		unlink(t->sock_path);
	}
	t->listen_fd = -1;
	if (t->log_fd >= 0)
		close(t->log_fd);
	t->log_fd = -1;
}
