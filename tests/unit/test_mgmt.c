/* The control socket's protocol (proto/mgmt.proto): the 4-byte length
 * framing (round trip, a length over the limit, a frame cut short, a
 * silent peer), and the supervisor's server (tools/cellvm/control_server.c)
 * listening in an event loop with stand-in callbacks: each request kind
 * reaches its callback, the reply carries the state, refusals carry the
 * error, kill comes after the reply, a request that does not decode gets
 * an error reply; clients that send nothing or half a frame do not delay
 * another's answer, are dropped at their deadline (which trickling bytes
 * do not push back), a full set of them makes the next client wait, not
 * fail, and an empty request body gets its answer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "proto/mgmt.pb-c.h"
#include "tools/cellvm/control_server.h"
#include "tools/libcellvm/mgmt_frame.h"

static int sv[2];

static int open_pair(void **state)
{
	(void)state;
	return socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
}

static int close_pair(void **state)
{
	(void)state;
	close(sv[0]);
	close(sv[1]);
	return 0;
}

static void test_frame_round_trip(void **state)
{
	(void)state;
	Cellvm__Mgmt__Request req = CELLVM__MGMT__REQUEST__INIT;
	req.kind = CELLVM__MGMT__REQUEST__KIND__PAUSE;
	assert_int_equal(mgmt_send(sv[0], &req.base), 0);
	uint8_t *buf;
	size_t len;
	assert_int_equal(mgmt_recv(sv[1], 1000, &buf, &len), 0);
	Cellvm__Mgmt__Request *got = cellvm__mgmt__request__unpack(NULL, len, buf);
	free(buf);
	assert_non_null(got);
	assert_int_equal(got->kind, CELLVM__MGMT__REQUEST__KIND__PAUSE);
	cellvm__mgmt__request__free_unpacked(got, NULL);
}

static void test_frame_too_long(void **state)
{
	(void)state;
	uint8_t hdr[4] = {0, 0x01, 0, 1}; /* 65537 bytes */
	assert_int_equal(write(sv[0], hdr, 4), 4);
	uint8_t *buf;
	size_t len;
	assert_int_equal(mgmt_recv(sv[1], 1000, &buf, &len), -EMSGSIZE);
}

static void test_frame_cut_short(void **state)
{
	(void)state;
	uint8_t part[6] = {0, 0, 0, 10, 1, 2};
	assert_int_equal(write(sv[0], part, 6), 6);
	shutdown(sv[0], SHUT_WR);
	uint8_t *buf;
	size_t len;
	assert_int_equal(mgmt_recv(sv[1], 1000, &buf, &len), -ECONNRESET);
}

static void test_frame_timeout(void **state)
{
	(void)state;
	uint8_t *buf;
	size_t len;
	assert_int_equal(mgmt_recv(sv[1], 50, &buf, &len), -ETIMEDOUT);
}

/* Stand-in supervisor. */
static struct {
	int buttons, pauses, resumes, kills;
	bool refuse;
	bool paused;
	bool replied_before_kill;
} calls;

static void fake_state(void *ctx, Cellvm__Mgmt__State *st)
{
	(void)ctx;
	st->pid = 4242;
	st->cpus = 3;
	st->memory = 512u << 20;
	st->name = "web1";
	st->uuid = "0c6e2a5c-3f0b-4f6e-9d7a-1b2c3d4e5f60";
	st->paused = calls.paused;
	st->boots = 1;
}

static int fake_button(void *ctx, char *err, size_t errlen)
{
	(void)ctx;
	calls.buttons++;
	if (calls.refuse) {
		snprintf(err, errlen, "the core is gone");
		return -1;
	}
	return 0;
}

static int fake_pause(void *ctx, bool pause, char *err, size_t errlen)
{
	(void)ctx;
	(void)err;
	(void)errlen;
	if (pause)
		calls.pauses++;
	else
		calls.resumes++;
	calls.paused = pause;
	return 0;
}

static struct server {
	char dir[32], path[64];
	struct event_base *base;
	struct control_server s;
	int client; /* the connection whose request is being answered */
} srv;

static void fake_kill(void *ctx)
{
	(void)ctx;
	calls.kills++;
	/* The reply is already in the socket. */
	char b;
	calls.replied_before_kill = recv(srv.client, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 1;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* Runs BASE's loop until FD has something to read (or is closed); the
 * seconds that took, or -1 after LIMIT seconds. */
static double loop_until_readable(struct event_base *base, int fd, double limit)
{
	double t0 = now_s();
	while (now_s() - t0 < limit) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		char b;
		ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n >= 0)
			return now_s() - t0;
		usleep(1000);
	}
	return -1;
}


static const struct control_ops fake_ops = {.state = fake_state, .power_button = fake_button,
					    .pause = fake_pause, .kill = fake_kill};

/* The request tests' server: listening in a scratch directory, served by
 * its event loop as the supervisor's is. */
static int open_server(void **state)
{
	(void)state;
	char err[256];
	memset(&calls, 0, sizeof(calls));
	snprintf(srv.dir, sizeof(srv.dir), "/tmp/test_mgmt.XXXXXX");
	if (!mkdtemp(srv.dir))
		return -1;
	snprintf(srv.path, sizeof(srv.path), "%s/control.sock", srv.dir);
	srv.base = event_base_new();
	if (!srv.base || control_server_open(&srv.s, srv.base, srv.path, &fake_ops, err,
					     sizeof(err)) < 0) {
		fprintf(stderr, "control_server_open: %s\n", err);
		return -1;
	}
	return 0;
}

static int close_server(void **state)
{
	(void)state;
	control_server_close(&srv.s);
	event_base_free(srv.base);
	rmdir(srv.dir);
	return 0;
}

/* A new client connection to the server. */
static int client(void)
{
	srv.client = connect_to(srv.path);
	return srv.client;
}

/* The server's answer on FD (which it closes), the loop run until then. */
static Cellvm__Mgmt__Reply *answer(int fd)
{
	uint8_t *buf;
	size_t len;
	assert_true(loop_until_readable(srv.base, fd, 5) >= 0);
	assert_int_equal(mgmt_recv(fd, 1000, &buf, &len), 0);
	Cellvm__Mgmt__Reply *rep = cellvm__mgmt__reply__unpack(NULL, len, buf);
	free(buf);
	close(fd);
	assert_non_null(rep);
	return rep;
}

static Cellvm__Mgmt__Reply *ask(int kind)
{
	Cellvm__Mgmt__Request req = CELLVM__MGMT__REQUEST__INIT;
	req.kind = kind;
	int fd = client();
	assert_int_equal(mgmt_send(fd, &req.base), 0);
	return answer(fd);
}

static void test_state_request(void **state)
{
	(void)state;
	memset(&calls, 0, sizeof(calls));
	Cellvm__Mgmt__Reply *r = ask(CELLVM__MGMT__REQUEST__KIND__STATE);
	assert_true(r->ok);
	assert_non_null(r->state);
	assert_int_equal(r->state->pid, 4242);
	assert_int_equal(r->state->cpus, 3);
	assert_int_equal(r->state->memory, 512u << 20);
	assert_string_equal(r->state->name, "web1");
	assert_false(r->state->paused);
	assert_int_equal(calls.buttons + calls.pauses + calls.kills, 0);
	cellvm__mgmt__reply__free_unpacked(r, NULL);
}

static void test_stop_presses_button(void **state)
{
	(void)state;
	memset(&calls, 0, sizeof(calls));
	Cellvm__Mgmt__Reply *r = ask(CELLVM__MGMT__REQUEST__KIND__STOP);
	assert_true(r->ok);
	assert_int_equal(calls.buttons, 1);
	assert_int_equal(calls.kills, 0);
	cellvm__mgmt__reply__free_unpacked(r, NULL);
	calls.refuse = true;
	r = ask(CELLVM__MGMT__REQUEST__KIND__STOP);
	assert_false(r->ok);
	assert_string_equal(r->error, "the core is gone");
	cellvm__mgmt__reply__free_unpacked(r, NULL);
}

static void test_pause_resume(void **state)
{
	(void)state;
	memset(&calls, 0, sizeof(calls));
	Cellvm__Mgmt__Reply *r = ask(CELLVM__MGMT__REQUEST__KIND__PAUSE);
	assert_true(r->ok);
	assert_int_equal(calls.pauses, 1);
	assert_true(r->state->paused); /* the state after the pause */
	cellvm__mgmt__reply__free_unpacked(r, NULL);
	r = ask(CELLVM__MGMT__REQUEST__KIND__RESUME);
	assert_true(r->ok);
	assert_int_equal(calls.resumes, 1);
	assert_false(r->state->paused);
	cellvm__mgmt__reply__free_unpacked(r, NULL);
}

static void test_kill_after_reply(void **state)
{
	(void)state;
	memset(&calls, 0, sizeof(calls));
	Cellvm__Mgmt__Reply *r = ask(CELLVM__MGMT__REQUEST__KIND__KILL);
	assert_true(r->ok);
	assert_int_equal(calls.kills, 1);
	assert_true(calls.replied_before_kill);
	cellvm__mgmt__reply__free_unpacked(r, NULL);
}

static void test_unknown_and_garbage(void **state)
{
	(void)state;
	Cellvm__Mgmt__Reply *r = ask(99);
	assert_false(r->ok);
	assert_non_null(strstr(r->error, "unknown request kind 99"));
	cellvm__mgmt__reply__free_unpacked(r, NULL);

	uint8_t junk[] = {0, 0, 0, 3, 0xff, 0xff, 0xff};
	int fd = client();
	assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	r = answer(fd);
	assert_false(r->ok);
	assert_non_null(strstr(r->error, "does not decode"));
	cellvm__mgmt__reply__free_unpacked(r, NULL);
}

static void test_server_not_held_by_silent_clients(void **state)
{
	(void)state;
	memset(&calls, 0, sizeof(calls));
	char dir[] = "/tmp/test_mgmt.XXXXXX", path[64];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/control.sock", dir);
	struct event_base *base = event_base_new();
	assert_non_null(base);
	struct control_server s;
	char err[256];
	assert_int_equal(control_server_open(&s, base, path, &fake_ops, err, sizeof(err)), 0);

	/* A full set of clients: silent ones and one with half a header. */
	int quiet[CONTROL_MAX_CONNS];
	for (int i = 0; i < CONTROL_MAX_CONNS; i++) {
		quiet[i] = connect_to(path);
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
	assert_int_equal(send(quiet[0], "\0\0", 2, 0), 2);
	assert_int_equal(s.nconns, CONTROL_MAX_CONNS);

	/* One more with a whole request waits in the backlog, then is
	 * answered once the others' deadline (1 s) frees their slots. */
	int asker = connect_to(path);
	Cellvm__Mgmt__Request req = CELLVM__MGMT__REQUEST__INIT;
	req.kind = CELLVM__MGMT__REQUEST__KIND__STATE;
	assert_int_equal(mgmt_send(asker, &req.base), 0);
	for (int i = 0; i < 20; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
	char b;
	assert_int_equal(recv(asker, &b, 1, MSG_PEEK | MSG_DONTWAIT), -1); /* waits */
	assert_true(loop_until_readable(base, asker, 5) >= 0);
	uint8_t *buf;
	size_t len;
	assert_int_equal(mgmt_recv(asker, 1000, &buf, &len), 0);
	Cellvm__Mgmt__Reply *r = cellvm__mgmt__reply__unpack(NULL, len, buf);
	free(buf);
	assert_non_null(r);
	assert_true(r->ok);
	assert_int_equal(r->state->pid, 4242);
	cellvm__mgmt__reply__free_unpacked(r, NULL);
	/* The silent ones are dropped (end of file, no reply); the asker
	 * got in when the first of them went, the others' deadlines may end
	 * a few ms later. */
	for (int i = 0; i < CONTROL_MAX_CONNS; i++) {
		assert_true(loop_until_readable(base, quiet[i], 5) >= 0);
		assert_int_equal(recv(quiet[i], &b, 1, MSG_DONTWAIT), 0);
		close(quiet[i]);
	}
	close(asker);

	/* With one silent client connected, another is answered at once. */
	int silent = connect_to(path);
	event_base_loop(base, EVLOOP_NONBLOCK);
	asker = connect_to(path);
	assert_int_equal(mgmt_send(asker, &req.base), 0);
	assert_true(loop_until_readable(base, asker, 5) >= 0);
	/* Answered before the silent client's deadline: it is still open. */
	assert_int_equal(recv(silent, &b, 1, MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
	close(asker);

	/* An empty body is a whole request (every field default: KIND_NONE),
	 * answered like any other. */
	asker = connect_to(path);
	assert_int_equal(send(asker, "\0\0\0\0", 4, 0), 4);
	assert_true(loop_until_readable(base, asker, 5) >= 0);
	assert_int_equal(mgmt_recv(asker, 1000, &buf, &len), 0);
	r = cellvm__mgmt__reply__unpack(NULL, len, buf);
	free(buf);
	assert_non_null(r);
	assert_false(r->ok);
	assert_non_null(strstr(r->error, "unknown request kind 0"));
	cellvm__mgmt__reply__free_unpacked(r, NULL);
	close(asker);

	/* A client that trickles a byte now and then does not push its
	 * deadline back: it is dropped within the 2.5 s it keeps trickling. */
	int trickler = connect_to(path);
	bool dropped = false;
	for (int i = 0; i < 10 && !dropped; i++) {
		assert_int_equal(send(trickler, i < 3 ? "\0" : "x", 1, MSG_NOSIGNAL), 1);
		double t0 = now_s();
		while (!dropped && now_s() - t0 < 0.25) {
			event_base_loop(base, EVLOOP_NONBLOCK);
			dropped = recv(trickler, &b, 1, MSG_DONTWAIT) == 0;
			usleep(1000);
		}
	}
	assert_true(dropped);
	close(trickler);

	/* Closing the server drops what is still connected. */
	control_server_close(&s);
	assert_int_equal(s.nconns, 0);
	assert_int_equal(recv(silent, &b, 1, MSG_DONTWAIT), 0);
	close(silent);
	event_base_free(base);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_frame_round_trip, open_pair, close_pair),
		cmocka_unit_test_setup_teardown(test_frame_too_long, open_pair, close_pair),
		cmocka_unit_test_setup_teardown(test_frame_cut_short, open_pair, close_pair),
		cmocka_unit_test_setup_teardown(test_frame_timeout, open_pair, close_pair),
		cmocka_unit_test_setup_teardown(test_state_request, open_server, close_server),
		cmocka_unit_test_setup_teardown(test_stop_presses_button, open_server, close_server),
		cmocka_unit_test_setup_teardown(test_pause_resume, open_server, close_server),
		cmocka_unit_test_setup_teardown(test_kill_after_reply, open_server, close_server),
		cmocka_unit_test_setup_teardown(test_unknown_and_garbage, open_server, close_server),
		cmocka_unit_test(test_server_not_held_by_silent_clients),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
