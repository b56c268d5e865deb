/* Unit tests: the operator context (taskmanager/operators/op_context.h,
 * operator.c, op_registry.c) with no task: operators made by the registry
 * from a parsed job get their input schemas and a copy of the context; a
 * chain emits down to its tail and the tail into the task interface; the
 * first failure is recorded where the task reads it; late records and the
 * cancel flags go through the context; a source polls the task's mailbox
 * after every record. */
#include <check.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jobfile.h"
#include "common/status.h"
#include "taskmanager/operators/op_datagen.h"
#include "taskmanager/operators/op_registry.h"

#define NREC 1000

/* ---- a recording task */

typedef struct fake_task {
    char failure[1024];
    uint64_t late;
    atomic_int cancel, run_cancel;
    int64_t emitted, polls, flushes, wm;
    int64_t sum; /* of the emitted rows' value field */
} fake_task;

static int task_emit(void *arg, const sl_row *row)
{
    fake_task *t = arg;
    t->emitted++;
    t->sum += row->v[1].u.i;
    return SL_OK;
}

static int task_watermark(void *arg, int64_t wm)
{
    ((fake_task *)arg)->wm = wm;
    return SL_OK;
}

static int task_flush(void *arg)
{
    ((fake_task *)arg)->flushes++;
    return SL_OK;
}

static int task_poll(void *arg)
{
    ((fake_task *)arg)->polls++;
    return SL_OK;
}

static sl_op_ctx ctx_of(fake_task *t, const sl_job_spec *spec)
{
    memset(t, 0, sizeof(*t));
    return (sl_op_ctx){
        .job_id = "dddddddd000000000000000000000000", .attempt = 1, .task_name = "chain",
        .subtask = 0, .parallelism = 1, .max_parallelism = spec->max_parallelism,
        .kg_start = 0, .kg_end = spec->max_parallelism - 1, .spec = spec,
        .keyed = {.backend = "hashmap", .local_roots = ""},
        .task = {.arg = t, .emit = task_emit, .watermark = task_watermark, .flush = task_flush,
                 .poll = task_poll},
        .failure = t->failure, .failure_cap = sizeof(t->failure), .late_records = &t->late,
        .cancel = &t->cancel, .run_cancel = &t->run_cancel};
}

static sl_job_spec *parse(const char *where)
{
    char text[1024], err[256];
    sl_job_spec *spec = NULL;
    snprintf(text, sizeof(text),
             "name: t\npipeline:\n  - name: src\n    source: datagen\n    count: %d\n"
             "  - name: f\n    operator: filter\n    where: %s\n"
             "  - name: out\n    sink: blackhole\n",
             NREC, where);
    ck_assert_msg(sl_job_parse("job.yaml", text, strlen(text), 1, &spec, err, sizeof(err)) ==
                      SL_OK,
                  "%s", err);
    return spec;
}

START_TEST(test_create)
{
    sl_job_spec *spec = parse("value > 500");
    fake_task t;
    sl_op_ctx ctx = ctx_of(&t, spec);
    sl_op *src, *f;

    ck_assert_int_eq(sl_op_create(spec, &spec->stages[0], &ctx, &src), SL_OK);
    ck_assert_int_eq(sl_op_create(spec, &spec->stages[1], &ctx, &f), SL_OK);
    ck_assert_ptr_eq(src->ops, &sl_op_datagen_source);
    ck_assert_ptr_eq(f->ops, &sl_op_filter);
    ck_assert_int_eq(src->nin, 0);
    ck_assert_int_eq(f->nin, 1);
    ck_assert_ptr_eq(f->in[0], &spec->stages[0].out_schema);
    ck_assert_ptr_eq(f->ctx.failure, t.failure);
    ck_assert_ptr_eq(f->ctx.task.arg, &t);
    sl_stage other = spec->stages[1];
    other.type = "no-such-operator";
    sl_op *none = NULL;
    ck_assert_int_eq(sl_op_create(spec, &other, &ctx, &none), SL_ENOTFOUND);
    ck_assert_ptr_null(none);
    sl_op_destroy(src);
    sl_op_destroy(f);
    sl_job_free(spec);
}
END_TEST

/* datagen -> filter, the filter at the chain's tail: what passes reaches
 * the task, the source polled the mailbox after every record. */
START_TEST(test_chain_to_task)
{
    sl_job_spec *spec = parse("value > 500");
    fake_task t;
    sl_op_ctx ctx = ctx_of(&t, spec);
    sl_op *src, *f;
    int64_t want = 0, want_sum = 0;

    for (uint64_t i = 0; i < NREC; i++) {
        sl_row r;
        sl_op_datagen_record(0, i, 1000, &r);
        if (r.v[1].u.i > 500) {
            want++;
            want_sum += r.v[1].u.i;
        }
    }
    ck_assert_int_eq(sl_op_create(spec, &spec->stages[0], &ctx, &src), SL_OK);
    ck_assert_int_eq(sl_op_create(spec, &spec->stages[1], &ctx, &f), SL_OK);
    src->next = f;
    ck_assert_msg(src->ops->open(src) == SL_OK, "%s", t.failure);
    ck_assert_msg(f->ops->open(f) == SL_OK, "%s", t.failure);
    ck_assert_msg(src->ops->run(src) == SL_OK, "%s", t.failure);
    ck_assert_int_gt(want, 0);
    ck_assert_int_eq(t.emitted, want);
    ck_assert_int_eq(t.sum, want_sum);
    ck_assert_int_eq(t.polls, NREC);
    ck_assert_str_eq(t.failure, "");
    f->ops->close(f, 1);
    src->ops->close(src, 1);
    sl_op_destroy(src);
    sl_op_destroy(f);
    sl_job_free(spec);
}
END_TEST

START_TEST(test_fail_late_cancel)
{
    sl_job_spec *spec = parse("value > 500");
    fake_task t;
    sl_op_ctx ctx = ctx_of(&t, spec);
    sl_op *f;

    ck_assert_int_eq(sl_op_create(spec, &spec->stages[1], &ctx, &f), SL_OK);
    ck_assert_int_eq(sl_op_fail(f, "first %d", 1), SL_EIO);
    ck_assert_int_eq(sl_op_fail(f, "second"), SL_EIO);
    ck_assert_str_eq(t.failure, "first 1");
    sl_op_count_late(f);
    sl_op_count_late(f);
    ck_assert_int_eq(t.late, 2);
    ck_assert_int_eq(sl_op_canceled(f), 0);
    atomic_store(&t.run_cancel, 1);
    ck_assert_int_eq(sl_op_canceled(f), 1);
    atomic_store(&t.run_cancel, 0);
    atomic_store(&t.cancel, 1);
    ck_assert_int_eq(sl_op_canceled(f), 1);
    ck_assert_int_eq(sl_op_flush(f), SL_OK);
    ck_assert_int_eq(sl_op_source_watermark(f, 42), SL_OK);
    ck_assert_int_eq(t.flushes, 1);
    ck_assert_int_eq(t.wm, 42);
    sl_op_destroy(f);
    sl_job_free(spec);
}
END_TEST

/* A record the filter cannot evaluate fails with the reason in the
 * context, named after the stage. */
START_TEST(test_operator_failure)
{
    sl_job_spec *spec = parse("value > 500");
    fake_task t;
    sl_op_ctx ctx = ctx_of(&t, spec);
    sl_op *f;
    sl_row short_row = {.nfields = 0};

    ck_assert_int_eq(sl_op_create(spec, &spec->stages[1], &ctx, &f), SL_OK);
    ck_assert_int_eq(f->ops->open(f), SL_OK);
    ck_assert_int_eq(f->ops->process(f, &short_row), SL_EIO);
    ck_assert_msg(strstr(t.failure, "filter 'f'") != NULL, "%s", t.failure);
    ck_assert_int_eq(t.emitted, 0);
    f->ops->close(f, 0);
    sl_op_destroy(f);
    sl_job_free(spec);
}
END_TEST

static Suite *op_context_suite(void)
{
    Suite *s = suite_create("op_context");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_create);
    tcase_add_test(tc, test_chain_to_task);
    tcase_add_test(tc, test_fail_late_cancel);
    tcase_add_test(tc, test_operator_failure);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(op_context_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
