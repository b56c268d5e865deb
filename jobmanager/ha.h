/* High availability of the jobmanager (interface.md section 8): leader
 * election with ZooKeeper and the records a leader keeps, on a thread of
 * their own (ZooKeeper calls block; the loop never waits on them).
 *
 *   election  an EPHEMERAL_SEQUENTIAL latch under <root>/<cid>/leader
 *             (common/ha.h) holding our advertised address; the lowest
 *             latch leads. On winning, the thread first reads every job
 *             the previous leader left (ha_store.h), then publishes
 *             leadership: a new generation, the leader id (fencing token)
 *             and the recovered jobs for the loop to take.
 *   lease     the leader pings ZooKeeper every session timeout / 6; it
 *             acts (sl_jmha_status.acting) only until two thirds of the
 *             session timeout after the start of its latest answered ping:
 *             ZooKeeper cannot have expired the session (and elected
 *             someone else) before then. A stopped process that resumes
 *             finds its lease over before it acts.
 *   loss      an expired session, or a latch that went: leadership ends at
 *             once (a new generation, leader id 0); the loop drops its jobs
 *             without acting on them; the thread connects again and runs
 *             for leader anew.
 *   records   submissions are written synchronously (sl_jmha_persist_job,
 *             from a handler thread); checkpoint pointers, counters and
 *             removals are requested without waiting and written in the
 *             background with the leader's session, so a deposed leader's
 *             writes fail. A pointer is reported stored only after
 *             ZooKeeper confirmed it (sl_jmha_pointer_state).
 *
 * Ownership and threads: sl_jmha_start returns an object owned by the
 * caller (sl_jmha_stop). Every function is safe from any thread, takes only
 * the object's own mutex and never waits on the network, except
 * sl_jmha_persist_job (which waits for the HA thread: never call it on the
 * loop or with jm->mu held) and sl_jmha_stop. */
#ifndef SL_JM_HA_H
#define SL_JM_HA_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "jobmanager/ha_store.h"

#define SL_JMHA_MAX_JOBS 512          /* jobs with records (not terminal) */
#define SL_JMHA_RETRY_MS 1000         /* after a failed connect or create */
#define SL_JMHA_ELECTION_POLL_MS 1000 /* a standby looks again even without a watch */

typedef struct sl_jmha sl_jmha;

typedef struct sl_jmha_status {
    int leader;          /* this jobmanager holds leadership of generation gen */
    int acting;          /* leader and within its lease */
    uint64_t leader_id;  /* fencing token while leader, else 0 */
    uint64_t gen;        /* +1 on each gain and each loss */
} sl_jmha_status;

/* A job the previous leader left: its record and its submission (a packed
 * SubmitJob, heap). */
typedef struct sl_jmha_recovered {
    sl_hastore_job rec;
    void *submission;
    size_t len;
} sl_jmha_recovered;

/* Starts the HA thread: runs for leader with address (host:port,
 * advertised). max_submission bounds what a stored submission may hold.
 * cfg must outlive the object. */
int sl_jmha_start(const sl_config *cfg, const char *address, size_t max_submission, sl_jmha **out);
/* Stops the thread and ends the session (our latch goes at once). */
void sl_jmha_stop(sl_jmha *ha);

void sl_jmha_status_get(sl_jmha *ha, sl_jmha_status *st);
/* 1 if this jobmanager may act right now: no HA (ha NULL), or leader
 * within its lease. Asked again right before every change to checkpoint
 * folders, since a process may stop between the loop's round check and
 * its file system work. */
int sl_jmha_may_act(sl_jmha *ha);
/* The current leader's address as last read ("" if none known). */
void sl_jmha_leader_addr(sl_jmha *ha, char *buf, size_t len);
/* The jobs recovered when generation gen began (once: later calls get
 * none). *list owned by the caller: sl_jmha_recovered_free. */
void sl_jmha_take_recovered(sl_jmha *ha, uint64_t gen, sl_jmha_recovered **list, size_t *n);
void sl_jmha_recovered_free(sl_jmha_recovered *list, size_t n);

/* Stores a new job (its packed SubmitJob) before it is accepted: waits for
 * the HA thread. SL_ECLOSED if this jobmanager is not (or stops being) the
 * leader; other codes with the reason in err. *gen: the generation of
 * leadership it was stored in (the caller accepts the job only if it
 * still leads in that one). */
int sl_jmha_persist_job(sl_jmha *ha, const char *job_id, const void *submission, size_t len,
                      uint64_t *gen, char *err, size_t errlen);
/* Asks for the pointer to checkpoint id (folder dir) of job_id to be
 * written. SL_ENOTFOUND if the job has no record. */
int sl_jmha_pointer_put(sl_jmha *ha, const char *job_id, uint64_t id, const char *dir);
/* SL_OK once a pointer to id or a later checkpoint is stored, SL_EBUSY
 * while the write is pending, SL_EIO if it failed for good (nothing was
 * written: the checkpoint did not complete). */
int sl_jmha_pointer_state(sl_jmha *ha, const char *job_id, uint64_t id);
/* The highest checkpoint id handed out for job_id (written in the background). */
void sl_jmha_counter(sl_jmha *ha, const char *job_id, uint64_t counter);
/* job_id reached a terminal state: its records go. */
void sl_jmha_job_ended(sl_jmha *ha, const char *job_id);

#endif
