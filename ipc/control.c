/* Control channel framing; see control.h. */
#include "ipc/control.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int control_send(int sock, const ControlMsg *msg, const int *fds, size_t nfds)
{
	if (nfds > CONTROL_MAX_FDS)
		return -EMSGSIZE;
	size_t len = cellvm__control__get_packed_size(msg);
	if (len > CONTROL_MAX_MSG)
		return -EMSGSIZE;
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	cellvm__control__pack(msg, buf);

	/* A Control always has its oneof set, so it packs to two bytes or more
	 * and is never mistaken for the zero-length read of a closed peer. */
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	union {
		char buf[CMSG_SPACE(sizeof(int) * CONTROL_MAX_FDS)];
		struct cmsghdr align;
	} cbuf;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (nfds) {
		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	ssize_t n;
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	int rc = n < 0 ? -errno : (size_t)n != len ? -EIO : 0;
	free(buf);
	return rc;
}

static void close_all(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
}

int control_decode(const void *buf, size_t len, ControlMsg **msg, char *err, size_t errlen)
{
	if (len == 0 || len > CONTROL_MAX_MSG) {
		snprintf(err, errlen, "control message of %zu bytes", len);
		return -EMSGSIZE;
	}
	ControlMsg *m = cellvm__control__unpack(NULL, len, buf);
	if (!m) {
		snprintf(err, errlen, "control message of %zu bytes does not decode", len);
		return -EBADMSG;
	}
	if (m->msg_case == CELLVM__CONTROL__MSG__NOT_SET) {
		snprintf(err, errlen, "control message carries no known message type");
		cellvm__control__free_unpacked(m, NULL);
		return -EBADMSG;
	}
	*msg = m;
	return 0;
}

int control_recv(int sock, ControlMsg **msg, int *fds, size_t *nfds, size_t maxfds, char *err,
		 size_t errlen)
{
	*msg = NULL;
	*nfds = 0;
	/* One byte more than allowed, so that an oversized message shows as
	 * MSG_TRUNC rather than as a silently cut one. */
	static __thread uint8_t buf[CONTROL_MAX_MSG + 1];
	union {
		char buf[CMSG_SPACE(sizeof(int) * CONTROL_MAX_FDS)];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf.buf,
		.msg_controllen = sizeof(cbuf.buf),
	};
	ssize_t n;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		int e = errno;
		snprintf(err, errlen, "control channel: %s", strerror(e));
		return -e;
	}

	/* Collect the fds first, so that every error path closes them. */
	int got[CONTROL_MAX_FDS];
	size_t ngot = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k && ngot < CONTROL_MAX_FDS; i++)
			memcpy(&got[ngot++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	}
	if (n == 0 && ngot == 0) {
		snprintf(err, errlen, "control channel closed by the peer");
		return -ECONNRESET;
	}
	if (mh.msg_flags & MSG_CTRUNC) {
		close_all(got, ngot);
		snprintf(err, errlen, "control message carried more than %d fds", CONTROL_MAX_FDS);
		return -EMSGSIZE;
	}
	if (mh.msg_flags & MSG_TRUNC || (size_t)n > CONTROL_MAX_MSG) {
		close_all(got, ngot);
		snprintf(err, errlen, "control message larger than %d bytes", CONTROL_MAX_MSG);
		return -EMSGSIZE;
	}
	if (ngot > maxfds) {
		close_all(got, ngot);
		snprintf(err, errlen, "control message carried %zu fds, at most %zu expected", ngot,
			 maxfds);
		return -EMSGSIZE;
	}
	int rc = control_decode(buf, (size_t)n, msg, err, errlen);
	if (rc) {
		close_all(got, ngot);
		return rc;
	}
	memcpy(fds, got, ngot * sizeof(int));
	*nfds = ngot;
	return 0;
}

void control_free(ControlMsg *msg)
{
	if (msg)
		cellvm__control__free_unpacked(msg, NULL);
}

static int send_text(int sock, Cellvm__Control__MsgCase which, Cellvm__Log__Level level,
		     const char *fmt, va_list ap)
{
	char text[1024];
	vsnprintf(text, sizeof(text), fmt, ap);
	ControlMsg m = CELLVM__CONTROL__INIT;
	Cellvm__Log log = CELLVM__LOG__INIT;
	Cellvm__Error error = CELLVM__ERROR__INIT;
	m.msg_case = which;
	if (which == CELLVM__CONTROL__MSG_LOG) {
		log.level = level;
		log.text = text;
		m.log = &log;
	} else {
		error.text = text;
		m.error = &error;
	}
	return control_send(sock, &m, NULL, 0);
}

int control_send_log(int sock, Cellvm__Log__Level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = send_text(sock, CELLVM__CONTROL__MSG_LOG, level, fmt, ap);
	va_end(ap);
	return rc;
}

int control_send_error(int sock, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = send_text(sock, CELLVM__CONTROL__MSG_ERROR, 0, fmt, ap);
	va_end(ap);
	return rc;
}

int control_send_simple(int sock, Cellvm__Control__MsgCase which)
{
	ControlMsg m = CELLVM__CONTROL__INIT;
	Cellvm__Reset reset = CELLVM__RESET__INIT;
	Cellvm__Shutdown shutdown = CELLVM__SHUTDOWN__INIT;
	Cellvm__PowerButton button = CELLVM__POWER_BUTTON__INIT;
	Cellvm__Pause pause = CELLVM__PAUSE__INIT;
	Cellvm__Resume resume = CELLVM__RESUME__INIT;
	m.msg_case = which;
	switch (which) {
	case CELLVM__CONTROL__MSG_RESET:
		m.reset = &reset;
		break;
	case CELLVM__CONTROL__MSG_SHUTDOWN:
		m.shutdown = &shutdown;
		break;
	case CELLVM__CONTROL__MSG_POWER_BUTTON:
		m.power_button = &button;
		break;
	case CELLVM__CONTROL__MSG_PAUSE:
		m.pause = &pause;
		break;
	case CELLVM__CONTROL__MSG_RESUME:
		m.resume = &resume;
		break;
	default:
		return -EINVAL;
	}
	return control_send(sock, &m, NULL, 0);
}

const char *control_msg_name(Cellvm__Control__MsgCase which)
{
	switch (which) {
	case CELLVM__CONTROL__MSG_SETUP: return "setup";
	case CELLVM__CONTROL__MSG_READY: return "ready";
	case CELLVM__CONTROL__MSG_RESET: return "reset";
	case CELLVM__CONTROL__MSG_LOG: return "log";
	case CELLVM__CONTROL__MSG_ERROR: return "error";
	case CELLVM__CONTROL__MSG_SHUTDOWN: return "shutdown";
	case CELLVM__CONTROL__MSG_CORE_SETUP: return "core setup";
	case CELLVM__CONTROL__MSG_VM_STOPPED: return "vm stopped";
	case CELLVM__CONTROL__MSG_POWER_BUTTON: return "power button";
	case CELLVM__CONTROL__MSG_PAUSE: return "pause";
	case CELLVM__CONTROL__MSG_RESUME: return "resume";
	case CELLVM__CONTROL__MSG_PAUSED: return "paused";
	default: return "unknown";
	}
}
