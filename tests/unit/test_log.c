/* Rate-limited logging: a call site writes at most its budget of lines per
 * window, then one "suppressed N similar messages from FILE:LINE" line when
 * the next window opens; sites have their own budgets; levels below the
 * threshold neither write nor count. stderr goes to a temp file (check runs
 * each test in its own process). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

static FILE *capture(void)
{
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    ck_assert_int_ne(dup2(fileno(f), STDERR_FILENO), -1);
    return f;
}

/* Lines written so far containing needle. */
static int count_lines(FILE *f, const char *needle)
{
    char line[4096];
    int n = 0;
    fflush(stderr);
    rewind(f);
    while (fgets(line, sizeof(line), f) != NULL)
        n += strstr(line, needle) != NULL;
    return n;
}

START_TEST(test_budget_then_one_suppressed_line)
{
    FILE *f = capture();
    sl_log_limit lim = {3, 60000, 0, 0, 0};
    for (int i = 0; i < 50; i++)
        sl_log_limited(&lim, "site.c", 7, SL_LOG_WARN, "junk frame %d", i);
    ck_assert_int_eq(count_lines(f, "junk frame"), 3);
    ck_assert_int_eq(count_lines(f, "suppressed"), 0);
    /* The window ends (moved back rather than waited for). */
    lim.window_start_ms -= lim.window_ms;
    sl_log_limited(&lim, "site.c", 7, SL_LOG_WARN, "junk frame %d", 50);
    ck_assert_int_eq(count_lines(f, "junk frame"), 4);
    ck_assert_int_eq(count_lines(f, "WARN"), 5);
    ck_assert_int_eq(count_lines(f, "suppressed 47 similar messages from site.c:7 in the last"), 1);
    /* A window without suppressed messages adds no such line. */
    lim.window_start_ms -= lim.window_ms;
    sl_log_limited(&lim, "site.c", 7, SL_LOG_WARN, "junk frame %d", 51);
    ck_assert_int_eq(count_lines(f, "suppressed"), 1);
    fclose(f);
}
END_TEST

START_TEST(test_macro_sites_have_their_own_budget)
{
    FILE *f = capture();
    for (int i = 0; i < 1000; i++) {
        sl_warn_limited("site a %d", i);
        sl_warn_limited("site b %d", i);
    }
    ck_assert_int_eq(count_lines(f, "site a"), SL_LOG_LIMIT_LINES);
    ck_assert_int_eq(count_lines(f, "site b"), SL_LOG_LIMIT_LINES);
    fclose(f);
}
END_TEST

START_TEST(test_level_below_threshold_is_not_counted)
{
    FILE *f = capture();
    sl_log_init("test", SL_LOG_WARN);
    sl_log_limit lim = {2, 60000, 0, 0, 0};
    for (int i = 0; i < 10; i++)
        sl_log_limited(&lim, "s.c", 1, SL_LOG_INFO, "quiet %d", i);
    ck_assert_int_eq(count_lines(f, "quiet"), 0);
    ck_assert_int_eq(lim.suppressed, 0);
    sl_log_limited(&lim, "s.c", 1, SL_LOG_WARN, "loud");
    ck_assert_int_eq(count_lines(f, "loud"), 1);
    fclose(f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("limited");
    tcase_add_test(tc, test_budget_then_one_suppressed_line);
    tcase_add_test(tc, test_macro_sites_have_their_own_budget);
    tcase_add_test(tc, test_level_below_threshold_is_not_counted);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
