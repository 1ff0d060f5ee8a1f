/* The host side of the network backends (net_backend.h): TAP interfaces,
 * TAPs made on a bridge, and QEMU-framed unix stream sockets, each ending
 * as one fd for the network device process. */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>

#include "devices/net/net_io.h"
#include "tools/cellvm/net_backend.h"

#define TUN_PATH "/dev/net/tun"
#define TAP_TEMPLATE "cvtap%d"

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* strerror, lower case, with the hint that matters here. */
static const char *why(int e)
{
	static __thread char buf[128];
	switch (e) {
	case EPERM:
	case EACCES:
		return "permission denied (needs CAP_NET_ADMIN)";
	case ENOENT:
	case ENODEV:
	case ENXIO:
		return "no such interface";
	default:
		snprintf(buf, sizeof(buf), "%s", strerror(e));
		if (buf[0] >= 'A' && buf[0] <= 'Z')
			buf[0] += 'a' - 'A';
		return buf;
	}
}

/* --- parsing -------------------------------------------------------------- */

static int parse_offload(const char *v, unsigned *out, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		unsigned flag;
	} names[] = {
		{"csum", TUN_F_CSUM}, {"tso4", TUN_F_TSO4}, {"tso6", TUN_F_TSO6},
		{"ecn", TUN_F_TSO_ECN}, {"ufo", TUN_F_UFO},
	};
	*out = 0;
	if (strcmp(v, "none") == 0)
		return 0;
	while (*v) {
		size_t n = strcspn(v, "+");
		unsigned i;
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strlen(names[i].name) == n && strncmp(v, names[i].name, n) == 0)
				break;
		if (i == sizeof(names) / sizeof(names[0]))
			return fail(err, errlen, "offload: unknown '%.*s' (csum, tso4, tso6, ecn, ufo or none)",
				    (int)n, v);
		*out |= names[i].flag;
		v += n;
		if (*v == '+')
			v++;
	}
	if ((*out & ~TUN_F_CSUM) && !(*out & TUN_F_CSUM))
		return fail(err, errlen, "offload: tso4, tso6, ecn and ufo need csum");
	return 0;
}

static int set_ifname(char *dst, const char *v, size_t n, const char *what, char *err, size_t errlen)
{
	if (n == 0 || n >= IFNAMSIZ || memchr(v, '/', n))
		return fail(err, errlen, "%s: '%.*s' is not an interface name (1 to %d characters, no '/')",
			    what, (int)n, v, IFNAMSIZ - 1);
	memcpy(dst, v, n);
	dst[n] = 0;
	return 0;
}

int net_backend_parse(const char *spec, struct net_backend_config *cfg, char *err, size_t errlen)
{
	memset(cfg, 0, sizeof(*cfg));
	size_t n = strcspn(spec, ",");
	const char *eq = memchr(spec, '=', n);
	if (!eq)
		return fail(err, errlen, "network backend '%s': expected tap=NAME, bridge=BR or stream=PATH", spec);
	const char *v = eq + 1;
	size_t vn = n - (size_t)(v - spec);
	size_t kn = (size_t)(eq - spec);
	if (kn == 3 && strncmp(spec, "tap", 3) == 0) {
		cfg->kind = NET_BACKEND_TAP;
		if (set_ifname(cfg->ifname, v, vn, "tap", err, errlen) < 0)
			return -1;
	} else if (kn == 6 && strncmp(spec, "bridge", 6) == 0) {
		cfg->kind = NET_BACKEND_BRIDGE;
		if (set_ifname(cfg->bridge, v, vn, "bridge", err, errlen) < 0)
			return -1;
	} else if (kn == 6 && strncmp(spec, "stream", 6) == 0) {
		cfg->kind = NET_BACKEND_STREAM;
		if (vn == 0 || vn >= sizeof(cfg->path))
			return fail(err, errlen, "stream: the socket path must have 1 to %zu characters",
				    sizeof(cfg->path) - 1);
		memcpy(cfg->path, v, vn);
		cfg->path[vn] = 0;
	} else {
		return fail(err, errlen, "network backend '%.*s': unknown kind (tap, bridge or stream)",
			    (int)kn, spec);
	}
	for (const char *o = spec + n; *o == ',';) {
		o++;
		size_t on = strcspn(o, ",");
		char opt[256];
		snprintf(opt, sizeof(opt), "%.*s", (int)on, o);
		o += on;
		if (cfg->kind == NET_BACKEND_STREAM && strcmp(opt, "server") == 0) {
			cfg->server = true;
		} else if (cfg->kind != NET_BACKEND_STREAM && strncmp(opt, "offload=", 8) == 0) {
			if (parse_offload(opt + 8, &cfg->offload, err, errlen) < 0)
				return -1;
		} else if (cfg->kind == NET_BACKEND_BRIDGE && strncmp(opt, "ifname=", 7) == 0) {
			if (set_ifname(cfg->ifname, opt + 7, strlen(opt + 7), "ifname", err, errlen) < 0)
				return -1;
		} else {
			return fail(err, errlen, "network backend '%.*s': unknown option '%s'", (int)n, spec, opt);
		}
	}
	return 0;
}

/* --- TAP ------------------------------------------------------------------ */

/* A socket for the interface ioctls. */
static int ctl_socket(void)
{
	return socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Opens /dev/net/tun and attaches it to (or with EXCL, creates) the TAP
 * NAME; fills in the name the kernel gave.  Returns the fd or -1 with
 * ERR. */
static int tap_attach(char name[IFNAMSIZ], bool excl, const char *what, char *err, size_t errlen)
{
	int fd = open(TUN_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT || e == ENODEV || e == ENXIO)
			return fail(err, errlen, "%s: %s missing (is the tun module loaded?)", what, TUN_PATH);
		if (e == EACCES || e == EPERM)
			return fail(err, errlen, "%s: %s: permission denied", what, TUN_PATH);
		return fail(err, errlen, "%s: %s: %s", what, TUN_PATH, why(e));
	}
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (excl ? IFF_TUN_EXCL : 0);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;
		close(fd);
		switch (e) {
		case EPERM:
		case EACCES:
			return fail(err, errlen, "%s: permission denied (needs CAP_NET_ADMIN%s)", what,
				    excl ? "" : ", or a TAP owned by this user");
		case EBUSY:
			if (excl)
				return fail(err, errlen, "%s: %s already exists", what, name);
			return fail(err, errlen, "%s: busy (open in another program, e.g. another VM)", what);
		case EEXIST:
			return fail(err, errlen, "%s: %s already exists", what, name);
		case EINVAL:
			return fail(err, errlen, "%s: not a TAP interface (a TUN, a multi-queue TAP, or not tun/tap at all)",
				    what);
		default:
			return fail(err, errlen, "%s: %s", what, why(e));
		}
	}
	snprintf(name, IFNAMSIZ, "%s", ifr.ifr_name);
	return fd;
}

/* Header size, offloads, nonblocking: the same for both TAP kinds. */
static int tap_configure(int fd, unsigned offload, const char *what, char *err, size_t errlen)
{
	int sz = NET_VNET_HDR_LEN;
	if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0)
		return fail(err, errlen, "%s: setting the vnet header size: %s", what, why(errno));
	if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)offload) < 0)
		return fail(err, errlen, "%s: setting offloads 0x%x: %s", what, offload, why(errno));
	if (set_nonblock(fd) < 0)
		return fail(err, errlen, "%s: %s", what, why(errno));
	return 0;
}

static int open_tap(const struct net_backend_config *cfg, struct net_backend *b, char *err, size_t errlen)
{
	const char *name = cfg->ifname;
	/* tap= is for an existing interface: TUNSETIFF would make one. */
	if (if_nametoindex(name) == 0)
		return fail(err, errlen, "%s: no such interface (make it first: ip tuntap add %s mode tap)",
			    name, name);
	snprintf(b->ifname, IFNAMSIZ, "%s", name);
	b->fd = tap_attach(b->ifname, false, name, err, errlen);
	if (b->fd < 0)
		return -1;
	if (tap_configure(b->fd, cfg->offload, name, err, errlen) < 0)
		return -1;
	b->ifindex = (int)if_nametoindex(b->ifname);
	b->vnet_hdr = true;
	snprintf(b->desc, sizeof(b->desc), "tap %s", b->ifname);
	return 0;
}

/* rtnetlink: deletes the interface INDEX. */
static int del_link(int index)
{
	int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (s < 0)
		return -errno;
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
	} req = {
		.nh = {.nlmsg_len = sizeof(req), .nlmsg_type = RTM_DELLINK,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK, .nlmsg_seq = 1},
		.ifi = {.ifi_family = AF_UNSPEC, .ifi_index = index},
	};
	int rc = 0;
	if (send(s, &req, sizeof(req), 0) < 0) {
		rc = -errno;
	} else {
		char buf[512];
		ssize_t n = recv(s, buf, sizeof(buf), 0);
		struct nlmsghdr *nh = (struct nlmsghdr *)buf;
		if (n < 0)
			rc = -errno;
		else if (n >= (ssize_t)(sizeof(*nh) + sizeof(int)) && nh->nlmsg_type == NLMSG_ERROR)
			rc = ((struct nlmsgerr *)NLMSG_DATA(nh))->error;
	}
	close(s);
	return rc;
}

static int open_bridge_tap(const struct net_backend_config *cfg, struct net_backend *b, char *err,
			   size_t errlen)
{
	char what[IFNAMSIZ + 8];
	snprintf(what, sizeof(what), "bridge %s", cfg->bridge);
	int bridx = (int)if_nametoindex(cfg->bridge);
	if (bridx == 0)
		return fail(err, errlen, "%s: no such bridge", what);
	snprintf(b->bridge, IFNAMSIZ, "%s", cfg->bridge);
	snprintf(b->ifname, IFNAMSIZ, "%s", cfg->ifname[0] ? cfg->ifname : TAP_TEMPLATE);
	/* IFF_TUN_EXCL: always a new TAP, never one that happens to exist. */
	b->fd = tap_attach(b->ifname, true, what, err, errlen);
	if (b->fd < 0)
		return -1;
	b->created = true;
	b->ifindex = (int)if_nametoindex(b->ifname);
	b->vnet_hdr = true;
	snprintf(b->desc, sizeof(b->desc), "tap %s on bridge %s", b->ifname, b->bridge);
	/* Not persistent: it goes with the last fd, whoever is killed. */
	struct ifreq ifr = {0};
	if (ioctl(b->fd, TUNSETPERSIST, 0L) < 0 || ioctl(b->fd, TUNGETIFF, &ifr) < 0)
		return fail(err, errlen, "%s: %s: %s", what, b->ifname, why(errno));
	if (ifr.ifr_flags & IFF_PERSIST)
		return fail(err, errlen, "%s: %s stays persistent", what, b->ifname);
	if (tap_configure(b->fd, cfg->offload, b->ifname, err, errlen) < 0)
		return -1;

	int s = ctl_socket();
	if (s < 0)
		return fail(err, errlen, "%s: %s", what, why(errno));
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", b->bridge);
	ifr.ifr_ifindex = b->ifindex;
	if (ioctl(s, SIOCBRADDIF, &ifr) < 0) {
		int e = errno;
		close(s);
		if (e == EOPNOTSUPP || e == EINVAL)
			return fail(err, errlen, "%s: not a bridge", what);
		if (e == ENODEV)
			return fail(err, errlen, "%s: no such bridge", what);
		return fail(err, errlen, "%s: adding %s: %s", what, b->ifname,
			    e == ENOPKG ? "no bridge support in the kernel" : why(e));
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", b->ifname);
	int rc = ioctl(s, SIOCGIFFLAGS, &ifr);
	if (rc == 0) {
		ifr.ifr_flags |= IFF_UP;
		rc = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	int e = errno;
	close(s);
	if (rc < 0)
		return fail(err, errlen, "%s: bringing %s up: %s", what, b->ifname, why(e));
	return 0;
}

/* --- stream --------------------------------------------------------------- */

static int stream_socket(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	snprintf(sa->sun_path, sizeof(sa->sun_path), "%s", path);
	return socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

static const char *stream_why(int e)
{
	switch (e) {
	case ENOENT:
		return "no such socket (is the peer listening?)";
	case ECONNREFUSED:
		return "connection refused (nobody listening)";
	case EACCES:
	case EPERM:
		return "permission denied";
	case ENOTSOCK:
		return "not a socket";
	default:
		return why(e);
	}
}

/* Whether a socket listens on PATH, as /proc/net/unix says (by the name it
 * was bound with, as given or made absolute).  Not by connecting to it: a
 * listener would take that probe for its one peer.  Unknown counts as
 * yes. */
static int listener_on(const char *path)
{
	FILE *f = fopen("/proc/net/unix", "re");
	if (!f)
		return 1;
	char abs[PATH_MAX + 1], line[PATH_MAX + 128];
	if (!realpath(path, abs))
		abs[0] = 0;
	int found = 0;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned long flags;
		int state, pos = -1;
		/* Num RefCount Protocol Flags Type St Inode Path */
		if (sscanf(line, "%*s %*s %*s %lx %*s %x %*s %n", &flags, &state, &pos) < 2 || pos < 0)
			continue;
		char *name = line + pos;
		name[strcspn(name, "\n")] = 0;
		if ((flags & 0x10000) && (strcmp(name, path) == 0 || strcmp(name, abs) == 0))
			found = 1;
	}
	fclose(f);
	return found;
}

static int open_stream(const struct net_backend_config *cfg, struct net_backend *b, char *err,
		       size_t errlen)
{
	struct sockaddr_un sa;
	snprintf(b->path, sizeof(b->path), "%s", cfg->path);
	snprintf(b->desc, sizeof(b->desc), "stream %s%s", b->path, cfg->server ? " (server)" : "");
	int s = stream_socket(b->path, &sa);
	if (s < 0)
		return fail(err, errlen, "stream %s: %s", b->path, why(errno));
	if (!cfg->server) {
		if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			int e = errno;
			close(s);
			return fail(err, errlen, "stream %s: %s", b->path, stream_why(e));
		}
		if (set_nonblock(s) < 0) {
			close(s);
			return fail(err, errlen, "stream %s: %s", b->path, why(errno));
		}
		b->fd = s;
		return 0;
	}
	int rc = bind(s, (struct sockaddr *)&sa, sizeof(sa));
	if (rc < 0 && errno == EADDRINUSE) {
		/* A socket left by a dead listener is replaced; a live one,
		 * or anything not a socket, is not. */
		struct stat st;
		if (lstat(b->path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
			close(s);
			return fail(err, errlen, "stream %s: exists and is not a socket", b->path);
		}
		int alive = listener_on(b->path);
		if (alive) {
			close(s);
			return fail(err, errlen, "stream %s: in use (another program listens there)", b->path);
		}
		unlink(b->path);
		rc = bind(s, (struct sockaddr *)&sa, sizeof(sa));
	}
	if (rc < 0 || listen(s, 1) < 0) {
		int e = errno;
		close(s);
		return fail(err, errlen, "stream %s: listening: %s", b->path, stream_why(e));
	}
	b->listen_fd = s;
	return 0;
}

int net_backend_accept(struct net_backend *b, int timeout_ms, char *err, size_t errlen)
{
	if (b->listen_fd < 0)
		return b->fd >= 0 ? 0 : fail(err, errlen, "%s: not listening", b->desc);
	struct pollfd p = {.fd = b->listen_fd, .events = POLLIN};
	int rc;
	do
		rc = poll(&p, 1, timeout_ms);
	while (rc < 0 && errno == EINTR);
	if (rc == 0)
		return fail(err, errlen, "stream %s: no peer came in %d ms", b->path, timeout_ms);
	if (rc < 0)
		return fail(err, errlen, "stream %s: %s", b->path, why(errno));
	int s = accept4(b->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (s < 0)
		return fail(err, errlen, "stream %s: accepting: %s", b->path, why(errno));
	close(b->listen_fd);
	b->listen_fd = -1;
	unlink(b->path);
	b->fd = s;
	return 0;
}

/* --- all ------------------------------------------------------------------ */

int net_backend_open(const struct net_backend_config *cfg, struct net_backend *b, char *err,
		     size_t errlen)
{
	memset(b, 0, sizeof(*b));
	b->kind = cfg->kind;
	b->fd = b->listen_fd = -1;
	int rc;
	switch (cfg->kind) {
	case NET_BACKEND_TAP:
		rc = open_tap(cfg, b, err, errlen);
		break;
	case NET_BACKEND_BRIDGE:
		rc = open_bridge_tap(cfg, b, err, errlen);
		break;
	case NET_BACKEND_STREAM:
		rc = open_stream(cfg, b, err, errlen);
		break;
	default:
		rc = fail(err, errlen, "network backend: unknown kind %d", (int)cfg->kind);
	}
	if (rc < 0)
		net_backend_close(b);
	return rc;
}

int net_backend_dup_fd(const struct net_backend *b)
{
	if (b->fd < 0) {
		errno = EBADF;
		return -1;
	}
	return fcntl(b->fd, F_DUPFD_CLOEXEC, 0);
}

void net_backend_close(struct net_backend *b)
{
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
	if (b->listen_fd >= 0) {
		close(b->listen_fd);
		unlink(b->path);
	}
	b->listen_fd = -1;
	if (b->created && b->ifindex > 0) {
		/* Gone with our fd unless a device still holds one: then it
		 * is deleted by hand (if the index is still ours). */
		char name[IFNAMSIZ];
		if (if_indextoname((unsigned)b->ifindex, name) && strcmp(name, b->ifname) == 0)
			del_link(b->ifindex);
	}
	b->created = false;
}
