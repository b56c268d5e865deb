/* The jobmanager's calls to taskmanagers in flight: a bounded table of
 * asynchronous RPCs (common/rpc.h) and what each was about.
 *
 * The loop thread starts a call and goes on; the call's completion (on an
 * nng thread) only marks its record ended under the jobmanager's lock and
 * wakes the loop. On a later round the loop takes the ended calls' outcomes
 * one by one and judges them itself (scheduler, checkpoint trigger): no
 * callback reaches into jobs or checkpoints.
 *
 * Bounds: SL_TMCALL_PER_TM records per taskmanager (ended ones count
 * until taken) and SL_TMCALL_MAX in all; a call beyond them is refused
 * with SL_EBUSY and the caller tries again on a later round or gives up.
 *
 * Locking and threads: every function is for the loop thread, with *mu
 * (the jobmanager's lock, borrowed) held, unless noted. Records are freed
 * only by the loop (sl_tmcall_take, _free). */
#ifndef SL_JM_TM_CALLS_H
#define SL_JM_TM_CALLS_H

#include <pthread.h>
#include <stdint.h>

#include "common/limits.h"
#include "common/rpc.h"

#define SL_TMCALL_PER_TM 32  /* records per taskmanager */
#define SL_TMCALL_MAX 4096   /* records in all */
#define SL_TMCALL_DRAIN_MS 500 /* sl_tmcall_free: the longest wait for calls in flight */

enum sl_tmcall_kind {
    SL_TMCALL_DEPLOY = 0,
    SL_TMCALL_START,
    SL_TMCALL_CANCEL,
    SL_TMCALL_TRIGGER,
    SL_TMCALL_NOTIFY,
};

/* sl_tmcall_key.flags */
#define SL_TMCALL_F_COMPLETE 1u  /* notify: complete (else aborted) */
#define SL_TMCALL_F_FINAL 2u     /* trigger/notify: the final checkpoint */
#define SL_TMCALL_F_SAVEPOINT 4u /* trigger/notify: a savepoint */
#define SL_TMCALL_F_STOP 8u      /* trigger/notify: a stop-with-savepoint */

/* What a call is about; copied into its record and handed back with its
 * outcome. */
typedef struct sl_tmcall_key {
    enum sl_tmcall_kind kind;
    char tm_id[SL_TM_ID_MAX + 1];
    char job_id[SL_JOB_ID_LEN + 1];
    uint32_t attempt;
    uint64_t chk_id;  /* trigger, notify */
    unsigned flags;   /* SL_TMCALL_F_* */
} sl_tmcall_key;

/* An ended call. */
typedef struct sl_tmcall_outcome {
    sl_tmcall_key key;
    int rv;               /* SL_OK (reply set; its status is the caller's to
                             judge), SL_ETIMEDOUT, SL_EUNREACH, SL_EPROTO,
                             SL_ECANCELED (stopped: the client closed) */
    Sluice__Reply *reply; /* owned by the outcome: sl_tmcall_outcome_clear */
    int64_t elapsed_ms;   /* from the start to the end */
} sl_tmcall_outcome;

typedef struct sl_tmcall sl_tmcall;

typedef struct sl_tmcall_table {
    pthread_mutex_t *mu; /* borrowed: guards this table */
    pthread_cond_t *cv;  /* borrowed: signalled when a call ends */
    int *kicked;         /* borrowed: set to 1 when a call ends */
    sl_tmcall *head;    /* oldest first */
    int n;
    uint64_t leader_id; /* put into every request (Request.leader_id): the
                           fencing token of this leader; 0 without HA */
} sl_tmcall_table;

/* An empty table; mu, cv and kicked must outlive it. No lock needed. */
void sl_tmcall_init(sl_tmcall_table *t, pthread_mutex_t *mu, pthread_cond_t *cv, int *kicked);
/* Starts req on client (the connection to key->tm_id) with timeout_ms and
 * returns at once. SL_EBUSY when a bound is reached; the codes of
 * sl_rpc_call_start. The client must stay open until the calls to key->tm_id
 * are stopped (sl_tmcall_stop). */
int sl_tmcall_start(sl_tmcall_table *t, sl_rpc_client *client, const sl_tmcall_key *key,
                      const Sluice__Request *req, int timeout_ms);
/* How many more calls to tm_id may start now. */
int sl_tmcall_room(const sl_tmcall_table *t, const char *tm_id);
/* Takes the oldest ended call into *o (then 1; 0 if none ended). The
 * caller clears *o with sl_tmcall_outcome_clear. */
int sl_tmcall_take(sl_tmcall_table *t, sl_tmcall_outcome *o);
/* Frees o->reply. */
void sl_tmcall_outcome_clear(sl_tmcall_outcome *o);
/* Ends every call to tm_id (those not ended get SL_ECANCELED) and releases
 * their nng contexts, so its client may close. Drops *mu while it waits for
 * nng (completions take *mu); the outcomes are taken as usual. */
void sl_tmcall_stop(sl_tmcall_table *t, const char *tm_id);
/* Shutdown, *mu NOT held: waits up to SL_TMCALL_DRAIN_MS for the calls in
 * flight to end (their replies in, see tm_calls.c), then stops and frees
 * every call, outcomes unread. */
void sl_tmcall_free(sl_tmcall_table *t);

#endif
