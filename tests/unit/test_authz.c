/* Unit tests: common/authz.c, roles of CNs and the role each request needs.
 *
 * security.authorization.roles parses with blanks around items and around
 * the colon; an empty or NULL text is an empty table; a missing colon, an
 * empty CN or role, an unknown role and a CN longer than SL_AUTHZ_CN_MAX
 * are refused naming the item; a CN listed twice has its last role. Each
 * request kind needs the role of interface.md section 9; unknown kinds
 * need admin. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/authz.h"
#include "common/status.h"
#include "proto/sluice.pb-c.h"

#define UNKNOWN_KIND 99

static sl_authz_roles *parse_ok(const char *text)
{
    sl_authz_roles *r = NULL;
    char err[256] = "";
    ck_assert_msg(sl_authz_roles_parse(text, &r, err, sizeof(err)) == SL_OK, "'%s': %s", text,
                  err);
    ck_assert_ptr_nonnull(r);
    return r;
}

static void parse_bad(const char *text, const char *want)
{
    sl_authz_roles *r = NULL;
    char err[256] = "";
    ck_assert_int_eq(sl_authz_roles_parse(text, &r, err, sizeof(err)), SL_EINVAL);
    ck_assert_ptr_null(r);
    ck_assert_msg(strstr(err, want) != NULL, "'%s': error '%s', expected '%s'", text, err, want);
}

START_TEST(test_parse_good)
{
    sl_authz_roles *r = parse_ok("alice:admin,ops:operate,grafana:view,ci:submit");
    ck_assert_int_eq(sl_authz_role_of(r, "alice"), SL_AUTHZ_ADMIN);
    ck_assert_int_eq(sl_authz_role_of(r, "ops"), SL_AUTHZ_OPERATE);
    ck_assert_int_eq(sl_authz_role_of(r, "grafana"), SL_AUTHZ_VIEW);
    ck_assert_int_eq(sl_authz_role_of(r, "ci"), SL_AUTHZ_SUBMIT);
    ck_assert_int_eq(sl_authz_role_of(r, "mallory"), SL_AUTHZ_NONE);
    ck_assert_int_eq(sl_authz_role_of(r, "Alice"), SL_AUTHZ_NONE); /* exact match */
    ck_assert_int_eq(sl_authz_role_of(r, ""), SL_AUTHZ_NONE);
    ck_assert_int_eq(sl_authz_role_of(r, NULL), SL_AUTHZ_NONE);
    sl_authz_roles_free(r);
}
END_TEST

START_TEST(test_parse_blanks)
{
    sl_authz_roles *r = parse_ok("  alice : admin ,\tops:operate\t, grafana:view  ");
    ck_assert_int_eq(sl_authz_role_of(r, "alice"), SL_AUTHZ_ADMIN);
    ck_assert_int_eq(sl_authz_role_of(r, "ops"), SL_AUTHZ_OPERATE);
    ck_assert_int_eq(sl_authz_role_of(r, "grafana"), SL_AUTHZ_VIEW);
    ck_assert_int_eq(sl_authz_role_of(r, " alice"), SL_AUTHZ_NONE);
    sl_authz_roles_free(r);
    /* a CN may hold inner spaces */
    r = parse_ok("build bot:submit");
    ck_assert_int_eq(sl_authz_role_of(r, "build bot"), SL_AUTHZ_SUBMIT);
    sl_authz_roles_free(r);
}
END_TEST

START_TEST(test_parse_empty)
{
    sl_authz_roles *r = parse_ok("");
    ck_assert_int_eq(sl_authz_role_of(r, "alice"), SL_AUTHZ_NONE);
    sl_authz_roles_free(r);
    r = parse_ok(NULL);
    ck_assert_int_eq(sl_authz_role_of(r, "alice"), SL_AUTHZ_NONE);
    sl_authz_roles_free(r);
    ck_assert_int_eq(sl_authz_role_of(NULL, "alice"), SL_AUTHZ_NONE);
    sl_authz_roles_free(NULL);
}
END_TEST

START_TEST(test_parse_bad)
{
    parse_bad("bob", "item 1 'bob': expected cn:role");
    parse_bad("alice:admin,bob", "item 2 'bob': expected cn:role");
    parse_bad("alice:admin,,ops:view", "item 2");
    parse_bad("alice:admin,", "item 2");
    parse_bad(" , ", "item 1");
    parse_bad(":admin", "expected cn:role");
    parse_bad("alice:", "expected cn:role");
    parse_bad("alice: ", "expected cn:role");
    parse_bad("alice:root", "item 1: unknown role 'root'");
    parse_bad("alice:daemon", "unknown role 'daemon'"); /* not a client role */
    parse_bad("alice:none", "unknown role 'none'");
    parse_bad("alice:Admin", "unknown role 'Admin'");
}
END_TEST

START_TEST(test_parse_cn_length)
{
    char text[2 * SL_AUTHZ_CN_MAX];
    memset(text, 'c', SL_AUTHZ_CN_MAX);
    snprintf(text + SL_AUTHZ_CN_MAX, sizeof(text) - SL_AUTHZ_CN_MAX, ":view");
    sl_authz_roles *r = parse_ok(text); /* exactly the longest */
    text[SL_AUTHZ_CN_MAX] = '\0';
    ck_assert_int_eq(sl_authz_role_of(r, text), SL_AUTHZ_VIEW);
    sl_authz_roles_free(r);
    memset(text, 'c', SL_AUTHZ_CN_MAX + 1);
    snprintf(text + SL_AUTHZ_CN_MAX + 1, sizeof(text) - SL_AUTHZ_CN_MAX - 1, ":view");
    parse_bad(text, "item 1: CN longer than 64 characters");
}
END_TEST

START_TEST(test_parse_too_many)
{
    size_t cap = (SL_AUTHZ_MAX_ENTRIES + 1) * 16, off = 0; /* "c256:view," fits 16 */
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    for (int i = 0; i <= SL_AUTHZ_MAX_ENTRIES; i++)
        off += (size_t)snprintf(text + off, cap - off, "%sc%d:view", i ? "," : "", i);
    parse_bad(text, "more than 256");
    free(text);
}
END_TEST

START_TEST(test_duplicate_last_wins)
{
    sl_authz_roles *r = parse_ok("alice:admin,ops:operate,alice:view");
    ck_assert_int_eq(sl_authz_role_of(r, "alice"), SL_AUTHZ_VIEW);
    ck_assert_int_eq(sl_authz_role_of(r, "ops"), SL_AUTHZ_OPERATE);
    sl_authz_roles_free(r);
    r = parse_ok("alice:view,alice:admin");
    ck_assert_int_eq(sl_authz_role_of(r, "alice"), SL_AUTHZ_ADMIN);
    sl_authz_roles_free(r);
}
END_TEST

START_TEST(test_required_roles)
{
    ck_assert_int_eq(sl_authz_required(SLUICE__REQUEST__BODY_LIST_JOBS), SL_AUTHZ_VIEW);
    ck_assert_int_eq(sl_authz_required(SLUICE__REQUEST__BODY_JOB_INFO), SL_AUTHZ_VIEW);
    ck_assert_int_eq(sl_authz_required(SLUICE__REQUEST__BODY_LIST_TMS), SL_AUTHZ_VIEW);
    ck_assert_int_eq(sl_authz_required(SLUICE__REQUEST__BODY_CHECKPOINT_STATS), SL_AUTHZ_VIEW);
    ck_assert_int_eq(sl_authz_required(SLUICE__REQUEST__BODY_SAVEPOINT_STATUS), SL_AUTHZ_VIEW);
    ck_assert_int_eq(sl_authz_required(SLUICE__REQUEST__BODY_CANCEL_JOB), SL_AUTHZ_OPERATE);
    ck_assert_int_eq(sl_authz_required(SLUICE__REQUEST__BODY_TRIGGER_CHECKPOINT_NOW),
                     SL_AUTHZ_OPERATE);
    ck_assert_int_eq(sl_authz_required(SLUICE__REQUEST__BODY_TRIGGER_SAVEPOINT),
                     SL_AUTHZ_OPERATE);
    ck_assert_int_eq(sl_authz_required(SLUICE__REQUEST__BODY_SUBMIT_JOB), SL_AUTHZ_SUBMIT);
    ck_assert_int_eq(sl_authz_required(SLUICE__REQUEST__BODY_DISPOSE_SAVEPOINT), SL_AUTHZ_ADMIN);
    ck_assert_int_eq(sl_authz_required(SLUICE__REQUEST__BODY_REGISTER_TM), SL_AUTHZ_DAEMON);
    ck_assert_int_eq(sl_authz_required(SLUICE__REQUEST__BODY_HEARTBEAT), SL_AUTHZ_DAEMON);
    ck_assert_int_eq(sl_authz_required(SLUICE__REQUEST__BODY_TASK_STATE), SL_AUTHZ_DAEMON);
    ck_assert_int_eq(sl_authz_required(SLUICE__REQUEST__BODY_ACK_CHECKPOINT), SL_AUTHZ_DAEMON);
    ck_assert_int_eq(sl_authz_required(SLUICE__REQUEST__BODY_DEPLOY_TASKS), SL_AUTHZ_DAEMON);
    ck_assert_int_eq(sl_authz_required(UNKNOWN_KIND), SL_AUTHZ_ADMIN);
    ck_assert_int_eq(sl_authz_required(0), SL_AUTHZ_ADMIN);
    ck_assert_int_eq(sl_authz_required(-1), SL_AUTHZ_ADMIN);
}
END_TEST

/* Every kind the protocol has is in the table: none falls to the
 * unknown-kind default by omission. */
START_TEST(test_every_kind_has_a_verb)
{
    static const char unknown[] = "send unknown requests";
    for (unsigned i = 0; i < sluice__request__descriptor.n_fields; i++) {
        const ProtobufCFieldDescriptor *fd = &sluice__request__descriptor.fields[i];
        if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
            ck_assert_msg(strcmp(sl_authz_verb((int)fd->id), unknown) != 0, "%s", fd->name);
    }
    ck_assert_str_eq(sl_authz_verb(UNKNOWN_KIND), unknown);
    ck_assert_str_eq(sl_authz_verb(SLUICE__REQUEST__BODY_CANCEL_JOB), "cancel");
    ck_assert_str_eq(sl_authz_verb(SLUICE__REQUEST__BODY_SUBMIT_JOB), "run");
}
END_TEST

START_TEST(test_role_names)
{
    ck_assert_str_eq(sl_authz_role_name(SL_AUTHZ_VIEW), "view");
    ck_assert_str_eq(sl_authz_role_name(SL_AUTHZ_OPERATE), "operate");
    ck_assert_str_eq(sl_authz_role_name(SL_AUTHZ_SUBMIT), "submit");
    ck_assert_str_eq(sl_authz_role_name(SL_AUTHZ_ADMIN), "admin");
    ck_assert_str_eq(sl_authz_role_name(SL_AUTHZ_DAEMON), "daemon");
    ck_assert_str_eq(sl_authz_role_name(SL_AUTHZ_NONE), "none");
    ck_assert_str_eq(sl_authz_role_name(42), "none");
    /* the order that lets a role do what every role below it may */
    ck_assert_int_lt(SL_AUTHZ_VIEW, SL_AUTHZ_OPERATE);
    ck_assert_int_lt(SL_AUTHZ_OPERATE, SL_AUTHZ_SUBMIT);
    ck_assert_int_lt(SL_AUTHZ_SUBMIT, SL_AUTHZ_ADMIN);
}
END_TEST

static Suite *authz_suite(void)
{
    Suite *s = suite_create("authz");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_parse_good);
    tcase_add_test(tc, test_parse_blanks);
    tcase_add_test(tc, test_parse_empty);
    tcase_add_test(tc, test_parse_bad);
    tcase_add_test(tc, test_parse_cn_length);
    tcase_add_test(tc, test_parse_too_many);
    tcase_add_test(tc, test_duplicate_last_wins);
    tcase_add_test(tc, test_required_roles);
    tcase_add_test(tc, test_every_kind_has_a_verb);
    tcase_add_test(tc, test_role_names);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(authz_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
