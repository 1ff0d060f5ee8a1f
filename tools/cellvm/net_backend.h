/* The host side of a VM's network backends (the supervisor's part; the
 * device's part is devices/net/net_io.h).  Each backend ends as ONE fd,
 * nonblocking and close-on-exec, for the sandboxed device process:
 *
 *   tap=NAME           an existing TAP interface NAME, opened with
 *                      IFF_TAP|IFF_NO_PI|IFF_VNET_HDR, vnet header 12 bytes
 *   bridge=BR          a new TAP (named cvtapN by the kernel, or
 *                      bridge=BR,ifname=NAME), made a port of bridge BR and
 *                      brought up; not persistent, so it and its bridge port
 *                      vanish when the last fd to it closes (the VM ends, or
 *                      the supervisor and device are killed)
 *   stream=PATH        a unix stream socket connected to PATH, QEMU's
 *                      "-netdev stream" framing (4-byte big-endian length
 *                      before each frame); works with QEMU's
 *                      -netdev stream,addr.type=unix,addr.path=PATH,server=on
 *   stream=PATH,server listens on PATH for one peer (net_backend_accept);
 *                      two VMs, no privileges: the first with
 *                      stream=/tmp/l,server, the second with stream=/tmp/l
 *
 * Options for the TAP kinds: offload=csum+tso4+tso6+ecn+ufo (TUNSETOFFLOAD,
 * default none: the host then hands the guest only whole, checksummed
 * frames; the device may widen it later with net_io_tap_set_offload).
 *
 * Errors name the thing and say why, e.g. "bridge br0: no such bridge",
 * "tap0: permission denied (needs CAP_NET_ADMIN)".
 */
#ifndef CELLVM_TOOLS_CELLVM_NET_BACKEND_H
#define CELLVM_TOOLS_CELLVM_NET_BACKEND_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/un.h>

enum net_backend_kind {
	NET_BACKEND_TAP,
	NET_BACKEND_BRIDGE,
	NET_BACKEND_STREAM,
};

#define NET_BACKEND_PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)

struct net_backend_config {
	enum net_backend_kind kind;
	char ifname[IFNAMSIZ];	/* tap: the TAP; bridge: the new TAP's name ("" = cvtap%d) */
	char bridge[IFNAMSIZ];	/* bridge: the bridge */
	char path[NET_BACKEND_PATH_MAX]; /* stream: the socket */
	bool server;		/* stream: listen for one peer instead of connecting */
	unsigned offload;	/* tap, bridge: TUN_F_* flags */
};

struct net_backend {
	enum net_backend_kind kind;
	int fd;		/* for the device (pass a dup: net_backend_dup_fd); -1 if none yet */
	int listen_fd;	/* stream server, until its peer came */
	bool vnet_hdr;	/* frames carry the 12-byte virtio-net header on the fd */
	bool created;	/* we made the TAP (bridge): net_backend_close removes it */
	int ifindex;
	char ifname[IFNAMSIZ];
	char bridge[IFNAMSIZ];
	char path[NET_BACKEND_PATH_MAX];
	char desc[128];	/* "tap cvtap0 on bridge br0", for messages and the setup */
};

/* Parses "tap=NAME", "bridge=BR[,ifname=NAME]", "stream=PATH[,server]",
 * TAP kinds also ",offload=csum+tso4+...".  0, or -1 with ERR. */
int net_backend_parse(const char *spec, struct net_backend_config *cfg, char *err, size_t errlen);

/* Opens the backend: after it, B->fd is ready for the device, except for a
 * stream server, which only listens (B->listen_fd) until
 * net_backend_accept.  0, or -1 with ERR (and nothing left behind). */
int net_backend_open(const struct net_backend_config *cfg, struct net_backend *b, char *err,
		     size_t errlen);

/* Stream server: waits up to TIMEOUT_MS (-1: for ever) for the one peer,
 * then stops listening and removes the socket file.  0, or -1 with ERR. */
int net_backend_accept(struct net_backend *b, int timeout_ms, char *err, size_t errlen);

/* A new close-on-exec fd for the same open file (for devhost_pass_fd, which
 * takes it); B keeps its own, so a restarted device can have another. -1
 * with errno on failure. */
int net_backend_dup_fd(const struct net_backend *b);

/* Closes B's fds; a TAP we made is detached from its bridge and deleted
 * (even if a device still holds it open).  Safe to call twice. */
void net_backend_close(struct net_backend *b);

#endif
