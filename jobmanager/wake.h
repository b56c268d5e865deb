/* The loop's wake-up: a condition variable and a flag, guarded by the
 * jobmanager's lock (jm->mu). A leaf: every module may kick it (a handler
 * recorded something, a call or a connection ended, slots became free);
 * only the loop thread waits on it.
 *
 * Place: below everything in jobmanager/; calls nothing of the jobmanager. */
#ifndef SL_JM_WAKE_H
#define SL_JM_WAKE_H

#include <pthread.h>
#include <stdint.h>

typedef struct sl_wake {
    pthread_cond_t cv; /* on CLOCK_MONOTONIC */
    int kicked;        /* set by sl_wake_kick, cleared by the waiter */
} sl_wake;

/* SL_ENOMEM if the condition variable cannot be made. No lock needed. */
int sl_wake_init(sl_wake *w);
void sl_wake_destroy(sl_wake *w);
/* Wakes the waiter. Caller holds the lock that guards w. */
void sl_wake_kick(sl_wake *w);
/* Waits, with mu held (released while waiting), until kicked, *stop is set
 * or ms elapsed. Does not clear the flag. */
void sl_wake_wait(sl_wake *w, pthread_mutex_t *mu, int64_t ms, const int *stop);

#endif
