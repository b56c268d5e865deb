/* Unit tests: taskmanager/event_timers.c (the min-heap of event-time
 * timers shared by window, argmax and udf operators): order by (ts, key
 * group, key), due timers up to a watermark, firing, compaction (also when
 * the keep callback fails) and the rebuild from keyed state. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/status.h"
#include "taskmanager/operators/event_timers.h"
#include "taskmanager/state/keyed_state.h"

static void add(sl_event_timers *h, int64_t ts, int kg, const char *key)
{
    ck_assert_int_eq(sl_event_timers_add(h, ts, kg, (const uint8_t *)key, strlen(key)), SL_OK);
}

/* The next timer due at wm must be (ts, kg, key). */
static void expect(sl_event_timers *h, int64_t wm, int64_t ts, int kg, const char *key)
{
    sl_event_timer t;

    ck_assert_int_eq(sl_event_timers_pop_due(h, wm, &t), SL_OK);
    ck_assert_int_eq(t.ts, ts);
    ck_assert_int_eq(t.kg, kg);
    ck_assert_uint_eq(t.klen, strlen(key));
    ck_assert_mem_eq(t.key, key, t.klen);
    free(t.key);
}

static void expect_none(sl_event_timers *h, int64_t wm)
{
    sl_event_timer t;

    ck_assert_int_eq(sl_event_timers_pop_due(h, wm, &t), SL_ENOTFOUND);
}

START_TEST(test_heap_order)
{
    sl_event_timers h = {0};

    add(&h, 30, 0, "a");
    add(&h, 10, 2, "b");
    add(&h, 10, 1, "z");
    add(&h, 10, 1, "y");
    add(&h, 10, 1, "yy");
    add(&h, -5, 7, "c");
    add(&h, 20, 0, "");
    expect_none(&h, -6);
    expect(&h, -5, -5, 7, "c");
    expect_none(&h, 9);
    expect(&h, 10, 10, 1, "y");
    expect(&h, 10, 10, 1, "yy");
    expect(&h, 10, 10, 1, "z");
    expect(&h, 10, 10, 2, "b");
    expect_none(&h, 19);
    expect(&h, INT64_MAX, 20, 0, "");
    expect(&h, INT64_MAX, 30, 0, "a");
    expect_none(&h, INT64_MAX);
    sl_event_timers_free(&h);
}
END_TEST

/* Grows past the first capacity; pops in order. */
START_TEST(test_heap_grows)
{
    sl_event_timers h = {0};
    int64_t last = INT64_MIN;
    sl_event_timer t;

    for (int i = 0; i < 1000; i++)
        add(&h, (i * 7919) % 1000, i % 4, "k");
    for (int i = 0; i < 1000; i++) {
        ck_assert_int_eq(sl_event_timers_pop_due(&h, INT64_MAX, &t), SL_OK);
        ck_assert_int_ge(t.ts, last);
        last = t.ts;
        free(t.key);
    }
    ck_assert_uint_eq(h.n, 0);
    add(&h, 1, 0, "left for free");
    sl_event_timers_free(&h);
    ck_assert_uint_eq(h.n, 0);
    ck_assert_ptr_null(h.t);
}
END_TEST

typedef struct fired {
    int64_t ts[8];
    int n, fail_at;
} fired;

static int record(void *arg, const sl_event_timer *t)
{
    fired *f = arg;

    if (f->n == f->fail_at)
        return SL_EIO;
    f->ts[f->n++] = t->ts;
    return SL_OK;
}

START_TEST(test_fire_due)
{
    sl_event_timers h = {0};
    fired f = {.fail_at = -1};

    add(&h, 3, 0, "a");
    add(&h, 1, 0, "a");
    add(&h, 2, 0, "a");
    add(&h, 9, 0, "a");
    ck_assert_int_eq(sl_event_timers_fire(&h, 2, record, &f), SL_OK);
    ck_assert_int_eq(f.n, 2);
    ck_assert_int_eq(f.ts[0], 1);
    ck_assert_int_eq(f.ts[1], 2);
    f.fail_at = 2; /* the timer at 3 fails: popped, not recorded, stops */
    ck_assert_int_eq(sl_event_timers_fire(&h, 100, record, &f), SL_EIO);
    ck_assert_uint_eq(h.n, 1);
    expect(&h, 100, 9, 0, "a");
    sl_event_timers_free(&h);
}
END_TEST

/* keep: drops key "x"; fails with SL_EIO at key "boom". */
static int keep(void *arg, const sl_event_timer *t)
{
    (void)arg;
    if (t->klen == 4 && memcmp(t->key, "boom", 4) == 0)
        return SL_EIO;
    return t->klen == 1 && t->key[0] == 'x' ? SL_ENOTFOUND : SL_OK;
}

START_TEST(test_compact_keep)
{
    sl_event_timers h = {0};

    add(&h, 5, 0, "a");
    add(&h, 5, 0, "a");
    add(&h, 4, 0, "x");
    add(&h, 3, 1, "b");
    add(&h, 5, 0, "a");
    add(&h, 7, 0, "boom");
    add(&h, 8, 0, "x");
    add(&h, 9, 0, "c");
    /* fails at boom: a and b kept once, x at 4 dropped, the rest untouched */
    ck_assert_int_eq(sl_event_timers_compact(&h, keep, NULL), SL_EIO);
    ck_assert_uint_eq(h.n, 5);
    expect(&h, 100, 3, 1, "b");
    expect(&h, 100, 5, 0, "a");
    expect(&h, 100, 7, 0, "boom");
    ck_assert_int_eq(sl_event_timers_compact(&h, keep, NULL), SL_OK);
    ck_assert_uint_eq(h.n, 1);
    expect(&h, 100, 9, 0, "c");
    expect_none(&h, INT64_MAX);
    sl_event_timers_free(&h);
}
END_TEST

/* visit: the value is the timer's ts as text. */
static int visit(void *arg, int kg, const void *key, size_t klen, const void *val, size_t vlen)
{
    char buf[32];

    ck_assert_uint_lt(vlen, sizeof(buf));
    memcpy(buf, val, vlen);
    buf[vlen] = '\0';
    return sl_event_timers_add(arg, atoll(buf), kg, key, klen) == SL_OK ? 0 : SL_ENOMEM;
}

START_TEST(test_rebuild_from_state)
{
    sl_ks_state *st = NULL;
    sl_event_timers h = {0};

    ck_assert_int_eq(sl_ks_open("hashmap", 0, 7, NULL, NULL, &st), SL_OK);
    ck_assert_int_eq(sl_ks_put(st, 1, "a", 1, "30", 2), SL_OK);
    ck_assert_int_eq(sl_ks_put(st, 2, "b", 1, "10", 2), SL_OK);
    ck_assert_int_eq(sl_ks_put(st, 6, "c", 1, "20", 2), SL_OK);
    add(&h, 1, 0, "stale");
    ck_assert_int_eq(sl_event_timers_rebuild(&h, st, 0, 5, visit), SL_OK);
    ck_assert_uint_eq(h.n, 2); /* stale entry gone; key group 6 not ours */
    expect(&h, INT64_MAX, 10, 2, "b");
    expect(&h, INT64_MAX, 30, 1, "a");
    sl_event_timers_free(&h);
    sl_ks_close(st);
}
END_TEST

static Suite *event_timers_suite(void)
{
    Suite *s = suite_create("event_timers");
    TCase *tc = tcase_create("heap");

    tcase_add_test(tc, test_heap_order);
    tcase_add_test(tc, test_heap_grows);
    tcase_add_test(tc, test_fire_due);
    tcase_add_test(tc, test_compact_keep);
    tcase_add_test(tc, test_rebuild_from_state);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(event_timers_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
