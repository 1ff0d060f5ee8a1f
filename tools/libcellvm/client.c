/* libcellvm: requests on a running VM's control socket. */
#include "tools/libcellvm/cellvm.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "proto/mgmt.pb-c.h"
#include "tools/libcellvm/internal.h"
#include "tools/libcellvm/mgmt_frame.h"
#include "tools/vmconf/vmconf.h"

/* A pause may wait for a vCPU that waits for a device (up to the core's
 * ring timeout, 10 s). */
#define REPLY_TIMEOUT_MS 20000

int lcv_fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

bool cellvm_is_running(const char *dir)
{
	return vmdir_is_locked(dir);
}

int cellvm_find(const char *root, const char *who, char *dir, size_t dirlen, char *err,
		size_t errlen)
{
	char r[VMCONF_PATH_MAX], e[VMCONF_PATH_MAX + 512] = "";
	if (vmdir_root(root, r, sizeof(r), e, sizeof(e)) < 0)
		return lcv_fail(err, errlen, "%s", e);
	struct vm_entry ent;
	if (vmdir_find(r, who, false, &ent, e, sizeof(e)) < 0)
		return lcv_fail(err, errlen, "%s", e);
	int n = snprintf(dir, dirlen, "%s", ent.dir);
	vmdir_entry_free(&ent);
	if (n < 0 || (size_t)n >= dirlen)
		return lcv_fail(err, errlen, "the VM's directory path is too long");
	return 0;
}

int lcv_connect(const char *dir, const char *name, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
		return lcv_fail(err, errlen, "%s/%s: path too long for a unix socket", dir, name);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return lcv_fail(err, errlen, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		if (!cellvm_is_running(dir))
			return lcv_fail(err, errlen, "the VM in %s is not running", dir);
		return lcv_fail(err, errlen, "%s: %s (the VM may still be starting)", sa.sun_path,
			    strerror(e));
	}
	return fd;
}

static void copy_state(const Cellvm__Mgmt__State *s, struct cellvm_state *st)
{
	memset(st, 0, sizeof(*st));
	if (!s)
		return;
	st->paused = s->paused;
	st->pid = (pid_t)s->pid;
	st->uptime_ms = s->uptime_ms;
	st->cpus = s->cpus;
	st->memory = s->memory;
	st->boots = s->boots;
	snprintf(st->name, sizeof(st->name), "%s", s->name ? s->name : "");
	snprintf(st->uuid, sizeof(st->uuid), "%s", s->uuid ? s->uuid : "");
}

static int request(const char *dir, Cellvm__Mgmt__Request__Kind kind, struct cellvm_state *st,
		   char *err, size_t errlen)
{
	int fd = lcv_connect(dir, CELLVM_CONTROL_SOCKET, err, errlen);
	if (fd < 0)
		return -1;
	Cellvm__Mgmt__Request req = CELLVM__MGMT__REQUEST__INIT;
	req.kind = kind;
	int rc = mgmt_send(fd, &req.base);
	uint8_t *buf = NULL;
	size_t len = 0;
	if (rc == 0)
		rc = mgmt_recv(fd, REPLY_TIMEOUT_MS, &buf, &len);
	close(fd);
	if (rc == -ECONNRESET && kind == CELLVM__MGMT__REQUEST__KIND__KILL)
		return 0; /* it went before it could answer */
	if (rc < 0)
		return lcv_fail(err, errlen, "%s/%s: %s", dir, CELLVM_CONTROL_SOCKET,
			    rc == -ECONNRESET ? "the supervisor closed the connection without a reply"
					      : strerror(-rc));
	Cellvm__Mgmt__Reply *rep = cellvm__mgmt__reply__unpack(NULL, len, buf);
	free(buf);
	if (!rep)
		return lcv_fail(err, errlen, "%s/%s: a reply that does not decode", dir,
			    CELLVM_CONTROL_SOCKET);
	if (st)
		copy_state(rep->state, st);
	rc = 0;
	if (!rep->ok)
		rc = lcv_fail(err, errlen, "%s", rep->error && *rep->error ? rep->error : "refused");
	cellvm__mgmt__reply__free_unpacked(rep, NULL);
	return rc;
}

int cellvm_state(const char *dir, struct cellvm_state *st, char *err, size_t errlen)
{
	return request(dir, CELLVM__MGMT__REQUEST__KIND__STATE, st, err, errlen);
}

int cellvm_stop(const char *dir, char *err, size_t errlen)
{
	return request(dir, CELLVM__MGMT__REQUEST__KIND__STOP, NULL, err, errlen);
}

int cellvm_kill(const char *dir, char *err, size_t errlen)
{
	return request(dir, CELLVM__MGMT__REQUEST__KIND__KILL, NULL, err, errlen);
}

int cellvm_pause(const char *dir, char *err, size_t errlen)
{
	return request(dir, CELLVM__MGMT__REQUEST__KIND__PAUSE, NULL, err, errlen);
}

int cellvm_resume(const char *dir, char *err, size_t errlen)
{
	return request(dir, CELLVM__MGMT__REQUEST__KIND__RESUME, NULL, err, errlen);
}

int cellvm_wait_stopped(const char *dir, unsigned timeout_ms)
{
	for (unsigned waited = 0;; waited += 50) {
		if (!cellvm_is_running(dir))
			return 0;
		if (waited >= timeout_ms)
			return -1;
		nanosleep(&(struct timespec){.tv_nsec = 50 * 1000000}, NULL);
	}
}
