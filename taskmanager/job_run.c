#include "taskmanager/job_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/checkpoint_store.h"
#include "common/log.h"
#include "common/status.h"
#include "common/util.h"
#include "taskmanager/operators/op_registry.h"
#include "taskmanager/state/keygroup.h"
#include "taskmanager/task.h"
#include "taskmanager/udf_libs.h"

static int find_edge(const sl_job_graph *g, int prod_stage, int cons_stage)
{
    for (int e = 0; e < g->nedges; e++)
        if (g->edges[e].prod_stage == prod_stage && g->edges[e].cons_stage == cons_stage)
            return e;
    return -1;
}

static int get_peer(sl_job_run *r, const sl_job_run_env *env, const char *addr, sl_peer **out)
{
    const char *url = strcmp(addr, env->tm_data_url) == 0 ? env->tm_inproc_url : addr;
    for (int i = 0; i < r->npeers; i++) {
        if (strcmp(r->peers[i]->url, url) == 0) {
            *out = r->peers[i];
            return SL_OK;
        }
    }
    if (r->npeers == (int)(sizeof(r->peers) / sizeof(r->peers[0])))
        return SL_ENOSPC;
    int rv = sl_peer_open(url, env->max_frame, &r->peers[r->npeers]);
    if (rv == SL_OK)
        *out = r->peers[r->npeers++];
    return rv;
}

static void frame_id(sl_frame_hdr *h, const sl_job_run *r, const sl_edge *e, int src, int dst)
{
    memset(h, 0, sizeof(*h));
    h->kind = SL_FRAME_DATA;
    memcpy(h->job, r->job_id, sizeof(h->job));
    h->attempt = r->attempt;
    memcpy(h->token, r->data_token, sizeof(h->token));
    h->prod_stage = (uint16_t)e->prod_stage;
    h->cons_stage = (uint16_t)e->cons_stage;
    h->src = (uint16_t)src;
    h->dst = (uint16_t)dst;
}

static int alloc_edge_tables(sl_job_run *r)
{
    for (int e = 0; e < r->graph.nedges; e++) {
        size_t n = (size_t)(r->graph.edges[e].prod_par * r->graph.edges[e].cons_par);
        r->in[e] = calloc(n, sizeof(sl_in_channel *));
        r->out[e] = calloc(n, sizeof(sl_out_channel *));
        if (r->in[e] == NULL || r->out[e] == NULL)
            return SL_ENOMEM;
    }
    return SL_OK;
}

static int setup_inputs(sl_job_run *r, sl_task *t, const Sluice__DeployTasks *d,
                        const sl_job_run_env *env, int credits)
{
    int n = 0;
    for (int e = 0; e < r->graph.nedges; e++) {
        const sl_edge *ed = &r->graph.edges[e];
        if (ed->cons_chain == t->chain_idx)
            for (int src = 0; src < ed->prod_par; src++)
                n += sl_edge_has_channel(ed, src, t->subtask);
    }
    int rv = sl_in_gate_init(&t->gate, n);
    for (int e = 0, k = 0; e < r->graph.nedges && rv == SL_OK; e++) {
        const sl_edge *ed = &r->graph.edges[e];
        if (ed->cons_chain != t->chain_idx)
            continue;
        for (int src = 0; src < ed->prod_par && rv == SL_OK; src++) {
            if (!sl_edge_has_channel(ed, src, t->subtask))
                continue;
            sl_in_channel *ch = calloc(1, sizeof(*ch));
            if (ch == NULL)
                return SL_ENOMEM;
            t->gate.ch[k++] = ch;
            ch->gate = &t->gate;
            ch->cap = (uint32_t)credits;
            frame_id(&ch->id, r, ed, src, t->subtask);
            int ptask = r->graph.chains[ed->prod_chain].task_base + src;
            rv = get_peer(r, env, d->task_addrs[ptask], &ch->peer);
            r->in[e][src * ed->cons_par + t->subtask] = ch;
        }
    }
    return rv;
}

static int setup_outputs(sl_job_run *r, sl_task *t, const Sluice__DeployTasks *d,
                         const sl_job_run_env *env, size_t bufsize, uint32_t credits)
{
    int rv = SL_OK;
    for (int e = 0; e < r->graph.nedges && rv == SL_OK; e++) {
        const sl_edge *ed = &r->graph.edges[e];
        if (ed->prod_chain != t->chain_idx)
            continue;
        sl_out_edge *oe = &t->out[t->nout++];
        oe->edge = ed;
        oe->cons = &r->spec->stages[ed->cons_stage];
        oe->nch = ed->cons_par;
        oe->ch = calloc((size_t)ed->cons_par, sizeof(sl_out_channel *));
        if (oe->ch == NULL)
            return SL_ENOMEM;
        for (int dst = 0; dst < ed->cons_par && rv == SL_OK; dst++) {
            if (!sl_edge_has_channel(ed, t->subtask, dst))
                continue;
            sl_out_channel *ch = calloc(1, sizeof(*ch));
            if (ch == NULL)
                return SL_ENOMEM;
            oe->ch[dst] = ch;
            ch->mu = &t->out_mu;
            ch->cv = &t->out_cv;
            frame_id(&ch->id, r, ed, t->subtask, dst);
            rv = sl_out_channel_init(ch, bufsize, credits);
            int ctask = r->graph.chains[ed->cons_chain].task_base + dst;
            if (rv == SL_OK)
                rv = get_peer(r, env, d->task_addrs[ctask], &ch->peer);
            r->out[e][t->subtask * ed->cons_par + dst] = ch;
        }
    }
    return rv;
}

/* The task interface of the operators' context (op_context.h). */
static int ctx_emit(void *t, const sl_row *row) { return sl_task_emit(t, row); }
static int ctx_watermark(void *t, int64_t wm) { return sl_task_source_watermark(t, wm); }
static int ctx_flush(void *t) { return sl_task_flush(t); }
static int ctx_poll(void *t) { return sl_task_poll(t); }

/* What the operators of t's chain see of t (copied into each). */
static void op_context(sl_task *t, sl_op_ctx *c)
{
    sl_job_run *r = t->run;

    *c = (sl_op_ctx){
        .job_id = r->job_id, .attempt = r->attempt, .task_name = t->chain->name,
        .subtask = t->subtask, .parallelism = t->parallelism,
        .max_parallelism = sl_task_max_parallelism(t), .restoring = r->restore_md != NULL,
        .spec = r->spec, .udf_libs = r->udf_libs,
        .keyed = {.backend = "hashmap", .local_roots = ""},
        .task = {.arg = t, .emit = ctx_emit, .watermark = ctx_watermark, .flush = ctx_flush,
                 .poll = ctx_poll},
        .failure = t->failure, .failure_cap = sizeof(t->failure),
        .late_records = &t->late_records, .cancel = &t->cancel, .run_cancel = &r->cancel,
    };
    sl_keygroup_range(c->max_parallelism, c->parallelism, c->subtask, &c->kg_start,
                       &c->kg_end);
    sl_config_get_string(r->cfg, "state.backend.type", &c->keyed.backend);
    sl_config_get_string(r->cfg, "taskmanager.state.local.root-dirs", &c->keyed.local_roots);
    c->keyed.cache_budget = r->kcache_budget;
}

static int create_ops(sl_task *t)
{
    sl_op_ctx ctx;

    op_context(t, &ctx);
    for (int i = 0; i < t->chain->nstages; i++) {
        const sl_stage *st = &t->run->spec->stages[t->chain->stages[i]];
        int rv = sl_op_create(t->run->spec, st, &ctx, &t->ops[i]);
        if (rv != SL_OK)
            return rv;
        t->nops++;
        if (i > 0)
            t->ops[i - 1]->next = t->ops[i];
    }
    return SL_OK;
}

/* The task's checkpointer: its chain, inputs and the run's settings. */
static int setup_checkpointer(sl_job_run *r, sl_task *t)
{
    sl_ckpt_env e = {
        .ops = t->ops,
        .nops = t->nops,
        .index = t->index,
        .subtask = t->subtask,
        .parallelism = t->parallelism,
        .max_parallelism = r->spec->max_parallelism,
        .name = t->chain->name,
        .failure = t->failure,
        .cancel = &t->cancel,
        .gate = &t->gate,
        .job_id = r->job_id,
        .attempt = r->attempt,
        .exactly_once = r->exactly_once,
        .chk_root = r->chk_root,
        .restore_md = r->restore_md,
        .restore_dir = r->restore_dir,
        .uploader = r->uploader,
    };
    return sl_ckpt_setup(&t->ckpt, &e);
}

static int create_task(sl_job_run *r, int index, const Sluice__DeployTasks *d,
                       const sl_job_run_env *env, sl_task **out)
{
    sl_task *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return SL_ENOMEM;
    *out = t;
    t->run = r;
    t->index = index;
    if (sl_job_graph_task(&r->graph, index, &t->chain_idx, &t->subtask) != SL_OK)
        return SL_EINVAL;
    t->chain = &r->graph.chains[t->chain_idx];
    t->parallelism = t->chain->parallelism;
    pthread_mutex_init(&t->out_mu, NULL);
    pthread_cond_init(&t->out_cv, NULL);
    sl_ckpt_init(&t->ckpt);
    atomic_store(&t->state, SLUICE__TASK_STATE__TASK_DEPLOYING);
    t->reported = -1;
    int64_t credits = 4, bufsize = 32768;
    sl_config_get_int(r->cfg, "taskmanager.network.credits-per-channel", &credits);
    sl_config_get_bytes(r->cfg, "taskmanager.memory.network.buffer-size", &bufsize);
    sl_config_get_ms(r->cfg, "execution.buffer-timeout", &t->buffer_timeout_ms);
    int rv = create_ops(t);
    if (rv == SL_OK)
        rv = setup_inputs(r, t, d, env, (int)credits);
    t->gate.interrupt = &t->ckpt.mb_flag;
    if (rv == SL_OK)
        rv = setup_checkpointer(r, t);
    if (rv == SL_OK)
        rv = setup_outputs(r, t, d, env, (size_t)bufsize, (uint32_t)credits);
    return rv;
}

static int parse_job(sl_job_run *r, const Sluice__DeployTasks *d, char *err, size_t errlen)
{
    int rv = sl_job_parse(d->file_name, d->yaml, strlen(d->yaml), (int)d->parallelism, &r->spec,
                          err, errlen);
    if (rv != SL_OK)
        return rv;
    rv = sl_job_graph_build(r->spec, &r->graph);
    if (rv != SL_OK) {
        snprintf(err, errlen, "cannot build the job graph: %s", sl_strerror(rv));
        return rv;
    }
    if (d->n_task_addrs != (size_t)r->graph.ntasks) {
        snprintf(err, errlen, "deployment names %zu task addresses, the job has %d tasks",
                 d->n_task_addrs, r->graph.ntasks);
        return SL_EINVAL;
    }
    rv = sl_config_new(&r->cfg);
    if (rv == SL_OK)
        rv = sl_config_load_string(r->cfg, "job configuration", d->config, strlen(d->config),
                                   err, errlen);
    return rv;
}

/* Checkpoint settings of the run, and the checkpoint to restore (already
 * verified by the jobmanager; the task checks each file's checksum again). */
static int setup_checkpointing(sl_job_run *r, const Sluice__DeployTasks *d, char *err,
                               size_t errlen)
{
    const char *dir = NULL, *mode = "EXACTLY_ONCE";
    r->checkpointing = d->checkpointing;
    sl_config_get_string(r->cfg, "execution.checkpointing.mode", &mode);
    r->exactly_once = strcmp(mode, "AT_LEAST_ONCE") != 0;
    if (sl_config_get_string(r->cfg, "state.checkpoints.dir", &dir) == SL_OK &&
        sl_store_job_root(dir, r->job_id, r->chk_root, sizeof(r->chk_root)) != SL_OK) {
        snprintf(err, errlen, "state.checkpoints.dir is too long");
        return SL_EINVAL;
    }
    if (d->restore_dir[0] == '\0')
        return SL_OK;
    snprintf(r->restore_dir, sizeof(r->restore_dir), "%s", d->restore_dir);
    int rv = sl_store_metadata_read(r->restore_dir, &r->restore_md, err, errlen);
    if (rv == SL_OK && r->restore_md->checkpoint_id != d->restore_checkpoint_id) {
        snprintf(err, errlen, "%s holds checkpoint %llu, expected %llu", r->restore_dir,
                 (unsigned long long)r->restore_md->checkpoint_id,
                 (unsigned long long)d->restore_checkpoint_id);
        rv = SL_EINVAL;
    }
    return rv;
}

static int start_threads(sl_job_run *r)
{
    for (int i = 0; i < r->ntasks; i++) {
        sl_task *t = r->tasks[i];
        if (pthread_create(&t->thread, NULL, sl_task_main, t) != 0)
            return SL_ENOMEM;
        t->thread_started = 1;
    }
    return SL_OK;
}

int sl_job_run_create(const Sluice__DeployTasks *d, const sl_job_run_env *env,
                      sl_job_run **out, char *err, size_t errlen)
{
    if (!sl_is_hex(d->job_id, 32)) {
        snprintf(err, errlen, "bad job id");
        return SL_EINVAL;
    }
    if (d->data_token.len != SL_FRAME_TOKEN_LEN || d->data_token.data == NULL) {
        snprintf(err, errlen, "deployment of job %s attempt %u has a data token of %zu bytes, "
                 "expected %d", d->job_id, d->attempt, d->data_token.len, SL_FRAME_TOKEN_LEN);
        return SL_EINVAL;
    }
    sl_job_run *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return SL_ENOMEM;
    snprintf(r->job_id, sizeof(r->job_id), "%s", d->job_id);
    r->attempt = d->attempt;
    memcpy(r->data_token, d->data_token.data, SL_FRAME_TOKEN_LEN);
    pthread_mutex_init(&r->start_mu, NULL);
    pthread_cond_init(&r->start_cv, NULL);
    r->uploader = env->uploader;
    r->kcache_budget = env->kcache_budget;
    snprintf(r->tm_id, sizeof(r->tm_id), "%s", env->tm_id);
    int rv = parse_job(r, d, err, errlen);
    if (rv == SL_OK)
        rv = sl_udf_libs_load(d, &r->udf_libs, err, errlen);
    if (rv == SL_OK)
        rv = setup_checkpointing(r, d, err, errlen);
    if (rv == SL_OK)
        rv = alloc_edge_tables(r);
    r->tasks = calloc(d->n_local_tasks + 1, sizeof(sl_task *));
    if (rv == SL_OK && r->tasks == NULL)
        rv = SL_ENOMEM;
    for (size_t i = 0; i < d->n_local_tasks && rv == SL_OK; i++) {
        if (d->local_tasks[i] >= (uint32_t)r->graph.ntasks) {
            snprintf(err, errlen, "task %u is not in the job", d->local_tasks[i]);
            rv = SL_EINVAL;
            break;
        }
        rv = create_task(r, (int)d->local_tasks[i], d, env, &r->tasks[r->ntasks++]);
        if (rv != SL_OK && err[0] == '\0')
            snprintf(err, errlen, "cannot set up task %u: %s", d->local_tasks[i],
                     sl_strerror(rv));
    }
    if (rv == SL_OK)
        rv = start_threads(r);
    if (rv != SL_OK) {
        if (err[0] == '\0')
            snprintf(err, errlen, "cannot deploy: %s", sl_strerror(rv));
        sl_job_run_cancel(r);
        sl_job_run_free(r);
        return SL_EINVAL;
    }
    *out = r;
    return SL_OK;
}

void sl_job_run_start(sl_job_run *r)
{
    pthread_mutex_lock(&r->start_mu);
    r->started = 1;
    pthread_cond_broadcast(&r->start_cv);
    pthread_mutex_unlock(&r->start_mu);
}

void sl_job_run_cancel(sl_job_run *r)
{
    atomic_store(&r->cancel, 1);
    pthread_mutex_lock(&r->start_mu);
    pthread_cond_broadcast(&r->start_cv);
    pthread_mutex_unlock(&r->start_mu);
    for (int i = 0; i < r->ntasks; i++) {
        if (r->tasks[i] == NULL)
            continue;
        atomic_store(&r->tasks[i]->cancel, 1);
        pthread_mutex_lock(&r->tasks[i]->gate.mu);
        pthread_cond_broadcast(&r->tasks[i]->gate.cv);
        pthread_mutex_unlock(&r->tasks[i]->gate.mu);
    }
}

int sl_job_run_done(const sl_job_run *r)
{
    for (int i = 0; i < r->ntasks; i++) {
        int s = atomic_load(&r->tasks[i]->state);
        if (s != SLUICE__TASK_STATE__TASK_FINISHED && s != SLUICE__TASK_STATE__TASK_CANCELED &&
            s != SLUICE__TASK_STATE__TASK_FAILED)
            return 0;
    }
    return 1;
}

static void free_task(sl_task *t)
{
    if (t->thread_started)
        pthread_join(t->thread, NULL);
    for (int i = 0; i < t->nops; i++)
        sl_op_destroy(t->ops[i]);
    sl_in_gate_destroy(&t->gate);
    for (int e = 0; e < t->nout; e++) {
        for (int i = 0; i < t->out[e].nch; i++) {
            if (t->out[e].ch[i] != NULL)
                sl_out_channel_destroy(t->out[e].ch[i]);
            free(t->out[e].ch[i]);
        }
        free(t->out[e].ch);
    }
    pthread_mutex_destroy(&t->out_mu);
    pthread_cond_destroy(&t->out_cv);
    sl_ckpt_destroy(&t->ckpt);
    free(t);
}

void sl_job_run_free(sl_job_run *r)
{
    for (int i = 0; r->tasks != NULL && i < r->ntasks; i++)
        if (r->tasks[i] != NULL)
            free_task(r->tasks[i]);
    free(r->tasks);
    sl_udf_libs_free(r->udf_libs);
    for (int e = 0; e < SL_MAX_STAGES * 2; e++) {
        free(r->in[e]);
        free(r->out[e]);
    }
    for (int i = 0; i < r->npeers; i++)
        sl_peer_close(r->peers[i]);
    if (r->spec != NULL)
        sl_job_free(r->spec);
    if (r->cfg != NULL)
        sl_config_free(r->cfg);
    if (r->restore_md != NULL)
        sluice__checkpoint_metadata__free_unpacked(r->restore_md, NULL);
    pthread_mutex_destroy(&r->start_mu);
    pthread_cond_destroy(&r->start_cv);
    free(r);
}

/* The sender of msg as text, "an unknown peer" if nng cannot tell. */
static void msg_sender(nng_msg *msg, char *out, size_t len)
{
    nng_sockaddr sa;
    snprintf(out, len, "an unknown peer");
    nng_pipe p = nng_msg_get_pipe(msg);
    if (nng_pipe_id(p) <= 0 || nng_pipe_get_addr(p, NNG_OPT_REMADDR, &sa) != 0)
        return;
    if (sa.s_family == NNG_AF_INET) {
        const uint8_t *a = (const uint8_t *)&sa.s_in.sa_addr;
        const uint8_t *pt = (const uint8_t *)&sa.s_in.sa_port;
        snprintf(out, len, "%u.%u.%u.%u:%u", a[0], a[1], a[2], a[3], (pt[0] << 8) | pt[1]);
    } else if (sa.s_family == NNG_AF_INPROC) {
        snprintf(out, len, "inproc");
    } else if (sa.s_family == NNG_AF_INET6) {
        snprintf(out, len, "an IPv6 peer");
    }
}

void sl_job_run_deliver(sl_job_run *r, const sl_frame_hdr *h, nng_msg *msg)
{
    if (!sl_frame_token_ok(h, r->data_token)) {
        char from[64];
        msg_sender(msg, from, sizeof(from));
        sl_warn_limited("data frame for job %s attempt %u with a wrong token from %s: dropped",
                        r->job_id, r->attempt, from);
        nng_msg_free(msg);
        return;
    }
    int e = find_edge(&r->graph, h->prod_stage, h->cons_stage);
    if (e < 0 || h->src >= r->graph.edges[e].prod_par || h->dst >= r->graph.edges[e].cons_par) {
        nng_msg_free(msg);
        return;
    }
    int idx = h->src * r->graph.edges[e].cons_par + h->dst;
    if (h->kind == SL_FRAME_DATA && r->in[e][idx] != NULL) {
        sl_in_channel_push(r->in[e][idx], h->seq, msg);
        return;
    }
    if (h->kind == SL_FRAME_CREDIT && r->out[e][idx] != NULL)
        (void)sl_out_channel_grant(r->out[e][idx], h->seq); /* a bad grant fails the task */
    nng_msg_free(msg);
}
