/* The supervisor's end of a VM's control socket (proto/mgmt.proto): one
 * request per connection, read without blocking from the event loop (each
 * within a deadline) and answered through the callbacks. */
#ifndef CELLVM_TOOLS_CELLVM_CONTROL_SERVER_H
#define CELLVM_TOOLS_CELLVM_CONTROL_SERVER_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>

#include "proto/mgmt.pb-c.h"

struct control_ops {
	void *ctx;
	/* Fills in ST (its strings must outlive the reply). */
	void (*state)(void *ctx, Cellvm__Mgmt__State *st);
	/* Each: 0, or -1 with err. */
	int (*power_button)(void *ctx, char *err, size_t errlen);
	int (*pause)(void *ctx, bool pause, char *err, size_t errlen);
	/* Called after the reply went out: the supervisor ends the VM. */
	void (*kill)(void *ctx);
};

#define CONTROL_MAX_CONNS 8 /* requests on the way at once; more wait in listen() */

struct control_conn;

struct control_server {
	char path[108];
	int listen_fd;
	struct event_base *base;
	struct event *ev;
	struct control_ops ops;
	struct control_conn *conns[CONTROL_MAX_CONNS];
	unsigned nconns;
};

/* Listens on PATH (mode 0600; a stale socket replaced).  0, or -1 with err. */
int control_server_open(struct control_server *s, struct event_base *base, const char *path,
			const struct control_ops *ops, char *err, size_t errlen);
/* Stops listening, drops requests still arriving, removes the socket. */
void control_server_close(struct control_server *s);

#endif
