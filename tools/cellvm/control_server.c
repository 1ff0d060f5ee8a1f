/* The control socket of a running VM; see control_server.h.  A request is
 * read with a short deadline so that a silent client cannot hold the
 * supervisor, which serves it in its event loop. */
#include "tools/cellvm/control_server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tools/libcellvm/mgmt_frame.h"

#define REQUEST_TIMEOUT_MS 1000

static void reply(int client, Cellvm__Mgmt__State *st, bool ok, const char *error)
{
	Cellvm__Mgmt__Reply r = CELLVM__MGMT__REPLY__INIT;
	r.ok = ok;
	r.error = (char *)(error ? error : "");
	r.state = st;
	mgmt_send(client, &r.base);
}

void control_server_serve(struct control_server *s, int client)
{
	uint8_t *buf;
	size_t len;
	char err[256] = "";
	Cellvm__Mgmt__State st = CELLVM__MGMT__STATE__INIT;
	if (mgmt_recv(client, REQUEST_TIMEOUT_MS, &buf, &len) < 0)
		return; /* nothing whole arrived in time: nobody to answer */
	Cellvm__Mgmt__Request *req = cellvm__mgmt__request__unpack(NULL, len, buf);
	free(buf);
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

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct control_server *s = arg;
	int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return;
	control_server_serve(s, c);
	close(c);
}

int control_server_open(struct control_server *s, struct event_base *base, const char *path,
			const struct control_ops *ops, char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	s->ops = *ops;
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
	if (s->ev)
		event_free(s->ev);
	s->ev = NULL;
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		unlink(s->path);
	}
	s->listen_fd = -1;
}
