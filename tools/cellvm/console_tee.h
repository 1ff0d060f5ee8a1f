/* The serial console of a detached VM (`cellvm run --serial
 * console:FILE,SOCKET`): the supervisor holds the other end of the UART
 * process's socket backend and relays it: the guest's output is appended
 * to FILE and copied to the one client of the unix socket SOCKET (`cellvm
 * console`), whose input goes to the guest.  The UART process and its
 * sandbox are as for any unix socket backend. */
#ifndef CELLVM_TOOLS_CELLVM_CONSOLE_TEE_H
#define CELLVM_TOOLS_CELLVM_CONSOLE_TEE_H

#include <event2/event.h>
#include <stddef.h>

struct console_tee {
	struct event_base *base;
	char sock_path[108];
	int log_fd, listen_fd, client_fd, dev_fd;
	struct event *ev_listen, *ev_client, *ev_dev;
};

/* Whether SPEC (a --serial value) is console:FILE,SOCKET. */
int console_tee_spec_ok(const char *spec);
/* Opens FILE (append) and listens on SOCKET (mode 0600, a stale socket
 * replaced).  0, or -1 with err. */
int console_tee_open(struct console_tee *t, struct event_base *base, const char *spec, char *err,
		     size_t errlen);
/* For one boot: *UART_FD is the UART process's end of a new connection
 * (to pass as its SOCKET backend; the caller closes it once passed). */
int console_tee_attach(struct console_tee *t, int *uart_fd, char *err, size_t errlen);
/* The boot ended: drops this side of its connection. */
void console_tee_detach(struct console_tee *t);
/* Closes everything and removes the socket. */
void console_tee_close(struct console_tee *t);

#endif
