/* `cellvm run --net`: the option's syntax (the backend's part is
 * net_backend_parse's), the adapters' MACs, and the checks across
 * adapters, all before any VM exists. */
#include <stdio.h>
#include <string.h>

#include "tools/cellvm/supervisor.h"

#define NET_SPEC_MAX 1024

static int set_mac(struct net_config *nc, const char *v, char *err, size_t errlen)
{
	if (nc->mac_given) {
		snprintf(err, errlen, "--net %s: mac given twice", nc->spec);
		return -1;
	}
	if (net_mac_parse(v, nc->mac) < 0) {
		snprintf(err, errlen, "--net %s: mac '%s' is not six hex pairs (XX:XX:XX:XX:XX:XX)",
			 nc->spec, v);
		return -1;
	}
	if (net_mac_is_multicast(nc->mac)) {
		snprintf(err, errlen,
			 "--net %s: mac %s is a multicast address (bit 0 of the first octet "
			 "set); an adapter needs a unicast one",
			 nc->spec, v);
		return -1;
	}
	if (net_mac_is_zero(nc->mac)) {
		snprintf(err, errlen, "--net %s: mac %s is all zero, not an address", nc->spec, v);
		return -1;
	}
	nc->mac_given = true;
	return 0;
}

int net_option_parse(struct vm_config *cfg, const char *spec, char *err, size_t errlen)
{
	if (cfg->nnets == VM_MAX_NETS) {
		snprintf(err, errlen, "--net %s: at most %d network adapters", spec, VM_MAX_NETS);
		return -1;
	}
	if (strlen(spec) >= NET_SPEC_MAX) {
		snprintf(err, errlen, "--net: option too long (%zu bytes)", strlen(spec));
		return -1;
	}
	struct net_config *nc = &cfg->nets[cfg->nnets];
	memset(nc, 0, sizeof(*nc));
	nc->spec = spec;
	/* mac= and model= are ours; the rest, in order, is the backend's. */
	char rest[NET_SPEC_MAX] = "", tok[NET_SPEC_MAX];
	size_t len = 0;
	for (const char *p = spec;;) {
		size_t n = strcspn(p, ",");
		snprintf(tok, sizeof(tok), "%.*s", (int)n, p);
		if (!strncmp(tok, "mac=", 4)) {
			if (set_mac(nc, tok + 4, err, errlen) < 0)
				return -1;
		} else if (!strncmp(tok, "model=", 6)) {
			if (strcmp(tok + 6, "virtio")) {
				snprintf(err, errlen, "--net %s: model '%s' is not offered (only virtio)",
					 spec, tok + 6);
				return -1;
			}
		} else {
			len += (size_t)snprintf(rest + len, sizeof(rest) - len, "%s%s", len ? "," : "",
						tok);
		}
		if (!p[n])
			break;
		p += n + 1;
	}
	char why[512];
	if (net_backend_parse(rest, &nc->backend, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "--net %s: %s", spec, why);
		return -1;
	}
	cfg->nnets++;
	return 0;
}

/* Two adapters on one backend would fight over it (a TAP is opened once;
 * a stream server would wait for itself). */
static bool same_backend(const struct net_backend_config *a, const struct net_backend_config *b)
{
	if (a->kind == NET_BACKEND_STREAM || b->kind == NET_BACKEND_STREAM)
		return a->kind == b->kind && !strcmp(a->path, b->path);
	const char *ta = a->kind == NET_BACKEND_TAP ? a->ifname : "";
	const char *tb = b->kind == NET_BACKEND_TAP ? b->ifname : "";
	/* A bridge TAP named by ifname= may not be an existing tap= either. */
	if (a->kind == NET_BACKEND_BRIDGE)
		ta = a->ifname;
	if (b->kind == NET_BACKEND_BRIDGE)
		tb = b->ifname;
	return ta[0] && !strcmp(ta, tb);
}

int net_options_finish(struct vm_config *cfg, char *err, size_t errlen)
{
	const void *key = cfg->uuid;
	size_t keylen = sizeof(cfg->uuid);
	if (!cfg->uuid_given && cfg->name) {
		key = cfg->name;
		keylen = strlen(cfg->name);
	}
	for (unsigned i = 0; i < cfg->nnets; i++) {
		struct net_config *nc = &cfg->nets[i];
		if (!nc->mac_given)
			net_mac_derive(key, keylen, i, nc->mac);
		for (unsigned j = 0; j < i; j++) {
			const struct net_config *o = &cfg->nets[j];
			char mac[NET_MAC_STR];
			if (!memcmp(o->mac, nc->mac, NET_MAC_LEN)) {
				snprintf(err, errlen, "--net %s: mac %s is also net%u's (--net %s)",
					 nc->spec, net_mac_format(nc->mac, mac), j, o->spec);
				return -1;
			}
			if (same_backend(&o->backend, &nc->backend)) {
				snprintf(err, errlen, "--net %s: the same backend as net%u (--net %s)",
					 nc->spec, j, o->spec);
				return -1;
			}
		}
	}
	return 0;
}
