/* Framing on the control socket (proto/mgmt.proto): a 4-byte big-endian
 * length, then the packed message.  Shared by the supervisor and
 * libcellvm; not part of libcellvm's API. */
#ifndef CELLVM_TOOLS_LIBCELLVM_MGMT_FRAME_H
#define CELLVM_TOOLS_LIBCELLVM_MGMT_FRAME_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#define MGMT_MAX_MSG 65536

/* Sends MSG whole.  0 or -errno. */
int mgmt_send(int fd, const ProtobufCMessage *msg);
/* The body length a frame's 4-byte header announces: 0, or -EMSGSIZE
 * when it is over MGMT_MAX_MSG. */
int mgmt_frame_len(const uint8_t hdr[4], size_t *len);
/* Receives one frame within TIMEOUT_MS: 0 with *BUF (malloc'd) and *LEN,
 * -ETIMEDOUT, -ECONNRESET (closed before a whole frame), -EMSGSIZE, or
 * another -errno. */
int mgmt_recv(int fd, int timeout_ms, uint8_t **buf, size_t *len);

#endif
