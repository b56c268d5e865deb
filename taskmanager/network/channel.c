#include "taskmanager/network/channel.h"

#include <nng/protocol/pipeline0/push.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/bytes.h"
#include "common/log.h"
#include "common/status.h"

/* ---- frames */

int sl_frame_parse(const uint8_t *buf, size_t len, sl_frame_hdr *h, const uint8_t **payload,
                   size_t *plen)
{
    if (len < SL_FRAME_HDR || sl_get_le32(buf) != SL_FRAME_MAGIC)
        return SL_EPROTO;
    h->kind = buf[4];
    if (h->kind != SL_FRAME_DATA && h->kind != SL_FRAME_CREDIT)
        return SL_EPROTO;
    memcpy(h->job, buf + 8, 32);
    h->job[32] = '\0';
    h->attempt = sl_get_le32(buf + 40);
    h->prod_stage = sl_get_le16(buf + 44);
    h->cons_stage = sl_get_le16(buf + 46);
    h->src = sl_get_le16(buf + 48);
    h->dst = sl_get_le16(buf + 50);
    h->seq = sl_get_le64(buf + 52);
    *payload = buf + SL_FRAME_HDR;
    *plen = len - SL_FRAME_HDR;
    return SL_OK;
}

int sl_frame_build(const sl_frame_hdr *h, const uint8_t *payload, size_t plen, nng_msg **out)
{
    nng_msg *m;
    if (nng_msg_alloc(&m, SL_FRAME_HDR + plen) != 0)
        return SL_ENOMEM;
    uint8_t *b = nng_msg_body(m);
    memset(b, 0, SL_FRAME_HDR);
    sl_put_le32(b, SL_FRAME_MAGIC);
    b[4] = h->kind;
    memcpy(b + 8, h->job, 32);
    sl_put_le32(b + 40, h->attempt);
    sl_put_le16(b + 44, h->prod_stage);
    sl_put_le16(b + 46, h->cons_stage);
    sl_put_le16(b + 48, h->src);
    sl_put_le16(b + 50, h->dst);
    sl_put_le64(b + 52, h->seq);
    if (plen > 0)
        memcpy(b + SL_FRAME_HDR, payload, plen);
    *out = m;
    return SL_OK;
}

/* ---- barriers */

int sl_barrier_encode(const sl_barrier *b, uint8_t *out, size_t cap, size_t *len)
{
    int sp = b->kind == SL_CHK_SAVEPOINT || b->kind == SL_CHK_SAVEPOINT_STOP;
    size_t dlen = sp ? strnlen(b->dir, sizeof(b->dir)) : 0;
    if (sp && (dlen == 0 || dlen > SL_BARRIER_DIR_MAX))
        return SL_EINVAL;
    size_t need = SL_BARRIER_LEN + (sp ? 2 + dlen : 0);
    if (need > cap)
        return SL_ENOSPC;
    sl_put_le64(out, b->id);
    sl_put_le64(out + 8, (uint64_t)b->ts);
    out[16] = (uint8_t)((b->final ? SL_BARRIER_FINAL : 0) | (sp ? SL_BARRIER_SAVEPOINT : 0) |
                        (b->kind == SL_CHK_SAVEPOINT_STOP ? SL_BARRIER_STOP : 0));
    if (sp) {
        sl_put_le16(out + SL_BARRIER_LEN, (uint16_t)dlen);
        memcpy(out + SL_BARRIER_LEN + 2, b->dir, dlen);
    }
    *len = need;
    return SL_OK;
}

int sl_barrier_decode(const uint8_t *p, size_t len, sl_barrier *b, size_t *used)
{
    if (len < SL_BARRIER_LEN)
        return SL_EINVAL;
    uint8_t flags = p[16];
    if ((flags & ~(SL_BARRIER_FINAL | SL_BARRIER_SAVEPOINT | SL_BARRIER_STOP)) != 0 ||
        ((flags & SL_BARRIER_STOP) && !(flags & SL_BARRIER_SAVEPOINT)))
        return SL_EINVAL;
    b->id = sl_get_le64(p);
    b->ts = (int64_t)sl_get_le64(p + 8);
    b->final = (flags & SL_BARRIER_FINAL) != 0;
    b->kind = !(flags & SL_BARRIER_SAVEPOINT) ? SL_CHK_CHECKPOINT
              : (flags & SL_BARRIER_STOP)     ? SL_CHK_SAVEPOINT_STOP
                                              : SL_CHK_SAVEPOINT;
    b->dir[0] = '\0';
    *used = SL_BARRIER_LEN;
    if (b->kind == SL_CHK_CHECKPOINT)
        return SL_OK;
    if (len - SL_BARRIER_LEN < 2)
        return SL_EINVAL;
    size_t dlen = sl_get_le16(p + SL_BARRIER_LEN);
    if (dlen == 0 || dlen > SL_BARRIER_DIR_MAX || dlen > len - SL_BARRIER_LEN - 2 ||
        memchr(p + SL_BARRIER_LEN + 2, '\0', dlen) != NULL)
        return SL_EINVAL;
    memcpy(b->dir, p + SL_BARRIER_LEN + 2, dlen);
    b->dir[dlen] = '\0';
    *used = SL_BARRIER_LEN + 2 + dlen;
    return SL_OK;
}

/* ---- peers */

static void peer_pipe_cb(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
    sl_peer *p = arg;
    (void)pipe;
    if (ev == NNG_PIPE_EV_REM_POST)
        atomic_store(&p->dead, 1);
}

int sl_peer_open(const char *url, size_t max_frame, sl_peer **out)
{
    sl_peer *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return SL_ENOMEM;
    snprintf(p->url, sizeof(p->url), "%s", url);
    int rv = nng_push0_open(&p->sock);
    if (rv != 0) {
        free(p);
        return SL_EIO;
    }
    nng_socket_set_size(p->sock, NNG_OPT_RECVMAXSZ, max_frame);
    nng_socket_set_ms(p->sock, NNG_OPT_SENDTIMEO, 100);
    nng_socket_set_ms(p->sock, NNG_OPT_RECONNMINT, 50);
    nng_socket_set_ms(p->sock, NNG_OPT_RECONNMAXT, 500);
    nng_pipe_notify(p->sock, NNG_PIPE_EV_REM_POST, peer_pipe_cb, p);
    rv = nng_dial(p->sock, url, NULL, NNG_FLAG_NONBLOCK);
    if (rv != 0) {
        sl_error("data plane: cannot dial %s: %s", url, nng_strerror(rv));
        nng_close(p->sock);
        free(p);
        return SL_EIO;
    }
    *out = p;
    return SL_OK;
}

void sl_peer_close(sl_peer *p)
{
    if (p == NULL)
        return;
    nng_close(p->sock);
    free(p);
}

int sl_peer_send(sl_peer *p, nng_msg *msg, const atomic_int *cancel)
{
    for (;;) {
        if (atomic_load(&p->dead)) {
            nng_msg_free(msg);
            return SL_ECLOSED;
        }
        if (cancel != NULL && atomic_load(cancel)) {
            nng_msg_free(msg);
            return SL_ECANCELED;
        }
        int rv = nng_sendmsg(p->sock, msg, 0);
        if (rv == 0)
            return SL_OK;
        if (rv != NNG_ETIMEDOUT) {
            nng_msg_free(msg);
            return SL_EIO;
        }
    }
}

/* ---- consumer side */

int sl_input_gate_init(sl_input_gate *g, int n)
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

void sl_input_gate_destroy(sl_input_gate *g)
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
    sl_input_gate *g = ch->gate;
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

int sl_input_gate_open(sl_input_gate *g, const atomic_int *cancel)
{
    for (int i = 0; i < g->n; i++) {
        int rv = grant(g->ch[i], g->ch[i]->cap, cancel);
        if (rv != SL_OK)
            return rv;
    }
    return SL_OK;
}

/* Called with g->mu held. */
static int gate_check_failure(sl_input_gate *g)
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
static int gate_pop(sl_input_gate *g, sl_in_channel **out, nng_msg **msg, int *nfinished)
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

int sl_input_gate_next(sl_input_gate *g, int timeout_ms, sl_in_channel **ch, nng_msg **msg)
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

int sl_input_gate_release(sl_input_gate *g, sl_in_channel *ch, nng_msg *msg,
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

/* ---- producer side */

int sl_out_channel_init(sl_out_channel *ch, size_t bufsize, uint32_t max_credits)
{
    if (max_credits == 0 || max_credits > SL_MAX_CREDITS)
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
        until.tv_nsec += 100 * 1000000L;
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
