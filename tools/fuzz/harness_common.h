/* What every fuzz harness shares: invariant checks that abort (under
 * libFuzzer that is the crash report; in a unit test that links a harness,
 * the test fails), a trace switch, and the environment switches each
 * harness reads at start:
 *   CELLVM_FUZZ_<NAME>_WRITE_SEEDS=DIR  write its seed inputs to DIR, exit
 *   CELLVM_FUZZ_<NAME>_TRACE=1          trace what each input does */
#ifndef CELLVM_TOOLS_FUZZ_HARNESS_COMMON_H
#define CELLVM_TOOLS_FUZZ_HARNESS_COMMON_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char *fuzz_name; /* in messages: "fuzz_net" */
extern bool fuzz_trace;

#define FUZZ_CHECK(cond, ...)                                                             \
	do {                                                                              \
		if (!(cond)) {                                                            \
			fprintf(stderr, "%s: invariant violated at %s:%d: %s: ",          \
				fuzz_name, __FILE__, __LINE__, #cond);                    \
			fprintf(stderr, __VA_ARGS__);                                     \
			fputc('\n', stderr);                                              \
			abort();                                                          \
		}                                                                         \
	} while (0)

/* A failure of the harness itself (fd exhaustion means the harness leaks). */
#define FUZZ_MUST(cond) FUZZ_CHECK(cond, "harness: %s", strerror(errno))

#define FUZZ_TRACE(...)                               \
	do {                                          \
		if (fuzz_trace)                       \
			fprintf(stderr, __VA_ARGS__); \
	} while (0)

/* For LLVMFuzzerInitialize: names the harness ("fuzz_net"), reads
 * CELLVM_FUZZ_<ENV>_TRACE, and with CELLVM_FUZZ_<ENV>_WRITE_SEEDS=DIR calls
 * WRITE_SEEDS(DIR) (when not NULL) and exits. */
void fuzz_setup(const char *name, const char *env, void (*write_seeds)(const char *dir));

#endif
