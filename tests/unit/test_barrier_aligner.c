/* Unit tests: taskmanager/checkpoint/barrier_aligner.c, the barrier
 * alignment state machine of one task, driven channel by channel with a
 * fake clock (no threads, no sockets).
 *
 * EXACTLY_ONCE blocks every channel that delivered barrier n until all
 * did, then asks for one snapshot and releases them; AT_LEAST_ONCE never
 * blocks; a newer barrier while aligning declines the older checkpoint;
 * ended channels count as aligned; barriers of checkpoints already done,
 * aborted or restored are ignored. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/status.h"
#include "taskmanager/checkpoint/barrier_aligner.h"

static sl_barrier bar(uint64_t id)
{
    sl_barrier b;
    memset(&b, 0, sizeof(b));
    b.id = id;
    b.ts = (int64_t)id * 1000;
    b.kind = SL_BARRIER_KIND_CHECKPOINT;
    return b;
}

/* Barrier id on channel ch at now; the outcome in *o. */
static void on_bar(sl_aligner *a, int ch, uint64_t id, int64_t now, sl_align_out *o)
{
    sl_barrier b = bar(id);
    sl_align_on_barrier(a, ch, &b, now, o);
}

static int nothing(const sl_align_out *o)
{
    return o->decline == 0 && !o->release && !o->block && !o->snapshot;
}

START_TEST(test_exactly_once_blocks_until_all_delivered)
{
    sl_aligner a;
    sl_align_out o;
    ck_assert_int_eq(sl_align_init(&a, 3, 1), SL_OK);
    on_bar(&a, 0, 1, 100, &o);
    ck_assert(o.block && !o.snapshot && !o.release && o.decline == 0);
    ck_assert_uint_eq(a.current, 1);
    on_bar(&a, 2, 1, 110, &o);
    ck_assert(o.block && !o.snapshot && !o.release);
    on_bar(&a, 1, 1, 130, &o);
    ck_assert(o.snapshot && o.release && !o.block && o.decline == 0);
    ck_assert_int_eq(o.align_ms, 30);
    ck_assert_uint_eq(a.barrier.id, 1);
    ck_assert_uint_eq(a.current, 0);
    ck_assert_uint_eq(a.last_done, 1);
    /* the snapshot is asked for once: a repeated barrier 1 is ignored */
    on_bar(&a, 0, 1, 140, &o);
    ck_assert(nothing(&o));
    /* the next checkpoint aligns from scratch */
    on_bar(&a, 1, 2, 200, &o);
    ck_assert(o.block && !o.snapshot);
    sl_align_free(&a);
}
END_TEST

START_TEST(test_at_least_once_never_blocks)
{
    sl_aligner a;
    sl_align_out o;
    int snapshots = 0;
    ck_assert_int_eq(sl_align_init(&a, 3, 0), SL_OK);
    for (int ch = 0; ch < 3; ch++) {
        on_bar(&a, ch, 5, 10 * ch, &o);
        ck_assert(!o.block);
        ck_assert_uint_eq(o.decline, 0);
        snapshots += o.snapshot;
        ck_assert_int_eq(o.snapshot, ch == 2);
    }
    ck_assert_int_eq(snapshots, 1);
    ck_assert_int_eq(o.align_ms, 20);
    ck_assert_uint_eq(a.last_done, 5);
    sl_align_free(&a);
}
END_TEST

START_TEST(test_newer_barrier_declines_the_older)
{
    sl_aligner a;
    sl_align_out o;
    ck_assert_int_eq(sl_align_init(&a, 3, 1), SL_OK);
    on_bar(&a, 0, 1, 0, &o);
    ck_assert(o.block);
    /* barrier 2 while aligning 1: 1 is declined, every channel released,
     * then the one that delivered 2 blocked */
    on_bar(&a, 1, 2, 50, &o);
    ck_assert_uint_eq(o.decline, 1);
    ck_assert(o.release && o.block && !o.snapshot);
    ck_assert_uint_eq(a.current, 2);
    /* a late barrier 1 belongs to the given-up checkpoint */
    on_bar(&a, 2, 1, 60, &o);
    ck_assert(nothing(&o));
    on_bar(&a, 0, 2, 70, &o);
    ck_assert(o.block && !o.snapshot && o.decline == 0);
    on_bar(&a, 2, 2, 80, &o);
    ck_assert(o.snapshot && o.release);
    ck_assert_uint_eq(a.barrier.id, 2);
    ck_assert_int_eq(o.align_ms, 30); /* from the first barrier 2 */
    ck_assert_uint_eq(a.last_done, 2);
    sl_align_free(&a);
}
END_TEST

START_TEST(test_ended_channels_count_as_aligned)
{
    sl_aligner a;
    sl_align_out o;
    ck_assert_int_eq(sl_align_init(&a, 3, 1), SL_OK);
    sl_align_on_end(&a, 1, 0, &o);
    ck_assert(nothing(&o)); /* nothing being aligned */
    on_bar(&a, 0, 1, 10, &o);
    ck_assert(o.block && !o.snapshot);
    on_bar(&a, 2, 1, 20, &o);
    ck_assert(o.snapshot); /* channel 1 ended: aligned without it */
    /* aligning 2 on channel 0: channel 2 ending completes it */
    on_bar(&a, 0, 2, 30, &o);
    ck_assert(o.block && !o.snapshot);
    sl_align_on_end(&a, 2, 45, &o);
    ck_assert(o.snapshot && o.release && !o.block);
    ck_assert_int_eq(o.align_ms, 15);
    ck_assert_uint_eq(a.barrier.id, 2);
    sl_align_free(&a);
}
END_TEST

START_TEST(test_all_ended_no_wait)
{
    sl_aligner a;
    sl_align_out o;
    ck_assert_int_eq(sl_align_init(&a, 2, 1), SL_OK);
    on_bar(&a, 0, 3, 0, &o);
    ck_assert(o.block && !o.snapshot);
    /* the channel that delivered the barrier ends, then the other one */
    sl_align_on_end(&a, 0, 5, &o);
    ck_assert(!o.snapshot);
    sl_align_on_end(&a, 1, 9, &o);
    ck_assert(o.snapshot && o.release);
    ck_assert_uint_eq(a.barrier.id, 3);
    /* every channel ended: nothing left to align or wait for */
    sl_align_on_end(&a, 1, 10, &o);
    ck_assert(nothing(&o));
    ck_assert_uint_eq(a.current, 0);
    sl_align_free(&a);
}
END_TEST

START_TEST(test_older_barrier_ignored)
{
    sl_aligner a;
    sl_align_out o;
    ck_assert_int_eq(sl_align_init(&a, 2, 1), SL_OK);
    on_bar(&a, 0, 5, 0, &o);
    on_bar(&a, 1, 5, 1, &o);
    ck_assert(o.snapshot);
    for (uint64_t id = 1; id <= 5; id++) {
        on_bar(&a, 0, id, 2, &o);
        ck_assert(nothing(&o));
        ck_assert_uint_eq(a.current, 0);
    }
    /* while aligning 7, an older (but not done) 6 is ignored too */
    on_bar(&a, 0, 7, 3, &o);
    ck_assert(o.block);
    on_bar(&a, 1, 6, 4, &o);
    ck_assert(nothing(&o));
    ck_assert_uint_eq(a.current, 7);
    /* a restored checkpoint counts as done */
    sl_align_restored(&a, 20);
    on_bar(&a, 1, 20, 5, &o);
    ck_assert(nothing(&o));
    sl_align_free(&a);
}
END_TEST

START_TEST(test_abort_releases)
{
    sl_aligner a;
    sl_align_out o;
    ck_assert_int_eq(sl_align_init(&a, 2, 1), SL_OK);
    on_bar(&a, 0, 4, 0, &o);
    /* an abort of an older checkpoint leaves the alignment alone */
    sl_align_abort(&a, 3, &o);
    ck_assert(nothing(&o));
    ck_assert_uint_eq(a.current, 4);
    sl_align_abort(&a, 4, &o);
    ck_assert(o.release && !o.snapshot && o.decline == 0);
    ck_assert_uint_eq(a.current, 0);
    on_bar(&a, 1, 4, 1, &o);
    ck_assert(nothing(&o)); /* 4 was given up here */
    on_bar(&a, 1, 5, 2, &o);
    ck_assert(o.block);
    sl_align_free(&a);
}
END_TEST

START_TEST(test_savepoint_options_kept)
{
    sl_aligner a;
    sl_align_out o;
    sl_barrier b = bar(9);
    b.kind = SL_BARRIER_KIND_SAVEPOINT_STOP;
    snprintf(b.dir, sizeof(b.dir), "/tmp/savepoint-9");
    ck_assert_int_eq(sl_align_init(&a, 2, 1), SL_OK);
    sl_align_on_barrier(&a, 0, &b, 0, &o);
    on_bar(&a, 1, 9, 1, &o); /* same id, options of the first barrier win */
    ck_assert(o.snapshot);
    ck_assert_int_eq(a.barrier.kind, SL_BARRIER_KIND_SAVEPOINT_STOP);
    ck_assert_str_eq(a.barrier.dir, "/tmp/savepoint-9");
    sl_align_free(&a);
}
END_TEST

START_TEST(test_no_channels_and_bad_index)
{
    sl_aligner a;
    sl_align_out o;
    ck_assert_int_eq(sl_align_init(&a, 0, 1), SL_OK); /* a source */
    on_bar(&a, 0, 1, 0, &o);
    ck_assert(nothing(&o));
    sl_align_free(&a);
    ck_assert_int_eq(sl_align_init(&a, 2, 1), SL_OK);
    on_bar(&a, -1, 1, 0, &o);
    ck_assert(nothing(&o));
    on_bar(&a, 2, 1, 0, &o);
    ck_assert(nothing(&o));
    ck_assert_uint_eq(a.current, 0);
    sl_align_free(&a);
}
END_TEST

static Suite *aligner_suite(void)
{
    Suite *s = suite_create("barrier_aligner");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_exactly_once_blocks_until_all_delivered);
    tcase_add_test(tc, test_at_least_once_never_blocks);
    tcase_add_test(tc, test_newer_barrier_declines_the_older);
    tcase_add_test(tc, test_ended_channels_count_as_aligned);
    tcase_add_test(tc, test_all_ended_no_wait);
    tcase_add_test(tc, test_older_barrier_ignored);
    tcase_add_test(tc, test_abort_releases);
    tcase_add_test(tc, test_savepoint_options_kept);
    tcase_add_test(tc, test_no_channels_and_bad_index);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(aligner_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
