/* Pausing the vCPUs: each is kicked out of KVM_RUN (immediate_exit, for
 * one between its pause point and KVM_RUN, and SIGUSR1, for one inside it,
 * halted or not) and holds at its pause point until resumed.  Device
 * processes get no new exits meanwhile; requests already in flight (virtio
 * queue threads) still finish. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "vmm-core/vm.h"

#define KICK_SIGNAL SIGUSR1

/* Only there to interrupt KVM_RUN (no SA_RESTART). */
static void kicked(int sig)
{
	(void)sig;
}

int vm_pause_init(struct vm *vm, char *err, size_t errlen)
{
	struct sigaction sa = {.sa_handler = kicked};
	sigemptyset(&sa.sa_mask);
	if (sigaction(KICK_SIGNAL, &sa, NULL) < 0) {
		snprintf(err, errlen, "sigaction(SIGUSR1): %s", strerror(errno));
		return -1;
	}
	pthread_cond_init(&vm->pause_cond, NULL);
	pthread_cond_init(&vm->held_cond, NULL);
	return 0;
}

void vm_pause(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	vm->pause_requested = true;
	pthread_mutex_unlock(&vm->lock);
	for (unsigned i = 0; i < vm->ncpus; i++) {
		__atomic_store_n(&vm->vcpus[i].run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		pthread_kill(vm->vcpus[i].thread, KICK_SIGNAL);
	}
	pthread_mutex_lock(&vm->lock);
	while (vm->nheld < vm->ncpus && vm->pause_requested)
		pthread_cond_wait(&vm->held_cond, &vm->lock);
	pthread_mutex_unlock(&vm->lock);
}

void vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	vm->pause_requested = false;
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->lock);
}

void vcpu_pause_point(struct vcpu *v)
{
	struct vm *vm = v->vm;
	if (!__atomic_load_n(&vm->pause_requested, __ATOMIC_SEQ_CST))
		return;
	pthread_mutex_lock(&vm->lock);
	if (vm->pause_requested) {
		vm->nheld++;
		pthread_cond_broadcast(&vm->held_cond);
		while (vm->pause_requested)
			pthread_cond_wait(&vm->pause_cond, &vm->lock);
		vm->nheld--;
	}
	__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&vm->lock);
}
