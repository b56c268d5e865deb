/* Unit tests for common/closer.c: the bounded off-thread runner (jobs run
 * off the caller's thread, at most `max` at once, the rest queued; drain
 * is bounded and counts what is left). */
#include "common/closer.h"
#include "common/status.h"

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#define MANY_JOBS 200
#define DRAIN_MS 10000
#define SHORT_DRAIN_MS 100

/* A gate jobs wait at until the test opens it; counts and peaks. */
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_open;
static atomic_int running, peak, done;
static pthread_t caller;
static atomic_int on_caller; /* jobs that ran on the caller's thread */

static void reset(void)
{
    gate_open = 0;
    atomic_store(&running, 0);
    atomic_store(&peak, 0);
    atomic_store(&done, 0);
    atomic_store(&on_caller, 0);
    caller = pthread_self();
}

static void open_gate(void)
{
    pthread_mutex_lock(&gate_mu);
    gate_open = 1;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
}

static void count_job(void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
    if (pthread_equal(pthread_self(), caller))
        atomic_fetch_add(&on_caller, 1);
}

static void gated_job(void *arg)
{
    (void)arg;
    int now = atomic_fetch_add(&running, 1) + 1;
    int p = atomic_load(&peak);
    while (now > p && !atomic_compare_exchange_weak(&peak, &p, now))
        ;
    pthread_mutex_lock(&gate_mu);
    while (!gate_open)
        pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
    atomic_fetch_sub(&running, 1);
    atomic_fetch_add(&done, 1);
}

START_TEST(test_init_refuses_no_threads)
{
    sl_closer c;
    ck_assert_int_eq(sl_closer_init(&c, 0), SL_EINVAL);
    ck_assert_int_eq(sl_closer_init(&c, -3), SL_EINVAL);
}
END_TEST

START_TEST(test_every_job_runs_off_the_callers_thread)
{
    sl_closer c;
    atomic_int n = 0;
    reset();
    ck_assert_int_eq(sl_closer_init(&c, 4), SL_OK);
    for (int i = 0; i < MANY_JOBS; i++)
        ck_assert_int_eq(sl_closer_run(&c, count_job, &n), SL_OK);
    ck_assert_int_eq(sl_closer_drain(&c, DRAIN_MS), 0);
    ck_assert_int_eq(atomic_load(&n), MANY_JOBS);
    ck_assert_int_eq(atomic_load(&on_caller), 0);
    ck_assert_int_eq(sl_closer_busy(&c), 0);
    sl_closer_destroy(&c);
}
END_TEST

/* Jobs that hang never block the caller and never run more than max at
 * once; the rest wait in the queue and run once a thread frees up. */
START_TEST(test_hanging_jobs_are_bounded_and_queued)
{
    enum { MAX = 3, JOBS = MAX + 7 };
    sl_closer c;
    reset();
    ck_assert_int_eq(sl_closer_init(&c, MAX), SL_OK);
    for (int i = 0; i < JOBS; i++)
        ck_assert_int_eq(sl_closer_run(&c, gated_job, NULL), SL_OK); /* returns: not inline */
    ck_assert_int_eq(sl_closer_busy(&c), JOBS);
    /* a bounded drain gives up and counts running and queued jobs */
    ck_assert_int_eq(sl_closer_drain(&c, SHORT_DRAIN_MS), JOBS);
    ck_assert_int_le(atomic_load(&peak), MAX);
    ck_assert_int_eq(atomic_load(&done), 0);
    open_gate();
    ck_assert_int_eq(sl_closer_drain(&c, DRAIN_MS), 0);
    ck_assert_int_eq(atomic_load(&done), JOBS);
    ck_assert_int_le(atomic_load(&peak), MAX);
    ck_assert_int_ge(atomic_load(&peak), 1);
    sl_closer_destroy(&c);
}
END_TEST

/* After a drain the runner takes new jobs again (threads start anew). */
START_TEST(test_reusable_after_drain)
{
    sl_closer c;
    atomic_int n = 0;
    reset();
    ck_assert_int_eq(sl_closer_init(&c, 1), SL_OK);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 10; i++)
            ck_assert_int_eq(sl_closer_run(&c, count_job, &n), SL_OK);
        ck_assert_int_eq(sl_closer_drain(&c, DRAIN_MS), 0);
        ck_assert_int_eq(atomic_load(&n), 10 * (round + 1));
    }
    ck_assert_int_eq(sl_closer_drain(&c, 0), 0); /* nothing in flight: at once */
    sl_closer_destroy(&c);
}
END_TEST

static Suite *closer_suite(void)
{
    Suite *s = suite_create("closer");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_init_refuses_no_threads);
    tcase_add_test(tc, test_every_job_runs_off_the_callers_thread);
    tcase_add_test(tc, test_hanging_jobs_are_bounded_and_queued);
    tcase_add_test(tc, test_reusable_after_drain);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(closer_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
