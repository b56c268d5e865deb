/* Writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/) with
 * the project's own encoders: packed requests, frames built by
 * sl_frame_build with rows, watermarks, barriers and end of input, state
 * payloads of the sources and of keyed state, _metadata messages, job
 * files and sluice.yaml from the tree, rows and expressions. Each input
 * starts with the selector byte its target reads (fuzz/fuzz_<target>.c).
 * Usage: gen_corpus DIR (make fuzz-corpus). */
#include <nng/nng.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/bytes.h"
#include "common/crc32c.h"
#include "common/row.h"
#include "common/status.h"
#include "proto/sluice.pb-c.h"
#include "taskmanager/buf.h"
#include "taskmanager/network/barrier.h"
#include "taskmanager/network/frame.h"
#include "taskmanager/operators/file_sink_commit.h"
#include "taskmanager/operators/source_lanes.h"
#include "taskmanager/state/keyed_state.h"

#define JOB "0123456789abcdef0123456789abcdef"
#define MAX_SEED 65536

static const char *root;

static void put(const char *target, const char *name, uint8_t sel, int with_sel,
                const void *p, size_t n)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", root, target);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/%s/%s", root, target, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || (with_sel && fputc(sel, f) == EOF) || (n > 0 && fwrite(p, 1, n, f) != n) ||
        fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static size_t read_tree_file(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        exit(1);
    }
    size_t n = fread(out, 1, cap, f);
    fclose(f);
    return n;
}

/* ---- rpc */

static void put_request(const char *name, int role, Sluice__Request *req)
{
    static uint8_t buf[MAX_SEED];
    size_t n = sluice__request__get_packed_size(req);
    if (n > sizeof(buf))
        exit(1);
    sluice__request__pack(req, buf);
    put("rpc", name, (uint8_t)role, 1, buf, n);
}

static void gen_rpc(void)
{
    Sluice__Request req = SLUICE__REQUEST__INIT;
    Sluice__RegisterTm reg = SLUICE__REGISTER_TM__INIT;
    reg.tm_id = "0123456789abcdef", reg.host = "10.0.0.2", reg.rpc_port = 6124;
    reg.data_port = 6125, reg.pid = 4242, reg.slots = 4;
    req.body_case = SLUICE__REQUEST__BODY_REGISTER_TM, req.register_tm = &reg;
    put_request("register", 1, &req);

    Sluice__Heartbeat hb = SLUICE__HEARTBEAT__INIT;
    Sluice__TaskMetrics m = SLUICE__TASK_METRICS__INIT, *ms[2] = {&m, &m};
    m.job_id = JOB, m.attempt = 1, m.task = 3, m.records_in = 1000, m.records_out = 999;
    hb.tm_id = "0123456789abcdef", hb.n_tasks = 2, hb.tasks = ms;
    req.body_case = SLUICE__REQUEST__BODY_HEARTBEAT, req.heartbeat = &hb;
    put_request("heartbeat", 1, &req);

    static char yaml[8192];
    size_t yl = read_tree_file("examples/wordcount.yaml", yaml, sizeof(yaml) - 1);
    yaml[yl] = '\0';
    Sluice__SubmitJob sj = SLUICE__SUBMIT_JOB__INIT;
    sj.file_name = "wordcount.yaml", sj.yaml = yaml, sj.parallelism = 2, sj.request_id = "r1";
    req.body_case = SLUICE__REQUEST__BODY_SUBMIT_JOB, req.submit_job = &sj;
    put_request("submit", 1, &req);

    Sluice__JobRef ref = SLUICE__JOB_REF__INIT;
    ref.job_id = JOB;
    req.body_case = SLUICE__REQUEST__BODY_CANCEL_JOB, req.cancel_job = &ref;
    put_request("cancel", 1, &req);
    req.body_case = SLUICE__REQUEST__BODY_JOB_INFO, req.job_info = &ref;
    put_request("job-info", 0, &req);

    Sluice__ListJobs lj = SLUICE__LIST_JOBS__INIT;
    lj.all = 1;
    req.body_case = SLUICE__REQUEST__BODY_LIST_JOBS, req.list_jobs = &lj;
    put_request("list-jobs", 1, &req);

    Sluice__StateHandle h = SLUICE__STATE_HANDLE__INIT, *hs[1] = {&h};
    h.stage = "count", h.subtask = 1, h.parallelism = 2, h.path = "op-count-1.state";
    h.size = 1234, h.crc32c = 0xdeadbeef, h.kg_start = 64, h.kg_end = 127, h.kind = "operator:count";
    Sluice__AckCheckpoint ack = SLUICE__ACK_CHECKPOINT__INIT;
    ack.job_id = JOB, ack.attempt = 1, ack.checkpoint_id = 7, ack.n_states = 1, ack.states = hs;
    req.body_case = SLUICE__REQUEST__BODY_ACK_CHECKPOINT, req.ack_checkpoint = &ack;
    put_request("ack", 1, &req);

    Sluice__TriggerCheckpoint tc = SLUICE__TRIGGER_CHECKPOINT__INIT;
    tc.job_id = JOB, tc.attempt = 1, tc.checkpoint_id = 5, tc.timestamp_ms = 1700000000000;
    tc.chk_dir = "/tmp/chk/" JOB "/chk-5";
    req.body_case = SLUICE__REQUEST__BODY_TRIGGER_CHECKPOINT, req.trigger_checkpoint = &tc;
    put_request("trigger", 2, &req);
    tc.kind = SLUICE__CHECKPOINT_KIND__KIND_SAVEPOINT, tc.chk_dir = "/tmp/sp/savepoint-012345-abc";
    put_request("trigger-savepoint", 2, &req);
    tc.kind = SLUICE__CHECKPOINT_KIND__KIND_SAVEPOINT_STOP, tc.final = 1;
    put_request("trigger-stop", 2, &req);

    Sluice__NotifyCheckpoint nc = SLUICE__NOTIFY_CHECKPOINT__INIT;
    nc.job_id = JOB, nc.attempt = 1, nc.checkpoint_id = 5, nc.complete = 1;
    req.body_case = SLUICE__REQUEST__BODY_NOTIFY_CHECKPOINT, req.notify_checkpoint = &nc;
    put_request("notify", 2, &req);

    Sluice__JobAttempt ja = SLUICE__JOB_ATTEMPT__INIT;
    ja.job_id = JOB, ja.attempt = 2;
    req.body_case = SLUICE__REQUEST__BODY_CANCEL_TASKS, req.cancel_tasks = &ja;
    put_request("cancel-tasks", 2, &req);

    Sluice__DeployTasks d = SLUICE__DEPLOY_TASKS__INIT;
    char *addrs[2] = {"tcp://10.0.0.2:6125", "tcp://10.0.0.3:6125"};
    uint32_t local[1] = {1};
    d.job_id = JOB, d.attempt = 1, d.file_name = "wordcount.yaml", d.yaml = yaml;
    d.config = "state.checkpoints.dir: /tmp/chk\n", d.n_task_addrs = 2, d.task_addrs = addrs;
    d.n_local_tasks = 1, d.local_tasks = local;
    static uint8_t token[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    d.data_token.data = token, d.data_token.len = sizeof(token);
    req.body_case = SLUICE__REQUEST__BODY_DEPLOY_TASKS, req.deploy_tasks = &d;
    put_request("deploy", 2, &req);

    Sluice__TriggerSavepoint ts = SLUICE__TRIGGER_SAVEPOINT__INIT;
    ts.job_id = JOB, ts.target_dir = "/tmp/sp", ts.stop = 1, ts.request_id = "r2";
    req.body_case = SLUICE__REQUEST__BODY_TRIGGER_SAVEPOINT, req.trigger_savepoint = &ts;
    put_request("trigger-savepoint-cli", 1, &req);
}

/* ---- frames */

static size_t ev_row(uint8_t *p, const sl_row *r)
{
    size_t n;
    p[0] = SL_FRAME_EV_ROW;
    if (sl_row_encode(r, p + 1, 4096, &n) != SL_OK)
        exit(1);
    return n + 1;
}

static size_t ev_barrier(uint8_t *p, int kind, int final, const char *dir)
{
    static sl_barrier b;
    memset(&b, 0, sizeof(b));
    b.id = 9, b.ts = 1700000000123, b.final = final, b.kind = kind;
    snprintf(b.dir, sizeof(b.dir), "%s", dir);
    size_t n;
    p[0] = SL_FRAME_EV_BARRIER;
    if (sl_barrier_encode(&b, p + 1, SL_BARRIER_MAX_LEN, &n) != SL_OK)
        exit(1);
    return n + 1;
}

static void put_frame(const char *name, int kind, const uint8_t *payload, size_t n)
{
    sl_frame_hdr h = {.kind = (uint8_t)kind, .attempt = 1, .prod_stage = 0, .cons_stage = 1,
                      .src = 0, .dst = 1, .seq = 42};
    memcpy(h.job, JOB, sizeof(h.job));
    memcpy(h.token, "0123456789abcdef", SL_FRAME_TOKEN_LEN);
    nng_msg *m;
    if (sl_frame_build(&h, payload, n, &m) != SL_OK)
        exit(1);
    put("frame", name, 0, 0, nng_msg_body(m), nng_msg_len(m));
    nng_msg_free(m);
}

static void gen_frame(void)
{
    static uint8_t p[16384];
    sl_row r = {.nfields = 3};
    r.v[0] = (sl_value){.type = SL_TYPE_STRING, .u.s = {"hamlet", 6}};
    r.v[1] = (sl_value){.type = SL_TYPE_INT, .u.i = -123456789};
    r.v[2] = (sl_value){.type = SL_TYPE_DOUBLE, .u.d = 2.5};
    size_t n = ev_row(p, &r);
    n += ev_row(p + n, &r);
    put_frame("rows", SL_FRAME_DATA, p, n);
    p[n] = SL_FRAME_EV_WATERMARK;
    sl_put_le64(p + n + 1, 1700000000000ull);
    size_t w = n + 1 + SL_FRAME_WATERMARK_LEN;
    put_frame("rows-watermark", SL_FRAME_DATA, p, w);
    size_t b = w + ev_barrier(p + w, SL_BARRIER_KIND_CHECKPOINT, 0, "");
    put_frame("rows-barrier", SL_FRAME_DATA, p, b);
    put_frame("barrier-final", SL_FRAME_DATA, p, ev_barrier(p, SL_BARRIER_KIND_CHECKPOINT, 1, ""));
    put_frame("barrier-savepoint", SL_FRAME_DATA, p,
              ev_barrier(p, SL_BARRIER_KIND_SAVEPOINT, 0, "/tmp/sp/savepoint-012345-abcdef"));
    put_frame("barrier-stop", SL_FRAME_DATA, p,
              ev_barrier(p, SL_BARRIER_KIND_SAVEPOINT_STOP, 0, "/tmp/sp/savepoint-1"));
    p[0] = SL_FRAME_EV_WATERMARK;
    sl_put_le64(p + 1, (uint64_t)INT64_MAX);
    p[1 + SL_FRAME_WATERMARK_LEN] = SL_FRAME_EV_END;
    put_frame("watermark-end", SL_FRAME_DATA, p, 2 + SL_FRAME_WATERMARK_LEN);
    put_frame("credit", SL_FRAME_CREDIT, NULL, 0);
    sl_row e = {.nfields = 0};
    put_frame("empty-row", SL_FRAME_DATA, p, ev_row(p, &e));
}

/* ---- state */

static void put_state(const char *name, uint8_t sel, uint8_t sub, uint8_t par,
                      const sl_buf *pieces, int n)
{
    static uint8_t buf[MAX_SEED];
    size_t at = 0;
    buf[at++] = sub;
    buf[at++] = par;
    for (int k = 0; k < n; k++) {
        if (k < n - 1) {
            sl_put_le16(buf + at, (uint16_t)pieces[k].len);
            at += 2;
        }
        memcpy(buf + at, pieces[k].p, pieces[k].len);
        at += pieces[k].len;
    }
    put("state", name, sel, 1, buf, at);
}

static void keyed_snapshot(sl_buf *out, int entries)
{
    sl_ks_state *st;
    if (sl_ks_open("hashmap", 0, 127, NULL, NULL, &st) != SL_OK)
        exit(1);
    for (int i = 0; i < entries; i++) {
        char k[16], v[16];
        int kl = snprintf(k, sizeof(k), "key%d", i), vl = snprintf(v, sizeof(v), "%d", i * 7);
        sl_ks_put(st, (i * 37) % 128, k, (size_t)kl, v, (size_t)vl);
    }
    memset(out, 0, sizeof(*out));
    if (sl_ks_snapshot_to_buf(st, 0, 127, out) != SL_OK)
        exit(1);
    sl_ks_close(st);
}

static void lanes_snapshot(sl_buf *out, int s, int p, int version_prefix)
{
    sl_lanes l;
    memset(out, 0, sizeof(*out));
    if (sl_lanes_init(&l, s, p, 1000) != SL_OK)
        exit(1);
    uint64_t i;
    for (int k = 0; k < 5; k++)
        sl_lanes_next(&l, &i);
    if (version_prefix)
        sl_buf_put_varint(out, 2); /* datagen's STATE_VERSION, then its lanes */
    if (sl_lanes_snapshot(&l, s, p, out) != SL_OK)
        exit(1);
    sl_lanes_free(&l);
}

/* The file source's version 2: version, subtask, parallelism, n ranges,
 * each (file index, start, exact, end) as op_file_source.c writes them. */
static void file_source_state(sl_buf *out, int s, int p)
{
    memset(out, 0, sizeof(*out));
    sl_buf_put_varint(out, 2);
    sl_buf_put_varint(out, (uint64_t)s);
    sl_buf_put_varint(out, (uint64_t)p);
    sl_buf_put_varint(out, 1);
    sl_buf_put_varint(out, (uint64_t)s);
    sl_buf_put_varint(out, 4);
    sl_buf_put_varint(out, 1);
    sl_buf_put_varint(out, 12);
}

static void put_metadata(const char *name, Sluice__CheckpointMetadata *md)
{
    static uint8_t buf[MAX_SEED];
    size_t n = sluice__checkpoint_metadata__get_packed_size(md);
    sluice__checkpoint_metadata__pack(md, buf);
    put("state", name, 0, 1, buf, n);
}

static void gen_state(void)
{
    sl_buf k[2], g[2], f[2];
    keyed_snapshot(&k[0], 40);
    keyed_snapshot(&k[1], 3);
    uint8_t *kb = malloc(k[0].len + 2);
    kb[0] = 0; /* decoder 0: keyed state */
    memcpy(kb + 1, k[0].p, k[0].len);
    put("state", "keyed", 2, 1, kb, k[0].len + 1);
    free(kb);
    kb = malloc(k[1].len + 2);
    kb[0] = 10, kb[1] = 90;
    memcpy(kb + 2, k[1].p, k[1].len);
    put("state", "keyed-range", 3, 1, kb, k[1].len + 2);
    free(kb);
    for (int s = 0; s < 2; s++) {
        lanes_snapshot(&g[s], s, 2, 1);
        file_source_state(&f[s], s, 2);
    }
    put_state("datagen-2-to-3", 2, 1, 2 + 4 * 1, g, 2);
    put_state("datagen-2-to-1", 2, 1, 0, g, 2);
    put_state("nexmark-2-to-2", 2, 3, 1 + 4 * 1, g, 2);
    put_state("file-source-2-to-2", 2, 2, 1, f, 2);
    put_state("file-source-2-to-4", 2, 2, 3 + 4 * 3, f, 2);
    sl_buf l[2];
    for (int s = 0; s < 2; s++) {
        sl_fsc_lineage held[1] = {{.uid = "fedcba9876543210", .subtask = s, .covered = 3}};
        sl_fsc_lineages h = {.v = held, .n = 1, .cap = 1};
        sl_fsc_writer w = {.dir = "", .job_id = JOB, .uid = s ? "0123456789abcdef" : "00112233445566ff",
                           .subtask = s, .name = "out"};
        memset(&l[s], 0, sizeof(l[s]));
        if (sl_fsc_record(&w, 2, &h, 5 + s, &l[s]) != SL_OK)
            exit(1);
    }
    put_state("file-sink-2-to-2", 2, 4, 1 + 4 * 1, l, 2);
    put_state("file-sink-2-to-3", 2, 4, 2 + 4 * 2, l, 2);
    sl_buf_free(&l[0]);
    sl_buf_free(&l[1]);

    /* a whole state file: header, payload, CRC-32C, trailer */
    uint8_t file[4096];
    memcpy(file, "SLST\1\0\0\0", 8);
    memcpy(file + 8, k[1].p, k[1].len);
    size_t at = 8 + k[1].len;
    sl_put_le32(file + at, sl_crc32c(0, file, at));
    memcpy(file + at + 4, "TSLS", 4);
    put("state", "state-file", 1, 1, file, at + 8);

    Sluice__StateHandle h[3] = {SLUICE__STATE_HANDLE__INIT, SLUICE__STATE_HANDLE__INIT,
                                SLUICE__STATE_HANDLE__INIT};
    Sluice__StateHandle *hs[3] = {&h[0], &h[1], &h[2]};
    h[0].stage = "gen", h[0].subtask = 0, h[0].parallelism = 1, h[0].path = "op-gen-0.state";
    h[0].size = 22, h[0].kg_start = -1, h[0].kg_end = -1, h[0].kind = "source:datagen";
    h[1].stage = "out", h[1].subtask = 0, h[1].parallelism = 2, h[1].path = "op-out-0.state";
    h[1].size = 100, h[1].kg_start = 0, h[1].kg_end = 63, h[1].kind = "operator:count";
    h[2].stage = "src", h[2].subtask = 1, h[2].parallelism = 2, h[2].path = "op-src-1.state";
    h[2].size = 40, h[2].kg_start = -1, h[2].kg_end = -1, h[2].kind = "source:file";
    Sluice__CheckpointMetadata md = SLUICE__CHECKPOINT_METADATA__INIT;
    md.job_id = JOB, md.job_name = "t", md.checkpoint_id = 1, md.trigger_time_ms = 1700000000000;
    md.complete_time_ms = 1700000000100, md.max_parallelism = 128, md.n_states = 3, md.states = hs;
    put_metadata("metadata", &md);
    md.savepoint = 1, md.n_states = 1;
    put_metadata("metadata-savepoint", &md);
    for (int s = 0; s < 2; s++) {
        sl_buf_free(&k[s]);
        sl_buf_free(&g[s]);
        sl_buf_free(&f[s]);
    }
}

/* ---- text inputs */

static void put_text(const char *target, const char *name, int sel, const char *a,
                     const char *b, size_t blen)
{
    static uint8_t buf[MAX_SEED];
    size_t n = strlen(a);
    memcpy(buf, a, n);
    if (b != NULL) {
        buf[n++] = '\0';
        memcpy(buf + n, b, blen);
        n += blen;
    }
    put(target, name, (uint8_t)sel, sel >= 0, buf, n);
}

static void gen_jobfiles(void)
{
    static const char *files[] = {"examples/wordcount.yaml", "bench/nexmark/q0.yaml",
                                  "bench/nexmark/q1.yaml",   "bench/nexmark/q2.yaml",
                                  "bench/nexmark/q5.yaml",   "bench/nexmark/q7.yaml"};
    static char text[MAX_SEED];
    for (size_t k = 0; k < sizeof(files) / sizeof(files[0]); k++) {
        size_t n = read_tree_file(files[k], text + 1, sizeof(text) - 2);
        text[0] = (char)(k % 3); /* -p override: none, 1, 2 */
        char name[64];
        snprintf(name, sizeof(name), "job-%s", strrchr(files[k], '/') + 1);
        put("jobfile", name, 0, 1, text, n + 1);
    }
    static const char *jobs[] = {
        "name: w\nconfig:\n  execution.checkpointing.interval: 300ms\n  "
        "execution.checkpointing.mode: EXACTLY_ONCE\npipeline:\n  - name: gen\n    source: "
        "datagen\n    count: 100\n    keys: 7\n  - name: f\n    operator: filter\n    where: "
        "\"v % 2 == 0 and key != 'x'\"\n  - name: m\n    operator: map\n    set:\n      d: v * 2.5\n"
        "  - name: w\n    operator: window\n    key-by: key\n    size: 1s\n    slide: 500ms\n"
        "    aggregate: sum\n    field: v\n  - name: out\n    sink: file\n    path: /tmp/o\n"
        "    format: json\n",
        "name: s\nparallelism: 2\nmax-parallelism: 64\npipeline:\n  - name: src\n    source: "
        "file\n    path: /tmp/in\n    format: csv\n    schema: \"id:int, s:string, x:double\"\n"
        "  - name: c\n    operator: count\n    key-by: s\n  - name: out\n    sink: print\n",
    };
    for (size_t k = 0; k < sizeof(jobs) / sizeof(jobs[0]); k++) {
        char name[32];
        snprintf(name, sizeof(name), "job-inline-%zu", k);
        text[0] = 0;
        memcpy(text + 1, jobs[k], strlen(jobs[k]));
        put("jobfile", name, 0, 1, text, strlen(jobs[k]) + 1);
    }
    size_t n = read_tree_file("conf/sluice.yaml", text, sizeof(text) - 1);
    text[n] = '\0';
    const char *d = "taskmanager.numberOfTaskSlots=4\nheartbeat.timeout=3s\n"
                    "state.backend.leveldb.cache-size=64mb\n";
    put_text("jobfile", "config-sluice-yaml", 1, text, d, strlen(d));
    put_text("jobfile", "config-flat", 1,
             "jobmanager.rpc.address: 10.0.0.1\nrpc.max-message-size: 64mb\n"
             "execution.checkpointing.interval: 2 s\nstate.checkpoints.dir: file:///tmp/c\n",
             "parallelism.default=3\n", 22);
}

static void gen_rows(void)
{
    static const struct { const char *name, *schema; int json; const char *data; } rows[] = {
        {"csv-basic", "id:int, name:string, x:double", 0, "1,alice,2.5\n2,\"b,o\"\"b\",-1e-7\n"},
        {"csv-multiline", "s:string, n:int", 0, "\"a\nb\",3\n,-9223372036854775808\n"},
        {"csv-empty", "s:string", 0, "\n\n\"\"\n"},
        {"json-basic", "id:int, name:string, x:double", 1,
         "{\"id\":1,\"name\":\"al\\u00e9\\n\",\"x\":0.1}\n{\"x\":1e21,\"id\":-2,\"name\":\"\"}\n"},
        {"json-nested-ignored", "a:int", 1, "{\"a\":5,\"b\":[1,{\"c\":null}],\"d\":true}\n"},
        {"json-escapes", "s:string", 1, "{\"s\":\"\\\"\\\\\\/\\b\\f\\r\\t\\ud83d\\ude00\"}\n"},
    };
    for (size_t k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
        static char buf[1024];
        buf[0] = (char)rows[k].json;
        size_t n = strlen(rows[k].data);
        memcpy(buf + 1, rows[k].data, n);
        put_text("rows", rows[k].name, -1, rows[k].schema, buf, n + 1);
    }
}

static void gen_expr(void)
{
    static const char *exprs[] = {
        "a + 1",
        "a * 2 - b / 3.5",
        "a % 7 == 0 and s != 'x' or not (b < 0.5)",
        "s == t",
        "-a",
        "(a + 2) * (a - 2) > 10",
        "b >= 1e10 or b <= -1.5e-3",
        "a / 0",
        "concat(s, t)",
        "length(s) > 3",
        "'it''s'",
        "a > 1 and a < 10 and s != ''",
    };
    uint8_t row[32];
    sl_put_le64(row, 42);
    double d = 3.25;
    memcpy(row + 8, &d, 8);
    memcpy(row + 16, "hellowor", 8);
    for (size_t k = 0; k < sizeof(exprs) / sizeof(exprs[0]); k++) {
        char name[32];
        snprintf(name, sizeof(name), "expr-%02zu", k);
        put_text("expr", name, -1, exprs[k], (const char *)row, 24);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_corpus DIR\n");
        return 2;
    }
    root = argv[1];
    mkdir(root, 0755);
    gen_rpc();
    gen_frame();
    gen_state();
    gen_jobfiles();
    gen_rows();
    gen_expr();
    return 0;
}
