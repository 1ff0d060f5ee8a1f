/* cellvm-devrun: runs one device process in isolation, as the vCPU core
 * would, and plays a script of guest accesses against it. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "devices/uart/uart_host.h"
#include "tools/common/devhost.h"
#include "tools/devrun/script.h"

enum { EXIT_EXPECT = 1, EXIT_USAGE = 2, EXIT_DEVICE = 3 };

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cellvm-devrun [OPTIONS] DEVICE [DEVICE OPTIONS...]\n"
		"\n"
		"Runs one cellvm device process on its own, as the vCPU core would: makes\n"
		"its exit rings and eventfds, sends its setup, then plays a script of\n"
		"accesses (from --script FILE, or stdin), printing each with its answer.\n"
		"\n"
		"Options:\n"
		"  --script FILE     read the script from FILE instead of stdin\n"
		"  --no-sandbox      run the device without seccomp and namespaces (debugging)\n"
		"  --poll-us N       device spins N us on empty rings before sleeping (default 0)\n"
		"  --timeout-ms N    how long a read may wait for its answer (default 5000)\n"
		"  --device-bin PATH the device binary (default: cellvm-dev-DEVICE next to devrun)\n"
		"  --test-trap WHAT  test builds: the device makes a forbidden syscall\n"
		"                    (socket, open, execve) at its first access\n"
		"  -q, --quiet       print only failures\n"
		"\n"
		"Devices:\n"
		"  uart [--port com1..com4|PORT] [--irq N] [--backend SPEC]\n"
		"      SPEC: file:PATH | unix:PATH | unix:PATH,server | stdio | none\n"
		"\n"
		"Script lines (numbers decimal or 0x hex, # comments):\n"
		"  out PORT SIZE VALUE            in PORT SIZE [expect VALUE]\n"
		"  mmio-write ADDR SIZE VALUE     mmio-read ADDR SIZE [expect VALUE]\n"
		"  wait-irq [TIMEOUT_MS]          no-irq [TIMEOUT_MS]        sleep MS\n"
		"\n"
		"Exit status: 0 all lines passed, 1 an expectation failed, 2 usage or setup\n"
		"error, 3 the device failed (died, protocol error, no answer).\n"
		"\n"
		"Example:\n"
		"  cellvm-devrun --script t.txt uart --port 0x3f8 --backend file:/tmp/com1.txt\n");
}

struct run {
	struct devhost h;
	bool quiet;
};

static int device_failed(struct run *r, const char *what)
{
	char how[256];
	devhost_reap(&r->h, 500);
	devhost_drain_messages(&r->h);
	devhost_describe_end(&r->h, how, sizeof(how));
	fprintf(stderr, "cellvm-devrun: %s\ncellvm-devrun: %s\n", what, how);
	return EXIT_DEVICE;
}

/* Waits for any of the device's IRQ lines.  Returns the index or -1. */
static int wait_irq(struct run *r, uint64_t ms)
{
	struct pollfd p[DEVICE_MAX_IRQS];
	for (size_t i = 0; i < r->h.nirqs; i++)
		p[i] = (struct pollfd){.fd = r->h.irq_fds[i], .events = POLLIN};
	if (poll(p, r->h.nirqs, (int)ms) <= 0)
		return -1;
	for (size_t i = 0; i < r->h.nirqs; i++)
		if (p[i].revents & POLLIN) {
			uint64_t v;
			if (read(p[i].fd, &v, sizeof(v)) < 0)
				return -1;
			return (int)i;
		}
	return -1;
}

static int run_cmd(struct run *r, const struct script_cmd *c, unsigned lineno)
{
	struct ring_producer *p = &r->h.prod[0];
	char msg[200];
	int rc;
	switch (c->op) {
	case OP_OUT:
	case OP_MMIO_WRITE: {
		bool pio = c->op == OP_OUT;
		rc = ring_post_write(p, pio ? RING_PIO : RING_MMIO, c->addr, c->size, c->value);
		if (rc < 0) {
			snprintf(msg, sizeof(msg), "line %u: write failed: %s", lineno, p->err);
			return device_failed(r, msg);
		}
		if (!r->quiet)
			printf("%s 0x%llx/%u <- 0x%llx\n", pio ? "out" : "mmio-write",
			       (unsigned long long)c->addr, c->size, (unsigned long long)c->value);
		return 0;
	}
	case OP_IN:
	case OP_MMIO_READ: {
		bool pio = c->op == OP_IN;
		uint64_t v;
		rc = ring_read(p, pio ? RING_PIO : RING_MMIO, c->addr, c->size, &v);
		if (rc < 0 && rc != -EFAULT) {
			snprintf(msg, sizeof(msg), "line %u: read failed: %s", lineno, p->err);
			return device_failed(r, msg);
		}
		if (!r->quiet)
			printf("%s 0x%llx/%u -> 0x%llx%s\n", pio ? "in" : "mmio-read",
			       (unsigned long long)c->addr, c->size, (unsigned long long)v,
			       rc == -EFAULT ? " (device refused)" : "");
		if (c->expect && v != c->value) {
			fprintf(stderr, "cellvm-devrun: line %u: read 0x%llx, expected 0x%llx\n",
				lineno, (unsigned long long)v, (unsigned long long)c->value);
			return EXIT_EXPECT;
		}
		return 0;
	}
	case OP_WAIT_IRQ: {
		int line = wait_irq(r, c->ms);
		if (line < 0) {
			fprintf(stderr, "cellvm-devrun: line %u: no interrupt within %llu ms\n",
				lineno, (unsigned long long)c->ms);
			return EXIT_EXPECT;
		}
		if (!r->quiet)
			printf("irq %u\n", r->h.irq_gsi[line]);
		return 0;
	}
	case OP_NO_IRQ: {
		int line = wait_irq(r, c->ms);
		if (line >= 0) {
			fprintf(stderr, "cellvm-devrun: line %u: unexpected interrupt on irq %u\n",
				lineno, r->h.irq_gsi[line]);
			return EXIT_EXPECT;
		}
		if (!r->quiet)
			printf("no irq\n");
		return 0;
	}
	case OP_SLEEP: {
		struct timespec ts = {(time_t)(c->ms / 1000), (long)(c->ms % 1000) * 1000000};
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		return 0;
	}
	default:
		return 0;
	}
}

static int run_script(struct run *r, FILE *in, const char *name)
{
	char line[512];
	unsigned lineno = 0;
	while (fgets(line, sizeof(line), in)) {
		lineno++;
		struct script_cmd c;
		char err[160];
		if (script_parse(line, &c, err, sizeof(err)) < 0) {
			fprintf(stderr, "cellvm-devrun: %s:%u: %s\n", name, lineno, err);
			return EXIT_USAGE;
		}
		int rc = run_cmd(r, &c, lineno);
		fflush(stdout);
		if (rc)
			return rc;
		if (devhost_drain_messages(&r->h) < 0 || devhost_reap(&r->h, 0))
			return device_failed(r, "the device process ended during the script");
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"script", required_argument, NULL, 's'},
		{"no-sandbox", no_argument, NULL, 'n'},
		{"poll-us", required_argument, NULL, 'p'},
		{"timeout-ms", required_argument, NULL, 't'},
		{"device-bin", required_argument, NULL, 'b'},
		{"test-trap", required_argument, NULL, 'T'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	static struct run r;
	const char *script = NULL, *bin = NULL, *trap = "";
	bool sandbox = true;
	unsigned long poll_us = 0, timeout_ms = 5000;
	int c;
	/* '+': stop at the device name; what follows is the device's. */
	while ((c = getopt_long(argc, argv, "+qh", opts, NULL)) != -1) {
		char *end;
		switch (c) {
		case 's': script = optarg; break;
		case 'n': sandbox = false; break;
		case 'b': bin = optarg; break;
		case 'T': trap = optarg; break;
		case 'q': r.quiet = true; break;
		case 'p':
		case 't': {
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end || end == optarg || v > 100000000) {
				fprintf(stderr, "cellvm-devrun: bad number '%s'\n", optarg);
				return EXIT_USAGE;
			}
			*(c == 'p' ? &poll_us : &timeout_ms) = v;
			break;
		}
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *model = argv[optind];
	if (strcmp(model, "uart") != 0) {
		fprintf(stderr, "cellvm-devrun: unknown device '%s' (known: uart)\n", model);
		return EXIT_USAGE;
	}
	devhost_init(&r.h, model, "devrun");
	r.h.poll_us = (unsigned)poll_us;
	r.h.timeout_ns = timeout_ms * 1000000ull;
	snprintf(r.h.test_trap, sizeof(r.h.test_trap), "%s", trap);
	if (uart_host_configure(&r.h, argc - optind - 1, argv + optind + 1) < 0) {
		fprintf(stderr, "cellvm-devrun: %s\n", r.h.err);
		return EXIT_USAGE;
	}

	char path[4096];
	if (!bin) {
		if (devhost_find_binary(model, path, sizeof(path)) < 0) {
			fprintf(stderr, "cellvm-devrun: cannot find cellvm-dev-%s next to devrun "
					"(use --device-bin or CELLVM_DEVICE_DIR)\n",
				model);
			return EXIT_USAGE;
		}
		bin = path;
	}
	if (access(bin, X_OK) < 0) {
		fprintf(stderr, "cellvm-devrun: %s: %s\n", bin, strerror(errno));
		return EXIT_USAGE;
	}
	FILE *in = stdin;
	if (script && !(in = fopen(script, "r"))) {
		fprintf(stderr, "cellvm-devrun: %s: %s\n", script, strerror(errno));
		return EXIT_USAGE;
	}
	if (devhost_start(&r.h, bin, sandbox) < 0) {
		fprintf(stderr, "cellvm-devrun: %s\n", r.h.err);
		devhost_stop(&r.h);
		return EXIT_DEVICE;
	}
	fprintf(stderr, "cellvm-devrun: %s pid %d ready; sandbox: %s%s%s\n", bin, (int)r.h.pid,
		r.h.sandboxed ? "seccomp" : "OFF",
		r.h.sandboxed ? ", namespaces " : "",
		r.h.sandboxed ? (r.h.namespaces[0] ? r.h.namespaces : "none") : "");
	int rc = run_script(&r, in, script ? script : "stdin");
	if (in != stdin)
		fclose(in);
	if (rc == EXIT_DEVICE) {
		devhost_stop(&r.h);
		return rc;
	}
	if (devhost_stop(&r.h) < 0 || !devhost_reap(&r.h, 0) || r.h.wstatus != 0) {
		char how[256];
		devhost_describe_end(&r.h, how, sizeof(how));
		fprintf(stderr, "cellvm-devrun: device did not shut down cleanly: %s\n", how);
		return rc ? rc : EXIT_DEVICE;
	}
	return rc;
}
