/* Threads of a device process.  They are made at setup, before the
 * sandbox (which forbids clone), and a new thread's own start-up makes
 * syscalls the sandbox does not allow either (glibc registers rseq and the
 * robust futex list): so setup must not go on to confinement until each
 * thread is past its start-up. */
#ifndef CELLVM_DEVICES_COMMON_DEVICE_THREAD_H
#define CELLVM_DEVICES_COMMON_DEVICE_THREAD_H

#include <pthread.h>

/* pthread_create, returning once the thread runs FN.  0 or an errno. */
int device_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

#endif
