/* The control channel: one protobuf-c Control message per SOCK_SEQPACKET
 * packet, with file descriptors passed alongside by SCM_RIGHTS.  Received
 * messages are untrusted: size-checked before decoding, fds counted, and
 * anything malformed reported with a message instead of acted on. */
#ifndef CELLVM_IPC_CONTROL_H
#define CELLVM_IPC_CONTROL_H

#include <stddef.h>

#include "proto/control.pb-c.h"

#define CONTROL_MAX_MSG 65536 /* bytes of one encoded message */
#define CONTROL_MAX_FDS 250   /* fds in one message (the kernel allows 253) */

typedef Cellvm__Control ControlMsg;

/* Sends msg with nfds fds.  0 or -errno. */
int control_send(int sock, const ControlMsg *msg, const int *fds, size_t nfds);

/* Receives one message.  On success returns 0 with *msg (free with
 * control_free) and the fds in fds[0..*nfds).  On failure no fd is left open
 * and err says what happened: -ECONNRESET when the peer closed the channel,
 * -EMSGSIZE when the message or its fds were too many, -EBADMSG when it does
 * not decode, other -errno from recvmsg. */
int control_recv(int sock, ControlMsg **msg, int *fds, size_t *nfds, size_t maxfds, char *err,
		 size_t errlen);

/* Decodes an encoded message (what control_recv does after recvmsg). */
int control_decode(const void *buf, size_t len, ControlMsg **msg, char *err, size_t errlen);

void control_free(ControlMsg *msg);

/* Short helpers for the messages without payload or with one string. */
int control_send_log(int sock, Cellvm__Log__Level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int control_send_error(int sock, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int control_send_simple(int sock, Cellvm__Control__MsgCase which);

/* The name of a message type, for errors: "setup", "ready", ... */
const char *control_msg_name(Cellvm__Control__MsgCase which);

#endif
