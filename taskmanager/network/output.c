/* Output channels; see output.h. */
#include "taskmanager/network/output.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/status.h"

#define OUT_CREDIT_POLL_MS 100 /* a producer without credit looks at cancel and dead this often */

int sl_out_channel_init(sl_out_channel *ch, size_t bufsize, uint32_t max_credits)
{
    if (max_credits == 0 || max_credits > SL_FRAME_MAX_CREDITS)
        return SL_EINVAL;
    ch->buf = malloc(bufsize);
    if (ch->buf == NULL)
        return SL_ENOMEM;
    ch->cap = bufsize;
    ch->len = 0;
    ch->credits = 0;
    ch->max_credits = max_credits;
    ch->failed = 0;
    ch->error[0] = '\0';
    return SL_OK;
}

void sl_out_channel_destroy(sl_out_channel *ch)
{
    free(ch->buf);
    ch->buf = NULL;
}

int sl_out_channel_grant(sl_out_channel *ch, uint64_t n)
{
    int rv = SL_OK;

    pthread_mutex_lock(ch->mu);
    if (ch->failed) {
        rv = SL_EPROTO;
    } else if (n > ch->max_credits - ch->credits) { /* credits <= max_credits: no wrap */
        snprintf(ch->error, sizeof(ch->error),
                 "data channel %u->%u of stage %u: the consumer at %s granted %llu credits "
                 "with %u held, more than credits-per-channel (%u)",
                 ch->id.src, ch->id.dst, ch->id.cons_stage,
                 ch->peer != NULL ? ch->peer->url : "?",
                 (unsigned long long)n, ch->credits, ch->max_credits);
        ch->failed = 1;
        rv = SL_EPROTO;
    } else {
        ch->credits += (uint32_t)n;
    }
    pthread_cond_broadcast(ch->cv);
    pthread_mutex_unlock(ch->mu);
    return rv;
}

static int wait_credit(sl_out_channel *ch, const atomic_int *cancel)
{
    int rv = SL_OK;
    pthread_mutex_lock(ch->mu);
    while (ch->failed || ch->credits == 0) {
        if (ch->failed) {
            rv = SL_EPROTO;
            break;
        }
        if (atomic_load(cancel)) {
            rv = SL_ECANCELED;
            break;
        }
        if (atomic_load(&ch->peer->dead)) {
            rv = SL_ECLOSED;
            break;
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += OUT_CREDIT_POLL_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(ch->cv, ch->mu, &until);
    }
    if (rv == SL_OK)
        ch->credits--;
    pthread_mutex_unlock(ch->mu);
    return rv;
}

int sl_out_channel_flush(sl_out_channel *ch, const atomic_int *cancel)
{
    int rv = wait_credit(ch, cancel);
    if (rv != SL_OK)
        return rv;
    nng_msg *m;
    rv = sl_frame_build(&ch->id, ch->buf, ch->len, &m);
    if (rv != SL_OK)
        return rv;
    ch->id.seq++;
    ch->len = 0;
    return sl_peer_send(ch->peer, m, cancel);
}
