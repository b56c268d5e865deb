/* The loop's wake-up (wake.h). */
#include "jobmanager/wake.h"

#include <errno.h>
#include <time.h>

#include "common/status.h"
#include "common/util.h"

int sl_wake_init(sl_wake *w)
{
    pthread_condattr_t ca;
    w->kicked = 0;
    if (pthread_condattr_init(&ca) != 0)
        return SL_ENOMEM;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rv = pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    return rv == 0 ? SL_OK : SL_ENOMEM;
}

void sl_wake_destroy(sl_wake *w)
{
    pthread_cond_destroy(&w->cv);
}

void sl_wake_kick(sl_wake *w)
{
    w->kicked = 1;
    pthread_cond_signal(&w->cv);
}

void sl_wake_wait(sl_wake *w, pthread_mutex_t *mu, int64_t ms, const int *stop)
{
    struct timespec ts;
    sl_deadline_in(CLOCK_MONOTONIC, ms, &ts);
    while (!w->kicked && !*stop)
        if (pthread_cond_timedwait(&w->cv, mu, &ts) == ETIMEDOUT)
            break;
}
