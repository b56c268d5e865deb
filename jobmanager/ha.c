/* The jobmanager's HA thread: election, lease, records (see ha.h). */
#include "jobmanager/ha.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/ha.h"
#include "common/log.h"
#include "common/status.h"
#include "common/util.h"

#define LEASE_NUM 2 /* the lease: LEASE_NUM / LEASE_DEN of the session timeout */
#define LEASE_DEN 3
#define PING_DIV 6  /* pings every session timeout / PING_DIV */
#define WRITE_WAIT_MS 200 /* a leader looks at its records at least this often */

typedef struct ha_job {
    int used;
    sl_hastore_job rec;  /* as stored */
    uint64_t want_ptr;   /* pointer asked for (> rec.checkpoint_id: to write) */
    char want_dir[PATH_MAX];
    uint64_t want_counter;
    uint64_t failed_ptr; /* a pointer write that failed for good */
    int remove;          /* the job ended */
} ha_job;

typedef struct ha_submit {
    const char *job_id;
    const void *data;
    size_t len;
    int taken, done, rv;
    char err[512];
    struct ha_submit *next;
} ha_submit;

struct sl_jmha {
    const sl_config *cfg;
    char addr[SL_HA_ADDR_MAX];
    size_t max_submission;
    pthread_mutex_t mu; /* guards everything below but the thread-only part */
    pthread_cond_t cv;  /* wakes the thread; submitters wait on done_cv */
    pthread_cond_t done_cv;
    int kicked, stopping;
    sl_jmha_status st;
    int64_t lease_until;  /* monotonic */
    char leader_addr[SL_HA_ADDR_MAX];
    sl_jmha_recovered *recovered;
    size_t nrecovered;
    uint64_t recovered_gen;
    ha_submit *submits;
    ha_job jobs[SL_JMHA_MAX_JOBS];
    /* the thread's own */
    pthread_t thread;
    sl_zk *zk;
    char latch[SL_ZK_PATH_MAX]; /* our latch's path ("" = none) */
    int64_t next_ping;
};

/* ---- small helpers (ha->mu held) */

static void kick(sl_jmha *ha)
{
    ha->kicked = 1;
    pthread_cond_signal(&ha->cv);
}

static ha_job *job_find(sl_jmha *ha, const char *job_id)
{
    for (int i = 0; i < SL_JMHA_MAX_JOBS; i++)
        if (ha->jobs[i].used && strcmp(ha->jobs[i].rec.job_id, job_id) == 0)
            return &ha->jobs[i];
    return NULL;
}

static ha_job *job_add(sl_jmha *ha, const sl_hastore_job *rec)
{
    for (int i = 0; i < SL_JMHA_MAX_JOBS; i++)
        if (!ha->jobs[i].used) {
            memset(&ha->jobs[i], 0, sizeof(ha->jobs[i]));
            ha->jobs[i].used = 1;
            ha->jobs[i].rec = *rec;
            return &ha->jobs[i];
        }
    return NULL;
}

/* Waits on cv until kicked, stopping or ms passed. */
static void wait_ms(sl_jmha *ha, int64_t ms)
{
    struct timespec until;
    sl_deadline_in(CLOCK_REALTIME, ms, &until);
    while (!ha->kicked && !ha->stopping)
        if (pthread_cond_timedwait(&ha->cv, &ha->mu, &until) != 0)
            break;
    ha->kicked = 0;
}

void sl_jmha_recovered_free(sl_jmha_recovered *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i].submission);
    free(list);
}

/* ---- leadership (ha->mu held) */

static void fail_submits(sl_jmha *ha, const char *why)
{
    for (ha_submit *s = ha->submits; s != NULL; s = s->next) {
        s->done = 1;
        s->rv = SL_ECLOSED;
        snprintf(s->err, sizeof(s->err), "%s", why);
    }
    ha->submits = NULL;
    pthread_cond_broadcast(&ha->done_cv);
}

static void lose(sl_jmha *ha, const char *why)
{
    if (ha->st.leader)
        sl_warn("high availability: lost leadership (leader id %" PRIu64 "): %s; acting on "
                "nothing until elected again", ha->st.leader_id, why);
    ha->st.leader = 0;
    ha->st.acting = 0;
    ha->st.leader_id = 0;
    ha->st.gen++;
    ha->lease_until = 0;
    memset(ha->jobs, 0, sizeof(ha->jobs));
    sl_jmha_recovered_free(ha->recovered, ha->nrecovered);
    ha->recovered = NULL;
    ha->nrecovered = 0;
    fail_submits(ha, "this jobmanager is no longer the leader");
}

/* Ends the session (our latch goes with it). */
static void drop_session(sl_jmha *ha, const char *why)
{
    lose(ha, why);
    sl_zk *zk = ha->zk;
    ha->zk = NULL;
    ha->latch[0] = '\0';
    pthread_mutex_unlock(&ha->mu);
    sl_zk_close(zk);
    pthread_mutex_lock(&ha->mu);
}

static void on_event(void *ctx, int event, const char *path)
{
    (void)event;
    (void)path;
    sl_jmha *ha = ctx;
    pthread_mutex_lock(&ha->mu);
    kick(ha);
    pthread_mutex_unlock(&ha->mu);
}

/* ---- session and latch (ha->mu held; dropped around ZooKeeper calls) */

static int connect_session(sl_jmha *ha)
{
    sl_zk *zk = NULL;
    pthread_mutex_unlock(&ha->mu);
    int rv = sl_ha_connect(ha->cfg, on_event, ha, &zk);
    pthread_mutex_lock(&ha->mu);
    if (rv != SL_OK) {
        sl_warn_limited("high availability: cannot reach ZooKeeper: %s", sl_strerror(rv));
        return rv;
    }
    ha->zk = zk;
    sl_info("high availability: ZooKeeper session 0x%" PRIx64 " (timeout %" PRId64 " ms)",
            (uint64_t)sl_zk_session_id(zk), sl_zk_session_timeout_ms(zk));
    return SL_OK;
}

static int create_latch(sl_jmha *ha)
{
    char dir[SL_ZK_PATH_MAX], path[SL_ZK_PATH_MAX], made[SL_ZK_PATH_MAX];
    int rv = sl_ha_path(ha->cfg, SL_HA_LEADER_DIR, dir, sizeof(dir));
    if (rv != SL_OK)
        return rv;
    if ((size_t)snprintf(path, sizeof(path), "%s/" SL_HA_LATCH_PREFIX, dir) >= sizeof(path))
        return SL_ENOSPC;
    pthread_mutex_unlock(&ha->mu);
    rv = sl_zk_create(ha->zk, path, ha->addr, strlen(ha->addr), SL_ZK_EPHEMERAL_SEQUENTIAL, made,
                      sizeof(made));
    pthread_mutex_lock(&ha->mu);
    if (rv != SL_OK)
        return rv;
    snprintf(ha->latch, sizeof(ha->latch), "%s", made);
    sl_info("high availability: running for leader as %s", made);
    return SL_OK;
}

static const char *latch_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash != NULL ? slash + 1 : path;
}

/* ---- election (ha->mu held; dropped around ZooKeeper calls) */

/* *leads: our latch is the lowest. The leader's address is refreshed. */
static int check_election(sl_jmha *ha, int *leads)
{
    char addr[SL_HA_ADDR_MAX];
    uint64_t id = 0;
    pthread_mutex_unlock(&ha->mu);
    int rv = sl_ha_leader_read(ha->zk, ha->cfg, 1, addr, sizeof(addr), &id);
    pthread_mutex_lock(&ha->mu);
    if (rv != SL_OK)
        return rv;
    snprintf(ha->leader_addr, sizeof(ha->leader_addr), "%s", addr);
    *leads = id == sl_ha_latch_id(latch_name(ha->latch));
    return SL_OK;
}

/* Reads one job the previous leader left; SL_OK with *ok 0 for a job that
 * cannot be recovered (logged), another code if ZooKeeper failed. */
static int recover_one(sl_jmha *ha, const char *id, sl_jmha_recovered *r, int *ok)
{
    char err[1024], path[PATH_MAX];
    *ok = 0;
    int rv = sl_hastore_get(ha->zk, ha->cfg, id, &r->rec, err, sizeof(err));
    if (rv == SL_EUNREACH || rv == SL_ECLOSED)
        return rv;
    if (rv == SL_OK && (rv = sl_hastore_submission_path(ha->cfg, id, path, sizeof(path))) != SL_OK)
        snprintf(err, sizeof(err), "no submission path: %s", sl_strerror(rv));
    if (rv == SL_OK)
        rv = sl_hastore_read_submission(path, ha->max_submission, &r->submission, &r->len, err,
                                        sizeof(err));
    if (rv != SL_OK) {
        sl_error("high availability: cannot recover job %s: %s (its records stay)", id, err);
        return SL_OK;
    }
    *ok = 1;
    return SL_OK;
}

static int recover(sl_jmha *ha, sl_jmha_recovered **out, size_t *nout)
{
    char **ids = NULL;
    size_t n = 0, k = 0;
    sl_jmha_recovered *list = NULL;
    pthread_mutex_unlock(&ha->mu);
    int rv = sl_hastore_list(ha->zk, ha->cfg, &ids, &n);
    if (rv == SL_OK && n > SL_JMHA_MAX_JOBS) {
        sl_error("high availability: %zu jobs recorded; recovering the first %d", n,
                 SL_JMHA_MAX_JOBS);
        n = SL_JMHA_MAX_JOBS;
    }
    if (rv == SL_OK && (list = calloc(n > 0 ? n : 1, sizeof(*list))) == NULL)
        rv = SL_ENOMEM;
    for (size_t i = 0; rv == SL_OK && i < n; i++) {
        int ok = 0;
        rv = recover_one(ha, ids[i], &list[k], &ok);
        k += ok;
    }
    sl_zk_children_free(ids, n);
    pthread_mutex_lock(&ha->mu);
    if (rv != SL_OK) {
        sl_jmha_recovered_free(list, k);
        return rv;
    }
    *out = list;
    *nout = k;
    return SL_OK;
}

static void become_leader(sl_jmha *ha, int64_t t0)
{
    sl_jmha_recovered *list = NULL;
    size_t n = 0;
    int rv = recover(ha, &list, &n);
    if (rv != SL_OK) {
        sl_warn_limited("high availability: cannot read the jobs to recover: %s",
                        sl_strerror(rv));
        return;
    }
    int64_t to = sl_zk_session_timeout_ms(ha->zk);
    memset(ha->jobs, 0, sizeof(ha->jobs));
    for (size_t i = 0; i < n; i++)
        job_add(ha, &list[i].rec);
    ha->st.leader = 1;
    ha->st.leader_id = sl_ha_latch_id(latch_name(ha->latch));
    ha->st.gen++;
    ha->lease_until = t0 + to * LEASE_NUM / LEASE_DEN;
    ha->next_ping = sl_now_ms() + to / PING_DIV;
    ha->recovered = list;
    ha->nrecovered = n;
    ha->recovered_gen = ha->st.gen;
    snprintf(ha->leader_addr, sizeof(ha->leader_addr), "%s", ha->addr);
    sl_info("high availability: elected leader %s (leader id %" PRIu64 "); %zu job(s) to "
            "recover", ha->addr, ha->st.leader_id, n);
}

/* Renews the lease: an answer proves the session lived when we asked. */
static void ping(sl_jmha *ha)
{
    int64_t t0 = sl_now_ms(), to = sl_zk_session_timeout_ms(ha->zk);
    char latch[SL_ZK_PATH_MAX];
    snprintf(latch, sizeof(latch), "%s", ha->latch);
    pthread_mutex_unlock(&ha->mu);
    int rv = sl_zk_exists(ha->zk, latch, 0, NULL);
    pthread_mutex_lock(&ha->mu);
    ha->next_ping = sl_now_ms() + to / PING_DIV;
    if (rv == SL_OK)
        ha->lease_until = t0 + to * LEASE_NUM / LEASE_DEN;
    else if (rv == SL_ENOTFOUND)
        drop_session(ha, "our election latch is gone");
    else if (rv == SL_ECLOSED)
        drop_session(ha, "the ZooKeeper session expired");
    else
        sl_warn_limited("high availability: ZooKeeper did not answer: %s (acting for %" PRId64
                        " ms more at most)", sl_strerror(rv), ha->lease_until - sl_now_ms());
}

/* ---- records (ha->mu held; dropped around I/O) */

static int write_submission(sl_jmha *ha, const ha_submit *s, char *err, size_t errlen)
{
    char path[PATH_MAX];
    sl_hastore_job rec = {0};
    snprintf(rec.job_id, sizeof(rec.job_id), "%s", s->job_id);
    int rv = sl_hastore_submission_path(ha->cfg, s->job_id, path, sizeof(path));
    if (rv != SL_OK) {
        snprintf(err, errlen, "no place for it under high-availability.storageDir: %s",
                 sl_strerror(rv));
        return rv;
    }
    if ((rv = sl_hastore_write_submission(path, s->data, s->len, err, errlen)) != SL_OK)
        return rv;
    if ((rv = sl_hastore_put(ha->zk, ha->cfg, &rec, 1)) != SL_OK)
        snprintf(err, errlen, "cannot record the job in ZooKeeper: %s", sl_strerror(rv));
    return rv;
}

static void do_submits(sl_jmha *ha)
{
    for (ha_submit **pp = &ha->submits; *pp != NULL;) {
        ha_submit *s = *pp;
        s->taken = 1;
        pthread_mutex_unlock(&ha->mu);
        int rv = write_submission(ha, s, s->err, sizeof(s->err));
        pthread_mutex_lock(&ha->mu);
        *pp = s->next; /* only this thread unlinks taken submits */
        sl_hastore_job rec = {0};
        snprintf(rec.job_id, sizeof(rec.job_id), "%s", s->job_id);
        if (rv == SL_OK && (!ha->st.leader || job_add(ha, &rec) == NULL)) {
            rv = ha->st.leader ? SL_ENOSPC : SL_ECLOSED;
            snprintf(s->err, sizeof(s->err), "%s", ha->st.leader
                     ? "too many jobs with records" : "this jobmanager is no longer the leader");
        }
        s->rv = rv;
        s->done = 1;
        pthread_cond_broadcast(&ha->done_cv);
    }
}

/* What j's node should hold now; 0 if nothing is to write. */
static int wanted(const ha_job *j, sl_hastore_job *want)
{
    *want = j->rec;
    if (j->want_ptr > j->rec.checkpoint_id && j->want_ptr > j->failed_ptr) {
        want->checkpoint_id = j->want_ptr;
        snprintf(want->checkpoint_dir, sizeof(want->checkpoint_dir), "%s", j->want_dir);
    }
    if (j->want_counter > want->counter)
        want->counter = j->want_counter;
    return j->remove || memcmp(want, &j->rec, sizeof(*want)) != 0;
}

static void record_failed(ha_job *j, const sl_hastore_job *want, int rv)
{
    sl_error("high availability: cannot %s the records of job %s: %s",
             j->remove ? "remove" : "write", j->rec.job_id, sl_strerror(rv));
    if (want->checkpoint_id > j->rec.checkpoint_id)
        j->failed_ptr = want->checkpoint_id;
    j->rec.counter = want->counter; /* not again */
    if (j->remove)
        j->used = 0;
}

/* 0 when ZooKeeper did not answer (try again later). */
static int write_one(sl_jmha *ha, ha_job *j)
{
    sl_hastore_job want;
    if (!wanted(j, &want))
        return 1;
    int remove = j->remove;
    pthread_mutex_unlock(&ha->mu);
    int rv = remove ? sl_hastore_delete(ha->zk, ha->cfg, want.job_id)
                    : sl_hastore_put(ha->zk, ha->cfg, &want, 0);
    pthread_mutex_lock(&ha->mu);
    if (!ha->st.leader || !j->used)
        return 0; /* lost meanwhile: the table was cleared */
    if (rv == SL_EUNREACH || rv == SL_ECLOSED)
        return 0;
    if (rv != SL_OK)
        record_failed(j, &want, rv);
    else if (remove)
        j->used = 0;
    else
        j->rec = want;
    return 1;
}

static void do_records(sl_jmha *ha)
{
    for (int i = 0; i < SL_JMHA_MAX_JOBS && ha->st.leader && !ha->stopping; i++)
        if (ha->jobs[i].used && !write_one(ha, &ha->jobs[i]))
            return;
}

/* ---- the thread */

static void standby_round(sl_jmha *ha)
{
    int leads = 0;
    int64_t t0 = sl_now_ms();
    int rv = check_election(ha, &leads);
    if (rv == SL_OK && leads) {
        become_leader(ha, t0);
        if (ha->st.leader)
            return;
    }
    if (rv == SL_ENOTFOUND) { /* not even our latch: it went */
        drop_session(ha, "our election latch is gone");
        return;
    }
    wait_ms(ha, SL_JMHA_ELECTION_POLL_MS);
}

static void leader_round(sl_jmha *ha)
{
    if (sl_now_ms() >= ha->next_ping)
        ping(ha);
    if (!ha->st.leader)
        return;
    do_submits(ha);
    do_records(ha);
    int64_t left = ha->next_ping - sl_now_ms();
    wait_ms(ha, left < 1 ? 1 : left < WRITE_WAIT_MS ? left : WRITE_WAIT_MS);
}

static void *ha_main(void *arg)
{
    sl_jmha *ha = arg;
    pthread_mutex_lock(&ha->mu);
    while (!ha->stopping) {
        if (ha->zk == NULL && connect_session(ha) != SL_OK) {
            wait_ms(ha, SL_JMHA_RETRY_MS);
            continue;
        }
        if (sl_zk_state(ha->zk) == SL_ZK_EXPIRED) {
            drop_session(ha, "the ZooKeeper session expired");
            continue;
        }
        if (ha->latch[0] == '\0' && create_latch(ha) != SL_OK) {
            drop_session(ha, "cannot create the election latch");
            wait_ms(ha, SL_JMHA_RETRY_MS);
            continue;
        }
        if (ha->st.leader)
            leader_round(ha);
        else
            standby_round(ha);
    }
    lose(ha, "the jobmanager is stopping");
    sl_zk *zk = ha->zk;
    ha->zk = NULL;
    pthread_mutex_unlock(&ha->mu);
    sl_zk_close(zk);
    return NULL;
}

/* ---- API */

int sl_jmha_start(const sl_config *cfg, const char *address, size_t max_submission, sl_jmha **out)
{
    sl_jmha *ha = calloc(1, sizeof(*ha));
    if (ha == NULL)
        return SL_ENOMEM;
    ha->cfg = cfg;
    ha->max_submission = max_submission;
    snprintf(ha->addr, sizeof(ha->addr), "%s", address);
    pthread_mutex_init(&ha->mu, NULL);
    pthread_cond_init(&ha->cv, NULL);
    pthread_cond_init(&ha->done_cv, NULL);
    if (pthread_create(&ha->thread, NULL, ha_main, ha) != 0) {
        pthread_mutex_destroy(&ha->mu);
        pthread_cond_destroy(&ha->cv);
        pthread_cond_destroy(&ha->done_cv);
        free(ha);
        return SL_ENOMEM;
    }
    *out = ha;
    return SL_OK;
}

void sl_jmha_stop(sl_jmha *ha)
{
    if (ha == NULL)
        return;
    pthread_mutex_lock(&ha->mu);
    ha->stopping = 1;
    kick(ha);
    pthread_mutex_unlock(&ha->mu);
    pthread_join(ha->thread, NULL);
    sl_jmha_recovered_free(ha->recovered, ha->nrecovered);
    pthread_mutex_destroy(&ha->mu);
    pthread_cond_destroy(&ha->cv);
    pthread_cond_destroy(&ha->done_cv);
    free(ha);
}

void sl_jmha_status_get(sl_jmha *ha, sl_jmha_status *st)
{
    pthread_mutex_lock(&ha->mu);
    *st = ha->st;
    st->acting = ha->st.leader && sl_now_ms() < ha->lease_until;
    pthread_mutex_unlock(&ha->mu);
}

int sl_jmha_may_act(sl_jmha *ha)
{
    if (ha == NULL)
        return 1;
    sl_jmha_status st;
    sl_jmha_status_get(ha, &st);
    return st.acting;
}

void sl_jmha_leader_addr(sl_jmha *ha, char *buf, size_t len)
{
    pthread_mutex_lock(&ha->mu);
    snprintf(buf, len, "%s", ha->leader_addr);
    pthread_mutex_unlock(&ha->mu);
}

void sl_jmha_take_recovered(sl_jmha *ha, uint64_t gen, sl_jmha_recovered **list, size_t *n)
{
    pthread_mutex_lock(&ha->mu);
    *list = NULL;
    *n = 0;
    if (ha->recovered_gen == gen && ha->st.leader) {
        *list = ha->recovered;
        *n = ha->nrecovered;
        ha->recovered = NULL;
        ha->nrecovered = 0;
    }
    pthread_mutex_unlock(&ha->mu);
}

int sl_jmha_persist_job(sl_jmha *ha, const char *job_id, const void *submission, size_t len,
                      uint64_t *gen, char *err, size_t errlen)
{
    ha_submit s = {.job_id = job_id, .data = submission, .len = len};
    pthread_mutex_lock(&ha->mu);
    if (!ha->st.leader || ha->stopping) {
        pthread_mutex_unlock(&ha->mu);
        snprintf(err, errlen, "this jobmanager is not the leader");
        return SL_ECLOSED;
    }
    *gen = ha->st.gen;
    s.next = ha->submits;
    ha->submits = &s;
    kick(ha);
    while (!s.done)
        pthread_cond_wait(&ha->done_cv, &ha->mu);
    if (s.rv == SL_OK && ha->st.gen != *gen) {
        s.rv = SL_ECLOSED;
        snprintf(s.err, sizeof(s.err), "this jobmanager is no longer the leader");
    }
    pthread_mutex_unlock(&ha->mu);
    if (s.rv != SL_OK)
        snprintf(err, errlen, "%s", s.err);
    return s.rv;
}

int sl_jmha_pointer_put(sl_jmha *ha, const char *job_id, uint64_t id, const char *dir)
{
    pthread_mutex_lock(&ha->mu);
    ha_job *j = job_find(ha, job_id);
    if (j != NULL && id > j->want_ptr) {
        j->want_ptr = id;
        snprintf(j->want_dir, sizeof(j->want_dir), "%s", dir);
        kick(ha);
    }
    pthread_mutex_unlock(&ha->mu);
    return j != NULL ? SL_OK : SL_ENOTFOUND;
}

int sl_jmha_pointer_state(sl_jmha *ha, const char *job_id, uint64_t id)
{
    pthread_mutex_lock(&ha->mu);
    ha_job *j = job_find(ha, job_id);
    int rv = j == NULL || j->failed_ptr >= id ? SL_EIO
             : j->rec.checkpoint_id >= id     ? SL_OK
                                              : SL_EBUSY;
    pthread_mutex_unlock(&ha->mu);
    return rv;
}

void sl_jmha_counter(sl_jmha *ha, const char *job_id, uint64_t counter)
{
    pthread_mutex_lock(&ha->mu);
    ha_job *j = job_find(ha, job_id);
    if (j != NULL && counter > j->want_counter) {
        j->want_counter = counter;
        kick(ha);
    }
    pthread_mutex_unlock(&ha->mu);
}

void sl_jmha_job_ended(sl_jmha *ha, const char *job_id)
{
    pthread_mutex_lock(&ha->mu);
    ha_job *j = job_find(ha, job_id);
    if (j != NULL) {
        j->remove = 1;
        kick(ha);
    }
    pthread_mutex_unlock(&ha->mu);
}
