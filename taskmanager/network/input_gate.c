/* The input gate; see input_gate.h. */
#include "taskmanager/network/input_gate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/status.h"

int sl_in_gate_init(sl_in_gate *g, int n)
{
    memset(g, 0, sizeof(*g));
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->n = n;
    if (n > 0) {
        g->ch = calloc((size_t)n, sizeof(*g->ch));
        if (g->ch == NULL)
            return SL_ENOMEM;
    }
    return SL_OK;
}

void sl_in_gate_destroy(sl_in_gate *g)
{
    for (int i = 0; i < g->n; i++) {
        sl_in_channel *ch = g->ch[i];
        if (ch == NULL)
            continue;
        while (ch->count > 0) {
            nng_msg_free(ch->ring[ch->head]);
            ch->head = (ch->head + 1) % ch->cap;
            ch->count--;
        }
        free(ch);
    }
    free(g->ch);
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
}

void sl_in_channel_push(sl_in_channel *ch, uint64_t seq, nng_msg *msg)
{
    sl_in_gate *g = ch->gate;
    pthread_mutex_lock(&g->mu);
    if (ch->failed || ch->finished) {
        nng_msg_free(msg);
    } else if (seq != ch->next_seq || ch->count == ch->cap) {
        snprintf(g->error, sizeof(g->error),
                 "data channel %u->%u of stage %u: %s (frame %llu, expected %llu)", ch->id.src,
                 ch->id.dst, ch->id.cons_stage,
                 ch->count == ch->cap ? "credit overflow" : "sequence gap, data was lost",
                 (unsigned long long)seq, (unsigned long long)ch->next_seq);
        ch->failed = 1;
        nng_msg_free(msg);
    } else {
        ch->ring[(ch->head + ch->count) % ch->cap] = msg;
        ch->count++;
        ch->next_seq++;
    }
    pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static int grant(sl_in_channel *ch, uint32_t n, const atomic_int *cancel)
{
    sl_frame_hdr h = ch->id;
    h.kind = SL_FRAME_CREDIT;
    h.seq = n;
    nng_msg *m;
    int rv = sl_frame_build(&h, NULL, 0, &m);
    if (rv != SL_OK)
        return rv;
    return sl_peer_send(ch->peer, m, cancel);
}

int sl_in_gate_open(sl_in_gate *g, const atomic_int *cancel)
{
    for (int i = 0; i < g->n; i++) {
        int rv = grant(g->ch[i], g->ch[i]->cap, cancel);
        if (rv != SL_OK)
            return rv;
    }
    return SL_OK;
}

/* Called with g->mu held. */
static int gate_check_failure(sl_in_gate *g)
{
    for (int i = 0; i < g->n; i++) {
        sl_in_channel *ch = g->ch[i];
        if (ch->failed)
            return SL_EPROTO;
        if (!ch->finished && ch->count == 0 && atomic_load(&ch->peer->dead)) {
            snprintf(g->error, sizeof(g->error), "data connection to %s lost", ch->peer->url);
            return SL_EPROTO;
        }
    }
    return SL_OK;
}

/* Called with g->mu held: pops a frame from the next channel that has one. */
static int gate_pop(sl_in_gate *g, sl_in_channel **out, nng_msg **msg, int *nfinished)
{
    *nfinished = 0;
    for (int k = 0; k < g->n; k++) {
        int i = (g->rr + k) % g->n;
        sl_in_channel *ch = g->ch[i];
        if (ch->count > 0 && !ch->blocked) {
            *msg = ch->ring[ch->head];
            ch->head = (ch->head + 1) % ch->cap;
            ch->count--;
            *out = ch;
            g->rr = (i + 1) % g->n;
            return SL_OK;
        }
        if (ch->finished)
            (*nfinished)++;
    }
    return SL_ENOTFOUND;
}

int sl_in_gate_next(sl_in_gate *g, int timeout_ms, sl_in_channel **ch, nng_msg **msg)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    int rv;
    pthread_mutex_lock(&g->mu);
    for (;;) {
        int nfinished;
        rv = gate_check_failure(g);
        if (rv != SL_OK)
            break;
        rv = gate_pop(g, ch, msg, &nfinished);
        if (rv == SL_OK)
            break;
        if (nfinished == g->n) {
            rv = SL_ECLOSED;
            break;
        }
        if (g->interrupt != NULL && atomic_load(g->interrupt)) {
            rv = SL_ETIMEDOUT;
            break;
        }
        if (pthread_cond_timedwait(&g->cv, &g->mu, &until) != 0) {
            rv = SL_ETIMEDOUT;
            break;
        }
    }
    pthread_mutex_unlock(&g->mu);
    return rv;
}

int sl_in_gate_release(sl_in_gate *g, sl_in_channel *ch, nng_msg *msg,
                          const atomic_int *cancel)
{
    (void)g;
    nng_msg_free(msg);
    ch->to_grant++;
    uint32_t threshold = ch->cap > 1 ? ch->cap / 2 : 1;
    if (ch->finished || ch->to_grant < threshold)
        return SL_OK;
    uint32_t n = ch->to_grant;
    ch->to_grant = 0;
    return grant(ch, n, cancel);
}
