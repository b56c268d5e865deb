/* live_garbage: random and mutated traffic for a running cluster's ports
 * (tests/integration/test_live_garbage.sh).
 *
 *   live_garbage rpc PORT SIDE JOBID SECONDS SEED
 *       over nng req0 (valid SP framing): valid Request envelopes of every
 *       kind, built with protobuf-c, and mutations of them (bit flips,
 *       truncation, inserted, deleted and repeated bytes, huge varints,
 *       appended garbage), plus random bytes. SIDE jm or tm picks the kinds
 *       that daemon serves (and some of the other's). Unmutated envelopes
 *       may name JOBID, then always with an out-of-range attempt, task or
 *       checkpoint id (2^31 and more); mutated ones never name it (a
 *       mutation could bring a field back into range: that would be a
 *       forged message, not garbage). Never sent: a cancel or savepoint of
 *       JOBID, a mutated submit, deploy or dispose.
 *   live_garbage raw PORT PROTO SECONDS SEED
 *       plain TCP connections that break the SP framing: random bytes,
 *       partial and foreign handshakes, after the handshake (as peer
 *       protocol PROTO: 48 req0, 80 push0) length headers of 0, 2, 2^31,
 *       2^32 and 2^63-1, frames cut short, and request ids without the high
 *       bit; also one well-formed SP request of ListTms (PROTO 48), whose
 *       reply is counted.
 *   live_garbage data PORT JOBID ATTEMPT SECONDS SEED [PROD CONS]
 *       over nng push0 to a data port: random bytes, headers cut short, bad
 *       magic and kinds, frames of unknown jobs and of attempt ATTEMPT-1 and
 *       ATTEMPT+1000, frames of JOBID/ATTEMPT on out-of-range stages and
 *       subtasks (1000, 65535), oversize frames (4 MiB, over plain TCP).
 *       On the edge PROD -> CONS [1 2] of JOBID/ATTEMPT (subtasks 0-1) only
 *       DATA frames whose sequence number is far ahead (2^40 and more) and
 *       CREDIT grants beyond the window, at most VALID_CHANNEL_MAX of them
 *       per run. Every frame has a zero data token, never the attempt's:
 *       the runs drop those of JOBID/ATTEMPT with a warning.
 *   live_garbage probe PORT
 *       one ListTms request; any reply counts. Exit 0 if answered.
 *
 * Every command prints one line "key=value ..." of counts. rpc and raw exit
 * 0 when the daemon answered a final probe (ListTms, any status). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <nng/nng.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/protocol/reqrep0/req.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "proto/sluice.pb-c.h"

#define REPLY_TIMEOUT_MS 5000
#define PROBE_TIMEOUT_MS 30000
#define MAX_MSG (256 * 1024)
#define JOB_LEN 32
#define FRAME_HDR 76 /* with the 16-byte data token at 44 (zeros here: a wrong one) */
#define FRAME_MAGIC 0x32444c53u
#define OVERSIZE_FRAME (4u << 20)
#define VALID_CHANNEL_MAX 6
#define STRING_MAX 96
#define REPEATED_MAX 40
#define SP_HS_LEN 8
#define SP_LEN_LEN 8

/* ------------------------------------------------------------ random */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static uint64_t below(uint64_t n)
{
    return n == 0 ? 0 : rnd() % n;
}

static const uint64_t odd_u64[] = {0,          1,          2,           3,          7,
                                   255,        65535,      65536,       0x7fffffff, 0x80000000,
                                   0xffffffff, 1ull << 32, 1ull << 62,  1ull << 63, UINT64_MAX};
#define N_ODD (sizeof(odd_u64) / sizeof(odd_u64[0]))

static uint64_t odd_num(void)
{
    return below(4) == 0 ? rnd() : odd_u64[below(N_ODD)];
}

/* An out-of-range id: 2^31 and more. */
static uint32_t far_u32(void)
{
    return 0x80000000u | (uint32_t)rnd();
}

static void fill_random(uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)rnd();
}

/* Strings: hex ids of unknown jobs and taskmanagers, empty, long, bytes
 * with NUL-free garbage, path-like text. s has STRING_MAX + 1 bytes. */
static char *odd_string(char *s)
{
    static const char *fixed[] = {"", "..", "../../../../etc/passwd", "/", "%s%s%n",
                                  "chk-1", "_metadata", "0000000000000000"};
    size_t n;
    switch (below(5)) {
    case 0:
        snprintf(s, STRING_MAX + 1, "%s", fixed[below(sizeof(fixed) / sizeof(fixed[0]))]);
        return s;
    case 1:
        n = below(STRING_MAX + 1);
        for (size_t i = 0; i < n; i++)
            s[i] = (char)(1 + below(255));
        s[n] = '\0';
        return s;
    case 2:
        n = 16;
        break;
    default:
        n = JOB_LEN;
        break;
    }
    for (size_t i = 0; i < n; i++)
        s[i] = "0123456789abcdef"[below(16)];
    s[n] = '\0';
    return s;
}

/* ------------------------------------------------------- envelopes */

/* What one envelope may name. */
struct names {
    const char *job;  /* the running job (NULL: never) */
    char str[6][STRING_MAX + 1];
};

/* Job id for a message: the real one (then *far = 1: the caller puts an
 * out-of-range field in) or an odd string. */
static const char *job_of(struct names *nm, int slot, int *far)
{
    if (nm->job != NULL && below(2) == 0) {
        *far = 1;
        return nm->job;
    }
    *far = 0;
    return odd_string(nm->str[slot]);
}

static uint32_t u32_or_far(int far)
{
    return far ? far_u32() : (uint32_t)odd_num();
}

enum kind {
    K_REGISTER,
    K_HEARTBEAT,
    K_TASK_STATE,
    K_SUBMIT,
    K_LIST_JOBS,
    K_JOB_INFO,
    K_CANCEL_JOB,
    K_LIST_TMS,
    K_DEPLOY,
    K_START,
    K_CANCEL_TASKS,
    K_TRIGGER,
    K_NOTIFY,
    K_ACK,
    K_CKPT_STATS,
    K_CKPT_NOW,
    K_SAVEPOINT,
    K_SP_STATUS,
    K_DISPOSE,
    K_COUNT
};

static const enum kind jm_kinds[] = {K_REGISTER, K_HEARTBEAT, K_TASK_STATE, K_SUBMIT,
                                     K_LIST_JOBS, K_JOB_INFO, K_CANCEL_JOB, K_LIST_TMS,
                                     K_ACK, K_CKPT_STATS, K_CKPT_NOW, K_SAVEPOINT,
                                     K_SP_STATUS, K_DISPOSE, K_DEPLOY, K_TRIGGER};
static const enum kind tm_kinds[] = {K_DEPLOY, K_START, K_CANCEL_TASKS, K_TRIGGER,
                                     K_NOTIFY, K_LIST_TMS, K_HEARTBEAT, K_ACK};

/* The storage of one envelope's sub-messages. */
struct env {
    Sluice__Request req;
    Sluice__RegisterTm reg;
    Sluice__Heartbeat hb;
    Sluice__TaskMetrics tm[REPEATED_MAX];
    Sluice__TaskMetrics *tmp[REPEATED_MAX];
    Sluice__TaskStateUpdate ts;
    Sluice__SubmitJob sub;
    Sluice__ListJobs lj;
    Sluice__JobRef ref;
    Sluice__ListTms lt;
    Sluice__DeployTasks dep;
    char *addrs[REPEATED_MAX];
    uint32_t locals[REPEATED_MAX];
    Sluice__JobAttempt ja;
    Sluice__TriggerCheckpoint trig;
    Sluice__NotifyCheckpoint note;
    Sluice__AckCheckpoint ack;
    Sluice__StateHandle sh[REPEATED_MAX];
    Sluice__StateHandle *shp[REPEATED_MAX];
    Sluice__TriggerSavepoint sp;
    Sluice__SavepointRef spr;
    Sluice__DisposeSavepoint disp;
};

static void build_heartbeat(struct env *e, struct names *nm)
{
    sluice__heartbeat__init(&e->hb);
    e->hb.tm_id = odd_string(nm->str[0]);
    e->hb.n_tasks = below(REPEATED_MAX);
    for (size_t i = 0; i < e->hb.n_tasks; i++) {
        int far;
        sluice__task_metrics__init(&e->tm[i]);
        e->tm[i].job_id = (char *)job_of(nm, 1, &far);
        e->tm[i].attempt = u32_or_far(far);
        e->tm[i].task = u32_or_far(far);
        e->tm[i].records_in = odd_num();
        e->tm[i].records_out = odd_num();
        e->tm[i].late_records = odd_num();
        e->tmp[i] = &e->tm[i];
    }
    e->hb.tasks = e->tmp;
    e->req.body_case = SLUICE__REQUEST__BODY_HEARTBEAT;
    e->req.heartbeat = &e->hb;
}

static void build_task_state(struct env *e, struct names *nm)
{
    int far;
    sluice__task_state_update__init(&e->ts);
    e->ts.tm_id = odd_string(nm->str[0]);
    e->ts.job_id = (char *)job_of(nm, 1, &far);
    e->ts.attempt = u32_or_far(far);
    e->ts.task = u32_or_far(far);
    e->ts.state = (Sluice__TaskState)below(9); /* 7 and 8 are no state */
    e->ts.message = odd_string(nm->str[2]);
    e->ts.input_ended = (protobuf_c_boolean)below(2);
    e->req.body_case = SLUICE__REQUEST__BODY_TASK_STATE;
    e->req.task_state = &e->ts;
}

static void build_deploy(struct env *e, struct names *nm)
{
    int far;
    static const char *yamls[] = {"", "name: [", "name: x\nparallelism: 99999\npipeline: []\n",
                                  "{{{{", "name: x\npipeline:\n  - name: a\n    source: nope\n"};
    sluice__deploy_tasks__init(&e->dep);
    e->dep.job_id = (char *)job_of(nm, 1, &far);
    e->dep.attempt = u32_or_far(far);
    e->dep.yaml = (char *)yamls[below(sizeof(yamls) / sizeof(yamls[0]))];
    e->dep.file_name = odd_string(nm->str[2]);
    e->dep.parallelism = (uint32_t)odd_num();
    e->dep.config = odd_string(nm->str[3]);
    e->dep.n_task_addrs = below(REPEATED_MAX);
    for (size_t i = 0; i < e->dep.n_task_addrs; i++)
        e->addrs[i] = i % 2 ? "tcp://127.0.0.1:1" : nm->str[4];
    odd_string(nm->str[4]);
    e->dep.task_addrs = e->addrs;
    e->dep.n_local_tasks = below(REPEATED_MAX);
    for (size_t i = 0; i < e->dep.n_local_tasks; i++)
        e->locals[i] = (uint32_t)odd_num();
    e->dep.local_tasks = e->locals;
    e->dep.restore_dir = odd_string(nm->str[5]);
    e->dep.restore_checkpoint_id = odd_num();
    e->dep.checkpointing = (protobuf_c_boolean)below(2);
    e->req.body_case = SLUICE__REQUEST__BODY_DEPLOY_TASKS;
    e->req.deploy_tasks = &e->dep;
}

static void build_trigger(struct env *e, struct names *nm)
{
    int far;
    sluice__trigger_checkpoint__init(&e->trig);
    e->trig.job_id = (char *)job_of(nm, 1, &far);
    e->trig.attempt = u32_or_far(far);
    e->trig.checkpoint_id = far ? (1ull << 62) | rnd() : odd_num();
    e->trig.timestamp_ms = (int64_t)odd_num();
    e->trig.chk_dir = odd_string(nm->str[2]);
    e->trig.final = (protobuf_c_boolean)below(2);
    e->trig.kind = (Sluice__CheckpointKind)below(4);
    e->req.body_case = SLUICE__REQUEST__BODY_TRIGGER_CHECKPOINT;
    e->req.trigger_checkpoint = &e->trig;
}

static void build_notify(struct env *e, struct names *nm)
{
    int far;
    sluice__notify_checkpoint__init(&e->note);
    e->note.job_id = (char *)job_of(nm, 1, &far);
    e->note.attempt = u32_or_far(far);
    e->note.checkpoint_id = far ? (1ull << 62) | rnd() : odd_num();
    e->note.complete = (protobuf_c_boolean)below(2);
    e->req.body_case = SLUICE__REQUEST__BODY_NOTIFY_CHECKPOINT;
    e->req.notify_checkpoint = &e->note;
}

static void build_ack(struct env *e, struct names *nm)
{
    int far;
    sluice__ack_checkpoint__init(&e->ack);
    e->ack.tm_id = odd_string(nm->str[0]);
    e->ack.job_id = (char *)job_of(nm, 1, &far);
    e->ack.attempt = u32_or_far(far);
    e->ack.checkpoint_id = far ? (1ull << 62) | rnd() : odd_num();
    e->ack.task = u32_or_far(far);
    e->ack.declined = (protobuf_c_boolean)below(2);
    e->ack.reason = odd_string(nm->str[2]);
    e->ack.n_states = below(REPEATED_MAX);
    for (size_t i = 0; i < e->ack.n_states; i++) {
        sluice__state_handle__init(&e->sh[i]);
        e->sh[i].stage = nm->str[3];
        e->sh[i].path = nm->str[4];
        e->sh[i].kind = nm->str[5];
        e->sh[i].subtask = (uint32_t)odd_num();
        e->sh[i].parallelism = (uint32_t)odd_num();
        e->sh[i].size = odd_num();
        e->sh[i].kg_start = (int32_t)odd_num();
        e->sh[i].kg_end = (int32_t)odd_num();
        e->shp[i] = &e->sh[i];
    }
    odd_string(nm->str[3]);
    odd_string(nm->str[4]);
    odd_string(nm->str[5]);
    e->ack.states = e->shp;
    e->ack.state_size = odd_num();
    e->req.body_case = SLUICE__REQUEST__BODY_ACK_CHECKPOINT;
    e->req.ack_checkpoint = &e->ack;
}

static void build_register(struct env *e, struct names *nm)
{
    sluice__register_tm__init(&e->reg);
    e->reg.tm_id = odd_string(nm->str[0]);
    e->reg.host = below(2) ? "127.0.0.1" : odd_string(nm->str[1]);
    e->reg.rpc_port = 1; /* nothing listens: the registration never gets slots */
    e->reg.data_port = (uint32_t)odd_num();
    e->reg.pid = (int32_t)odd_num();
    e->reg.slots = (uint32_t)odd_num();
    e->req.body_case = SLUICE__REQUEST__BODY_REGISTER_TM;
    e->req.register_tm = &e->reg;
}

/* A JobRef of JOBID (when real_ok) or of an odd string. */
static Sluice__JobRef *job_ref(struct env *e, struct names *nm, int real_ok)
{
    int far = 0;
    sluice__job_ref__init(&e->ref);
    e->ref.job_id = real_ok ? (char *)job_of(nm, 1, &far) : odd_string(nm->str[1]);
    e->ref.request_id = odd_string(nm->str[2]);
    return &e->ref;
}

static void build_cli(struct env *e, struct names *nm, enum kind k, const char *sandbox)
{
    switch (k) {
    case K_SUBMIT:
        sluice__submit_job__init(&e->sub);
        e->sub.file_name = odd_string(nm->str[0]);
        e->sub.yaml = below(2) ? "name: [" : odd_string(nm->str[1]);
        e->sub.parallelism = (uint32_t)odd_num();
        e->sub.request_id = odd_string(nm->str[2]);
        e->sub.restore_path = below(2) ? "" : "/nonexistent/live-garbage";
        e->req.body_case = SLUICE__REQUEST__BODY_SUBMIT_JOB;
        e->req.submit_job = &e->sub;
        return;
    case K_LIST_JOBS:
        sluice__list_jobs__init(&e->lj);
        e->lj.all = (protobuf_c_boolean)below(2);
        e->req.body_case = SLUICE__REQUEST__BODY_LIST_JOBS;
        e->req.list_jobs = &e->lj;
        return;
    case K_JOB_INFO:
        e->req.body_case = SLUICE__REQUEST__BODY_JOB_INFO;
        e->req.job_info = job_ref(e, nm, 1);
        return;
    case K_CANCEL_JOB:
        e->req.body_case = SLUICE__REQUEST__BODY_CANCEL_JOB;
        e->req.cancel_job = job_ref(e, nm, 0);
        return;
    case K_CKPT_STATS:
        e->req.body_case = SLUICE__REQUEST__BODY_CHECKPOINT_STATS;
        e->req.checkpoint_stats = job_ref(e, nm, 1);
        return;
    case K_CKPT_NOW:
        e->req.body_case = SLUICE__REQUEST__BODY_TRIGGER_CHECKPOINT_NOW;
        e->req.trigger_checkpoint_now = job_ref(e, nm, 1);
        return;
    case K_SAVEPOINT:
        sluice__trigger_savepoint__init(&e->sp);
        e->sp.job_id = odd_string(nm->str[1]);
        e->sp.target_dir = (char *)sandbox;
        e->sp.stop = (protobuf_c_boolean)below(2);
        e->sp.request_id = odd_string(nm->str[2]);
        e->req.body_case = SLUICE__REQUEST__BODY_TRIGGER_SAVEPOINT;
        e->req.trigger_savepoint = &e->sp;
        return;
    case K_SP_STATUS: {
        int far;
        sluice__savepoint_ref__init(&e->spr);
        e->spr.job_id = (char *)job_of(nm, 1, &far);
        e->spr.savepoint_id = odd_num();
        e->req.body_case = SLUICE__REQUEST__BODY_SAVEPOINT_STATUS;
        e->req.savepoint_status = &e->spr;
        return;
    }
    case K_DISPOSE:
        sluice__dispose_savepoint__init(&e->disp);
        snprintf(nm->str[3], sizeof(nm->str[3]), "%s/none-%llx", sandbox,
                 (unsigned long long)below(1u << 20));
        e->disp.path = nm->str[3];
        e->req.body_case = SLUICE__REQUEST__BODY_DISPOSE_SAVEPOINT;
        e->req.dispose_savepoint = &e->disp;
        return;
    default:
        sluice__list_tms__init(&e->lt);
        e->req.body_case = SLUICE__REQUEST__BODY_LIST_TMS;
        e->req.list_tms = &e->lt;
        return;
    }
}

static void build(struct env *e, struct names *nm, enum kind k, const char *sandbox)
{
    sluice__request__init(&e->req);
    switch (k) {
    case K_REGISTER: build_register(e, nm); return;
    case K_HEARTBEAT: build_heartbeat(e, nm); return;
    case K_TASK_STATE: build_task_state(e, nm); return;
    case K_DEPLOY: build_deploy(e, nm); return;
    case K_START:
    case K_CANCEL_TASKS: {
        int far;
        sluice__job_attempt__init(&e->ja);
        e->ja.job_id = (char *)job_of(nm, 1, &far);
        e->ja.attempt = far ? far_u32() : (uint32_t)odd_num();
        if (!far && e->ja.attempt == 0)
            e->ja.attempt = 1u << 31; /* 0 is "any attempt": not for an odd job id either */
        e->req.body_case = k == K_START ? SLUICE__REQUEST__BODY_START_TASKS
                                        : SLUICE__REQUEST__BODY_CANCEL_TASKS;
        if (k == K_START)
            e->req.start_tasks = &e->ja;
        else
            e->req.cancel_tasks = &e->ja;
        return;
    }
    case K_TRIGGER: build_trigger(e, nm); return;
    case K_NOTIFY: build_notify(e, nm); return;
    case K_ACK: build_ack(e, nm); return;
    default: build_cli(e, nm, k, sandbox); return;
    }
}

/* ------------------------------------------------------- mutations */

/* Mutates b[0..*n) in place (capacity cap). */
static void mutate(uint8_t *b, size_t *n, size_t cap)
{
    size_t len = *n, pos = below(len + 1), k;
    switch (below(8)) {
    case 0: /* bit flips */
        for (k = 1 + below(8); k > 0 && len > 0; k--)
            b[below(len)] ^= (uint8_t)(1u << below(8));
        break;
    case 1: /* truncation */
        len = below(len + 1);
        break;
    case 2: /* inserted random bytes */
        k = 1 + below(16);
        if (len + k > cap)
            break;
        memmove(b + pos + k, b + pos, len - pos);
        fill_random(b + pos, k);
        len += k;
        break;
    case 3: /* a deleted range */
        k = below(len - pos + 1);
        memmove(b + pos, b + pos + k, len - pos - k);
        len -= k;
        break;
    case 4: /* a byte of a varint or tag turned to 0xff, 0x80 or 0 */
        if (len > 0)
            b[below(len)] = (uint8_t[]){0xff, 0x80, 0x00, 0x7f}[below(4)];
        break;
    case 5: /* a huge varint (a length or count of 2^63 and more) inserted */
        if (len + 10 > cap)
            break;
        memmove(b + pos + 10, b + pos, len - pos);
        memset(b + pos, 0xff, 9);
        b[pos + 9] = 0x01;
        len += 10;
        break;
    case 6: /* a range repeated */
        k = below(len - pos + 1);
        if (len + k > cap)
            break;
        memmove(b + pos + k, b + pos, len - pos);
        len += k;
        break;
    default: /* garbage appended */
        k = 1 + below(64);
        if (len + k > cap)
            break;
        fill_random(b + len, k);
        len += k;
        break;
    }
    *n = len;
}

/* ------------------------------------------------------------ rpc */

static int dial_req(nng_socket *s, int port, int timeout_ms)
{
    char url[64];
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
    if (nng_req0_open(s) != 0)
        return -1;
    nng_socket_set_size(*s, NNG_OPT_RECVMAXSZ, 0);
    nng_socket_set_ms(*s, NNG_OPT_RECVTIMEO, timeout_ms);
    nng_socket_set_ms(*s, NNG_OPT_SENDTIMEO, timeout_ms);
    nng_socket_set_ms(*s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    if (nng_dial(*s, url, NULL, 0) != 0) {
        nng_close(*s);
        return -1;
    }
    return 0;
}

/* Sends a frame; -1 if no reply, else the reply's status (99: a reply that
 * is no Reply). */
static int call(nng_socket s, const uint8_t *frame, size_t len)
{
    void *buf = NULL;
    size_t n = 0;
    if (nng_send(s, (void *)frame, len, 0) != 0 || nng_recv(s, &buf, &n, NNG_FLAG_ALLOC) != 0)
        return -1;
    Sluice__Reply *r = sluice__reply__unpack(NULL, n, buf);
    nng_free(buf, n);
    if (r == NULL)
        return 99;
    int st = r->status;
    sluice__reply__free_unpacked(r, NULL);
    return st;
}

static int probe(int port)
{
    Sluice__ListTms lt = SLUICE__LIST_TMS__INIT;
    Sluice__Request req = SLUICE__REQUEST__INIT;
    req.body_case = SLUICE__REQUEST__BODY_LIST_TMS;
    req.list_tms = &lt;
    uint8_t buf[16];
    size_t len = sluice__request__pack(&req, buf);
    nng_socket s;
    if (dial_req(&s, port, PROBE_TIMEOUT_MS) != 0)
        return -1;
    int st = call(s, buf, len);
    nng_close(s);
    return st;
}

/* May this kind be sent mutated? */
static int mutable_kind(enum kind k)
{
    return k != K_SUBMIT && k != K_DEPLOY && k != K_DISPOSE;
}

struct rpc_counts {
    long sent, mutated, random, answered, unanswered, redials, by_status[4];
};

static void rpc_one(nng_socket *s, int port, const enum kind *kinds, size_t nk,
                    const char *job, const char *sandbox, uint8_t *buf, struct rpc_counts *c)
{
    static struct env e;
    static struct names nm;
    enum kind k = kinds[below(nk)];
    int mut = mutable_kind(k) && below(3) != 0, rnd_only = below(10) == 0;
    size_t n;
    nm.job = mut ? NULL : job;
    if (rnd_only) {
        n = below(512);
        fill_random(buf, n);
        c->random++;
    } else {
        build(&e, &nm, k, sandbox);
        n = sluice__request__get_packed_size(&e.req);
        if (n > MAX_MSG / 2)
            return;
        sluice__request__pack(&e.req, buf);
        for (int i = mut ? 1 + (int)below(3) : 0; i > 0; i--)
            mutate(buf, &n, MAX_MSG);
        c->mutated += mut;
    }
    c->sent++;
    int st = call(*s, buf, n);
    if (st < 0) {
        /* no reply in time: a fresh connection, so one lost reply does not
         * hold the next requests */
        c->unanswered++;
        nng_close(*s);
        c->redials++;
        if (dial_req(s, port, REPLY_TIMEOUT_MS) != 0)
            sl_sleep_ms(100);
        return;
    }
    c->answered++;
    c->by_status[st >= 0 && st < 3 ? st : 3]++;
}

static int cmd_rpc(int port, const char *side, const char *job, int seconds, const char *sandbox)
{
    const enum kind *kinds = strcmp(side, "tm") == 0 ? tm_kinds : jm_kinds;
    size_t nk = strcmp(side, "tm") == 0 ? sizeof(tm_kinds) / sizeof(tm_kinds[0])
                                        : sizeof(jm_kinds) / sizeof(jm_kinds[0]);
    uint8_t *buf = malloc(MAX_MSG);
    struct rpc_counts c = {0};
    nng_socket s;
    if (buf == NULL || dial_req(&s, port, REPLY_TIMEOUT_MS) != 0)
        return 1;
    int64_t until = sl_now_ms() + (int64_t)seconds * 1000;
    while (sl_now_ms() < until)
        rpc_one(&s, port, kinds, nk, job, sandbox, buf, &c);
    nng_close(s);
    free(buf);
    int p = probe(port);
    printf("rpc %s sent=%ld mutated=%ld random=%ld answered=%ld unanswered=%ld ok=%ld "
           "error=%ld invalid=%ld other=%ld probe=%d\n",
           side, c.sent, c.mutated, c.random, c.answered, c.unanswered, c.by_status[0],
           c.by_status[1], c.by_status[2], c.by_status[3], p);
    return p < 0;
}

/* ------------------------------------------------------------- raw */

static int tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void put_be64(uint8_t *b, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        b[i] = (uint8_t)v;
}

static size_t handshake(uint8_t *b, int proto)
{
    const uint8_t hs[SP_HS_LEN] = {0, 'S', 'P', 0, (uint8_t)(proto >> 8), (uint8_t)proto, 0, 0};
    memcpy(b, hs, SP_HS_LEN);
    return SP_HS_LEN;
}

/* One well-formed SP request (ListTms) over plain TCP; 1 if a reply with
 * our request id came back. */
static int raw_good_request(int port)
{
    uint8_t b[64], r[64];
    int fd = tcp_connect(port);
    if (fd < 0)
        return 0;
    size_t n = handshake(b, 48);
    static const uint8_t body[] = {0x80, 0, 0, 0x2a, 0x42, 0x00}; /* id, Request{list_tms{}} */
    put_be64(b + n, sizeof(body));
    n += SP_LEN_LEN;
    memcpy(b + n, body, sizeof(body));
    n += sizeof(body);
    int ok = 0;
    ssize_t got = 0, m;
    if (write(fd, b, n) == (ssize_t)n) {
        while (got < SP_HS_LEN + SP_LEN_LEN + 4 &&
               (m = read(fd, r + got, sizeof(r) - (size_t)got)) > 0)
            got += m;
        ok = got >= SP_HS_LEN + SP_LEN_LEN + 4 && memcmp(r + SP_HS_LEN + SP_LEN_LEN, body, 4) == 0;
    }
    close(fd);
    return ok;
}

/* One connection that breaks the framing; returns the case number. */
static int raw_bad(int port, int proto)
{
    uint8_t b[8192];
    static const uint64_t lens[] = {0, 2, 0x80000000ull, 1ull << 32, 0x7fffffffffffffffull};
    int fd = tcp_connect(port), c = (int)below(8);
    size_t n = 0;
    if (fd < 0)
        return -1;
    switch (c) {
    case 0: /* random bytes */
        n = 1 + below(4096);
        fill_random(b, n);
        break;
    case 1: /* a partial handshake */
        n = handshake(b, proto) - 1 - below(7);
        break;
    case 2: /* a foreign protocol's handshake, then bytes */
        n = handshake(b, (int[]){16, 32, 49, 81, 112, 0xffff}[below(6)]);
        fill_random(b + n, 64);
        n += 64;
        break;
    case 3: /* an odd length header, then a few bytes */
        n = handshake(b, proto);
        put_be64(b + n, lens[below(5)]);
        n += SP_LEN_LEN;
        fill_random(b + n, 2);
        n += 2;
        break;
    case 4: /* a frame cut short */
        n = handshake(b, proto);
        put_be64(b + n, 1000);
        n += SP_LEN_LEN;
        fill_random(b + n, 10 + below(900));
        n += 10 + below(900);
        break;
    case 5: /* a request id without the high bit, valid body */
        n = handshake(b, proto);
        put_be64(b + n, 6);
        memcpy(b + n + SP_LEN_LEN, (uint8_t[]){0x00, 0, 0, 0x2a, 0x42, 0x00}, 6);
        n += SP_LEN_LEN + 6;
        break;
    case 6: /* a handshake and a length header cut short */
        n = handshake(b, proto) + 1 + below(7);
        memset(b + SP_HS_LEN, 0, SP_LEN_LEN);
        break;
    default: /* the handshake only, then random frames */
        n = handshake(b, proto);
        for (int i = 0; i < 4; i++) {
            size_t m = below(200);
            put_be64(b + n, m);
            n += SP_LEN_LEN;
            fill_random(b + n, m);
            n += m;
        }
        break;
    }
    ssize_t w = write(fd, b, n);
    (void)w;
    close(fd);
    return c;
}

static int cmd_raw(int port, int proto, int seconds)
{
    long cases[8] = {0}, conns = 0, good = 0, good_ok = 0, refused = 0;
    int held[4] = {-1, -1, -1, -1};
    for (int i = 0; i < 4; i++) { /* stalled connections held to the end */
        held[i] = tcp_connect(port);
        if (held[i] >= 0 && i % 2 == 0) {
            uint8_t b[SP_HS_LEN + 3];
            size_t n = handshake(b, proto);
            memset(b + n, 0, 3);
            ssize_t w = write(held[i], b, sizeof(b));
            (void)w;
        }
    }
    int64_t until = sl_now_ms() + (int64_t)seconds * 1000;
    while (sl_now_ms() < until) {
        if (proto == 48 && below(20) == 0) {
            good++;
            good_ok += raw_good_request(port);
            continue;
        }
        int c = raw_bad(port, proto);
        if (c < 0) {
            refused++;
            sl_sleep_ms(50);
        } else {
            cases[c]++;
            conns++;
        }
    }
    for (int i = 0; i < 4; i++)
        if (held[i] >= 0)
            close(held[i]);
    int p = proto == 48 ? probe(port) : 0;
    printf("raw conns=%ld random=%ld partial_hs=%ld foreign_hs=%ld odd_len=%ld cut=%ld "
           "no_high_bit=%ld cut_len=%ld random_frames=%ld refused=%ld good=%ld good_answered=%ld "
           "probe=%d\n",
           conns, cases[0], cases[1], cases[2], cases[3], cases[4], cases[5], cases[6], cases[7],
           refused, good, good_ok, p);
    return p < 0 || (good > 0 && good_ok == 0);
}

/* ------------------------------------------------------------ data */

static void frame_hdr(uint8_t *b, uint8_t kind, const char *job, uint32_t attempt, uint16_t ps,
                      uint16_t cs, uint16_t src, uint16_t dst, uint64_t seq)
{
    memset(b, 0, FRAME_HDR);
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(FRAME_MAGIC >> (8 * i));
    b[4] = kind;
    memcpy(b + 8, job, JOB_LEN);
    for (int i = 0; i < 4; i++)
        b[40 + i] = (uint8_t)(attempt >> (8 * i));
    uint16_t v[4] = {ps, cs, src, dst};
    for (int j = 0; j < 4; j++) {
        b[60 + 2 * j] = (uint8_t)v[j];
        b[61 + 2 * j] = (uint8_t)(v[j] >> 8);
    }
    for (int i = 0; i < 8; i++)
        b[68 + i] = (uint8_t)(seq >> (8 * i));
}

struct data_counts {
    long sent, random, short_hdr, bad_magic, bad_kind, unknown_job, other_attempt, far_channel,
        oversize, valid_channel, send_failed;
};

/* A payload of odd events after a header: rows with lengths past the end,
 * barriers and watermarks cut short. */
static size_t odd_payload(uint8_t *p, size_t cap)
{
    size_t n = below(cap < 256 ? cap : 256);
    fill_random(p, n);
    if (n > 0)
        p[0] = (uint8_t)"RBWEX"[below(5)];
    return n;
}

/* The edge of the running job that valid-channel frames use. */
static uint16_t edge_prod = 1, edge_cons = 2;

static size_t data_frame(uint8_t *b, size_t cap, const char *job, uint32_t attempt,
                         struct data_counts *c, long *valid_left)
{
    char other[STRING_MAX + 1];
    uint16_t far16 = below(2) ? 65535 : 1000;
    uint8_t kind = (uint8_t)(1 + below(2));
    switch (below(8)) {
    case 0: {
        size_t n = below(200);
        c->random++;
        fill_random(b, n);
        return n;
    }
    case 1:
        c->short_hdr++;
        frame_hdr(b, kind, job, attempt, 0, 1, 0, 0, rnd());
        return below(FRAME_HDR);
    case 2:
        c->bad_magic++;
        frame_hdr(b, kind, job, attempt, 0, 1, 0, 0, rnd());
        b[below(4)] ^= 0x20;
        return FRAME_HDR + odd_payload(b + FRAME_HDR, cap - FRAME_HDR);
    case 3:
        c->bad_kind++;
        frame_hdr(b, (uint8_t)(3 + below(250)), job, attempt, 0, 1, 0, 0, rnd());
        return FRAME_HDR + odd_payload(b + FRAME_HDR, cap - FRAME_HDR);
    case 4:
        c->unknown_job++;
        odd_string(other);
        if (strlen(other) < JOB_LEN)
            memset(other + strlen(other), '0', JOB_LEN - strlen(other));
        frame_hdr(b, kind, other, (uint32_t)odd_num(), (uint16_t)below(4), (uint16_t)below(4),
                  (uint16_t)below(2), (uint16_t)below(2), odd_num());
        return FRAME_HDR + odd_payload(b + FRAME_HDR, cap - FRAME_HDR);
    case 5:
        c->other_attempt++;
        frame_hdr(b, kind, job, below(2) && attempt > 0 ? attempt - 1 : attempt + 1000,
                  (uint16_t)below(4), (uint16_t)below(4), (uint16_t)below(2), (uint16_t)below(2),
                  odd_num());
        return FRAME_HDR + odd_payload(b + FRAME_HDR, cap - FRAME_HDR);
    case 6:
        c->far_channel++;
        frame_hdr(b, kind, job, attempt, below(2) ? far16 : 0, below(2) ? far16 : 1,
                  below(2) ? far16 : 0, far16, odd_num());
        return FRAME_HDR + odd_payload(b + FRAME_HDR, cap - FRAME_HDR);
    default:
        if (*valid_left <= 0 || below(10) != 0) {
            c->oversize++;
            frame_hdr(b, 1, job, attempt + 1000, 0, 1, 0, 0, 0);
            return cap;
        }
        (*valid_left)--;
        c->valid_channel++;
        /* far-ahead sequence numbers, or credits beyond any window */
        frame_hdr(b, kind, job, attempt, edge_prod, edge_cons, (uint16_t)below(2),
                  (uint16_t)below(2),
                  kind == 1 ? (1ull << 40) | rnd() : (1ull << 32) + below(1u << 20));
        return FRAME_HDR + odd_payload(b + FRAME_HDR, cap - FRAME_HDR);
    }
}

/* A frame of len bytes (oversize: past the receiver's limit) over plain TCP
 * with the push0 handshake: the receiver must drop the connection. A
 * dropped nng pipe with data in flight can hang nng_close in nng 1.5.2,
 * hence no nng socket for these. */
static void oversize_raw(int port, const uint8_t *b, size_t len)
{
    uint8_t h[SP_HS_LEN + SP_LEN_LEN];
    int fd = tcp_connect(port);
    if (fd < 0)
        return;
    handshake(h, 80);
    put_be64(h + SP_HS_LEN, len);
    if (write(fd, h, sizeof(h)) == (ssize_t)sizeof(h)) {
        ssize_t w = write(fd, b, len);
        (void)w;
    }
    close(fd);
}

static int cmd_data(int port, const char *job, uint32_t attempt, int seconds)
{
    char url[64];
    nng_socket s;
    struct data_counts c = {0};
    long valid_left = VALID_CHANNEL_MAX;
    uint8_t *b = malloc(OVERSIZE_FRAME);
    if (b == NULL || strlen(job) != JOB_LEN)
        return 2;
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
    /* One socket for the whole run, never closed (see oversize_raw): push0
     * redials by itself when the receiver drops the connection. */
    if (nng_push0_open(&s) != 0)
        return 1;
    nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 1000);
    nng_socket_set_ms(s, NNG_OPT_RECONNMINT, 20);
    nng_socket_set_ms(s, NNG_OPT_RECONNMAXT, 200);
    if (nng_dial(s, url, NULL, NNG_FLAG_NONBLOCK) != 0)
        return 1;
    int64_t until = sl_now_ms() + (int64_t)seconds * 1000;
    for (long i = 0; sl_now_ms() < until; i++) {
        size_t n = data_frame(b, OVERSIZE_FRAME, job, attempt, &c, &valid_left);
        c.sent++;
        if (n == OVERSIZE_FRAME)
            oversize_raw(port, b, n);
        else if (nng_send(s, b, n, 0) != 0)
            c.send_failed++;
        if (i % 20 == 0)
            sl_sleep_ms(5);
    }
    sl_sleep_ms(200); /* let what is queued go out */
    free(b);
    printf("data sent=%ld random=%ld short_header=%ld bad_magic=%ld bad_kind=%ld "
           "unknown_job=%ld other_attempt=%ld far_channel=%ld oversize=%ld valid_channel=%ld "
           "send_failed=%ld\n",
           c.sent, c.random, c.short_hdr, c.bad_magic, c.bad_kind, c.unknown_job,
           c.other_attempt, c.far_channel, c.oversize, c.valid_channel, c.send_failed);
    fflush(stdout);
    _exit(0); /* without nng_close: see oversize_raw */
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc >= 8 && strcmp(argv[1], "rpc") == 0) {
        rng_state = strtoull(argv[6], NULL, 10) | 1;
        return cmd_rpc(atoi(argv[2]), argv[3], argv[4], atoi(argv[5]), argv[7]);
    }
    if (argc >= 6 && strcmp(argv[1], "raw") == 0) {
        rng_state = strtoull(argv[5], NULL, 10) | 1;
        return cmd_raw(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
    }
    if (argc >= 7 && strcmp(argv[1], "data") == 0) {
        rng_state = strtoull(argv[6], NULL, 10) | 1;
        if (argc >= 9) {
            edge_prod = (uint16_t)atoi(argv[7]);
            edge_cons = (uint16_t)atoi(argv[8]);
        }
        return cmd_data(atoi(argv[2]), argv[3], (uint32_t)strtoul(argv[4], NULL, 10),
                        atoi(argv[5]));
    }
    if (argc >= 3 && strcmp(argv[1], "probe") == 0) {
        int st = probe(atoi(argv[2]));
        printf("probe status=%d\n", st);
        return st < 0;
    }
    fprintf(stderr, "usage: live_garbage rpc PORT jm|tm JOBID SECONDS SEED SANDBOX | "
                    "raw PORT PROTO SECONDS SEED | data PORT JOBID ATTEMPT SECONDS SEED [PROD CONS] | "
                    "probe PORT\n");
    return 2;
}
