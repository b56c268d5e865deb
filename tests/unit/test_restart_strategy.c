/* Unit tests for jobmanager/restart_strategy.c: one behaviour per test.
 * Time is passed explicitly as now_ms; nothing sleeps. */
#include "jobmanager/restart_strategy.h"

#include "common/config.h"
#include "common/status.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Builds a strategy from YAML text (flat keys); "" means all defaults. */
static void make(sl_restart_strategy *rs, const char *yaml)
{
    char err[512] = "";
    sl_config *cfg = NULL;
    ck_assert_int_eq(sl_config_new(&cfg), SL_OK);
    int rc = sl_config_load_string(cfg, "t.yaml", yaml, strlen(yaml), err, sizeof err);
    ck_assert_msg(rc == SL_OK, "load failed: %s", err);
    ck_assert_int_eq(sl_restart_strategy_init(rs, cfg), SL_OK);
    sl_config_free(cfg);
}

/* Expects a restart at now_ms and returns its delay. */
static int64_t restart_at(sl_restart_strategy *rs, int64_t now_ms)
{
    int64_t delay = -1;
    const char *why = "unset";
    int ok = sl_restart_strategy_on_failure(rs, now_ms, &delay, &why);
    ck_assert_msg(ok == 1, "no restart at %lld: %s", (long long)now_ms, why ? why : "(null)");
    ck_assert_ptr_null(why);
    ck_assert_int_ge(delay, 0);
    return delay;
}

/* Expects the job to fail at now_ms; checks a reason is given. */
static void fails_at(sl_restart_strategy *rs, int64_t now_ms)
{
    int64_t delay = -1;
    const char *why = NULL;
    ck_assert_int_eq(sl_restart_strategy_on_failure(rs, now_ms, &delay, &why), 0);
    ck_assert_ptr_nonnull(why);
    ck_assert_int_gt((int)strlen(why), 0);
}

static const char *describe(const sl_restart_strategy *rs)
{
    static char buf[256];
    sl_restart_strategy_describe(rs, buf, sizeof buf);
    return buf;
}

START_TEST(test_default_without_checkpointing_is_none)
{
    sl_restart_strategy rs;
    make(&rs, "");
    ck_assert_int_eq(rs.type, SL_RESTART_NONE);
    fails_at(&rs, 0);
}
END_TEST

START_TEST(test_default_with_checkpointing_is_unlimited_fixed_delay)
{
    sl_restart_strategy rs;
    make(&rs, "execution.checkpointing.interval: 500 ms\n");
    ck_assert_int_eq(rs.type, SL_RESTART_FIXED_DELAY);
    ck_assert_int_eq(rs.attempts, -1);
    for (int i = 0; i < 5000; i++)
        ck_assert_int_eq(restart_at(&rs, i), 1000);
    ck_assert_int_eq(rs.restarts, 5000);
}
END_TEST

START_TEST(test_none_fails_at_once)
{
    sl_restart_strategy rs;
    make(&rs, "execution.checkpointing.interval: 500 ms\nrestart-strategy.type: none\n");
    ck_assert_int_eq(rs.type, SL_RESTART_NONE);
    fails_at(&rs, 0);
    ck_assert_int_eq(rs.restarts, 0);
}
END_TEST

START_TEST(test_fixed_delay_allows_exactly_attempts_then_fails)
{
    sl_restart_strategy rs;
    make(&rs, "restart-strategy.type: fixed-delay\n"
              "restart-strategy.fixed-delay.attempts: 3\n"
              "restart-strategy.fixed-delay.delay: 10 s\n");
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(restart_at(&rs, i * 60000), 10000);
    fails_at(&rs, 4 * 60000);
}
END_TEST

START_TEST(test_fixed_delay_defaults_to_one_attempt_of_one_second)
{
    sl_restart_strategy rs;
    make(&rs, "restart-strategy.type: fixed-delay\n");
    ck_assert_int_eq(restart_at(&rs, 0), 1000);
    fails_at(&rs, 100000);
}
END_TEST

START_TEST(test_fixed_delay_zero_attempts_fails_at_once)
{
    sl_restart_strategy rs;
    make(&rs, "restart-strategy.type: fixed-delay\nrestart-strategy.fixed-delay.attempts: 0\n");
    fails_at(&rs, 0);
}
END_TEST

START_TEST(test_failure_rate_allows_max_within_interval_and_fails_beyond)
{
    sl_restart_strategy rs;
    make(&rs, "restart-strategy.type: failure-rate\n"
              "restart-strategy.failure-rate.max-failures-per-interval: 3\n"
              "restart-strategy.failure-rate.failure-rate-interval: 1 min\n"
              "restart-strategy.failure-rate.delay: 2 s\n");
    ck_assert_int_eq(restart_at(&rs, 1000), 2000);
    ck_assert_int_eq(restart_at(&rs, 20000), 2000);
    ck_assert_int_eq(restart_at(&rs, 40000), 2000);
    fails_at(&rs, 60000); /* 4 failures within the last minute */
}
END_TEST

START_TEST(test_failure_rate_forgets_failures_older_than_interval)
{
    sl_restart_strategy rs;
    make(&rs, "restart-strategy.type: failure-rate\n"
              "restart-strategy.failure-rate.max-failures-per-interval: 2\n"
              "restart-strategy.failure-rate.failure-rate-interval: 10 s\n");
    restart_at(&rs, 0);
    restart_at(&rs, 5000);
    /* the failure at 0 is more than 10 s old: only 5000 and 10001 count */
    restart_at(&rs, 10001);
    /* 5000 is exactly 10 s old: still within the interval, so 3 count */
    fails_at(&rs, 15000);
}
END_TEST

START_TEST(test_failure_rate_runs_forever_at_a_low_rate)
{
    sl_restart_strategy rs;
    make(&rs, "restart-strategy.type: failure-rate\n"
              "restart-strategy.failure-rate.max-failures-per-interval: 1\n"
              "restart-strategy.failure-rate.failure-rate-interval: 1 s\n");
    for (int64_t t = 0; t < 5000 * 1001; t += 1001)
        restart_at(&rs, t);
    ck_assert_int_le(rs.nfailures, 1);
}
END_TEST

START_TEST(test_failure_rate_history_stays_bounded)
{
    sl_restart_strategy rs;
    make(&rs, "restart-strategy.type: failure-rate\n"
              "restart-strategy.failure-rate.max-failures-per-interval: 100000\n"
              "restart-strategy.failure-rate.failure-rate-interval: 1 h\n");
    for (int i = 0; i < 3 * SL_RESTART_FAILURE_HISTORY; i++)
        restart_at(&rs, i);
    ck_assert_int_eq(rs.nfailures, SL_RESTART_FAILURE_HISTORY);
}
END_TEST

static const char *exp_no_jitter =
    "restart-strategy.type: exponential-delay\n"
    "restart-strategy.exponential-delay.initial-backoff: 1 s\n"
    "restart-strategy.exponential-delay.max-backoff: 10 s\n"
    "restart-strategy.exponential-delay.backoff-multiplier: 2.0\n"
    "restart-strategy.exponential-delay.reset-backoff-threshold: 1 min\n"
    "restart-strategy.exponential-delay.jitter-factor: 0\n";

START_TEST(test_exponential_delays_grow_and_cap)
{
    sl_restart_strategy rs;
    make(&rs, exp_no_jitter);
    static const int64_t want[] = {1000, 2000, 4000, 8000, 10000, 10000, 10000};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_int_eq(restart_at(&rs, (int64_t)i * 1000), want[i]);
}
END_TEST

START_TEST(test_exponential_never_fails)
{
    sl_restart_strategy rs;
    make(&rs, exp_no_jitter);
    for (int i = 0; i < 10000; i++)
        restart_at(&rs, i);
    ck_assert_int_eq(restart_at(&rs, 10000), 10000);
}
END_TEST

START_TEST(test_exponential_resets_after_threshold)
{
    sl_restart_strategy rs;
    make(&rs, exp_no_jitter);
    ck_assert_int_eq(restart_at(&rs, 0), 1000);
    ck_assert_int_eq(restart_at(&rs, 10000), 2000);
    ck_assert_int_eq(restart_at(&rs, 20000), 4000);
    /* exactly the threshold since the last failure: no reset */
    ck_assert_int_eq(restart_at(&rs, 80000), 8000);
    /* more than the threshold: back to the initial backoff */
    ck_assert_int_eq(restart_at(&rs, 140001), 1000);
    ck_assert_int_eq(restart_at(&rs, 141000), 2000);
}
END_TEST

START_TEST(test_exponential_initial_above_max_is_capped)
{
    sl_restart_strategy rs;
    make(&rs, "restart-strategy.type: exponential-delay\n"
              "restart-strategy.exponential-delay.initial-backoff: 1 min\n"
              "restart-strategy.exponential-delay.max-backoff: 5 s\n"
              "restart-strategy.exponential-delay.jitter-factor: 0\n");
    ck_assert_int_eq(restart_at(&rs, 0), 5000);
    ck_assert_int_eq(restart_at(&rs, 1), 5000);
}
END_TEST

START_TEST(test_exponential_jitter_stays_within_bounds)
{
    sl_restart_strategy rs;
    make(&rs, "restart-strategy.type: exponential-delay\n"
              "restart-strategy.exponential-delay.initial-backoff: 1 s\n"
              "restart-strategy.exponential-delay.max-backoff: 8 s\n"
              "restart-strategy.exponential-delay.backoff-multiplier: 2.0\n"
              "restart-strategy.exponential-delay.jitter-factor: 0.25\n");
    int64_t base = 1000, first = -1;
    int varied = 0;
    for (int i = 0; i < 2000; i++) {
        int64_t d = restart_at(&rs, i);
        ck_assert_int_ge(d, base - base / 4);
        ck_assert_int_le(d, base + base / 4);
        if (base == 8000) {
            if (first < 0)
                first = d;
            else if (d != first)
                varied = 1;
        }
        if (base < 8000)
            base *= 2;
    }
    ck_assert_msg(varied, "jitter never changed the delay");
}
END_TEST

START_TEST(test_exponential_defaults_follow_the_config_table)
{
    sl_restart_strategy rs;
    make(&rs, "restart-strategy.type: exponential-delay\n");
    ck_assert_int_eq(rs.initial_ms, 1000);
    ck_assert_int_eq(rs.max_ms, 300000);
    ck_assert_int_eq(rs.reset_ms, 3600000);
    ck_assert(rs.multiplier == 2.0);
    ck_assert(rs.jitter == 0.1);
    int64_t d = restart_at(&rs, 0);
    ck_assert_int_ge(d, 900);
    ck_assert_int_le(d, 1100);
}
END_TEST

START_TEST(test_describe_texts)
{
    sl_restart_strategy rs;
    make(&rs, "");
    ck_assert_str_eq(describe(&rs), "none");
    make(&rs, "execution.checkpointing.interval: 1 s\n");
    ck_assert_str_eq(describe(&rs), "fixed-delay (unlimited attempts, 1000 ms)");
    make(&rs, "restart-strategy.type: fixed-delay\nrestart-strategy.fixed-delay.attempts: 3\n");
    ck_assert_str_eq(describe(&rs), "fixed-delay (3 attempts, 1000 ms)");
    make(&rs, "restart-strategy.type: fixed-delay\n");
    ck_assert_str_eq(describe(&rs), "fixed-delay (1 attempt, 1000 ms)");
    make(&rs, "restart-strategy.type: failure-rate\n"
              "restart-strategy.failure-rate.max-failures-per-interval: 3\n"
              "restart-strategy.failure-rate.failure-rate-interval: 5 min\n"
              "restart-strategy.failure-rate.delay: 10 s\n");
    ck_assert_str_eq(describe(&rs), "failure-rate (3 failures per 300000 ms, 10000 ms)");
    make(&rs, "restart-strategy.type: exponential-delay\n");
    ck_assert_str_eq(describe(&rs), "exponential-delay (1000 ms to 300000 ms, x2, jitter 0.1, "
                                    "reset after 3600000 ms)");
}
END_TEST

START_TEST(test_describe_truncates_to_the_buffer)
{
    sl_restart_strategy rs;
    char buf[8];
    make(&rs, "restart-strategy.type: fixed-delay\n");
    sl_restart_strategy_describe(&rs, buf, sizeof buf);
    ck_assert_str_eq(buf, "fixed-d");
    sl_restart_strategy_describe(&rs, buf, 0); /* must not write */
}
END_TEST

START_TEST(test_flink_aliases_select_the_strategy)
{
    sl_restart_strategy rs;
    make(&rs, "restart-strategy.type: fixeddelay\n");
    ck_assert_int_eq(rs.type, SL_RESTART_FIXED_DELAY);
    make(&rs, "restart-strategy.type: failurerate\n");
    ck_assert_int_eq(rs.type, SL_RESTART_FAILURE_RATE);
    make(&rs, "restart-strategy.type: exponentialdelay\n");
    ck_assert_int_eq(rs.type, SL_RESTART_EXPONENTIAL_DELAY);
    make(&rs, "execution.checkpointing.interval: 1 s\nrestart-strategy.type: off\n");
    ck_assert_int_eq(rs.type, SL_RESTART_NONE);
}
END_TEST

START_TEST(test_init_rejects_null_arguments)
{
    sl_restart_strategy rs;
    sl_config *cfg = NULL;
    ck_assert_int_eq(sl_config_new(&cfg), SL_OK);
    ck_assert_int_eq(sl_restart_strategy_init(NULL, cfg), SL_EINVAL);
    ck_assert_int_eq(sl_restart_strategy_init(&rs, NULL), SL_EINVAL);
    sl_config_free(cfg);
}
END_TEST

static Suite *restart_strategy_suite(void)
{
    Suite *s = suite_create("restart_strategy");
    TCase *tc = tcase_create("restart_strategy");
    tcase_add_test(tc, test_default_without_checkpointing_is_none);
    tcase_add_test(tc, test_default_with_checkpointing_is_unlimited_fixed_delay);
    tcase_add_test(tc, test_none_fails_at_once);
    tcase_add_test(tc, test_fixed_delay_allows_exactly_attempts_then_fails);
    tcase_add_test(tc, test_fixed_delay_defaults_to_one_attempt_of_one_second);
    tcase_add_test(tc, test_fixed_delay_zero_attempts_fails_at_once);
    tcase_add_test(tc, test_failure_rate_allows_max_within_interval_and_fails_beyond);
    tcase_add_test(tc, test_failure_rate_forgets_failures_older_than_interval);
    tcase_add_test(tc, test_failure_rate_runs_forever_at_a_low_rate);
    tcase_add_test(tc, test_failure_rate_history_stays_bounded);
    tcase_add_test(tc, test_exponential_delays_grow_and_cap);
    tcase_add_test(tc, test_exponential_never_fails);
    tcase_add_test(tc, test_exponential_resets_after_threshold);
    tcase_add_test(tc, test_exponential_initial_above_max_is_capped);
    tcase_add_test(tc, test_exponential_jitter_stays_within_bounds);
    tcase_add_test(tc, test_exponential_defaults_follow_the_config_table);
    tcase_add_test(tc, test_describe_texts);
    tcase_add_test(tc, test_describe_truncates_to_the_buffer);
    tcase_add_test(tc, test_flink_aliases_select_the_strategy);
    tcase_add_test(tc, test_init_rejects_null_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(restart_strategy_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
