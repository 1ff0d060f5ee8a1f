/* Starting a thread of a process that will confine itself, and waiting
 * until it has started (see sandbox_thread_start in sandbox.h). */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>

#include "sandbox/sandbox.h"

struct start {
	void *(*fn)(void *);
	void *arg;
	sem_t running;
};

static void *trampoline(void *p)
{
	struct start *s = p;
	void *(*fn)(void *) = s->fn;
	void *arg = s->arg;
	sem_post(&s->running); /* s lives on the starter's stack: done with it */
	return fn(arg);
}

int sandbox_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	struct start s = {.fn = fn, .arg = arg};
	if (sem_init(&s.running, 0, 0) < 0)
		return errno;
	int rc = pthread_create(t, NULL, trampoline, &s);
	if (rc == 0)
		while (sem_wait(&s.running) < 0 && errno == EINTR)
			;
	sem_destroy(&s.running);
	return rc;
}
