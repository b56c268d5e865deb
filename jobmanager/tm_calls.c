/* The table of calls to taskmanagers in flight (see tm_calls.h).
 *
 * A record lives from sl_tmcall_start to the sl_tmcall_take that hands
 * its outcome to the loop. Its `ended` flag is the only field another
 * thread writes: the call's completion, under *mu. */
#include "jobmanager/tm_calls.h"

#include <stdlib.h>
#include <string.h>

#include "common/status.h"
#include "common/util.h"

struct sl_tmcall {
    sl_tmcall_table *owner;
    sl_tmcall_key key;
    sl_rpc_async *rpc;
    int64_t start_ms; /* monotonic */
    int ended;        /* guarded by *owner->mu */
    struct sl_tmcall *next;
};

void sl_tmcall_init(sl_tmcall_table *t, pthread_mutex_t *mu, pthread_cond_t *cv, int *kicked)
{
    memset(t, 0, sizeof(*t));
    t->mu = mu;
    t->cv = cv;
    t->kicked = kicked;
}

/* nng thread: records the end and wakes the loop; nothing else. */
static void call_done(void *arg)
{
    sl_tmcall *c = arg;
    sl_tmcall_table *t = c->owner;
    pthread_mutex_lock(t->mu);
    c->ended = 1;
    *t->kicked = 1;
    pthread_cond_signal(t->cv);
    pthread_mutex_unlock(t->mu);
}

static int count_tm(const sl_tmcall_table *t, const char *tm_id)
{
    int n = 0;
    for (const sl_tmcall *c = t->head; c != NULL; c = c->next)
        n += strcmp(c->key.tm_id, tm_id) == 0;
    return n;
}

int sl_tmcall_room(const sl_tmcall_table *t, const char *tm_id)
{
    int tm_room = SL_TMCALL_PER_TM - count_tm(t, tm_id);
    int all_room = SL_TMCALL_MAX - t->n;
    int room = tm_room < all_room ? tm_room : all_room;
    return room > 0 ? room : 0;
}

static void append(sl_tmcall_table *t, sl_tmcall *c)
{
    sl_tmcall **tail = &t->head;
    while (*tail != NULL)
        tail = &(*tail)->next;
    *tail = c;
    t->n++;
}

int sl_tmcall_start(sl_tmcall_table *t, sl_rpc_client *client, const sl_tmcall_key *key,
                      const Sluice__Request *req, int timeout_ms)
{
    if (sl_tmcall_room(t, key->tm_id) <= 0)
        return SL_EBUSY;
    sl_tmcall *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return SL_ENOMEM;
    c->owner = t;
    c->key = *key;
    c->start_ms = sl_now_ms();
    /* call_done takes *mu, held by our caller: it cannot see c before the
     * record is complete and in the table */
    Sluice__Request fenced = *req; /* shallow: only leader_id differs */
    fenced.leader_id = t->leader_id;
    int rv = sl_rpc_call_start(client, &fenced, timeout_ms, call_done, c, &c->rpc);
    if (rv != SL_OK) {
        free(c);
        return rv;
    }
    append(t, c);
    return SL_OK;
}

static void call_free(sl_tmcall *c)
{
    sl_rpc_async_free(c->rpc);
    free(c);
}

int sl_tmcall_take(sl_tmcall_table *t, sl_tmcall_outcome *o)
{
    sl_tmcall **pp = &t->head;
    while (*pp != NULL && !(*pp)->ended)
        pp = &(*pp)->next;
    sl_tmcall *c = *pp;
    if (c == NULL)
        return 0;
    *pp = c->next;
    t->n--;
    memset(o, 0, sizeof(*o));
    o->key = c->key;
    o->rv = sl_rpc_async_result(c->rpc, &o->reply);
    o->elapsed_ms = sl_now_ms() - c->start_ms;
    /* ended: its completion has run up to its return, so this waits for
     * nothing that needs *mu */
    call_free(c);
    return 1;
}

void sl_tmcall_outcome_clear(sl_tmcall_outcome *o)
{
    if (o->reply != NULL)
        sluice__reply__free_unpacked(o->reply, NULL);
    o->reply = NULL;
}

void sl_tmcall_stop(sl_tmcall_table *t, const char *tm_id)
{
    sl_tmcall *v[SL_TMCALL_PER_TM];
    int n = 0;
    /* start keeps at most SL_TMCALL_PER_TM records per taskmanager, and
     * only this (the loop) thread adds or frees records */
    for (sl_tmcall *c = t->head; c != NULL && n < SL_TMCALL_PER_TM; c = c->next)
        if (strcmp(c->key.tm_id, tm_id) == 0)
            v[n++] = c;
    if (n == 0)
        return;
    pthread_mutex_unlock(t->mu);
    for (int i = 0; i < n; i++)
        sl_rpc_async_stop(v[i]->rpc);
    pthread_mutex_lock(t->mu);
    for (int i = 0; i < n; i++)
        v[i]->ended = 1;
    *t->kicked = 1;
}

static int count_open(const sl_tmcall_table *t)
{
    int n = 0;
    for (const sl_tmcall *c = t->head; c != NULL; c = c->next)
        n += !c->ended;
    return n;
}

/* Waits (*mu not held) until no call is in flight or SL_TMCALL_DRAIN_MS
 * passed. nng 1.5.2's tcp transport loses a pipe's receive when the pipe
 * closes while a message is arriving on it (tcptran_pipe_recv_cb posts the
 * body read on the already closed rxaio, which then never completes; fixed
 * upstream in nng 1.6.0, commit a1bc737b): the pipe's reap, and with it
 * nng_close of the socket and of every other socket, waits forever. A reply
 * to a call in flight is such a message on the client, its request on the
 * taskmanager's server; once the call ended with its reply, the connection
 * is idle and closes cleanly. It polls rather than wait on t->cv, whose
 * clock is the owner's choice. */
static void drain(sl_tmcall_table *t)
{
    int64_t until = sl_now_ms() + SL_TMCALL_DRAIN_MS;
    pthread_mutex_lock(t->mu);
    while (count_open(t) > 0 && sl_now_ms() < until) {
        pthread_mutex_unlock(t->mu);
        sl_sleep_ms(1);
        pthread_mutex_lock(t->mu);
    }
    pthread_mutex_unlock(t->mu);
}

void sl_tmcall_free(sl_tmcall_table *t)
{
    if (t->head != NULL)
        drain(t);
    sl_tmcall *c = t->head;
    while (c != NULL) {
        sl_tmcall *next = c->next;
        call_free(c);
        c = next;
    }
    t->head = NULL;
    t->n = 0;
}
