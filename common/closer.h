/* Runs jobs (a function and its argument) off the caller's thread, on a
 * bounded number of detached threads, for work that may hang for good:
 * closing an nng socket (nng 1.5.2 can hang in nng_close when a pipe closes
 * while a message is arriving on it; fixed upstream in nng 1.6.0,
 * a1bc737b). A hang there holds one thread and what that job uses, never
 * the caller (the jobmanager's loop, the taskmanager's jobmanager client).
 *
 * At most `max` threads run; further jobs wait in a queue that the next
 * free thread takes (so a burst never runs a job inline on the caller).
 * At shutdown sl_closer_drain waits, bounded, for every job; if some are
 * still running, the sl_closer and whatever those jobs use must stay
 * allocated (leak them: the process is exiting).
 *
 * Thread safety: sl_closer_run and sl_closer_drain may be called from any
 * thread; init and destroy by the owner only. */
#ifndef SL_CLOSER_H
#define SL_CLOSER_H

#include <pthread.h>
#include <stdint.h>

typedef void (*sl_closer_fn)(void *arg);

struct sl_closer_job;

typedef struct sl_closer {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int max;     /* threads at most */
    int busy;    /* jobs not done yet: running or queued */
    int threads; /* threads running, at most max */
    struct sl_closer_job *head, *tail; /* queued: the next free thread takes them */
} sl_closer;

/* max >= 1 threads at most. SL_EINVAL for max < 1, SL_ENOMEM if the lock
 * cannot be made. */
int sl_closer_init(sl_closer *c, int max);

/* Runs fn(arg) on a closer thread: starts a detached one, or queues the job
 * for a running one when max are running, and returns SL_OK at once.
 * SL_ENOMEM if no memory or no thread is left: then fn was NOT run and
 * arg is still the caller's (which may run it inline). */
int sl_closer_run(sl_closer *c, sl_closer_fn fn, void *arg);

/* Waits up to ms for the jobs in flight (running and queued); returns how
 * many are not done (0: all done). */
int sl_closer_drain(sl_closer *c, int64_t ms);

/* Jobs not done yet (running or queued); never blocks long. */
int sl_closer_busy(sl_closer *c);

/* Only after sl_closer_drain returned 0. */
void sl_closer_destroy(sl_closer *c);

#endif
