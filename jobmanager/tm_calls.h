/* The jobmanager's calls to taskmanagers in flight: a bounded table of
 * asynchronous RPCs (common/rpc.h) and what each was about.
 *
 * The loop thread starts a call and goes on; the call's completion (on an
 * nng thread) only marks its record ended under the jobmanager's lock and
 * wakes the loop. On a later round the loop takes the ended calls' outcomes
 * one by one and judges them itself (scheduler, checkpoint trigger): no
 * callback reaches into jobs or checkpoints.
 *
 * Bounds: SL_TM_CALLS_PER_TM records per taskmanager (ended ones count
 * until taken) and SL_TM_CALLS_MAX in all; a call beyond them is refused
 * with SL_EBUSY and the caller tries again on a later round or gives up.
 *
 * Locking and threads: every function is for the loop thread, with *mu
 * (the jobmanager's lock, borrowed) held, unless noted. Records are freed
 * only by the loop (sl_tm_calls_take, _free). */
#ifndef SL_TM_CALLS_H
#define SL_TM_CALLS_H

#include <pthread.h>
#include <stdint.h>

#include "common/limits.h"
#include "common/rpc.h"

#define SL_TM_CALLS_PER_TM 32  /* records per taskmanager */
#define SL_TM_CALLS_MAX 4096   /* records in all */

enum sl_tm_call_kind {
    SL_CALL_DEPLOY = 0,
    SL_CALL_START,
    SL_CALL_CANCEL,
    SL_CALL_TRIGGER,
    SL_CALL_NOTIFY,
};

/* sl_tm_call_key.flags */
#define SL_CALL_F_COMPLETE 1u  /* notify: complete (else aborted) */
#define SL_CALL_F_FINAL 2u     /* trigger/notify: the final checkpoint */
#define SL_CALL_F_SAVEPOINT 4u /* trigger/notify: a savepoint */
#define SL_CALL_F_STOP 8u      /* trigger/notify: a stop-with-savepoint */

/* What a call is about; copied into its record and handed back with its
 * outcome. */
typedef struct sl_tm_call_key {
    enum sl_tm_call_kind kind;
    char tm_id[SL_TM_ID_MAX + 1];
    char job_id[SL_JOB_ID_LEN + 1];
    uint32_t attempt;
    uint64_t chk_id;  /* trigger, notify */
    unsigned flags;   /* SL_CALL_F_* */
} sl_tm_call_key;

/* An ended call. */
typedef struct sl_tm_outcome {
    sl_tm_call_key key;
    int rv;               /* SL_OK (reply set; its status is the caller's to
                             judge), SL_ETIMEDOUT, SL_EUNREACH, SL_EPROTO,
                             SL_ECANCELED (stopped: the client closed) */
    Sluice__Reply *reply; /* owned by the outcome: sl_tm_outcome_clear */
    int64_t elapsed_ms;   /* from the start to the end */
} sl_tm_outcome;

typedef struct sl_tm_call sl_tm_call;

typedef struct sl_tm_calls {
    pthread_mutex_t *mu; /* borrowed: guards this table */
    pthread_cond_t *cv;  /* borrowed: signalled when a call ends */
    int *kicked;         /* borrowed: set to 1 when a call ends */
    sl_tm_call *head;    /* oldest first */
    int n;
} sl_tm_calls;

/* An empty table; mu, cv and kicked must outlive it. No lock needed. */
void sl_tm_calls_init(sl_tm_calls *t, pthread_mutex_t *mu, pthread_cond_t *cv, int *kicked);
/* Starts req on client (the connection to key->tm_id) with timeout_ms and
 * returns at once. SL_EBUSY when a bound is reached; the codes of
 * sl_rpc_call_start. The client must stay open until the calls to key->tm_id
 * are stopped (sl_tm_calls_stop). */
int sl_tm_calls_start(sl_tm_calls *t, sl_rpc_client *client, const sl_tm_call_key *key,
                      const Sluice__Request *req, int timeout_ms);
/* How many more calls to tm_id may start now. */
int sl_tm_calls_room(const sl_tm_calls *t, const char *tm_id);
/* Takes the oldest ended call into *o (then 1; 0 if none ended). The
 * caller clears *o with sl_tm_outcome_clear. */
int sl_tm_calls_take(sl_tm_calls *t, sl_tm_outcome *o);
/* Frees o->reply. */
void sl_tm_outcome_clear(sl_tm_outcome *o);
/* Ends every call to tm_id (those not ended get SL_ECANCELED) and releases
 * their nng contexts, so its client may close. Drops *mu while it waits for
 * nng (completions take *mu); the outcomes are taken as usual. */
void sl_tm_calls_stop(sl_tm_calls *t, const char *tm_id);
/* Shutdown, *mu NOT held: stops and frees every call, outcomes unread. */
void sl_tm_calls_free(sl_tm_calls *t);

#endif
