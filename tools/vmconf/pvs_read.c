/* Reading config.pvs (libxml2): every element is checked as it is read,
 * and an error names the file, the line and the element. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "tools/vmconf/vmconf.h"

#define PVS_MAX_BYTES (1u << 20)

struct reader {
	const char *file;
	uint64_t host_memory;
	struct vm_def *def;
	char *err;
	size_t errlen;
};

static const char *name_of(const xmlNode *n)
{
	return (const char *)n->name;
}

/* "FILE:LINE: <ELEMENT>: message"; returns -1. */
static int bad(struct reader *r, const xmlNode *n, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(r->err, r->errlen, "%s:%ld: <%s>: %s", r->file, xmlGetLineNo(n), name_of(n), msg);
	return -1;
}

static bool is(const xmlNode *n, const char *name)
{
	return !strcmp(name_of(n), name);
}

static bool blank(const xmlChar *s)
{
	for (; s && *s; s++)
		if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
			return false;
	return true;
}

/* The next element child from C on; stray text in a container is an error
 * (reported against PARENT). */
static int next_element(struct reader *r, const xmlNode *parent, xmlNode *c, xmlNode **out)
{
	for (; c; c = c->next) {
		if (c->type == XML_ELEMENT_NODE) {
			*out = c;
			return 1;
		}
		if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) &&
		    !blank(c->content))
			return bad(r, parent, "text where elements belong: '%.40s'",
				   (const char *)c->content);
	}
	*out = NULL;
	return 0;
}

/* The text of a leaf element, whitespace trimmed, into BUF. */
static int text_of(struct reader *r, const xmlNode *n, char *buf, size_t len)
{
	for (const xmlNode *c = n->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE)
			return bad(r, n, "expected text, not <%s>", name_of(c));
	xmlChar *t = xmlNodeGetContent(n);
	const char *s = t ? (const char *)t : "";
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	size_t l = strlen(s);
	while (l && (s[l - 1] == ' ' || s[l - 1] == '\t' || s[l - 1] == '\n' || s[l - 1] == '\r'))
		l--;
	if (l >= len) {
		xmlFree(t);
		return bad(r, n, "longer than %zu characters", len - 1);
	}
	memcpy(buf, s, l);
	buf[l] = 0;
	xmlFree(t);
	return 0;
}

static int size_of(struct reader *r, const xmlNode *n, uint64_t *out)
{
	char s[64];
	if (text_of(r, n, s, sizeof(s)) < 0)
		return -1;
	if (vmconf_parse_size(s, out) < 0)
		return bad(r, n, "'%s' is not a size (e.g. 512M, 2G, 1T)", s);
	return 0;
}

/* Marks element NAME as seen in SEEN (bit I); a second one is an error. */
static int once(struct reader *r, const xmlNode *n, unsigned *seen, unsigned bit)
{
	if (*seen & (1u << bit))
		return bad(r, n, "given twice");
	*seen |= 1u << bit;
	return 0;
}

static int missing(struct reader *r, const xmlNode *parent, const char *child)
{
	return bad(r, parent, "<%s> is missing", child);
}

static int unknown(struct reader *r, const xmlNode *n, const xmlNode *parent)
{
	return bad(r, n, "unknown element in <%s>", name_of(parent));
}

static int read_identity(struct reader *r, const xmlNode *node)
{
	struct vm_def *def = r->def;
	unsigned seen = 0;
	xmlNode *c;
	char s[64];
	uuid_t u;
	int k;

	for (k = next_element(r, node, node->children, &c); k > 0;
	     k = next_element(r, node, c->next, &c)) {
		if (is(c, "uuid")) {
			if (once(r, c, &seen, 0) < 0 || text_of(r, c, s, sizeof(s)) < 0)
				return -1;
			if (uuid_parse(s, u))
				return bad(r, c, "'%s' is not a UUID", s);
			uuid_unparse_lower(u, def->uuid);
		} else if (is(c, "name")) {
			if (once(r, c, &seen, 1) < 0 ||
			    text_of(r, c, def->name, sizeof(def->name)) < 0)
				return -1;
			if (vmconf_check_name(def->name, r->err, r->errlen) < 0)
				return bad(r, c, "%s", r->err);
		} else if (is(c, "distribution")) {
			if (once(r, c, &seen, 2) < 0 || text_of(r, c, s, sizeof(s)) < 0)
				return -1;
			if (vm_distribution_parse(s, &def->distribution) < 0)
				return bad(r, c, "'%s': expected linux, debian, windows or other", s);
		} else {
			return unknown(r, c, node);
		}
	}
	if (k < 0)
		return -1;
	if (!(seen & 1))
		return missing(r, node, "uuid");
	if (!(seen & 2))
		return missing(r, node, "name");
	return 0;
}

static int read_boot(struct reader *r, const xmlNode *node)
{
	struct vm_def *def = r->def;
	unsigned seen = 0;
	xmlNode *c;
	int k;

	for (k = next_element(r, node, node->children, &c); k > 0;
	     k = next_element(r, node, c->next, &c)) {
		if (is(c, "kernel")) {
			if (once(r, c, &seen, 0) < 0 ||
			    text_of(r, c, def->kernel, sizeof(def->kernel)) < 0)
				return -1;
		} else if (is(c, "initrd")) {
			if (once(r, c, &seen, 1) < 0 ||
			    text_of(r, c, def->initrd, sizeof(def->initrd)) < 0)
				return -1;
		} else if (is(c, "cmdline")) {
			if (once(r, c, &seen, 2) < 0 ||
			    text_of(r, c, def->cmdline, sizeof(def->cmdline)) < 0)
				return -1;
		} else {
			return unknown(r, c, node);
		}
	}
	return k;
}

static int read_disk(struct reader *r, const xmlNode *node, bool cdrom)
{
	struct vm_def *def = r->def;
	struct vm_disk d = { .cdrom = cdrom, .iface = VM_IF_VIRTIO_SCSI };
	unsigned seen = 0;
	xmlNode *c;
	char s[64];
	int k;

	for (k = next_element(r, node, node->children, &c); k > 0;
	     k = next_element(r, node, c->next, &c)) {
		if (is(c, "image")) {
			if (once(r, c, &seen, 0) < 0 || text_of(r, c, d.image, sizeof(d.image)) < 0)
				return -1;
		} else if (is(c, "interface")) {
			if (once(r, c, &seen, 1) < 0 || text_of(r, c, s, sizeof(s)) < 0)
				return -1;
			if (vm_disk_if_parse(s, &d.iface) < 0)
				return bad(r, c, "'%s': expected virtio-scsi, virtio-blk or ide", s);
		} else if (is(c, "size") && !cdrom) {
			if (once(r, c, &seen, 2) < 0 || size_of(r, c, &d.size) < 0)
				return -1;
			if (vmconf_check_disk_size(d.size, r->err, r->errlen) < 0)
				return bad(r, c, "%s", r->err);
		} else {
			return unknown(r, c, node);
		}
	}
	if (k < 0)
		return -1;
	if (!cdrom && (!(seen & 1) || !d.image[0]))
		return bad(r, node, "a hard disk needs an <image>");
	if (!cdrom && !(seen & 4))
		return missing(r, node, "size");
	if (vmconf_check_add_disk(def, cdrom, d.iface, r->err, r->errlen) < 0)
		return bad(r, node, "%s", r->err);
	def->disks[def->ndisks++] = d;
	return 0;
}

static int read_net(struct reader *r, const xmlNode *node)
{
	struct vm_def *def = r->def;
	struct vm_net n = { 0 };
	unsigned seen = 0, backends = 0;
	xmlNode *c;
	int k;

	for (k = next_element(r, node, node->children, &c); k > 0;
	     k = next_element(r, node, c->next, &c)) {
		if (is(c, "bridge") || is(c, "tap") || is(c, "stream")) {
			if (backends++)
				return bad(r, c, "an adapter has one of <bridge>, <tap>, <stream>");
			n.kind = is(c, "bridge") ? VM_NET_BRIDGE :
				 is(c, "tap") ? VM_NET_TAP : VM_NET_STREAM;
			if (text_of(r, c, n.backend, sizeof(n.backend)) < 0)
				return -1;
			if (!n.backend[0])
				return bad(r, c, "empty");
		} else if (is(c, "mac")) {
			if (once(r, c, &seen, 0) < 0 || text_of(r, c, n.mac, sizeof(n.mac)) < 0)
				return -1;
			if (vmconf_check_mac(n.mac, r->err, r->errlen) < 0)
				return bad(r, c, "%s", r->err);
		} else {
			return unknown(r, c, node);
		}
	}
	if (k < 0)
		return -1;
	if (!backends)
		return bad(r, node, "<bridge>, <tap> or <stream> is missing");
	if (!(seen & 1))
		return missing(r, node, "mac");
	if (vmconf_check_add_net(def, r->err, r->errlen) < 0)
		return bad(r, node, "%s", r->err);
	def->nets[def->nnets++] = n;
	return 0;
}

static int read_serial(struct reader *r, const xmlNode *node)
{
	struct vm_def *def = r->def;
	struct vm_serial s = { 0 };
	unsigned backends = 0;
	xmlNode *c;
	int k;

	for (k = next_element(r, node, node->children, &c); k > 0;
	     k = next_element(r, node, c->next, &c)) {
		if (is(c, "output") || is(c, "socket")) {
			if (backends++)
				return bad(r, c, "a serial port has one of <output>, <socket>");
			s.kind = is(c, "output") ? VM_SERIAL_OUTPUT : VM_SERIAL_SOCKET;
			if (text_of(r, c, s.path, sizeof(s.path)) < 0)
				return -1;
			if (!s.path[0])
				return bad(r, c, "empty");
		} else {
			return unknown(r, c, node);
		}
	}
	if (k < 0)
		return -1;
	if (!backends)
		return bad(r, node, "<output> or <socket> is missing");
	if (vmconf_check_add_serial(def, r->err, r->errlen) < 0)
		return bad(r, node, "%s", r->err);
	def->serials[def->nserials++] = s;
	return 0;
}

static int read_video(struct reader *r, const xmlNode *node, unsigned *seen_video)
{
	xmlNode *c;
	unsigned seen = 0;
	int k;

	if (once(r, node, seen_video, 0) < 0)
		return -1;
	for (k = next_element(r, node, node->children, &c); k > 0;
	     k = next_element(r, node, c->next, &c)) {
		if (!is(c, "memory"))
			return unknown(r, c, node);
		if (once(r, c, &seen, 0) < 0 || size_of(r, c, &r->def->video_memory) < 0)
			return -1;
		if (vmconf_check_video(r->def->video_memory, r->err, r->errlen) < 0)
			return bad(r, c, "%s", r->err);
	}
	if (k < 0)
		return -1;
	return seen ? 0 : missing(r, node, "memory");
}

static int read_devices(struct reader *r, const xmlNode *node)
{
	unsigned seen_video = 0;
	xmlNode *c;
	int k, rc;

	for (k = next_element(r, node, node->children, &c); k > 0;
	     k = next_element(r, node, c->next, &c)) {
		if (is(c, "hdd") || is(c, "cdrom"))
			rc = read_disk(r, c, is(c, "cdrom"));
		else if (is(c, "net"))
			rc = read_net(r, c);
		else if (is(c, "serial"))
			rc = read_serial(r, c);
		else if (is(c, "video"))
			rc = read_video(r, c, &seen_video);
		else
			rc = unknown(r, c, node);
		if (rc < 0)
			return -1;
	}
	return k;
}

static int read_vm(struct reader *r, const xmlNode *vm)
{
	struct vm_def *def = r->def;
	unsigned seen = 0;
	xmlNode *c;
	char s[64];
	int k, rc;

	if (!is(vm, "vm"))
		return bad(r, vm, "the top element is <vm>");
	xmlChar *version = xmlGetProp(vm, (const xmlChar *)"version");
	bool version_ok = version && !strcmp((const char *)version, "1");
	if (!version_ok) {
		rc = bad(r, vm, "version '%s': this cellvm reads version 1",
			 version ? (const char *)version : "(none)");
		xmlFree(version);
		return rc;
	}
	xmlFree(version);

	for (k = next_element(r, vm, vm->children, &c); k > 0;
	     k = next_element(r, vm, c->next, &c)) {
		if (is(c, "identity")) {
			rc = once(r, c, &seen, 0) < 0 ? -1 : read_identity(r, c);
		} else if (is(c, "cpus")) {
			rc = once(r, c, &seen, 1) < 0 ? -1 : text_of(r, c, s, sizeof(s));
			if (rc == 0) {
				char *end;
				errno = 0;
				unsigned long v = strtoul(s, &end, 10);
				if (s[0] < '0' || s[0] > '9' || *end || errno || v > 1000000)
					return bad(r, c, "'%s' is not a number", s);
				def->cpus = (unsigned)v;
				if (vmconf_check_cpus(def->cpus, r->err, r->errlen) < 0)
					return bad(r, c, "%s", r->err);
			}
		} else if (is(c, "memory")) {
			rc = once(r, c, &seen, 2) < 0 ? -1 : size_of(r, c, &def->memory);
			if (rc == 0 && vmconf_check_memory(def->memory, r->host_memory, r->err,
							   r->errlen) < 0)
				return bad(r, c, "%s", r->err);
		} else if (is(c, "boot")) {
			rc = once(r, c, &seen, 3) < 0 ? -1 : read_boot(r, c);
		} else if (is(c, "devices")) {
			rc = once(r, c, &seen, 4) < 0 ? -1 : read_devices(r, c);
		} else {
			rc = unknown(r, c, vm);
		}
		if (rc < 0)
			return -1;
	}
	if (k < 0)
		return -1;
	if (!(seen & 1))
		return missing(r, vm, "identity");
	if (!(seen & 2))
		return missing(r, vm, "cpus");
	if (!(seen & 4))
		return missing(r, vm, "memory");
	return 0;
}

int vmconf_parse(const char *xml, size_t len, const char *name, uint64_t host_memory,
		 struct vm_def *def, char *err, size_t errlen)
{
	struct reader r = { name, host_memory, def, err, errlen };
	xmlParserCtxtPtr ctxt;
	xmlDocPtr doc;
	int rc;

	memset(def, 0, sizeof(*def));
	def->distribution = VM_DIST_OTHER;
	if (len > INT32_MAX) {
		snprintf(err, errlen, "%s: too big", name);
		return -1;
	}
	ctxt = xmlNewParserCtxt();
	if (!ctxt) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -1;
	}
	/* No network, no entity substitution, no messages of its own. */
	doc = xmlCtxtReadMemory(ctxt, xml, (int)len, name, NULL,
				XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc) {
		const xmlError *e = xmlCtxtGetLastError(ctxt);
		char msg[256];
		snprintf(msg, sizeof(msg), "%s", e && e->message ? e->message : "not XML");
		size_t l = strlen(msg);
		while (l && msg[l - 1] == '\n')
			msg[--l] = 0;
		snprintf(err, errlen, "%s:%d: not well-formed XML: %s", name, e ? e->line : 0, msg);
		xmlFreeParserCtxt(ctxt);
		return -1;
	}
	xmlNode *root = xmlDocGetRootElement(doc);
	rc = root ? read_vm(&r, root) : -1;
	if (!root)
		snprintf(err, errlen, "%s: no <vm> element", name);
	xmlFreeDoc(doc);
	xmlFreeParserCtxt(ctxt);
	return rc;
}

int vmconf_read(const char *path, struct vm_def *def, char *err, size_t errlen)
{
	struct stat st;
	char *buf;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > PVS_MAX_BYTES) {
		snprintf(err, errlen, "%s: not a regular file of at most 1 MiB", path);
		close(fd);
		return -1;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n <= 0) {
			snprintf(err, errlen, "%s: %s", path, n ? strerror(errno) : "shrank while read");
			free(buf);
			close(fd);
			return -1;
		}
		got += (size_t)n;
	}
	close(fd);
	rc = vmconf_parse(buf, got, path, vmconf_host_memory(), def, err, errlen);
	free(buf);
	return rc;
}
