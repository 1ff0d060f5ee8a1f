/* Starting a device thread and waiting until it has started (see
 * device_thread.h). */
#include "devices/common/device_thread.h"

#include <errno.h>
#include <semaphore.h>

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

int device_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
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
