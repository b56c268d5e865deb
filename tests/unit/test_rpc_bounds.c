/* The wire scanner of common/rpc_bounds.c: real requests pass, repeated
 * fields are bounded at exactly their limit (packed or not), per-kind size
 * limits and roles hold, broken wire format is rejected with a reason, every
 * repeated field of sluice.proto has a bound, the bounds match the
 * configuration's limits, and no mutation of a valid frame crashes the
 * scanner or passes it and then unpacks past a bound. */
#include <check.h>
#include <protobuf-c/protobuf-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/rpc_bounds.h"
#include "common/status.h"
#include "proto/sluice.pb-c.h"

#define BIG ((size_t)64 << 20)

typedef struct frame {
    uint8_t *buf;
    size_t len;
} frame;

static frame pack(const Sluice__Request *req)
{
    frame f;
    f.len = sluice__request__get_packed_size(req);
    f.buf = malloc(f.len ? f.len : 1);
    ck_assert_ptr_nonnull(f.buf);
    sluice__request__pack(req, f.buf);
    return f;
}

static int check(int role, frame f, char *err, size_t errlen)
{
    return sl_rpc_check_request(role, BIG, f.buf, f.len, NULL, err, errlen);
}

static void assert_ok(int role, frame f)
{
    char err[256] = "";
    int rv = check(role, f, err, sizeof(err));
    ck_assert_msg(rv == SL_OK, "rejected: %s", err);
}

static void assert_rejected(int role, frame f, const char *why)
{
    char err[256] = "";
    ck_assert_int_eq(check(role, f, err, sizeof(err)), SL_EINVAL);
    ck_assert_msg(strstr(err, why) != NULL, "reason '%s' does not contain '%s'", err, why);
}

/* A heartbeat with n task metrics, each with a 32-digit job id. */
static frame heartbeat(size_t n)
{
    Sluice__TaskMetrics *ms = calloc(n ? n : 1, sizeof(*ms));
    Sluice__TaskMetrics **ptrs = calloc(n ? n : 1, sizeof(*ptrs));
    ck_assert(ms != NULL && ptrs != NULL);
    for (size_t i = 0; i < n; i++) {
        sluice__task_metrics__init(&ms[i]);
        ms[i].job_id = "0123456789abcdef0123456789abcdef";
        ms[i].attempt = 4000000000u;
        ms[i].task = (uint32_t)i;
        ms[i].records_in = ms[i].records_out = ms[i].late_records = UINT64_MAX;
        ptrs[i] = &ms[i];
    }
    Sluice__Heartbeat hb = SLUICE__HEARTBEAT__INIT;
    hb.tm_id = "0123456789abcdef";
    hb.n_tasks = n;
    hb.tasks = ptrs;
    Sluice__Request req = SLUICE__REQUEST__INIT;
    req.body_case = SLUICE__REQUEST__BODY_HEARTBEAT;
    req.heartbeat = &hb;
    frame f = pack(&req);
    free(ptrs);
    free(ms);
    return f;
}

/* Appends a varint to a hand-built frame. */
static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    do {
        p[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v != 0);
    return n;
}

/* Request{field: body} with body given as raw bytes. */
static frame envelope(uint32_t field, const uint8_t *body, size_t n)
{
    frame f;
    f.buf = malloc(n + 16);
    f.len = put_varint(f.buf, (uint64_t)field << 3 | 2);
    f.len += put_varint(f.buf + f.len, n);
    memcpy(f.buf + f.len, body, n);
    f.len += n;
    return f;
}

START_TEST(test_real_requests_pass)
{
    frame f = heartbeat(3);
    assert_ok(SL_RPC_SERVE_JOBMANAGER, f);
    free(f.buf);

    Sluice__UdfLibrary lib = SLUICE__UDF_LIBRARY__INIT, *libs[] = {&lib, &lib};
    lib.path = "/x/libf.so";
    lib.content.len = 3;
    lib.content.data = (uint8_t *)"ELF";
    Sluice__SubmitJob s = SLUICE__SUBMIT_JOB__INIT;
    s.yaml = "name: x";
    s.n_libraries = 2;
    s.libraries = libs;
    Sluice__Request req = SLUICE__REQUEST__INIT;
    req.body_case = SLUICE__REQUEST__BODY_SUBMIT_JOB;
    req.submit_job = &s;
    f = pack(&req);
    assert_ok(SL_RPC_SERVE_JOBMANAGER, f);
    free(f.buf);

    char *addrs[] = {"tcp://a:1", "tcp://b:2", ""};
    uint32_t local[] = {0, 2, 300000};
    Sluice__DeployTasks d = SLUICE__DEPLOY_TASKS__INIT;
    d.job_id = "j";
    d.n_task_addrs = 3;
    d.task_addrs = addrs;
    d.n_local_tasks = 3;
    d.local_tasks = local;
    d.n_libraries = 1;
    d.libraries = libs;
    req.body_case = SLUICE__REQUEST__BODY_DEPLOY_TASKS;
    req.deploy_tasks = &d;
    f = pack(&req);
    assert_ok(SL_RPC_SERVE_TASKMANAGER, f);
    free(f.buf);

    Sluice__StateHandle h = SLUICE__STATE_HANDLE__INIT, *hs[] = {&h, &h, &h};
    h.stage = "counts";
    h.path = "counts-0.state";
    h.kg_start = -1;
    h.kg_end = -1;
    Sluice__AckCheckpoint a = SLUICE__ACK_CHECKPOINT__INIT;
    a.n_states = 3;
    a.states = hs;
    req.body_case = SLUICE__REQUEST__BODY_ACK_CHECKPOINT;
    req.ack_checkpoint = &a;
    f = pack(&req);
    assert_ok(SL_RPC_SERVE_JOBMANAGER, f);
    free(f.buf);

    Sluice__ListTms lt = SLUICE__LIST_TMS__INIT;
    req.body_case = SLUICE__REQUEST__BODY_LIST_TMS;
    req.list_tms = &lt;
    f = pack(&req);
    assert_ok(SL_RPC_SERVE_ALL, f);
    free(f.buf);
}
END_TEST

START_TEST(test_heartbeat_bound_is_exact)
{
    frame f = heartbeat(SL_RPC_MAX_TM_TASKS);
    ck_assert_uint_le(f.len, SL_RPC_HEARTBEAT_MAX_MSG);
    assert_ok(SL_RPC_SERVE_JOBMANAGER, f);
    free(f.buf);
    f = heartbeat(SL_RPC_MAX_TM_TASKS + 1);
    assert_rejected(SL_RPC_SERVE_JOBMANAGER, f, "sluice.Heartbeat.tasks holds more than 131072");
    free(f.buf);
}
END_TEST

/* The bomb of the defect report: empty elements, two bytes each. */
START_TEST(test_empty_element_bomb_is_rejected)
{
    size_t n = SL_RPC_MAX_TM_TASKS + 1;
    uint8_t *body = malloc(2 * n);
    for (size_t i = 0; i < n; i++) {
        body[2 * i] = 0x12; /* Heartbeat.tasks, empty */
        body[2 * i + 1] = 0;
    }
    frame f = envelope(SLUICE__REQUEST__BODY_HEARTBEAT, body, 2 * n);
    assert_rejected(SL_RPC_SERVE_JOBMANAGER, f, "Heartbeat.tasks holds more than");
    free(f.buf);
    /* Libraries of a submit: bounded by the stages of a job. */
    for (size_t i = 0; i <= SL_RPC_MAX_UDF_LIBRARIES; i++)
        body[2 * i] = 0x2a; /* SubmitJob.libraries (field 5), empty */
    frame g = envelope(SLUICE__REQUEST__BODY_SUBMIT_JOB, body, 2 * (SL_RPC_MAX_UDF_LIBRARIES + 1));
    assert_rejected(SL_RPC_SERVE_JOBMANAGER, g, "SubmitJob.libraries holds more than 64");
    free(g.buf);
    free(body);
}
END_TEST

/* DeployTasks.local_tasks (field 8): packed or one varint per element,
 * both count, and so does a mix of the two. */
START_TEST(test_packed_and_unpacked_elements_count)
{
    size_t n = SL_RPC_MAX_TM_ATTEMPT_TASKS;
    uint8_t *body = malloc(4 * n + 64);
    size_t len = 0;
    body[len++] = 0x42; /* field 8, LEN: packed */
    len += put_varint(body + len, n);
    memset(body + len, 0x01, n); /* n one-byte varints */
    len += n;
    frame f = envelope(SLUICE__REQUEST__BODY_DEPLOY_TASKS, body, len);
    assert_ok(SL_RPC_SERVE_TASKMANAGER, f);
    free(f.buf);
    body[len++] = 0x40; /* field 8, varint: one more element */
    body[len++] = 0x07;
    f = envelope(SLUICE__REQUEST__BODY_DEPLOY_TASKS, body, len);
    assert_rejected(SL_RPC_SERVE_TASKMANAGER, f, "DeployTasks.local_tasks holds more than 65536");
    free(f.buf);
    /* A packed run that ends inside a varint. */
    len = 0;
    body[len++] = 0x42;
    body[len++] = 2;
    body[len++] = 0x01;
    body[len++] = 0x81;
    f = envelope(SLUICE__REQUEST__BODY_DEPLOY_TASKS, body, len);
    assert_rejected(SL_RPC_SERVE_TASKMANAGER, f, "broken packed elements");
    free(f.buf);
    free(body);
}
END_TEST

START_TEST(test_size_limits_per_kind)
{
    frame f = heartbeat(SL_RPC_MAX_TM_TASKS + SL_RPC_MAX_TM_TASKS / 4);
    ck_assert_uint_gt(f.len, SL_RPC_HEARTBEAT_MAX_MSG);
    assert_rejected(SL_RPC_SERVE_JOBMANAGER, f, "a heartbeat request of");
    free(f.buf);

    static char id[SL_RPC_QUERY_MAX_MSG];
    memset(id, 'a', sizeof(id) - 1);
    Sluice__JobRef r = SLUICE__JOB_REF__INIT;
    r.job_id = id;
    Sluice__Request req = SLUICE__REQUEST__INIT;
    req.body_case = SLUICE__REQUEST__BODY_JOB_INFO;
    req.job_info = &r;
    f = pack(&req);
    assert_rejected(SL_RPC_SERVE_JOBMANAGER, f, "a job_info request of");
    free(f.buf);

    /* Submits may use all of rpc.max-message-size, not more. */
    Sluice__SubmitJob s = SLUICE__SUBMIT_JOB__INIT;
    s.yaml = id;
    req.body_case = SLUICE__REQUEST__BODY_SUBMIT_JOB;
    req.submit_job = &s;
    f = pack(&req);
    assert_ok(SL_RPC_SERVE_JOBMANAGER, f);
    char err[256];
    ck_assert_int_eq(sl_rpc_check_request(SL_RPC_SERVE_JOBMANAGER, f.len - 1, f.buf, f.len, NULL,
                                          err, sizeof(err)),
                     SL_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "exceeds rpc.max-message-size"));
    free(f.buf);
    ck_assert_uint_eq(sl_rpc_kind_max_bytes(SLUICE__REQUEST__BODY_DEPLOY_TASKS, BIG), BIG);
    ck_assert_uint_eq(sl_rpc_kind_max_bytes(SLUICE__REQUEST__BODY_REGISTER_TM, BIG),
                      SL_RPC_TM_MAX_MSG);
}
END_TEST

START_TEST(test_roles)
{
    Sluice__JobAttempt ja = SLUICE__JOB_ATTEMPT__INIT;
    Sluice__Request req = SLUICE__REQUEST__INIT;
    req.body_case = SLUICE__REQUEST__BODY_START_TASKS;
    req.start_tasks = &ja;
    frame f = pack(&req);
    assert_rejected(SL_RPC_SERVE_JOBMANAGER, f, "start_tasks is not a jobmanager request");
    assert_ok(SL_RPC_SERVE_TASKMANAGER, f);
    assert_ok(SL_RPC_SERVE_ALL, f);
    free(f.buf);
    f = heartbeat(1);
    assert_rejected(SL_RPC_SERVE_TASKMANAGER, f, "heartbeat is not a taskmanager request");
    free(f.buf);
}
END_TEST

START_TEST(test_broken_envelopes)
{
    /* No body at all, and an unknown field only. */
    frame f = {(uint8_t *)"", 0};
    assert_rejected(SL_RPC_SERVE_ALL, f, "no request body");
    uint8_t unknown[] = {0xf8, 0x01, 0x05}; /* field 31, varint */
    f = (frame){unknown, sizeof(unknown)};
    assert_rejected(SL_RPC_SERVE_ALL, f, "no request body");
    /* Two bodies. */
    uint8_t two[] = {0x12, 0x00, 0x2a, 0x00}; /* heartbeat {}, list_jobs {} */
    f = (frame){two, sizeof(two)};
    assert_rejected(SL_RPC_SERVE_ALL, f, "second member of the same oneof");
    /* The same body twice (protobuf-c would merge them). */
    uint8_t twice[] = {0x12, 0x00, 0x12, 0x00};
    f = (frame){twice, sizeof(twice)};
    assert_rejected(SL_RPC_SERVE_ALL, f, "sluice.Request.heartbeat appears more than once");
    /* A singular field twice inside the body. */
    uint8_t dup[] = {0x12, 0x06, 0x0a, 0x01, 'a', 0x0a, 0x01, 'b'};
    f = (frame){dup, sizeof(dup)};
    assert_rejected(SL_RPC_SERVE_ALL, f, "sluice.Heartbeat.tm_id appears more than once");
    /* A length past the end, at both levels. */
    uint8_t past[] = {0x12, 0x05, 0x0a, 0x01};
    f = (frame){past, sizeof(past)};
    assert_rejected(SL_RPC_SERVE_ALL, f, "no request body");
    uint8_t inner[] = {0x12, 0x02, 0x0a, 0x09};
    f = (frame){inner, sizeof(inner)};
    assert_rejected(SL_RPC_SERVE_ALL, f, "sluice.Heartbeat: broken field at byte 0");
    /* An 11-byte varint, a group, a wrong wire type, field number 0. */
    uint8_t longv[] = {0x12, 0x0c, 0x10, 0xff, 0xff, 0xff, 0xff, 0xff,
                       0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    f = (frame){longv, sizeof(longv)};
    assert_rejected(SL_RPC_SERVE_ALL, f, "broken field");
    uint8_t group[] = {0x12, 0x02, 0x13, 0x14};
    f = (frame){group, sizeof(group)};
    assert_rejected(SL_RPC_SERVE_ALL, f, "broken field");
    uint8_t wire[] = {0x12, 0x02, 0x08, 0x01}; /* tm_id as a varint */
    f = (frame){wire, sizeof(wire)};
    assert_rejected(SL_RPC_SERVE_ALL, f, "sluice.Heartbeat.tm_id: wire type 0, expected 2");
    uint8_t zero[] = {0x12, 0x02, 0x02, 0x00};
    f = (frame){zero, sizeof(zero)};
    assert_rejected(SL_RPC_SERVE_ALL, f, "broken field");
}
END_TEST

START_TEST(test_unknown_fields_are_bounded)
{
    uint8_t buf[4 + 2 * (SL_RPC_MAX_UNKNOWN_FIELDS + 1)];
    size_t len = 0;
    buf[len++] = 0x12;
    buf[len++] = 0;
    for (int i = 0; i < SL_RPC_MAX_UNKNOWN_FIELDS; i++) {
        buf[len++] = 0x78; /* field 15 of Heartbeat, varint: unknown */
        buf[len++] = 0x01;
        buf[1] += 2;
    }
    frame f = {buf, len};
    assert_ok(SL_RPC_SERVE_ALL, f);
    Sluice__Request *req = sluice__request__unpack(NULL, len, buf);
    ck_assert_ptr_nonnull(req);
    ck_assert_int_eq(req->body_case, SLUICE__REQUEST__BODY_HEARTBEAT);
    sluice__request__free_unpacked(req, NULL);
    buf[len++] = 0x78;
    buf[len++] = 0x01;
    buf[1] += 2;
    f.len = len;
    assert_rejected(SL_RPC_SERVE_ALL, f, "more than 16 unknown fields");
}
END_TEST

/* Every repeated field a request can reach has an explicit bound, and every
 * body of the envelope is a known kind. */
static void walk(const ProtobufCMessageDescriptor *d, int depth)
{
    ck_assert_int_le(depth, SL_RPC_SCAN_MAX_DEPTH);
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->label == PROTOBUF_C_LABEL_REPEATED)
            ck_assert_msg(sl_rpc_repeated_limit(d->name, f->id) > 0,
                          "%s.%s has no bound in rpc_bounds.c", d->name, f->name);
        if (f->type == PROTOBUF_C_TYPE_MESSAGE)
            walk(f->descriptor, depth + 1);
    }
}

START_TEST(test_every_repeated_field_is_bounded)
{
    walk(&sluice__request__descriptor, 0);
    const ProtobufCMessageDescriptor *d = &sluice__request__descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) /* the body's kinds; leader_id is beside them */
        if (d->fields[i].flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
            ck_assert_str_eq(sl_rpc_kind_name((int)d->fields[i].id), d->fields[i].name);
        else
            ck_assert_str_eq(sl_rpc_kind_name((int)d->fields[i].id), "unknown");
    ck_assert_str_eq(sl_rpc_kind_name(0), "unknown");
    ck_assert_str_eq(sl_rpc_kind_name(1000), "unknown");
    ck_assert(sl_rpc_kind_heavy(SLUICE__REQUEST__BODY_SUBMIT_JOB));
    ck_assert(sl_rpc_kind_heavy(SLUICE__REQUEST__BODY_DEPLOY_TASKS));
    ck_assert(!sl_rpc_kind_heavy(SLUICE__REQUEST__BODY_HEARTBEAT));
}
END_TEST

/* The bounds derive from the configuration's own limits. */
START_TEST(test_bounds_match_the_configuration)
{
    sl_config *cfg = NULL;
    char err[256], v[32];
    ck_assert_int_eq(sl_config_new(&cfg), SL_OK);
    snprintf(v, sizeof(v), "%d", SL_MAX_TM_SLOTS);
    ck_assert_int_eq(sl_config_set_at(cfg, "taskmanager.numberOfTaskSlots", v, "t", 1, 1, err,
                                      sizeof(err)),
                     SL_OK);
    snprintf(v, sizeof(v), "%d", SL_MAX_TM_SLOTS + 1);
    ck_assert_int_eq(sl_config_set_at(cfg, "taskmanager.numberOfTaskSlots", v, "t", 1, 1, err,
                                      sizeof(err)),
                     SL_EINVAL);
    snprintf(v, sizeof(v), "%d", SL_MAX_PARALLELISM);
    ck_assert_int_eq(
        sl_config_set_at(cfg, "parallelism.default", v, "t", 1, 1, err, sizeof(err)), SL_OK);
    snprintf(v, sizeof(v), "%d", SL_MAX_PARALLELISM + 1);
    ck_assert_int_eq(
        sl_config_set_at(cfg, "parallelism.default", v, "t", 1, 1, err, sizeof(err)), SL_EINVAL);
    sl_config_free(cfg);
}
END_TEST

static uint32_t rnd_state = 12345;
static uint32_t rnd(void)
{
    rnd_state = rnd_state * 1103515245u + 12345u;
    return rnd_state >> 8;
}

/* Mutated frames: the scanner never reads out of bounds (run under ASan
 * to see it), and what it lets through unpacks within the bounds. */
START_TEST(test_mutated_frames)
{
    frame base = heartbeat(40);
    uint8_t *buf = malloc(base.len);
    int passed = 0;
    for (int round = 0; round < 20000; round++) {
        memcpy(buf, base.buf, base.len);
        int edits = 1 + (int)(rnd() % 4);
        for (int e = 0; e < edits; e++)
            buf[rnd() % base.len] = (uint8_t)rnd();
        size_t len = base.len - (rnd() % 3 == 0 ? rnd() % base.len : 0);
        char err[256];
        if (sl_rpc_check_request(SL_RPC_SERVE_ALL, BIG, buf, len, NULL, err, sizeof(err)) !=
            SL_OK)
            continue;
        passed++;
        Sluice__Request *req = sluice__request__unpack(NULL, len, buf);
        if (req == NULL)
            continue;
        if (req->body_case == SLUICE__REQUEST__BODY_HEARTBEAT)
            ck_assert_uint_le(req->heartbeat->n_tasks, SL_RPC_MAX_TM_TASKS);
        ck_assert_uint_le(req->base.n_unknown_fields, SL_RPC_MAX_UNKNOWN_FIELDS);
        sluice__request__free_unpacked(req, NULL);
    }
    ck_assert_int_gt(passed, 0);
    free(buf);
    free(base.buf);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rpc_bounds");
    TCase *tc = tcase_create("scan");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_real_requests_pass);
    tcase_add_test(tc, test_heartbeat_bound_is_exact);
    tcase_add_test(tc, test_empty_element_bomb_is_rejected);
    tcase_add_test(tc, test_packed_and_unpacked_elements_count);
    tcase_add_test(tc, test_size_limits_per_kind);
    tcase_add_test(tc, test_roles);
    tcase_add_test(tc, test_broken_envelopes);
    tcase_add_test(tc, test_unknown_fields_are_bounded);
    tcase_add_test(tc, test_every_repeated_field_is_bounded);
    tcase_add_test(tc, test_bounds_match_the_configuration);
    tcase_add_test(tc, test_mutated_frames);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
