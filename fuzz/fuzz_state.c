/* Fuzz target: what a restore reads from the checkpoint store.
 *
 * Byte 0 picks the reader (its value modulo 4), the rest is its input:
 *   0 _metadata: the rest is a CheckpointMetadata message; it is framed as
 *     sl_store_metadata_write frames it (magic "SLMD", version 1, length,
 *     CRC-32C) unless byte 1 is 'R' (then the rest after it is the whole
 *     file, frame included), written to chk-1/_metadata and read back by
 *     sl_store_metadata_read (common/checkpoint_store.c); a metadata that
 *     reads is checked by sl_store_verify and given to sl_restore_run
 *     (taskmanager/checkpoint/restore.c) with a chain of the operators below
 *     (stages "src" file source, "gen" datagen, "out" keyed), subtask 0 of 2,
 *     128 key groups, and a state file op-gen-0.state present; then the
 *     jobmanager's check of `run -s` on that folder
 *     (sl_savepoint_restore_check, jobmanager/savepoint.c; -n when the
 *     last byte is odd);
 *   1 a whole state file (common/state_file.c: sl_state_file_load and
 *     sl_state_file_verify, the expected CRC taken from its trailer);
 *   2 a state file's payload for one decoder, byte 1 modulo 5: keyed state
 *     (sl_ks_restore into a hashmap of 128 key groups,
 *     taskmanager/state/keyed_state_snapshot.c), the datagen source
 *     (op_datagen.c, version 2, its lanes in source_lanes.c), the file
 *     source (op_file_source.c, version 2), the nexmark source, the file
 *     sink's lineages (file_sink_commit.c, version 2: pool, deal, record
 *     back); byte 2
 *     gives the parallelism and subtask of the restoring task, then the
 *     old subtasks' payloads follow, each but the last after a u16 length;
 *   3 keyed state restored into a key-group range from bytes 1 and 2; the
 *     restored state must snapshot and restore to the same entry count. */
#include "fuzz/fuzz.h"

#include <sys/stat.h>

#include "common/bytes.h"
#include "common/checkpoint_store.h"
#include "common/crc32c.h"
#include "common/jobfile.h"
#include "common/status.h"
#include "jobmanager/checkpoint_coordinator.h"
#include "jobmanager/savepoint.h"
#include "taskmanager/buf.h"
#include "taskmanager/checkpoint/restore.h"
#include "taskmanager/operators/file_sink_commit.h"
#include "taskmanager/operators/op_registry.h"
#include "taskmanager/state/keyed_state.h"

#define FUZZ_KG 128     /* key groups (max-parallelism) */
#define FUZZ_MAX_OLD 8  /* old subtasks' payloads at most */
#define FUZZ_PAR_MAX 4  /* parallelism of the restoring task: 1 .. 4 */
#define MD_HEAD 12      /* magic, version, length */

static sl_job_spec *spec, *spec_src, *spec_gen, *spec_nx;
static sl_job_spec *parse_job(const char *fmt, const char *arg, const char *name);
static char chk_dir[300], in_dir[300];
static char failure[1024];

static int task_emit(void *t, const sl_row *row) { (void)t, (void)row; return SL_OK; }
static int task_watermark(void *t, int64_t wm) { (void)t, (void)wm; return SL_OK; }
static int task_nothing(void *t) { (void)t; return SL_OK; }

/* ---- the job whose stages are restored */

static void setup(void)
{
    if (spec != NULL)
        return;
    const char *d = fuzz_dir();
    snprintf(chk_dir, sizeof(chk_dir), "%s/chk-1", d);
    snprintf(in_dir, sizeof(in_dir), "%s/in", d);
    if (mkdir(chk_dir, 0700) != 0 || mkdir(in_dir, 0700) != 0)
        abort();
    char path[400];
    snprintf(path, sizeof(path), "%s/a", in_dir);
    fuzz_write_file(path, "1,x\n2,y\n3,z\n", 12);
    snprintf(path, sizeof(path), "%s/b", in_dir);
    fuzz_write_file(path, "4,\"w\nv\"\n", 8);
    spec_src = parse_job("    source: file\n    path: %s\n    format: csv\n"
                         "    schema: \"id:int, s:string\"\n", in_dir, "src");
    spec_gen = parse_job("    source: datagen\n    count: 1000\n%s", "", "gen");
    spec_nx = parse_job("    source: nexmark\n    count: 1000\n%s", "", "nx");
    spec = spec_gen;
}

/* A job of one source stage `name` (its parameters: fmt with arg) and a
 * keyed count "cnt". */
static sl_job_spec *parse_job(const char *fmt, const char *arg, const char *name)
{
    char params[600], text[1024], err[512];
    sl_job_spec *out = NULL;
    snprintf(params, sizeof(params), fmt, arg);
    snprintf(text, sizeof(text),
             "name: t\nmax-parallelism: %d\npipeline:\n  - name: %s\n%s"
             "  - name: out\n    sink: blackhole\n",
             FUZZ_KG, name, params);
    if (sl_job_parse("job.yaml", text, strlen(text), 1, &out, err, sizeof(err)) != SL_OK) {
        fprintf(stderr, "fuzz_state: %s\n%s", err, text);
        abort();
    }
    return out;
}

static sl_op make_op(const sl_op_ops *ops, const char *stage, int s, int p)
{
    sl_job_spec *js = strcmp(stage, "src") == 0 ? spec_src : strcmp(stage, "nx") == 0 ? spec_nx : spec_gen;
    failure[0] = '\0';
    int k = sl_job_find_stage(js, stage);
    if (k < 0)
        abort();
    sl_op_ctx ctx = {.job_id = "", .attempt = 1, .subtask = s, .parallelism = p,
                     .max_parallelism = FUZZ_KG, .spec = js, .restoring = 1,
                     .task = {.emit = task_emit, .watermark = task_watermark,
                              .flush = task_nothing, .poll = task_nothing},
                     .failure = failure, .failure_cap = sizeof(failure)};
    return (sl_op){.ops = ops, .stage = &js->stages[k], .ctx = ctx};
}

/* ---- keyed state */

static int count_entry(void *arg, int kg, const void *k, size_t kl, const void *v, size_t vl)
{
    (void)kg, (void)k, (void)kl, (void)v, (void)vl;
    ++*(size_t *)arg;
    return 0;
}

static void keyed(const uint8_t *p, size_t n, int lo, int hi)
{
    sl_ks_state *st, *back;
    if (sl_ks_open("hashmap", 0, FUZZ_KG - 1, NULL, NULL, &st) != SL_OK)
        abort();
    if (sl_ks_restore(st, p, n, lo, hi) == SL_OK) {
        size_t visited = 0;
        for (int kg = 0; kg < FUZZ_KG; kg++)
            FUZZ_CHECK(sl_ks_visit_group(st, kg, count_entry, &visited) == 0);
        FUZZ_CHECK(visited == sl_ks_count(st));
        sl_buf snap = {0};
        FUZZ_CHECK(sl_ks_snapshot_to_buf(st, 0, FUZZ_KG - 1, &snap) == SL_OK);
        if (sl_ks_open("hashmap", 0, FUZZ_KG - 1, NULL, NULL, &back) != SL_OK)
            abort();
        FUZZ_CHECK(sl_ks_restore(back, snap.p, snap.len, 0, FUZZ_KG - 1) == SL_OK);
        FUZZ_CHECK(sl_ks_count(back) == sl_ks_count(st));
        sl_ks_close(back);
        sl_buf_free(&snap);
    }
    sl_ks_close(st);
}

/* ---- non-keyed sources: every old subtask's payload, then restore_end */

static void sources(const sl_op_ops *ops, const char *stage, const uint8_t *p, size_t n)
{
    if (n < 1)
        return;
    int par = 1 + p[0] % FUZZ_PAR_MAX, s = (p[0] / FUZZ_PAR_MAX) % par;
    p++, n--;
    sl_op op = make_op(ops, stage, s, par);
    if (op.ops->open(&op) != SL_OK)
        abort();
    int rv = SL_OK, restored = 0;
    for (int k = 0; k < FUZZ_MAX_OLD && rv == SL_OK && n > 0; k++, restored++) {
        size_t piece = n;
        if (k < FUZZ_MAX_OLD - 1 && n >= 2) {
            piece = sl_get_le16(p);
            p += 2, n -= 2;
            if (piece > n)
                piece = n;
        }
        rv = op.ops->restore(&op, p, piece);
        p += piece, n -= piece;
    }
    if (rv == SL_OK && restored > 0) /* as restore.c: restore_end after a restore only */
        (void)op.ops->restore_end(&op);
    op.ops->close(&op, 0);
}

/* ---- the file sink's lineages (file_sink_commit.c): every old subtask's
 * state into a pool, dealt to the restoring subtask; what it holds must
 * record and read back to as many lineages. */

static void sink_lineages(const uint8_t *p, size_t n)
{
    if (n < 1)
        return;
    int par = 1 + p[0] % FUZZ_PAR_MAX, s = (p[0] / FUZZ_PAR_MAX) % par;
    p++, n--;
    char err[SL_FSC_ERR_MAX];
    sl_fsc_pool pool = {0};
    sl_fsc_lineages held = {0};
    int rv = SL_OK, added = 0;
    for (int k = 0; k < FUZZ_MAX_OLD && rv == SL_OK && n > 0; k++, added++) {
        size_t piece = n;
        if (k < FUZZ_MAX_OLD - 1 && n >= 2) {
            piece = sl_get_le16(p);
            p += 2, n -= 2;
            if (piece > n)
                piece = n;
        }
        rv = sl_fsc_pool_add(&pool, p, piece, err, sizeof(err));
        p += piece, n -= piece;
    }
    /* as the sink: restore_end (the deal) after a restore only */
    if (rv == SL_OK && added > 0 && sl_fsc_pool_deal(&pool, s, par, &held, err, sizeof(err)) == SL_OK) {
        sl_fsc_writer w = {.dir = "", .job_id = "", .uid = "0123456789abcdef", .subtask = s,
                           .name = "out"};
        sl_buf rec = {0};
        sl_fsc_pool back = {0};
        FUZZ_CHECK(sl_fsc_record(&w, par, &held, 0, &rec) == SL_OK);
        FUZZ_CHECK(sl_fsc_pool_add(&back, rec.p, rec.len, err, sizeof(err)) == SL_OK);
        FUZZ_CHECK(back.all.n == held.n);
        sl_fsc_pool_free(&back);
        sl_buf_free(&rec);
    }
    sl_fsc_lineages_free(&held);
    sl_fsc_pool_free(&pool);
}

/* ---- _metadata and the restore path */

static int fake_keyed_restore(sl_op *op, const uint8_t *p, size_t n)
{
    (void)op;
    keyed(p, n, 0, FUZZ_KG / 2 - 1);
    return SL_OK;
}

static const sl_op_ops fake_keyed = {.restore = fake_keyed_restore, .keyed = 1};

static void write_gen_state(void)
{
    static const uint8_t file[] = {'S', 'L', 'S', 'T', 1, 0, 0, 0, 2, 1, 0, 0, 0, 0,
                                   0, 0, 0, 0, 'T', 'S', 'L', 'S'};
    uint8_t f[sizeof(file)];
    memcpy(f, file, sizeof(f));
    sl_put_le32(f + sizeof(f) - 8, sl_crc32c(0, f, sizeof(f) - 8));
    char path[400];
    snprintf(path, sizeof(path), "%s/op-gen-0.state", chk_dir);
    fuzz_write_file(path, f, sizeof(f));
}

static void metadata(const uint8_t *p, size_t n)
{
    char path[400], err[1024];
    snprintf(path, sizeof(path), "%s/_metadata", chk_dir);
    if (n >= 1 && p[0] == 'R') {
        fuzz_write_file(path, p + 1, n - 1);
    } else {
        uint8_t *f = malloc(n + MD_HEAD + 4);
        if (f == NULL)
            abort();
        memcpy(f, "SLMD", 4);
        sl_put_le32(f + 4, SL_STORE_METADATA_VERSION);
        sl_put_le32(f + 8, (uint32_t)n);
        if (n > 0)
            memcpy(f + MD_HEAD, p, n);
        sl_put_le32(f + MD_HEAD + n, sl_crc32c(0, f, MD_HEAD + n));
        fuzz_write_file(path, f, n + MD_HEAD + 4);
        free(f);
    }
    Sluice__CheckpointMetadata *md = NULL;
    if (sl_store_metadata_read(chk_dir, &md, err, sizeof(err)) != SL_OK) {
        FUZZ_CHECK(md == NULL);
        return;
    }
    write_gen_state();
    (void)sl_store_verify(chk_dir, md, err, sizeof(err));
    sl_op src = make_op(&sl_op_file_source, "src", 0, 2);
    sl_op gen = make_op(&sl_op_datagen_source, "gen", 0, 2);
    sl_op cnt = make_op(&fake_keyed, "out", 0, 2);
    if (src.ops->open(&src) != SL_OK || gen.ops->open(&gen) != SL_OK)
        abort();
    sl_op *chain[] = {&src, &gen, &cnt};
    sl_restore_chain c = {.ops = chain, .nops = 3, .subtask = 0, .parallelism = 2,
                          .max_parallelism = FUZZ_KG, .md = md, .dir = chk_dir,
                          .failure = failure};
    uint64_t bytes;
    int files;
    (void)sl_restore_run(&c, &bytes, &files, err, sizeof(err));
    src.ops->close(&src, 0);
    gen.ops->close(&gen, 0);
    sluice__checkpoint_metadata__free_unpacked(md, NULL);
    /* the jobmanager's check of `run -s` on the same folder */
    static sl_config *cfg;
    static sl_coord cc;
    if (cfg == NULL && sl_config_new(&cfg) != SL_OK)
        abort();
    memset(&cc, 0, sizeof(cc));
    if (sl_coord_init(&cc, cfg, err, sizeof(err)) == SL_OK)
        (void)sl_savepoint_restore_check(&cc, spec_gen, "0123456789abcdef0123456789abcdef",
                                         "job.yaml", chk_dir, n > 0 && (p[n - 1] & 1), err,
                                         sizeof(err));
    sl_coord_free(&cc);
}

/* ---- a whole state file */

static void state_file(const uint8_t *p, size_t n)
{
    char path[400], err[1024];
    snprintf(path, sizeof(path), "%s/op-x-0.state", chk_dir);
    fuzz_write_file(path, p, n);
    uint32_t crc = n >= 8 ? sl_get_le32(p + n - 8) : 0;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rv = sl_state_file_load(path, n, crc, &buf, &len, err, sizeof(err));
    int rv2 = sl_state_file_verify(path, n, crc, err, sizeof(err));
    FUZZ_CHECK((rv == SL_OK) == (rv2 == SL_OK));
    if (rv == SL_OK) {
        FUZZ_CHECK(buf != NULL && len + 16 == n && memcmp(buf, p + 8, len) == 0);
        keyed(buf, len, 0, FUZZ_KG - 1);
    } else {
        FUZZ_CHECK(buf == NULL);
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    if (size < 1)
        return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    switch (data[0] % 4) {
    case 0: metadata(p, n); break;
    case 1: state_file(p, n); break;
    case 2:
        if (n < 1)
            break;
        switch (p[0] % 5) {
        case 0: keyed(p + 1, n - 1, 0, FUZZ_KG - 1); break;
        case 4: sink_lineages(p + 1, n - 1); break;
        case 1: sources(&sl_op_datagen_source, "gen", p + 1, n - 1); break;
        case 2: sources(&sl_op_file_source, "src", p + 1, n - 1); break;
        case 3: sources(&sl_op_nexmark_source, "nx", p + 1, n - 1); break;
        }
        break;
    default:
        if (n >= 2)
            keyed(p + 2, n - 2, p[0] % FUZZ_KG, p[1] % FUZZ_KG);
        break;
    }
    return 0;
}
