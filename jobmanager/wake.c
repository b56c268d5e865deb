/* The loop's wake-up (wake.h). */
#include "jobmanager/wake.h"

#include <errno.h>
#include <time.h>

#include "common/status.h"

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
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    while (!w->kicked && !*stop)
        if (pthread_cond_timedwait(&w->cv, mu, &ts) == ETIMEDOUT)
            break;
}
