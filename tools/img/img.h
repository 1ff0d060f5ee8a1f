/* cellvm-img: the pieces its subcommands share (opening images, sizes,
 * JSON, progress).  Each subcommand lives in its own file. */
#ifndef CELLVM_TOOLS_IMG_IMG_H
#define CELLVM_TOOLS_IMG_IMG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "devices/disk/image.h"

/* Exit status for usage errors and failures (qemu-img uses 1 for both). */
enum { IMG_EXIT_FAIL = 1 };

/* One subcommand: RUN gets argv with argv[0] the subcommand's name. */
struct img_command {
	const char *name;
	int (*run)(int argc, char **argv);
	void (*help)(FILE *f);
	const char *summary;
};

int img_create_main(int argc, char **argv);
int img_info_main(int argc, char **argv);
int img_check_main(int argc, char **argv);
int img_convert_main(int argc, char **argv);
int img_resize_main(int argc, char **argv);
int img_map_main(int argc, char **argv);
int img_snapshot_main(int argc, char **argv);
int img_compare_main(int argc, char **argv);
int img_bench_main(int argc, char **argv);
void img_create_help(FILE *f);
void img_info_help(FILE *f);
void img_check_help(FILE *f);
void img_convert_help(FILE *f);
void img_resize_help(FILE *f);
void img_map_help(FILE *f);
void img_snapshot_help(FILE *f);
void img_compare_help(FILE *f);
void img_bench_help(FILE *f);

/* "cellvm-img: " + message + newline on stderr.  Returns IMG_EXIT_FAIL. */
int img_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* For a bad command line: the message and a hint to CMD --help. */
int img_usage_fail(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Sizes: plain bytes, or a number (may have a fraction) with one of the
 * suffixes b/B (bytes), k/K, m/M, g/G, t/T, p/P, e/E (powers of 1024),
 * or 0x hex.  Returns 0, or -1 with a reason in ERR. */
int img_parse_size(const char *s, uint64_t *out, char *err, size_t errlen);
/* "1 MiB", "1.5 GiB", "84 KiB", "0 B". */
void img_format_size(uint64_t bytes, char *buf, size_t len);

/* "raw", "qcow2" -> the format; -1 for anything else. */
int img_parse_format(const char *s, enum image_format *out);
const char *img_format_name(enum image_format f);
/* --output: "human" or "json" -> *JSON; -1 for anything else. */
int img_parse_output(const char *s, bool *json);

/* Opens PATH with the given format; on failure prints the library's reason
 * and returns non-zero. */
int img_open(const char *path, enum image_format fmt, bool readonly,
	     bool no_backing, struct image **out);
/* The same, read-only at internal snapshot SNAPSHOT (id or name). */
int img_open_snapshot(const char *path, enum image_format fmt, const char *snapshot,
		      struct image **out);
/* The path a backing NAME of an image at CHILD refers to, resolved as the
 * library does (relative to the child's directory).  Caller frees. */
char *img_backing_path(const char *child, const char *name);

/* qemu-img style -o lists: "key=value,key=value".  Calls FN for each pair;
 * stops at FN's first non-zero return.  ",," is a literal comma.  LIST is
 * split in place; the strings FN gets point into it. */
int img_parse_opts(char *list, int (*fn)(void *ctx, const char *key,
					 const char *value), void *ctx);
/* on/off/true/false/yes/no. Returns -1 if none of those. */
int img_parse_bool(const char *s, bool *out);

/* create's -o list into O (also used by convert); WHY says what is wrong. */
int img_create_parse_opts(char *list, struct image_create_options *o,
			  bool *have_size, char *why, size_t whylen);
/* The first option in O that a raw image cannot have, or NULL. */
const char *img_create_raw_refuses(const struct image_create_options *o);

/* JSON output: a string with escapes. */
void img_json_string(FILE *f, const char *s);

/* A progress bar on stderr, only when it was asked for (-p) and stderr is
 * a terminal. */
struct img_progress {
	bool on;
	int last_permille;
};
void img_progress_start(struct img_progress *p, bool wanted);
void img_progress_update(struct img_progress *p, uint64_t done, uint64_t total);
void img_progress_end(struct img_progress *p);

#endif
