/* The control socket of a running VM; see control_server.h.  Requests are
 * read without blocking, from the supervisor's event loop: a client that
 * sends nothing, or half a frame, holds a connection slot until its
 * deadline and never the supervisor (which also relays the console and
 * watches the VM's processes). */
#include "tools/cellvm/control_server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tools/libcellvm/mgmt_frame.h"

#define REQUEST_TIMEOUT_MS 1000

/* A connection whose request is arriving. */
struct control_conn {
	struct control_server *s;
	int fd;
	struct event *ev;
	struct timespec deadline; /* from its accept: trickling bytes do not extend it */
	uint8_t hdr[4];
	uint8_t *body;     /* NULL while the header arrives */
	size_t have, need; /* bytes so far of the header, then of the body's NEED */
};

static void reply(int client, Cellvm__Mgmt__State *st, bool ok, const char *error)
{
	Cellvm__Mgmt__Reply r = CELLVM__MGMT__REPLY__INIT;
	r.ok = ok;
	r.error = (char *)(error ? error : "");
	r.state = st;
	mgmt_send(client, &r.base);
}

/* Answers one whole request frame. */
static void serve_frame(struct control_server *s, int client, const uint8_t *buf, size_t len)
{
	char err[256] = "";
	Cellvm__Mgmt__State st = CELLVM__MGMT__STATE__INIT;
	Cellvm__Mgmt__Request *req = cellvm__mgmt__request__unpack(NULL, len, buf);
	s->ops.state(s->ops.ctx, &st);
	if (!req) {
		reply(client, &st, false, "the request does not decode (proto/mgmt.proto)");
		return;
	}
	int rc = 0;
	bool kill = false;
	switch (req->kind) {
	case CELLVM__MGMT__REQUEST__KIND__STATE:
		break;
	case CELLVM__MGMT__REQUEST__KIND__STOP:
		rc = s->ops.power_button(s->ops.ctx, err, sizeof(err));
		break;
	case CELLVM__MGMT__REQUEST__KIND__KILL:
		kill = true;
		break;
	case CELLVM__MGMT__REQUEST__KIND__PAUSE:
	case CELLVM__MGMT__REQUEST__KIND__RESUME:
		rc = s->ops.pause(s->ops.ctx, req->kind == CELLVM__MGMT__REQUEST__KIND__PAUSE, err,
				  sizeof(err));
		s->ops.state(s->ops.ctx, &st);
		break;
	default:
		snprintf(err, sizeof(err), "unknown request kind %d", req->kind);
		rc = -1;
	}
	cellvm__mgmt__request__free_unpacked(req, NULL);
	reply(client, &st, rc == 0, rc == 0 ? NULL : err);
	if (kill)
		s->ops.kill(s->ops.ctx);
}

static void conn_end(struct control_conn *c)
{
	struct control_server *s = c->s;
	for (unsigned i = 0; i < s->nconns; i++)
		if (s->conns[i] == c)
			s->conns[i] = s->conns[--s->nconns];
	if (s->nconns == CONTROL_MAX_CONNS - 1 && s->ev)
		event_add(s->ev, NULL); /* accept again */
	event_free(c->ev);
	close(c->fd);
	free(c->body);
	free(c);
}

/* Reads what has come; 1 once the frame is whole, 0 for more, -1: drop. */
static int conn_read(struct control_conn *c)
{
	for (;;) {
		size_t total = c->body ? c->need : sizeof(c->hdr);
		if (c->body && c->have == total)
			return 1;
		ssize_t n = recv(c->fd, (c->body ? c->body : c->hdr) + c->have, total - c->have, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		if (n == 0)
			return -1; /* closed before a whole request */
		c->have += (size_t)n;
		if (c->have < total || c->body)
			continue;
		if (mgmt_frame_len(c->hdr, &c->need) < 0)
			return -1;
		c->body = malloc(c->need ? c->need : 1);
		if (!c->body)
			return -1;
		c->have = 0;
	}
}

/* The time left until C's deadline; false once it has passed. */
static bool time_left(const struct control_conn *c, struct timeval *tv)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long long us = (c->deadline.tv_sec - now.tv_sec) * 1000000LL +
		       (c->deadline.tv_nsec - now.tv_nsec) / 1000;
	if (us <= 0)
		return false;
	*tv = (struct timeval){us / 1000000, us % 1000000};
	return true;
}

static void on_conn(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	struct control_conn *c = arg;
	struct timeval left;
	int rc = what & EV_TIMEOUT ? -1 : conn_read(c);
	if (rc == 0 && time_left(c, &left) && event_add(c->ev, &left) == 0)
		return;
	if (rc == 1) {
		/* The reply is small and the socket's buffer empty: a plain send. */
		int fl = fcntl(c->fd, F_GETFL);
		if (fl >= 0)
			fcntl(c->fd, F_SETFL, fl & ~O_NONBLOCK);
		serve_frame(c->s, c->fd, c->body, c->need);
	}
	conn_end(c);
}

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct control_server *s = arg;
	int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (cfd < 0)
		return;
	struct control_conn *c = calloc(1, sizeof(*c));
	const struct timeval limit = {REQUEST_TIMEOUT_MS / 1000, REQUEST_TIMEOUT_MS % 1000 * 1000};
	if (c) {
		clock_gettime(CLOCK_MONOTONIC, &c->deadline);
		c->deadline.tv_sec += REQUEST_TIMEOUT_MS / 1000;
		c->deadline.tv_nsec += REQUEST_TIMEOUT_MS % 1000 * 1000000L;
		if (c->deadline.tv_nsec >= 1000000000L) {
			c->deadline.tv_sec++;
			c->deadline.tv_nsec -= 1000000000L;
		}
		/* Not persistent: each wake-up re-arms it with the time left. */
		c->ev = event_new(s->base, cfd, EV_READ, on_conn, c);
	}
	if (!c || !c->ev || event_add(c->ev, &limit) < 0) {
		if (c && c->ev)
			event_free(c->ev);
		free(c);
		close(cfd);
		return;
	}
	c->s = s;
	c->fd = cfd;
	s->conns[s->nconns++] = c;
	if (s->nconns == CONTROL_MAX_CONNS)
		event_del(s->ev); /* the next clients wait in the backlog */
}

int control_server_open(struct control_server *s, struct event_base *base, const char *path,
			const struct control_ops *ops, char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	s->ops = *ops;
	s->base = base;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "--control %s: path too long for a unix socket", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	snprintf(s->path, sizeof(s->path), "%s", path);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->listen_fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	unlink(path); /* left by a supervisor that was killed */
	mode_t old = umask(077); /* 0600: the VM's owner only */
	int rc = bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0 || listen(s->listen_fd, 8) < 0) {
		snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
		close(s->listen_fd);
		s->listen_fd = -1;
		return -1;
	}
	s->ev = event_new(base, s->listen_fd, EV_READ | EV_PERSIST, on_accept, s);
	if (!s->ev || event_add(s->ev, NULL) < 0) {
		snprintf(err, errlen, "control socket %s: libevent failed", path);
		control_server_close(s);
		return -1;
	}
	return 0;
}

void control_server_close(struct control_server *s)
{
	while (s->nconns)
		conn_end(s->conns[0]);
	if (s->ev)
		event_free(s->ev);
	s->ev = NULL;
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		unlink(s->path);
	}
	s->listen_fd = -1;
}
