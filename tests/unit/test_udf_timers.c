/* Unit tests: taskmanager/op_udf_timers.c (event-time timers of udf
 * operators, kept in keyed state; hashmap backend). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "taskmanager/buf.h"
#include "common/row.h"
#include "common/status.h"
#include "taskmanager/state/keyed_state.h"
#include "taskmanager/operators/op_udf_timers.h"

#define KGS 8

typedef struct key {
    uint8_t b[64];
    size_t len;
} key;

/* The encoded key row {name}. */
static key key_of(const char *name)
{
    sl_row r = {.nfields = 1};
    key k;

    r.v[0].type = SL_TYPE_STRING;
    r.v[0].u.s.ptr = name;
    r.v[0].u.s.len = (uint32_t)strlen(name);
    ck_assert_int_eq(sl_row_encode(&r, k.b, sizeof(k.b), &k.len), SL_OK);
    return k;
}

static sl_ks_state *open_state(int lo, int hi)
{
    sl_ks_state *st = NULL;

    ck_assert_int_eq(sl_ks_open("hashmap", lo, hi, NULL, NULL, &st), SL_OK);
    return st;
}

static void add(sl_udf_timers *tm, sl_ks_state *st, int kg, const char *name, int64_t ts)
{
    key k = key_of(name);
    ck_assert_int_eq(sl_udf_timers_add(tm, st, kg, k.b, k.len, ts), SL_OK);
}

static void del(sl_udf_timers *tm, sl_ks_state *st, int kg, const char *name, int64_t ts)
{
    key k = key_of(name);
    ck_assert_int_eq(sl_udf_timers_delete(tm, st, kg, k.b, k.len, ts), SL_OK);
}

/* The next due timer must be (ts, kg, name). */
static void expect(sl_udf_timers *tm, sl_ks_state *st, int64_t wm, int64_t ts, int kg,
                   const char *name)
{
    sl_udf_timer t;
    key k = key_of(name);

    ck_assert_int_eq(sl_udf_timers_next(tm, st, wm, &t), SL_OK);
    ck_assert_int_eq(t.ts, ts);
    ck_assert_int_eq(t.kg, kg);
    ck_assert_uint_eq(t.klen, k.len);
    ck_assert_mem_eq(t.key, k.b, k.len);
    free(t.key);
}

static void expect_none(sl_udf_timers *tm, sl_ks_state *st, int64_t wm)
{
    sl_udf_timer t;
    ck_assert_int_eq(sl_udf_timers_next(tm, st, wm, &t), SL_ENOTFOUND);
}

START_TEST(test_order)
{
    sl_ks_state *st = open_state(0, KGS - 1);
    sl_udf_timers tm;

    sl_udf_timers_init(&tm, 0, KGS - 1);
    add(&tm, st, 3, "b", 300);
    add(&tm, st, 1, "a", 100);
    add(&tm, st, 2, "c", -50);
    add(&tm, st, 1, "a", 300);
    add(&tm, st, 5, "d", INT64_MAX);
    add(&tm, st, 1, "a", 100); /* again: one timer */
    ck_assert_uint_eq(tm.live, 5);
    ck_assert_uint_eq(sl_ks_count(st), 5);
    expect_none(&tm, st, -51);
    expect(&tm, st, 100, -50, 2, "c");
    expect(&tm, st, 100, 100, 1, "a");
    expect_none(&tm, st, 299);
    expect(&tm, st, 300, 300, 1, "a"); /* same ts: key group order */
    expect(&tm, st, 300, 300, 3, "b");
    expect_none(&tm, st, 300);
    expect(&tm, st, INT64_MAX, INT64_MAX, 5, "d");
    expect_none(&tm, st, INT64_MAX);
    ck_assert_uint_eq(tm.live, 0);
    ck_assert_uint_eq(sl_ks_count(st), 0);
    sl_udf_timers_free(&tm);
    sl_ks_close(st);
}
END_TEST

START_TEST(test_delete)
{
    sl_ks_state *st = open_state(0, KGS - 1);
    sl_udf_timers tm;

    sl_udf_timers_init(&tm, 0, KGS - 1);
    add(&tm, st, 0, "a", 10);
    add(&tm, st, 0, "a", 20);
    add(&tm, st, 0, "b", 10);
    del(&tm, st, 0, "a", 10);
    del(&tm, st, 0, "a", 10); /* none there: fine */
    del(&tm, st, 0, "x", 10);
    add(&tm, st, 0, "b", 30);
    del(&tm, st, 0, "b", 10);
    add(&tm, st, 0, "b", 10); /* deleted and registered again: fires once */
    ck_assert_uint_eq(tm.live, 3);
    expect(&tm, st, 100, 10, 0, "b");
    expect(&tm, st, 100, 20, 0, "a");
    expect(&tm, st, 100, 30, 0, "b");
    expect_none(&tm, st, INT64_MAX);
    sl_udf_timers_free(&tm);
    sl_ks_close(st);
}
END_TEST

/* Moving a timer per record (a session's gap timer) keeps the heap small. */
START_TEST(test_compaction)
{
    sl_ks_state *st = open_state(0, KGS - 1);
    sl_udf_timers tm;
    char name[16];

    sl_udf_timers_init(&tm, 0, KGS - 1);
    for (int u = 0; u < 10; u++) {
        snprintf(name, sizeof(name), "u%d", u);
        add(&tm, st, u % KGS, name, 0);
    }
    for (int64_t ts = 1; ts <= 20000; ts++) {
        int u = (int)(ts % 10);
        snprintf(name, sizeof(name), "u%d", u);
        del(&tm, st, u % KGS, name, ts - 10 < 0 ? 0 : ts - 10);
        add(&tm, st, u % KGS, name, ts);
    }
    ck_assert_uint_eq(tm.live, 10);
    ck_assert_uint_le(tm.heap.n, 4 * 10 + 1024 + 1);
    for (int64_t ts = 19991; ts <= 20000; ts++) {
        snprintf(name, sizeof(name), "u%d", (int)(ts % 10));
        expect(&tm, st, INT64_MAX, ts, (int)(ts % 10) % KGS, name);
    }
    expect_none(&tm, st, INT64_MAX);
    sl_udf_timers_free(&tm);
    sl_ks_close(st);
}
END_TEST

/* A snapshot restored into a narrower key-group range (rescaling): the
 * rebuilt heap holds the timers of that range only, other state ignored. */
START_TEST(test_restore_rebuild)
{
    sl_ks_state *st = open_state(0, KGS - 1), *st2 = open_state(4, KGS - 1);
    sl_udf_timers tm, tm2;
    key k = key_of("v");
    uint8_t vkey[80];
    sl_buf buf = {0};

    sl_udf_timers_init(&tm, 0, KGS - 1);
    sl_udf_timers_init(&tm2, 4, KGS - 1);
    for (int kg = 0; kg < KGS; kg++) {
        add(&tm, st, kg, "k", 1000 - kg);
        add(&tm, st, kg, "k", 2000 + kg);
    }
    /* value state 'V' and an entry shaped like a timer of another tag */
    memcpy(vkey, k.b, k.len);
    memcpy(vkey + k.len, "Vsession", 9);
    ck_assert_int_eq(sl_ks_put(st, 5, vkey, k.len + 9, "", 0), SL_OK);
    ck_assert_int_eq(sl_ks_snapshot_to_buf(st, 0, KGS - 1, &buf), SL_OK);
    ck_assert_int_eq(sl_ks_restore(st2, buf.p, buf.len, 4, KGS - 1), SL_OK);
    tm2.rebuild = 1;
    ck_assert_int_eq(sl_udf_timers_rebuild(&tm2, st2), SL_OK);
    ck_assert_int_eq(tm2.rebuild, 0);
    ck_assert_uint_eq(tm2.live, 8);
    for (int kg = KGS - 1; kg >= 4; kg--)
        expect(&tm2, st2, 1500, 1000 - kg, kg, "k");
    expect_none(&tm2, st2, 1999);
    for (int kg = 4; kg < KGS; kg++)
        expect(&tm2, st2, INT64_MAX, 2000 + kg, kg, "k");
    expect_none(&tm2, st2, INT64_MAX);
    ck_assert_uint_eq(sl_ks_count(st2), 1); /* the value state */
    sl_buf_free(&buf);
    sl_udf_timers_free(&tm);
    sl_udf_timers_free(&tm2);
    sl_ks_close(st);
    sl_ks_close(st2);
}
END_TEST

START_TEST(test_bad_key)
{
    sl_ks_state *st = open_state(0, KGS - 1);
    sl_udf_timers tm;
    uint8_t big[SL_UDF_KEY_MAX + 1] = {0};

    sl_udf_timers_init(&tm, 0, KGS - 1);
    ck_assert_int_eq(sl_udf_timers_add(&tm, st, 0, big, 0, 1), SL_EINVAL);
    ck_assert_int_eq(sl_udf_timers_add(&tm, st, 0, big, sizeof(big), 1), SL_EINVAL);
    ck_assert_int_eq(sl_udf_timers_delete(&tm, st, 0, big, sizeof(big), 1), SL_EINVAL);
    ck_assert_uint_eq(tm.heap.n, 0);
    sl_udf_timers_free(&tm);
    sl_ks_close(st);
}
END_TEST

static Suite *timers_suite(void)
{
    Suite *s = suite_create("udf_timers");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_order);
    tcase_add_test(tc, test_delete);
    tcase_add_test(tc, test_compaction);
    tcase_add_test(tc, test_restore_rebuild);
    tcase_add_test(tc, test_bad_key);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(timers_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
