/* Unit tests: window assignment and lateness of `operator: window`
 * (taskmanager/watermark.c): tumbling, sliding and session windows, negative
 * event times, Flink's firing rule (end - 1 <= watermark) and the source's
 * watermark setting. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/status.h"
#include "taskmanager/operators/watermark.h"

static const sl_window_spec tumbling = {SL_WIN_TUMBLING, 1000, 1000, 0};
static const sl_window_spec sliding = {SL_WIN_SLIDING, 1000, 300, 0};
static const sl_window_spec session = {SL_WIN_SESSION, 0, 0, 500};

START_TEST(test_floor)
{
    ck_assert_int_eq(sl_window_floor(0, 1000), 0);
    ck_assert_int_eq(sl_window_floor(999, 1000), 0);
    ck_assert_int_eq(sl_window_floor(1000, 1000), 1000);
    ck_assert_int_eq(sl_window_floor(-1, 1000), -1000);
    ck_assert_int_eq(sl_window_floor(-1000, 1000), -1000);
    ck_assert_int_eq(sl_window_floor(-1001, 1000), -2000);
}
END_TEST

START_TEST(test_tumbling)
{
    int64_t s[4], e[4];

    ck_assert_int_eq(sl_window_assign(&tumbling, 1234, s, e, 4), 1);
    ck_assert_int_eq(s[0], 1000);
    ck_assert_int_eq(e[0], 2000);
    ck_assert_int_eq(sl_window_assign(&tumbling, 2000, s, e, 4), 1);
    ck_assert_int_eq(s[0], 2000);
    ck_assert_int_eq(sl_window_assign(&tumbling, -1, s, e, 4), 1);
    ck_assert_int_eq(s[0], -1000);
    ck_assert_int_eq(e[0], 0);
    ck_assert_int_eq(sl_window_assign(&tumbling, -2500, s, e, 4), 1);
    ck_assert_int_eq(s[0], -3000);
    ck_assert_int_eq(e[0], -2000);
}
END_TEST

START_TEST(test_sliding)
{
    int64_t s[8], e[8];

    /* size 1000, slide 300: ts 1234 is in windows starting 1200, 900, 600, 300 */
    ck_assert_int_eq(sl_window_assign(&sliding, 1234, s, e, 8), 4);
    ck_assert_int_eq(s[0], 1200);
    ck_assert_int_eq(s[1], 900);
    ck_assert_int_eq(s[2], 600);
    ck_assert_int_eq(s[3], 300);
    ck_assert_int_eq(e[3], 1300);
    /* ts 1200 is not in [200, 1200) */
    ck_assert_int_eq(sl_window_assign(&sliding, 1200, s, e, 8), 4);
    ck_assert_int_eq(s[3], 300);
    /* negative: -100 in [-300, 700), [-600, 400), [-900, 100) */
    ck_assert_int_eq(sl_window_assign(&sliding, -100, s, e, 8), 3);
    ck_assert_int_eq(s[0], -300);
    ck_assert_int_eq(s[2], -900);
    ck_assert_int_eq(e[2], 100);
    /* max caps the count */
    ck_assert_int_eq(sl_window_assign(&sliding, 1234, s, e, 2), 2);
}
END_TEST

START_TEST(test_session)
{
    int64_t s, e;

    ck_assert_int_eq(sl_window_assign(&session, -7, &s, &e, 1), 1);
    ck_assert_int_eq(s, -7);
    ck_assert_int_eq(e, 493);
    ck_assert_int_eq(sl_window_assign(&session, INT64_MAX - 10, &s, &e, 1), 1);
    ck_assert(e == INT64_MAX);
}
END_TEST

START_TEST(test_fired_and_late)
{
    ck_assert(!sl_window_fired(2000, 1998));
    ck_assert(sl_window_fired(2000, 1999));
    ck_assert(sl_window_fired(2000, INT64_MAX));
    ck_assert(!sl_window_fired(2000, INT64_MIN));
    /* tumbling: late once its one window fired */
    ck_assert(!sl_window_is_late(&tumbling, 1500, 1998));
    ck_assert(sl_window_is_late(&tumbling, 1500, 1999));
    ck_assert(sl_window_is_late(&tumbling, -1500, -1001));
    ck_assert(!sl_window_is_late(&tumbling, -1500, -1002));
    /* sliding: late only when its last window [1200, 2200) fired */
    ck_assert(!sl_window_is_late(&sliding, 1234, 1500));
    ck_assert(!sl_window_is_late(&sliding, 1234, 2198));
    ck_assert(sl_window_is_late(&sliding, 1234, 2199));
    /* session: [ts, ts + gap) */
    ck_assert(!sl_window_is_late(&session, 100, 598));
    ck_assert(sl_window_is_late(&session, 100, 599));
    ck_assert(!sl_window_is_late(&session, 100, INT64_MIN));
}
END_TEST

START_TEST(test_watermark_setting)
{
    char f[32];
    int64_t d = -1;

    ck_assert_int_eq(sl_wm_parse_setting("ts, 500 ms", f, sizeof(f), &d), SL_OK);
    ck_assert_str_eq(f, "ts");
    ck_assert_int_eq(d, 500);
    ck_assert_int_eq(sl_wm_parse_setting(" event_time ,2 s", f, sizeof(f), &d), SL_OK);
    ck_assert_str_eq(f, "event_time");
    ck_assert_int_eq(d, 2000);
    ck_assert_int_eq(sl_wm_parse_setting("ts,0 ms", f, sizeof(f), &d), SL_OK);
    ck_assert_int_eq(d, 0);
    ck_assert_int_ne(sl_wm_parse_setting("ts", f, sizeof(f), &d), SL_OK);
    ck_assert_int_ne(sl_wm_parse_setting(", 5 ms", f, sizeof(f), &d), SL_OK);
    ck_assert_int_ne(sl_wm_parse_setting("ts, soon", f, sizeof(f), &d), SL_OK);
}
END_TEST

static Suite *window_suite(void)
{
    Suite *s = suite_create("window_assign");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_floor);
    tcase_add_test(tc, test_tumbling);
    tcase_add_test(tc, test_sliding);
    tcase_add_test(tc, test_session);
    tcase_add_test(tc, test_fired_and_late);
    tcase_add_test(tc, test_watermark_setting);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(window_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
