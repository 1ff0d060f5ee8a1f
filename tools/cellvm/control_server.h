/* The supervisor's end of a VM's control socket (proto/mgmt.proto): one
 * request per connection, answered through the callbacks. */
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

struct control_server {
	char path[108];
	int listen_fd;
	struct event *ev;
	struct control_ops ops;
};

/* Listens on PATH (mode 0600; a stale socket replaced).  0, or -1 with err. */
int control_server_open(struct control_server *s, struct event_base *base, const char *path,
			const struct control_ops *ops, char *err, size_t errlen);
/* Stops listening and removes the socket. */
void control_server_close(struct control_server *s);
/* One request on a connected client (the server's accept handler uses it;
 * tests call it directly). */
void control_server_serve(struct control_server *s, int client);

#endif
