/* Exit ring tests: ordering, wrap-around, a full ring, many rings, two
 * processes, doorbell, and malformed or hostile shared memory. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ipc/exit_ring.h"

#define MS 1000000ull

struct fixture {
	int memfd, bell;
	struct ring_set prod_view, cons_view; /* two mappings, as two processes */
};

static void fixture_make(struct fixture *f, unsigned count, unsigned entries)
{
	char err[160];
	f->memfd = ring_set_create(count, entries);
	assert_true(f->memfd >= 0);
	f->bell = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(f->bell >= 0);
	assert_int_equal(ring_set_map(&f->prod_view, f->memfd, count, entries, f->bell, err,
				      sizeof(err)),
			 0);
	assert_int_equal(ring_set_map(&f->cons_view, f->memfd, count, entries, f->bell, err,
				      sizeof(err)),
			 0);
}

static void fixture_free(struct fixture *f)
{
	ring_set_unmap(&f->prod_view);
	ring_set_unmap(&f->cons_view);
	close(f->memfd);
	close(f->bell);
}

static void test_writes_arrive_in_order(void **st)
{
	(void)st;
	struct fixture f;
	fixture_make(&f, 1, 16);
	struct ring_producer p;
	struct ring_consumer c;
	ring_producer_init(&p, &f.prod_view, 0, 100 * MS);
	ring_consumer_init(&c, &f.cons_view, 0);
	for (unsigned i = 0; i < 10; i++)
		assert_int_equal(ring_post_write(&p, RING_PIO, 0x3f8 + (i % 8), 1, i), 0);
	struct exit_access a;
	for (unsigned i = 0; i < 10; i++) {
		assert_int_equal(ring_consume(&c, &a), 1);
		assert_int_equal(a.kind, RING_PIO);
		assert_int_equal(a.dir, RING_WRITE);
		assert_int_equal(a.addr, 0x3f8 + (i % 8));
		assert_int_equal(a.size, 1);
		assert_int_equal(a.data, i);
	}
	assert_int_equal(ring_consume(&c, &a), 0);
	assert_true(ring_empty(&c));
	fixture_free(&f);
}

static void test_wraps_around(void **st)
{
	(void)st;
	struct fixture f;
	fixture_make(&f, 1, 4);
	struct ring_producer p;
	struct ring_consumer c;
	ring_producer_init(&p, &f.prod_view, 0, 100 * MS);
	ring_consumer_init(&c, &f.cons_view, 0);
	struct exit_access a;
	/* Thirty times around a four-entry ring, three entries at a time. */
	for (uint64_t n = 0; n < 120; n += 3) {
		for (uint64_t k = 0; k < 3; k++)
			assert_int_equal(ring_post_write(&p, RING_MMIO, 0x1000, 8, n + k), 0);
		for (uint64_t k = 0; k < 3; k++) {
			assert_int_equal(ring_consume(&c, &a), 1);
			assert_int_equal(a.data, n + k);
		}
	}
	fixture_free(&f);
}

static void test_full_ring_times_out_without_consumer(void **st)
{
	(void)st;
	struct fixture f;
	fixture_make(&f, 1, 4);
	struct ring_producer p;
	ring_producer_init(&p, &f.prod_view, 0, 30 * MS);
	p.spin_ns = 0;
	for (int i = 0; i < 4; i++)
		assert_int_equal(ring_post_write(&p, RING_PIO, 0x80, 1, (uint64_t)i), 0);
	assert_int_equal(ring_post_write(&p, RING_PIO, 0x80, 1, 9), -ETIMEDOUT);
	assert_non_null(strstr(p.err, "ring full"));
	fixture_free(&f);
}

struct slow_consumer {
	struct ring_consumer c;
	uint64_t sum, count, want;
};

static void *slow_consume(void *arg)
{
	struct slow_consumer *s = arg;
	struct exit_access a;
	while (s->count < s->want) {
		int rc = ring_consume(&s->c, &a);
		if (rc < 0)
			return NULL;
		if (rc == 0) {
			ring_consumer_flush(&s->c);
			usleep(100);
			continue;
		}
		s->sum += a.data;
		s->count++;
		if (s->count % 3 == 0) {
			ring_consumer_flush(&s->c);
			usleep(50); /* keep the producer running into a full ring */
		}
	}
	ring_consumer_flush(&s->c);
	return NULL;
}

static void test_full_ring_backpressure_loses_nothing(void **st)
{
	(void)st;
	struct fixture f;
	fixture_make(&f, 1, 4);
	struct ring_producer p;
	ring_producer_init(&p, &f.prod_view, 0, 5000 * MS);
	p.spin_ns = 0; /* sleep on the futex quickly */
	struct slow_consumer s = {.want = 2000};
	ring_consumer_init(&s.c, &f.cons_view, 0);
	pthread_t t;
	pthread_create(&t, NULL, slow_consume, &s);
	uint64_t sum = 0;
	for (uint64_t i = 1; i <= s.want; i++) {
		assert_int_equal(ring_post_write(&p, RING_PIO, 0x80, 4, i), 0);
		sum += i;
	}
	assert_int_equal(ring_drain(&p), 0);
	pthread_join(t, NULL);
	assert_int_equal(s.count, s.want);
	assert_int_equal(s.sum, sum);
	fixture_free(&f);
}

/* A consumer that answers reads with addr ^ 0xffff and checks writes
 * arrive in order per ring. */
struct echo {
	struct ring_set *rs;
	unsigned nrings;
	uint64_t expect_next[RING_MAX_RINGS];
	uint64_t reads, writes, stop_after;
	int error;
};

static void *echo_serve(void *arg)
{
	struct echo *e = arg;
	struct ring_consumer c[RING_MAX_RINGS];
	for (unsigned i = 0; i < e->nrings; i++)
		ring_consumer_init(&c[i], e->rs, i);
	while (e->reads + e->writes < e->stop_after) {
		for (unsigned i = 0; i < e->nrings; i++) {
			struct exit_access a;
			int rc;
			while ((rc = ring_consume(&c[i], &a)) > 0) {
				if (a.dir == RING_READ) {
					e->reads++;
					ring_complete(&c[i], a.addr ^ 0xffff, RING_OK);
				} else {
					e->writes++;
					if (a.addr != i || a.data != e->expect_next[i])
						e->error = 1;
					e->expect_next[i] = a.data + 1;
				}
			}
			ring_consumer_flush(&c[i]);
			if (rc < 0) {
				e->error = 2;
				return NULL;
			}
		}
	}
	return NULL;
}

struct vcpu_arg {
	struct ring_set *rs;
	unsigned idx;
	unsigned n;
	int failures;
};

static void *vcpu_run(void *arg)
{
	struct vcpu_arg *v = arg;
	struct ring_producer p;
	ring_producer_init(&p, v->rs, v->idx, 5000 * MS);
	for (unsigned i = 0; i < v->n; i++) {
		if (ring_post_write(&p, RING_MMIO, v->idx, 8, i) < 0)
			v->failures++;
		if (i % 16 == 15) {
			uint64_t d;
			/* The read is answered only after the writes before it. */
			if (ring_read(&p, RING_PIO, 0x100 + v->idx, 2, &d) < 0 ||
			    d != ((0x100 + v->idx) ^ 0xffff))
				v->failures++;
		}
	}
	return NULL;
}

static void test_many_rings_one_consumer(void **st)
{
	(void)st;
	enum { RINGS = 8, PER = 4000 };
	struct fixture f;
	fixture_make(&f, RINGS, 16);
	struct echo e = {.rs = &f.cons_view, .nrings = RINGS,
			 .stop_after = RINGS * (PER + PER / 16)};
	pthread_t ct, vt[RINGS];
	struct vcpu_arg va[RINGS];
	pthread_create(&ct, NULL, echo_serve, &e);
	for (unsigned i = 0; i < RINGS; i++) {
		va[i] = (struct vcpu_arg){.rs = &f.prod_view, .idx = i, .n = PER};
		pthread_create(&vt[i], NULL, vcpu_run, &va[i]);
	}
	for (unsigned i = 0; i < RINGS; i++) {
		pthread_join(vt[i], NULL);
		assert_int_equal(va[i].failures, 0);
	}
	pthread_join(ct, NULL);
	assert_int_equal(e.error, 0);
	assert_int_equal(e.writes, RINGS * PER);
	assert_int_equal(e.reads, RINGS * PER / 16);
	fixture_free(&f);
}

static void test_two_processes(void **st)
{
	(void)st;
	enum { N = 20000 };
	int memfd = ring_set_create(1, 64);
	assert_true(memfd >= 0);
	int bell = eventfd(0, EFD_CLOEXEC);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* The device: its own mapping of the same memfd; sleeps on the
		 * doorbell when idle. */
		struct ring_set rs;
		char err[160];
		if (ring_set_map(&rs, memfd, 1, 64, bell, err, sizeof(err)) < 0)
			_exit(10);
		struct ring_consumer c;
		ring_consumer_init(&c, &rs, 0);
		uint64_t next = 0;
		for (;;) {
			struct exit_access a;
			int rc = ring_consume(&c, &a);
			if (rc < 0)
				_exit(11);
			if (rc == 0) {
				ring_consumer_flush(&c);
				ring_set_sleep_prepare(&rs);
				if (ring_empty(&c)) {
					uint64_t v;
					if (read(bell, &v, sizeof(v)) < 0)
						_exit(12);
				}
				ring_set_awake(&rs);
				continue;
			}
			if (a.dir == RING_READ) {
				ring_complete(&c, next, RING_OK);
				if (a.addr == 0xdead)
					_exit(0);
			} else if (a.data != next++) {
				_exit(13);
			}
		}
	}
	struct ring_set rs;
	char err[160];
	assert_int_equal(ring_set_map(&rs, memfd, 1, 64, bell, err, sizeof(err)), 0);
	struct ring_producer p;
	ring_producer_init(&p, &rs, 0, 5000 * MS);
	for (uint64_t i = 0; i < N; i++) {
		assert_int_equal(ring_post_write(&p, RING_MMIO, 0x1000, 8, i), 0);
		if (i % 1000 == 999) {
			uint64_t seen;
			assert_int_equal(ring_read(&p, RING_MMIO, 0x1000, 8, &seen), 0);
			assert_int_equal(seen, i + 1); /* every earlier write was applied */
		}
	}
	uint64_t last;
	assert_int_equal(ring_read(&p, RING_MMIO, 0xdead, 8, &last), 0);
	assert_int_equal(last, N);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	ring_set_unmap(&rs);
	close(memfd);
	close(bell);
}

static void test_doorbell_only_when_asked(void **st)
{
	(void)st;
	struct fixture f;
	fixture_make(&f, 2, 8);
	struct ring_producer p0, p1;
	ring_producer_init(&p0, &f.prod_view, 0, 100 * MS);
	ring_producer_init(&p1, &f.prod_view, 1, 100 * MS);
	uint64_t v;
	assert_int_equal(ring_post_write(&p0, RING_PIO, 1, 1, 1), 0);
	assert_int_equal(read(f.bell, &v, sizeof(v)), -1); /* device awake: no ring */
	ring_set_sleep_prepare(&f.cons_view);
	assert_int_equal(ring_post_write(&p0, RING_PIO, 1, 1, 2), 0);
	assert_int_equal(ring_post_write(&p1, RING_PIO, 1, 1, 3), 0);
	assert_int_equal(read(f.bell, &v, sizeof(v)), sizeof(v));
	assert_int_equal(v, 1); /* one ring for the sleep, not one per entry */
	fixture_free(&f);
}

static int always_gone(void *opaque)
{
	(void)opaque;
	return 1;
}

static void test_read_timeout_and_gone(void **st)
{
	(void)st;
	struct fixture f;
	fixture_make(&f, 1, 8);
	struct ring_producer p;
	ring_producer_init(&p, &f.prod_view, 0, 30 * MS);
	p.spin_ns = 0;
	uint64_t d;
	assert_int_equal(ring_read(&p, RING_PIO, 0x60, 1, &d), -ETIMEDOUT);
	assert_non_null(strstr(p.err, "no answer"));
	fixture_free(&f);

	fixture_make(&f, 1, 8);
	ring_producer_init(&p, &f.prod_view, 0, 10000 * MS);
	p.spin_ns = 0;
	p.gone = always_gone;
	assert_int_equal(ring_read(&p, RING_PIO, 0x60, 1, &d), -EPIPE);
	fixture_free(&f);
}

/* The producer's side of shared memory, written by hand as a hostile
 * producer would. */
static struct ring_entry *entry_at(struct ring_set *rs, unsigned ring, unsigned i)
{
	return (struct ring_entry *)(ring_set_ring(rs, ring) + 1) + (i & (rs->entries - 1));
}

static int consume_hostile(struct ring_entry e, uint32_t head)
{
	struct fixture f;
	fixture_make(&f, 1, 8);
	*entry_at(&f.prod_view, 0, 0) = e;
	ring_set_ring(&f.prod_view, 0)->head = head;
	struct ring_consumer c;
	ring_consumer_init(&c, &f.cons_view, 0);
	struct exit_access a;
	int rc = ring_consume(&c, &a);
	fixture_free(&f);
	return rc;
}

static void test_hostile_entries_rejected(void **st)
{
	(void)st;
	struct ring_entry good = {.seq = 0, .kind = RING_PIO, .dir = RING_READ, .size = 1,
				  .addr = 0x3f8};
	assert_int_equal(consume_hostile(good, 1), 1);
	struct ring_entry e = good;
	e.seq = 5;
	assert_int_equal(consume_hostile(e, 1), -EPROTO);
	e = good;
	e.size = 3;
	assert_int_equal(consume_hostile(e, 1), -EPROTO);
	e.size = 0;
	assert_int_equal(consume_hostile(e, 1), -EPROTO);
	e = good;
	e.kind = 7;
	assert_int_equal(consume_hostile(e, 1), -EPROTO);
	e = good;
	e.dir = 2;
	assert_int_equal(consume_hostile(e, 1), -EPROTO);
	e = good;
	e.size = 8; /* no 8-byte port accesses */
	assert_int_equal(consume_hostile(e, 1), -EPROTO);
	e = good;
	e.addr = 0x10000;
	assert_int_equal(consume_hostile(e, 1), -EPROTO);
	/* A head more than a ring ahead of the tail. */
	assert_int_equal(consume_hostile(good, 9), -EPROTO);
	assert_int_equal(consume_hostile(good, 0xfffffff0u), -EPROTO);
	/* Write data is cut to the access size. */
	e = good;
	e.dir = RING_WRITE;
	e.data = 0x1122334455667788ull;
	e.size = 2;
	struct fixture f;
	fixture_make(&f, 1, 8);
	*entry_at(&f.prod_view, 0, 0) = e;
	ring_set_ring(&f.prod_view, 0)->head = 1;
	struct ring_consumer c;
	ring_consumer_init(&c, &f.cons_view, 0);
	struct exit_access a;
	assert_int_equal(ring_consume(&c, &a), 1);
	assert_int_equal(a.data, 0x7788);
	fixture_free(&f);
}

static void test_unanswered_read_is_an_error(void **st)
{
	(void)st;
	struct fixture f;
	fixture_make(&f, 1, 8);
	struct ring_entry r = {.seq = 0, .kind = RING_PIO, .dir = RING_READ, .size = 1};
	struct ring_entry w = {.seq = 1, .kind = RING_PIO, .dir = RING_WRITE, .size = 1};
	*entry_at(&f.prod_view, 0, 0) = r;
	*entry_at(&f.prod_view, 0, 1) = w;
	ring_set_ring(&f.prod_view, 0)->head = 2;
	struct ring_consumer c;
	ring_consumer_init(&c, &f.cons_view, 0);
	struct exit_access a;
	assert_int_equal(ring_consume(&c, &a), 1);
	assert_int_equal(ring_consume(&c, &a), -EPROTO);
	ring_complete(&c, 0, RING_OK);
	assert_int_equal(ring_consume(&c, &a), 1);
	fixture_free(&f);
}

/* A hostile device: a wrong answer, or a tail it cannot have reached. */
static void test_hostile_consumer_rejected(void **st)
{
	(void)st;
	struct fixture f;
	fixture_make(&f, 1, 8);
	struct ring_producer p;
	ring_producer_init(&p, &f.prod_view, 0, 1000 * MS);
	p.spin_ns = 1000000000; /* answer arrives while spinning */
	struct ring_hdr *r = ring_set_ring(&f.cons_view, 0);
	pid_t pid = fork();
	if (pid == 0) {
		while (__atomic_load_n(&r->head, __ATOMIC_ACQUIRE) == 0)
			;
		__atomic_store_n(&r->resp_seq, 77, __ATOMIC_RELEASE); /* not seq 0 + 1 */
		_exit(0);
	}
	uint64_t d;
	assert_int_equal(ring_read(&p, RING_PIO, 0x60, 1, &d), -EPROTO);
	assert_non_null(strstr(p.err, "sequence"));
	waitpid(pid, NULL, 0);
	fixture_free(&f);

	fixture_make(&f, 1, 8);
	ring_producer_init(&p, &f.prod_view, 0, 100 * MS);
	for (int i = 0; i < 8; i++) /* full: the next post reads the tail */
		assert_int_equal(ring_post_write(&p, RING_PIO, 0x60, 1, 1), 0);
	ring_set_ring(&f.cons_view, 0)->tail = 100; /* past head 8 */
	assert_int_equal(ring_post_write(&p, RING_PIO, 0x60, 1, 1), -EPROTO);
	assert_non_null(strstr(p.err, "tail"));
	assert_int_equal(ring_drain(&p), -EPROTO);
	fixture_free(&f);

	fixture_make(&f, 1, 8);
	ring_producer_init(&p, &f.prod_view, 0, 100 * MS);
	p.spin_ns = 1000000000;
	r = ring_set_ring(&f.cons_view, 0);
	pid = fork();
	if (pid == 0) {
		while (__atomic_load_n(&r->head, __ATOMIC_ACQUIRE) == 0)
			;
		r->resp_status = 99;
		__atomic_store_n(&r->resp_seq, 1, __ATOMIC_RELEASE);
		_exit(0);
	}
	assert_int_equal(ring_read(&p, RING_PIO, 0x60, 1, &d), -EPROTO);
	waitpid(pid, NULL, 0);
	fixture_free(&f);
}

static void test_map_checks_the_memfd(void **st)
{
	(void)st;
	char err[160];
	struct ring_set rs;
	int fd = ring_set_create(2, 16);
	assert_true(fd >= 0);
	assert_int_equal(ring_set_map(&rs, fd, 2, 32, -1, err, sizeof(err)), -EINVAL);
	assert_int_equal(ring_set_map(&rs, fd, 3, 16, -1, err, sizeof(err)), -EINVAL);
	/* Cannot be grown or shrunk under a mapping. */
	assert_int_equal(ftruncate(fd, 1 << 20), -1);
	close(fd);
	/* Not a power of two, too many rings. */
	assert_int_equal(ring_set_create(2, 24), -EINVAL);
	assert_int_equal(ring_set_create(RING_MAX_RINGS + 1, 16), -EINVAL);
	/* An unsealed memfd of the right size, or a wrong header. */
	fd = memfd_create("x", MFD_CLOEXEC);
	assert_int_equal(ftruncate(fd, (off_t)ring_set_bytes(1, 16)), 0);
	assert_int_equal(ring_set_map(&rs, fd, 1, 16, -1, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "sealed"));
	close(fd);
	fd = memfd_create("x", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_int_equal(ftruncate(fd, (off_t)ring_set_bytes(1, 16)), 0);
	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK), 0);
	assert_int_equal(ring_set_map(&rs, fd, 1, 16, -1, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "header"));
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_writes_arrive_in_order),
		cmocka_unit_test(test_wraps_around),
		cmocka_unit_test(test_full_ring_times_out_without_consumer),
		cmocka_unit_test(test_full_ring_backpressure_loses_nothing),
		cmocka_unit_test(test_many_rings_one_consumer),
		cmocka_unit_test(test_two_processes),
		cmocka_unit_test(test_doorbell_only_when_asked),
		cmocka_unit_test(test_read_timeout_and_gone),
		cmocka_unit_test(test_hostile_entries_rejected),
		cmocka_unit_test(test_unanswered_read_is_an_error),
		cmocka_unit_test(test_hostile_consumer_rejected),
		cmocka_unit_test(test_map_checks_the_memfd),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
