/* Control channel tests: round trip with fds, and every way a message can be
 * malformed (truncated, oversized, undecodable, wrong type, too many fds),
 * checking that no received fd leaks on an error. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/common/device.h"
#include "devices/uart/uart_dev.h"
#include "ipc/control.h"

static int pair[2];

static int setup_pair(void **st)
{
	(void)st;
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair);
}

static int teardown_pair(void **st)
{
	(void)st;
	close(pair[0]);
	close(pair[1]);
	return 0;
}

static int open_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void test_setup_round_trip_with_fds(void **st)
{
	(void)st;
	int p[2];
	assert_int_equal(pipe(p), 0);
	int ev = eventfd(0, EFD_CLOEXEC);
	Cellvm__AddrRange r = CELLVM__ADDR_RANGE__INIT;
	r.kind = CELLVM__ADDR_RANGE__KIND__PIO;
	r.addr = 0x3f8;
	r.size = 8;
	Cellvm__AddrRange *rp = &r;
	Cellvm__Setup s = CELLVM__SETUP__INIT;
	s.device = "uart";
	s.instance = "com1";
	s.n_ranges = 1;
	s.ranges = &rp;
	s.guest_memory_fd = -1;
	ControlMsg m = CELLVM__CONTROL__INIT;
	m.msg_case = CELLVM__CONTROL__MSG_SETUP;
	m.setup = &s;
	int send_fds[2] = {p[1], ev};
	assert_int_equal(control_send(pair[0], &m, send_fds, 2), 0);

	ControlMsg *got;
	int fds[4];
	size_t nfds;
	char err[200];
	assert_int_equal(control_recv(pair[1], &got, fds, &nfds, 4, err, sizeof(err)), 0);
	assert_int_equal(got->msg_case, CELLVM__CONTROL__MSG_SETUP);
	assert_string_equal(got->setup->device, "uart");
	assert_string_equal(got->setup->instance, "com1");
	assert_int_equal(got->setup->n_ranges, 1);
	assert_int_equal(got->setup->ranges[0]->addr, 0x3f8);
	assert_int_equal(got->setup->guest_memory_fd, -1);
	assert_int_equal(nfds, 2);
	/* The fds are live: what goes into the received pipe end comes out. */
	assert_int_equal(write(fds[0], "x", 1), 1);
	char c;
	assert_int_equal(read(p[0], &c, 1), 1);
	assert_int_equal(c, 'x');
	control_free(got);
	for (int i = 0; i < 2; i++)
		close(fds[i]);
	close(p[0]);
	close(p[1]);
	close(ev);
}

static int recv_error(int *nfds_out)
{
	ControlMsg *got;
	int fds[CONTROL_MAX_FDS];
	size_t nfds = 99;
	char err[200];
	int rc = control_recv(pair[1], &got, fds, &nfds, 4, err, sizeof(err));
	assert_null(got);
	assert_true(err[0] != 0);
	if (nfds_out)
		*nfds_out = (int)nfds;
	return rc;
}

static void test_truncated_message(void **st)
{
	(void)st;
	ControlMsg m = CELLVM__CONTROL__INIT;
	Cellvm__Log log = CELLVM__LOG__INIT;
	log.text = "a log line long enough to cut in half";
	m.msg_case = CELLVM__CONTROL__MSG_LOG;
	m.log = &log;
	uint8_t buf[256];
	size_t len = cellvm__control__pack(&m, buf);
	assert_int_equal(send(pair[0], buf, len / 2, 0), (ssize_t)(len / 2));
	assert_int_equal(recv_error(NULL), -EBADMSG);
}

static void test_oversized_message(void **st)
{
	(void)st;
	size_t len = CONTROL_MAX_MSG + 100;
	char *big = calloc(1, len);
	assert_int_equal(send(pair[0], big, len, 0), (ssize_t)len);
	assert_int_equal(recv_error(NULL), -EMSGSIZE);
	free(big);
	/* And the sender refuses to build one. */
	char *text = malloc(len);
	memset(text, 'a', len - 1);
	text[len - 1] = 0;
	ControlMsg m = CELLVM__CONTROL__INIT;
	Cellvm__Log log = CELLVM__LOG__INIT;
	log.text = text;
	m.msg_case = CELLVM__CONTROL__MSG_LOG;
	m.log = &log;
	assert_int_equal(control_send(pair[0], &m, NULL, 0), -EMSGSIZE);
	free(text);
}

static void test_garbage_and_empty_messages(void **st)
{
	(void)st;
	uint8_t junk[64];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 37 + 11);
	assert_int_equal(send(pair[0], junk, sizeof(junk), 0), (ssize_t)sizeof(junk));
	assert_int_equal(recv_error(NULL), -EBADMSG);
	/* Well-formed protobuf, but no message type we know (field 20). */
	uint8_t unknown[] = {0xa0, 0x01, 0x05};
	assert_int_equal(send(pair[0], unknown, sizeof(unknown), 0), (ssize_t)sizeof(unknown));
	assert_int_equal(recv_error(NULL), -EBADMSG);
}

static void test_fds_closed_on_error(void **st)
{
	(void)st;
	int before = open_fds();
	int ev[6];
	for (int i = 0; i < 6; i++)
		ev[i] = eventfd(0, EFD_CLOEXEC);
	/* Garbage with fds attached. */
	uint8_t junk[] = {0xff, 0xff, 0xff};
	struct iovec iov = {junk, sizeof(junk)};
	union {
		char b[CMSG_SPACE(sizeof(int) * 6)];
		struct cmsghdr a;
	} cb;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.b,
			    .msg_controllen = CMSG_SPACE(sizeof(int) * 2)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * 2);
	memcpy(CMSG_DATA(c), ev, sizeof(int) * 2);
	assert_true(sendmsg(pair[0], &mh, 0) > 0);
	assert_int_equal(recv_error(NULL), -EBADMSG);
	/* A good message with more fds than the receiver takes (4). */
	ControlMsg m = CELLVM__CONTROL__INIT;
	Cellvm__Reset reset = CELLVM__RESET__INIT;
	m.msg_case = CELLVM__CONTROL__MSG_RESET;
	m.reset = &reset;
	assert_int_equal(control_send(pair[0], &m, ev, 6), 0);
	assert_int_equal(recv_error(NULL), -EMSGSIZE);
	for (int i = 0; i < 6; i++)
		close(ev[i]);
	assert_int_equal(open_fds(), before);
}

static void test_too_many_fds(void **st)
{
	(void)st;
	int fds[CONTROL_MAX_FDS + 1];
	for (int i = 0; i <= CONTROL_MAX_FDS; i++)
		fds[i] = 0;
	ControlMsg m = CELLVM__CONTROL__INIT;
	Cellvm__Reset reset = CELLVM__RESET__INIT;
	m.msg_case = CELLVM__CONTROL__MSG_RESET;
	m.reset = &reset;
	assert_int_equal(control_send(pair[0], &m, fds, CONTROL_MAX_FDS + 1), -EMSGSIZE);
}

static void test_peer_closed(void **st)
{
	(void)st;
	close(pair[0]);
	pair[0] = -1;
	assert_int_equal(recv_error(NULL), -ECONNRESET);
}

static void test_log_and_error_helpers(void **st)
{
	(void)st;
	assert_int_equal(control_send_log(pair[0], CELLVM__LOG__LEVEL__WARNING, "n=%d", 42), 0);
	assert_int_equal(control_send_error(pair[0], "bad %s", "thing"), 0);
	ControlMsg *got;
	int fds[1];
	size_t nfds;
	char err[200];
	assert_int_equal(control_recv(pair[1], &got, fds, &nfds, 0, err, sizeof(err)), 0);
	assert_int_equal(got->msg_case, CELLVM__CONTROL__MSG_LOG);
	assert_int_equal(got->log->level, CELLVM__LOG__LEVEL__WARNING);
	assert_string_equal(got->log->text, "n=42");
	control_free(got);
	assert_int_equal(control_recv(pair[1], &got, fds, &nfds, 0, err, sizeof(err)), 0);
	assert_int_equal(got->msg_case, CELLVM__CONTROL__MSG_ERROR);
	assert_string_equal(got->error->text, "bad thing");
	control_free(got);
}

/* A device refuses setups that do not describe it, naming what is wrong. */
static const char *setup_error(ControlMsg *m, int *fds, size_t nfds)
{
	static struct device d;
	memset(&d, 0, sizeof(d));
	d.ops = &uart_device_ops;
	d.control_fd = -1;
	int rc = device_setup(&d, m, fds, nfds);
	device_release(&d);
	return rc == 0 ? NULL : d.err;
}

static void test_device_rejects_bad_setups(void **st)
{
	(void)st;
	Cellvm__AddrRange r = CELLVM__ADDR_RANGE__INIT;
	r.kind = CELLVM__ADDR_RANGE__KIND__PIO;
	r.addr = 0x3f8;
	r.size = 8;
	Cellvm__AddrRange *rp = &r;
	Cellvm__Rings rings = CELLVM__RINGS__INIT;
	rings.memfd = 0;
	rings.doorbell_fd = 1;
	rings.count = 1;
	rings.entries = 16;
	Cellvm__IrqLine irq = CELLVM__IRQ_LINE__INIT;
	irq.fd = 2;
	irq.gsi = 4;
	irq.resample_fd = -1;
	Cellvm__IrqLine *ip = &irq;
	Cellvm__Setup s = CELLVM__SETUP__INIT;
	s.device = "uart";
	s.n_ranges = 1;
	s.ranges = &rp;
	s.rings = &rings;
	s.n_irqs = 1;
	s.irqs = &ip;
	ControlMsg m = CELLVM__CONTROL__INIT;
	m.msg_case = CELLVM__CONTROL__MSG_SETUP;
	m.setup = &s;

#define FRESH_FDS()                                                                      \
	int fds[3] = {ring_set_create(1, 16), eventfd(0, EFD_CLOEXEC), eventfd(0, EFD_CLOEXEC)}

	{
		FRESH_FDS();
		assert_null(setup_error(&m, fds, 3)); /* the good one */
	}
	{
		FRESH_FDS();
		s.device = "disk";
		assert_non_null(strstr(setup_error(&m, fds, 3), "'disk'"));
		s.device = "uart";
	}
	{
		FRESH_FDS();
		r.addr = 0xfffc; /* runs past the port space */
		assert_non_null(strstr(setup_error(&m, fds, 3), "out of bounds"));
		r.addr = 0x3f8;
	}
	{
		FRESH_FDS();
		r.size = 16;
		assert_non_null(strstr(setup_error(&m, fds, 3), "8 ports"));
		r.size = 8;
	}
	{
		FRESH_FDS();
		irq.fd = 7;
		assert_non_null(strstr(setup_error(&m, fds, 3), "fd 7"));
		irq.fd = 2;
	}
	{
		FRESH_FDS();
		rings.entries = 32; /* the memfd holds 16 */
		assert_non_null(strstr(setup_error(&m, fds, 3), "bytes"));
		rings.entries = 16;
	}
	{
		FRESH_FDS();
		s.rings = NULL;
		assert_non_null(strstr(setup_error(&m, fds, 3), "no rings"));
		s.rings = &rings;
	}
	{
		FRESH_FDS();
		s.test_trap = "socket"; /* not in a release build */
		assert_non_null(strstr(setup_error(&m, fds, 3), "test hooks"));
		s.test_trap = "";
	}
	{
		FRESH_FDS();
		ControlMsg wrong = CELLVM__CONTROL__INIT;
		Cellvm__Reset reset = CELLVM__RESET__INIT;
		wrong.msg_case = CELLVM__CONTROL__MSG_RESET;
		wrong.reset = &reset;
		assert_non_null(strstr(setup_error(&wrong, fds, 3), "expected a setup"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_setup_round_trip_with_fds, setup_pair,
						teardown_pair),
		cmocka_unit_test_setup_teardown(test_truncated_message, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_oversized_message, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_garbage_and_empty_messages, setup_pair,
						teardown_pair),
		cmocka_unit_test_setup_teardown(test_fds_closed_on_error, setup_pair,
						teardown_pair),
		cmocka_unit_test_setup_teardown(test_too_many_fds, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_peer_closed, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_log_and_error_helpers, setup_pair,
						teardown_pair),
		cmocka_unit_test(test_device_rejects_bad_setups),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
