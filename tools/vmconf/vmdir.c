/* VM directories: where the root is, finding a VM in it by name or UUID,
 * making and removing the directories. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "tools/vmconf/vmconf.h"

#define SYSTEM_ROOT "/vz/vmprivate"

int vmdir_root(const char *opt_root, char *out, size_t len, char *err, size_t errlen)
{
	const char *env = getenv("CELLVM_ROOT"), *xdg = getenv("XDG_DATA_HOME"),
		   *home = getenv("HOME");
	int n;

	if (opt_root && *opt_root)
		n = snprintf(out, len, "%s", opt_root);
	else if (env && *env)
		n = snprintf(out, len, "%s", env);
	else if (getuid() == 0)
		n = snprintf(out, len, "%s", SYSTEM_ROOT);
	else if (xdg && *xdg == '/')
		n = snprintf(out, len, "%s/cellvm/vmprivate", xdg);
	else if (home && *home)
		n = snprintf(out, len, "%s/.local/share/cellvm/vmprivate", home);
	else {
		snprintf(err, errlen, "no VM root: give --root DIR or set CELLVM_ROOT "
			 "(HOME is not set)");
		return -1;
	}
	if (n < 0 || (size_t)n >= len) {
		snprintf(err, errlen, "VM root: path too long");
		return -1;
	}
	/* "dir/" and "dir" are one root. */
	while (n > 1 && out[n - 1] == '/')
		out[--n] = 0;
	return 0;
}

void vmdir_resolve(const char *dir, const char *path, char *out, size_t len)
{
	if (path[0] == '/')
		snprintf(out, len, "%s", path);
	else
		snprintf(out, len, "%s/%s", dir, path);
}

static bool is_uuid(const char *s)
{
	uuid_t u;
	return strlen(s) == 36 && !uuid_parse(s, u);
}

static int load_entry(const char *root, const char *uuid, struct vm_entry *e)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->dir, sizeof(e->dir), "%s/%s", root, uuid);
	snprintf(e->config, sizeof(e->config), "%s/%s", e->dir, VMCONF_FILE);
	e->def = calloc(1, sizeof(*e->def));
	if (!e->def) {
		snprintf(e->error, sizeof(e->error), "out of memory");
		return -1;
	}
	if (vmconf_read(e->config, e->def, e->error, sizeof(e->error)) < 0) {
		free(e->def);
		e->def = NULL;
		return -1;
	}
	if (strcmp(e->def->uuid, uuid)) {
		snprintf(e->error, sizeof(e->error), "%s: <uuid> %s is not its directory's name",
			 e->config, e->def->uuid);
		free(e->def);
		e->def = NULL;
		return -1;
	}
	return 0;
}

void vmdir_entry_free(struct vm_entry *e)
{
	free(e->def);
	e->def = NULL;
}

void vmdir_list_free(struct vm_entry *list, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		vmdir_entry_free(&list[i]);
	free(list);
}

static int by_name(const void *a, const void *b)
{
	const struct vm_entry *x = a, *y = b;
	if (!x->def != !y->def)
		return !x->def ? 1 : -1; /* broken ones last */
	if (!x->def)
		return strcmp(x->dir, y->dir);
	int c = strcmp(x->def->name, y->def->name);
	return c ? c : strcmp(x->def->uuid, y->def->uuid);
}

int vmdir_list(const char *root, struct vm_entry **out, unsigned *n, char *err, size_t errlen)
{
	struct vm_entry *list = NULL;
	unsigned count = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	*out = NULL;
	*n = 0;
	d = opendir(root);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", root, strerror(errno));
		return -1;
	}
	while ((de = readdir(d))) {
		if (!is_uuid(de->d_name))
			continue;
		if (count == cap) {
			cap = cap ? 2 * cap : 16;
			struct vm_entry *bigger = realloc(list, cap * sizeof(*list));
			if (!bigger) {
				closedir(d);
				vmdir_list_free(list, count);
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			list = bigger;
		}
		load_entry(root, de->d_name, &list[count++]);
	}
	closedir(d);
	if (count)
		qsort(list, count, sizeof(*list), by_name);
	*out = list;
	*n = count;
	return 0;
}

int vmdir_find(const char *root, const char *who, bool allow_broken, struct vm_entry *e,
	       char *err, size_t errlen)
{
	struct vm_entry *list;
	unsigned n, hits = 0, broken = 0;
	char why[sizeof(e->error)] = "";
	struct stat st;

	memset(e, 0, sizeof(*e));
	if (is_uuid(who)) {
		char uuid[37];
		uuid_t u;
		uuid_parse(who, u);
		uuid_unparse_lower(u, uuid);
		snprintf(e->dir, sizeof(e->dir), "%s/%s", root, uuid);
		if (stat(e->dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "no VM with UUID %s in %s", uuid, root);
			return -1;
		}
		if (load_entry(root, uuid, e) < 0 && !allow_broken) {
			snprintf(err, errlen, "%s", e->error);
			return -1;
		}
		return 0;
	}
	if (vmdir_list(root, &list, &n, err, errlen) < 0)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		if (!list[i].def && !broken++)
			snprintf(why, sizeof(why), "%s", list[i].error);
		if (list[i].def && !strcmp(list[i].def->name, who)) {
			if (!hits++) {
				*e = list[i];
				list[i].def = NULL;
			}
		}
	}
	vmdir_list_free(list, n);
	if (hits == 1)
		return 0;
	vmdir_entry_free(e);
	if (hits)
		snprintf(err, errlen, "%u VMs are named '%s' in %s: give the UUID", hits, who, root);
	else if (broken)
		snprintf(err, errlen, "no VM named '%s' in %s; %u VM(s) there have a broken "
			 "config.pvs and go by UUID, the first: %s", who, root, broken, why);
	else
		snprintf(err, errlen, "no VM named '%s' in %s (cellvm list --all)", who, root);
	return -1;
}

int vmdir_make_root(const char *root, char *err, size_t errlen)
{
	char path[VMCONF_PATH_MAX];
	snprintf(path, sizeof(path), "%s", root);
	for (char *p = path + 1;; p++) {
		if (*p != '/' && *p)
			continue;
		char c = *p;
		*p = 0;
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			return -1;
		}
		if (!c)
			break;
		*p = c;
	}
	return 0;
}

static int remove_at(int dfd, const char *name, char *err, size_t errlen)
{
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		int sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		DIR *d = sub < 0 ? NULL : fdopendir(sub);
		struct dirent *de;
		if (!d) {
			snprintf(err, errlen, "%s: %s", name, strerror(errno));
			if (sub >= 0)
				close(sub);
			return -1;
		}
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if (remove_at(dirfd(d), de->d_name, err, errlen) < 0) {
				closedir(d);
				return -1;
			}
		}
		closedir(d);
	}
	if (unlinkat(dfd, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		return -1;
	}
	return 0;
}

int vmdir_remove(const char *dir, char *err, size_t errlen)
{
	char inner[512];
	if (remove_at(AT_FDCWD, dir, inner, sizeof(inner)) < 0) {
		snprintf(err, errlen, "removing %s: %s", dir, inner);
		return -1;
	}
	return 0;
}
