/* Unit tests: common/latency_hist.c (fixed-size latency histogram). */
#include <check.h>
#include <stdlib.h>

#include "taskmanager/operators/latency_hist.h"
#include "common/status.h"

static sl_hist *new_hist(void)
{
    sl_hist *h = malloc(sizeof(*h));

    ck_assert_ptr_nonnull(h);
    sl_hist_reset(h);
    return h;
}

static uint64_t pct(const sl_hist *h, double q)
{
    uint64_t v = 12345;

    ck_assert_int_eq(sl_hist_percentile(h, q, &v), SL_OK);
    return v;
}

START_TEST(test_empty)
{
    sl_hist *h = new_hist();

    ck_assert_uint_eq(pct(h, 50), 0);
    ck_assert_uint_eq(pct(h, 100), 0);
    ck_assert_uint_eq(h->count, 0);
    free(h);
}
END_TEST

/* 1..100 below 1024: every value has its own bucket, ranks are exact
 * (nearest rank: the q-th percentile is the ceil(q/100 * n)-th value). */
START_TEST(test_exact_small_values)
{
    sl_hist *h = new_hist();

    for (int v = 100; v >= 1; v--)
        sl_hist_add(h, v);
    ck_assert_uint_eq(h->count, 100);
    ck_assert_uint_eq(pct(h, 0), 1);
    ck_assert_uint_eq(pct(h, 1), 1);
    ck_assert_uint_eq(pct(h, 50), 50);
    ck_assert_uint_eq(pct(h, 50.5), 51);
    ck_assert_uint_eq(pct(h, 99), 99);
    ck_assert_uint_eq(pct(h, 99.9), 100);
    ck_assert_uint_eq(pct(h, 100), 100);
    free(h);
}
END_TEST

START_TEST(test_three_samples)
{
    sl_hist *h = new_hist();

    sl_hist_add(h, 7);
    sl_hist_add(h, 3);
    sl_hist_add(h, 900);
    ck_assert_uint_eq(pct(h, 33), 3);
    ck_assert_uint_eq(pct(h, 34), 7);
    ck_assert_uint_eq(pct(h, 50), 7);
    ck_assert_uint_eq(pct(h, 67), 900);
    ck_assert_uint_eq(h->max, 900);
    free(h);
}
END_TEST

/* Above 1024 the answer is never below the true value and at most 0.2%
 * above it; the maximum is exact. */
START_TEST(test_relative_error_large_values)
{
    sl_hist *h = new_hist();
    uint64_t vals[] = {1024, 1025, 2047, 2048, 5000, 123456, 999999, 7654321, UINT64_C(1) << 39};

    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        sl_hist_reset(h);
        sl_hist_add(h, 0);
        sl_hist_add(h, (int64_t)vals[i]);
        sl_hist_add(h, (int64_t)vals[i] * 2 + 5);
        uint64_t p = pct(h, 50);
        ck_assert_uint_ge(p, vals[i]);
        ck_assert_uint_le(p - vals[i], vals[i] / 500);
        ck_assert_uint_eq(pct(h, 100), vals[i] * 2 + 5);
    }
    free(h);
}
END_TEST

/* A uniform 1..1,000,000: p50, p99 and p99.9 within 0.2% above the truth. */
START_TEST(test_uniform_million)
{
    sl_hist *h = new_hist();
    struct { double q; uint64_t want; } cases[] = {{50, 500000}, {99, 990000}, {99.9, 999000}};

    for (int64_t v = 1; v <= 1000000; v++)
        sl_hist_add(h, v);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t p = pct(h, cases[i].q);
        ck_assert_uint_ge(p, cases[i].want);
        ck_assert_uint_le(p, cases[i].want + cases[i].want / 500);
    }
    ck_assert_uint_eq(pct(h, 100), 1000000);
    free(h);
}
END_TEST

START_TEST(test_negative_and_huge)
{
    sl_hist *h = new_hist();
    uint64_t v;

    sl_hist_add(h, -5);
    sl_hist_add(h, INT64_MAX);
    ck_assert_uint_eq(h->negative, 1);
    ck_assert_uint_eq(h->count, 2);
    ck_assert_uint_eq(pct(h, 50), 0);
    ck_assert_uint_eq(pct(h, 100), (uint64_t)INT64_MAX);
    ck_assert_int_eq(sl_hist_percentile(h, -1, &v), SL_EINVAL);
    ck_assert_int_eq(sl_hist_percentile(h, 100.5, &v), SL_EINVAL);
    free(h);
}
END_TEST

static Suite *latency_hist_suite(void)
{
    Suite *s = suite_create("latency_hist");
    TCase *tc = tcase_create("latency_hist");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_empty);
    tcase_add_test(tc, test_exact_small_values);
    tcase_add_test(tc, test_three_samples);
    tcase_add_test(tc, test_relative_error_large_values);
    tcase_add_test(tc, test_uniform_million);
    tcase_add_test(tc, test_negative_and_huge);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(latency_hist_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
