/* Jobmanager start/stop and the loop thread: the top of the stack.
 *
 * The loop wakes when a handler records something (sl_wake_kick), when a
 * connection or a call to a taskmanager ends, and at least every
 * SL_JM_TICK_MS. Each round it checks taskmanagers (connections,
 * heartbeats, new clients), judges the calls that ended, then advances
 * every job's state machine (job.c acts on what the registry and the
 * calls' outcomes report). It is the only thread that calls
 * taskmanagers, and it never waits for one: calls are started on one round
 * and their outcomes taken on a later one (tm_calls.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ha.h"
#include "common/log.h"
#include "common/rpc_guard.h"
#include "common/tls.h"
#include "common/net_addr.h"
#include "common/status.h"
#include "common/util.h"
#include "jobmanager/jobmanager.h"

/* Hands every ended call to the job module (which asks the registry, the
 * scheduler and the coordinator). */
static void take_outcomes(sl_jm *jm)
{
    sl_tmcall_outcome o;
    while (sl_tmcall_take(&jm->calls, &o)) {
        sl_jm_job_call_ended(jm, &o);
        sl_tmcall_outcome_clear(&o);
    }
}

/* ---- high availability: the loop's view of leadership */

/* Stops every call in flight and drops what they answered: nothing of the
 * old leadership may be judged in a new one. */
static void drop_calls(sl_jm *jm)
{
    for (sl_tmreg_entry *tm = jm->tms; tm != NULL; tm = tm->next)
        sl_tmcall_stop(&jm->calls, tm->id); /* drops jm->mu while nng stops them */
    sl_tmcall_outcome o;
    while (sl_tmcall_take(&jm->calls, &o))
        sl_tmcall_outcome_clear(&o);
}

/* Leadership ended: the jobs are forgotten without acting on them (no
 * cancel, no cleanup: the new leader decides), the taskmanagers too (they
 * register with the new leader). */
static void lose_leadership(sl_jm *jm)
{
    int n = 0;
    for (sl_job *job = jm->jobs; job != NULL; job = job->next)
        n++;
    sl_warn("jobmanager: no longer the leader: forgetting %d job(s) and every taskmanager "
            "without acting on them", n);
    jm->leading = 0;
    jm->calls.leader_id = 0;
    sl_jm_job_free_all(jm);
    for (sl_tmreg_entry *tm = jm->tms; tm != NULL; tm = tm->next)
        sl_tmreg_lose(jm, tm, "this jobmanager is no longer the leader");
    char tm_id[SL_TM_ID_MAX + 1], reason[1024];
    while (sl_tmreg_take_loss(jm, tm_id, reason, sizeof(reason)))
        ; /* no job is left to tell; a later leadership must not hear of them */
    drop_calls(jm);
}

static void take_leadership(sl_jm *jm, const sl_jmha_status *st)
{
    sl_jmha_recovered *list = NULL;
    size_t n = 0;
    sl_jmha_take_recovered(jm->ha, st->gen, &list, &n);
    jm->lead_gen = st->gen;
    jm->calls.leader_id = st->leader_id;
    sl_info("jobmanager: granted leadership (leader id %llu): recovering %zu job(s)",
            (unsigned long long)st->leader_id, n);
    for (size_t i = 0; i < n && !jm->stopping; i++)
        sl_jm_submit_recover(jm, &list[i]); /* drops jm->mu while it parses */
    sl_jmha_recovered_free(list, n);
    /* only now: until every recovered job is in the table, handlers answer
     * NOT_LEADER (a client asking for a job meanwhile tries again) */
    jm->leading = 1;
}

/* Whether this round may act (always without HA). */
static void ha_round(sl_jm *jm)
{
    sl_jmha_status st;
    if (jm->ha == NULL) {
        jm->acting = 1;
        return;
    }
    sl_jmha_status_get(jm->ha, &st);
    if (jm->leading && (!st.leader || st.gen != jm->lead_gen))
        lose_leadership(jm);
    if (!jm->leading && st.leader)
        take_leadership(jm, &st);
    if (jm->acting && jm->leading && !st.acting) {
        sl_warn("jobmanager: the leadership lease ran out (ZooKeeper did not answer in time): "
                "acting on nothing until it is renewed");
        jm->lease_lapsed = 1;
    }
    if (jm->lease_lapsed && jm->leading && st.acting) {
        sl_info("jobmanager: the leadership lease is renewed (the session survived): acting again");
        jm->lease_lapsed = 0;
    }
    if (!jm->leading)
        jm->lease_lapsed = 0;
    jm->acting = jm->leading && st.acting;
}

static void loop_round(sl_jm *jm)
{
    ha_round(jm);
    sl_tmreg_tick(jm);
    if (!jm->acting)
        return; /* no decisions without a valid leadership */
    sl_jm_job_tms_lost(jm);
    take_outcomes(jm);
    for (sl_job *job = jm->jobs; job != NULL && !jm->stopping; job = job->next)
        sl_jm_job_step(jm, job);
    sl_jm_job_trim(jm);
}

static void *loop_main(void *arg)
{
    sl_jm *jm = arg;
    pthread_mutex_lock(&jm->mu);
    while (!jm->stopping) {
        jm->wake.kicked = 0;
        loop_round(jm);
        sl_wake_wait(&jm->wake, &jm->mu, SL_JM_TICK_MS, &jm->stopping);
    }
    pthread_mutex_unlock(&jm->mu);
    return NULL;
}

static int read_config(sl_jm *jm, const sl_config *cfg)
{
    int64_t max_msg = 0, par = 0;
    int rv = sl_config_get_ms(cfg, "heartbeat.timeout", &jm->hb_timeout_ms);
    if (rv == SL_OK)
        rv = sl_config_get_ms(cfg, "jobmanager.restart.slot-wait-timeout", &jm->slot_wait_ms);
    if (rv == SL_OK)
        rv = sl_config_get_bytes(cfg, "rpc.max-message-size", &max_msg);
    if (rv == SL_OK)
        rv = sl_config_get_int(cfg, "parallelism.default", &par);
    if (rv != SL_OK) {
        sl_error("jobmanager: cannot read the configuration: %s", sl_strerror(rv));
        return rv;
    }
    jm->chk_rpc_timeout_ms = jm->hb_timeout_ms / 2;
    if (jm->chk_rpc_timeout_ms < 100)
        jm->chk_rpc_timeout_ms = 100;
    if (jm->chk_rpc_timeout_ms > SL_JM_RPC_TIMEOUT_MS)
        jm->chk_rpc_timeout_ms = SL_JM_RPC_TIMEOUT_MS;
    jm->max_msg = (size_t)max_msg;
    jm->default_par = (int)par;
    jm->cfg = cfg;
    sl_tmcall_init(&jm->calls, &jm->mu, &jm->wake.cv, &jm->wake.kicked);
    return SL_OK;
}

static int init_sync(sl_jm *jm)
{
    if (sl_wake_init(&jm->wake) != SL_OK)
        return SL_ENOMEM;
    if (pthread_mutex_init(&jm->mu, NULL) != 0) {
        sl_wake_destroy(&jm->wake);
        return SL_ENOMEM;
    }
    if (sl_tmcloser_init(&jm->closer) != SL_OK) {
        pthread_mutex_destroy(&jm->mu);
        sl_wake_destroy(&jm->wake);
        return SL_ENOMEM;
    }
    return SL_OK;
}

static int start_server(sl_jm *jm)
{
    sl_addr_endpoint ep;
    int64_t port;
    char url[SL_JM_ADDR_MAX], err[1024];
    int bound = 0;
    int rv = sl_addr_jobmanager(jm->cfg, &ep, err, sizeof(err));
    if (rv != SL_OK)
        sl_error("%s", err);
    if (rv == SL_OK)
        rv = sl_config_get_int(jm->cfg, "jobmanager.rpc.port", &port);
    if (rv == SL_OK)
        rv = sl_addr_url(ep.bind, (int)port, url, sizeof(url));
    if (rv != SL_OK)
        return rv;
    rv = sl_guard_open(jm->cfg, &jm->guard, err, sizeof(err));
    if (rv != SL_OK) {
        sl_error("%s", err);
        return rv;
    }
    rv = sl_rpc_server_start_guarded(SL_RPC_SERVE_JOBMANAGER, url, SL_JM_RPC_WORKERS,
                                     jm->max_msg, jm->guard, sl_jm_rpc_handle, jm, &jm->server,
                                     &bound);
    if (rv != SL_OK)
        return rv;
    sl_info("jobmanager listening on %s%s, advertised as %s", url,
            sl_tls_on(SL_TLS_RPC_LISTEN) ? " (TLS)" : "", ep.advertised);
    sl_tls_warn_plain("the jobmanager", ep.bind, SL_TLS_RPC_LISTEN);
    sl_addr_hostport(ep.advertised, (int)port, jm->address, sizeof(jm->address));
    return SL_OK;
}

int sl_jm_start(const sl_config *cfg, sl_jm **out)
{
    sl_jm *jm = calloc(1, sizeof(*jm));
    if (jm == NULL)
        return SL_ENOMEM;
    int rv = read_config(jm, cfg);
    if (rv != SL_OK)
        goto fail_free;
    if ((rv = init_sync(jm)) != SL_OK)
        goto fail_free;
    if ((rv = start_server(jm)) != SL_OK)
        goto fail_sync;
    if (sl_ha_enabled(cfg) && (rv = sl_jmha_start(cfg, jm->address, jm->max_msg, &jm->ha)) != SL_OK)
        goto fail_server;
    if (pthread_create(&jm->loop, NULL, loop_main, jm) != 0) {
        rv = SL_ENOMEM;
        goto fail_server;
    }
    jm->loop_started = 1;
    *out = jm;
    return SL_OK;
fail_server:
    sl_jmha_stop(jm->ha);
    sl_rpc_server_stop(jm->server);
    sl_guard_free(jm->guard);
    jm->guard = NULL;
fail_sync:
    sl_tmcloser_destroy(&jm->closer);
    pthread_mutex_destroy(&jm->mu);
    sl_wake_destroy(&jm->wake);
fail_free:
    free(jm);
    return rv;
}

void sl_jm_stop(sl_jm *jm)
{
    if (jm == NULL)
        return;
    sl_rpc_server_stop(jm->server);
    sl_guard_free(jm->guard);
    jm->guard = NULL;
    jm->server = NULL;
    pthread_mutex_lock(&jm->mu);
    jm->stopping = 1;
    sl_wake_kick(&jm->wake);
    pthread_mutex_unlock(&jm->mu);
    if (jm->loop_started)
        pthread_join(jm->loop, NULL);
    sl_jmha_stop(jm->ha); /* ends the session: a standby takes over at once */
    jm->ha = NULL;
    sl_tmcall_free(&jm->calls); /* before the clients close */
    sl_tmreg_free_all(jm);
    sl_jm_job_free_all(jm);
    int hung = sl_tmcloser_drain(&jm->closer, SL_TMCLOSER_DRAIN_MS);
    if (hung > 0) { /* their pipe callbacks may still take jm->mu: keep it */
        sl_warn("%d connection(s) of lost taskmanagers still closing at shutdown", hung);
        return;
    }
    sl_tmcloser_destroy(&jm->closer);
    pthread_mutex_destroy(&jm->mu);
    sl_wake_destroy(&jm->wake);
    free(jm);
}
