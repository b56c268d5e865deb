/* Unit tests: taskmanager/keyed_state.c ("hashmap" backend). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/status.h"
#include "taskmanager/keyed_state.h"

static sl_keyed_state *open_hm(int kg_start, int kg_end)
{
    sl_keyed_state *st = NULL;

    ck_assert_int_eq(sl_keyed_state_open("hashmap", kg_start, kg_end, NULL, &st), SL_OK);
    ck_assert_ptr_nonnull(st);
    return st;
}

static void put_str(sl_keyed_state *st, int kg, const char *k, const char *v)
{
    ck_assert_int_eq(sl_keyed_state_put(st, kg, k, strlen(k), v, strlen(v)), SL_OK);
}

static void assert_get(sl_keyed_state *st, int kg, const char *k, const char *want)
{
    const void *val;
    size_t vlen;

    ck_assert_int_eq(sl_keyed_state_get(st, kg, k, strlen(k), &val, &vlen), SL_OK);
    ck_assert_uint_eq(vlen, strlen(want));
    ck_assert(memcmp(val, want, vlen) == 0);
}

static int is_absent(sl_keyed_state *st, int kg, const char *k)
{
    const void *val;
    size_t vlen;
    return sl_keyed_state_get(st, kg, k, strlen(k), &val, &vlen) == SL_ENOTFOUND;
}

START_TEST(test_put_get)
{
    sl_keyed_state *st = open_hm(0, 63);

    put_str(st, 5, "hello", "1");
    put_str(st, 5, "world", "22");
    put_str(st, 6, "hello", "333");
    assert_get(st, 5, "hello", "1");
    assert_get(st, 5, "world", "22");
    assert_get(st, 6, "hello", "333");
    ck_assert_uint_eq(sl_keyed_state_count(st), 3);
    sl_keyed_state_close(st);
}
END_TEST

START_TEST(test_get_missing_is_enotfound)
{
    sl_keyed_state *st = open_hm(0, 3);

    ck_assert(is_absent(st, 0, "nothing"));
    put_str(st, 1, "key", "v");
    ck_assert(is_absent(st, 1, "kez"));
    ck_assert(is_absent(st, 1, "ke"));
    ck_assert(is_absent(st, 2, "key")); /* same key, other group */
    sl_keyed_state_close(st);
}
END_TEST

START_TEST(test_empty_key_and_empty_value)
{
    sl_keyed_state *st = open_hm(0, 0);
    const void *val;
    size_t vlen = 99;

    ck_assert_int_eq(sl_keyed_state_put(st, 0, NULL, 0, NULL, 0), SL_OK);
    ck_assert_int_eq(sl_keyed_state_get(st, 0, NULL, 0, &val, &vlen), SL_OK);
    ck_assert_uint_eq(vlen, 0);
    put_str(st, 0, "k", "");
    assert_get(st, 0, "k", "");
    ck_assert_uint_eq(sl_keyed_state_count(st), 2);
    ck_assert_int_eq(sl_keyed_state_delete(st, 0, NULL, 0), SL_OK);
    ck_assert_uint_eq(sl_keyed_state_count(st), 1);
    sl_keyed_state_close(st);
}
END_TEST

START_TEST(test_replace_smaller_is_in_place)
{
    sl_keyed_state *st = open_hm(0, 0);
    const void *before, *after;
    size_t vlen;

    put_str(st, 0, "k", "12345678");
    ck_assert_int_eq(sl_keyed_state_get(st, 0, "k", 1, &before, &vlen), SL_OK);
    put_str(st, 0, "k", "abc");
    ck_assert_int_eq(sl_keyed_state_get(st, 0, "k", 1, &after, &vlen), SL_OK);
    ck_assert_ptr_eq(before, after);
    assert_get(st, 0, "k", "abc");
    put_str(st, 0, "k", "xyzxyzxy"); /* back to the original size */
    ck_assert_int_eq(sl_keyed_state_get(st, 0, "k", 1, &after, &vlen), SL_OK);
    ck_assert_ptr_eq(before, after);
    ck_assert_uint_eq(sl_keyed_state_count(st), 1);
    sl_keyed_state_close(st);
}
END_TEST

START_TEST(test_replace_larger_value)
{
    sl_keyed_state *st = open_hm(0, 0);
    char big[1000];

    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    put_str(st, 0, "k", "small");
    put_str(st, 0, "other", "x");
    put_str(st, 0, "k", big);
    assert_get(st, 0, "k", big);
    assert_get(st, 0, "other", "x");
    ck_assert_uint_eq(sl_keyed_state_count(st), 2);
    sl_keyed_state_close(st);
}
END_TEST

START_TEST(test_delete)
{
    sl_keyed_state *st = open_hm(10, 20);

    put_str(st, 10, "a", "1");
    put_str(st, 10, "b", "2");
    ck_assert_int_eq(sl_keyed_state_delete(st, 10, "a", 1), SL_OK);
    ck_assert(is_absent(st, 10, "a"));
    assert_get(st, 10, "b", "2");
    ck_assert_int_eq(sl_keyed_state_delete(st, 10, "a", 1), SL_ENOTFOUND);
    ck_assert_int_eq(sl_keyed_state_delete(st, 11, "b", 1), SL_ENOTFOUND);
    ck_assert_int_eq(sl_keyed_state_delete(st, 20, "b", 1), SL_ENOTFOUND);
    ck_assert_uint_eq(sl_keyed_state_count(st), 1);
    put_str(st, 10, "a", "again");
    assert_get(st, 10, "a", "again");
    sl_keyed_state_close(st);
}
END_TEST

static int kg_of(int i, int ngroups)
{
    return (int)(((unsigned)i * 2654435761u) >> 7) % ngroups;
}

START_TEST(test_growth_to_100k_keys)
{
    enum { N = 100000, G = 4 };
    sl_keyed_state *st = open_hm(0, G - 1);
    char key[32];
    int64_t v;

    for (int i = 0; i < N; i++) {
        int n = snprintf(key, sizeof(key), "key-%d", i);
        v = (int64_t)i * 3;
        ck_assert_int_eq(sl_keyed_state_put(st, kg_of(i, G), key, (size_t)n, &v, sizeof(v)), SL_OK);
    }
    ck_assert_uint_eq(sl_keyed_state_count(st), N);
    for (int i = 0; i < N; i++) {
        const void *val;
        size_t vlen;
        int n = snprintf(key, sizeof(key), "key-%d", i);
        ck_assert_int_eq(sl_keyed_state_get(st, kg_of(i, G), key, (size_t)n, &val, &vlen), SL_OK);
        ck_assert_uint_eq(vlen, sizeof(v));
        memcpy(&v, val, sizeof(v));
        ck_assert(v == (int64_t)i * 3);
    }
    /* delete every other key: the probe runs must stay intact */
    for (int i = 0; i < N; i += 2) {
        int n = snprintf(key, sizeof(key), "key-%d", i);
        ck_assert_int_eq(sl_keyed_state_delete(st, kg_of(i, G), key, (size_t)n), SL_OK);
    }
    ck_assert_uint_eq(sl_keyed_state_count(st), N / 2);
    for (int i = 0; i < N; i++) {
        int n = snprintf(key, sizeof(key), "key-%d", i);
        int rv = sl_keyed_state_get(st, kg_of(i, G), key, (size_t)n, NULL, NULL);
        ck_assert_int_eq(rv, i % 2 == 0 ? SL_ENOTFOUND : SL_OK);
    }
    sl_keyed_state_close(st);
}
END_TEST

START_TEST(test_many_keys_in_one_group_with_colliding_prefixes)
{
    enum { N = 100000 };
    sl_keyed_state *st = open_hm(0, 0);
    uint64_t k;

    for (uint32_t i = 0; i < N; i++) {
        k = (uint64_t)i << 40; /* keys that differ only in high bytes */
        ck_assert_int_eq(sl_keyed_state_put(st, 0, &k, sizeof(k), &i, sizeof(i)), SL_OK);
    }
    for (uint32_t i = 0; i < N; i++) {
        const void *val;
        size_t vlen;
        uint32_t got;
        k = (uint64_t)i << 40;
        ck_assert_int_eq(sl_keyed_state_get(st, 0, &k, sizeof(k), &val, &vlen), SL_OK);
        memcpy(&got, val, sizeof(got));
        ck_assert_uint_eq(got, i);
    }
    ck_assert_uint_eq(sl_keyed_state_count(st), N);
    sl_keyed_state_close(st);
}
END_TEST

typedef struct visit_acc {
    int want_kg;
    int bad_kg;
    int calls;
    unsigned char *seen; /* indexed by key number */
    int stop_after;
} visit_acc;

static int visit_cb(void *arg, int kg, const void *key, size_t klen, const void *val, size_t vlen)
{
    visit_acc *acc = arg;
    int i, v;

    acc->calls++;
    if (kg != acc->want_kg) {
        acc->bad_kg++;
    }
    ck_assert_uint_eq(klen, sizeof(int));
    ck_assert_uint_eq(vlen, sizeof(int));
    memcpy(&i, key, sizeof(i));
    memcpy(&v, val, sizeof(v));
    ck_assert_int_eq(v, -i);
    acc->seen[i]++;
    return acc->stop_after > 0 && acc->calls >= acc->stop_after ? 77 : 0;
}

START_TEST(test_visit_group_sees_exactly_its_entries)
{
    enum { N = 5000, KG0 = 40, G = 8 };
    sl_keyed_state *st = open_hm(KG0, KG0 + G - 1);
    unsigned char *seen = calloc(N, 1);
    visit_acc acc = {0};

    ck_assert_ptr_nonnull(seen);
    for (int i = 0; i < N; i++) {
        int v = -i;
        ck_assert_int_eq(sl_keyed_state_put(st, KG0 + i % G, &i, sizeof(i), &v, sizeof(v)), SL_OK);
    }
    for (int i = 0; i < N; i += 3) { /* some deletes, some replaces */
        if (i % 2 == 0) {
            ck_assert_int_eq(sl_keyed_state_delete(st, KG0 + i % G, &i, sizeof(i)), SL_OK);
        } else {
            int v = -i;
            ck_assert_int_eq(sl_keyed_state_put(st, KG0 + i % G, &i, sizeof(i), &v, sizeof(v)), SL_OK);
        }
    }
    for (int g = 0; g < G; g++) {
        memset(seen, 0, N);
        acc = (visit_acc){.want_kg = KG0 + g, .seen = seen};
        ck_assert_int_eq(sl_keyed_state_visit_group(st, KG0 + g, visit_cb, &acc), 0);
        ck_assert_int_eq(acc.bad_kg, 0);
        for (int i = 0; i < N; i++) {
            int present = i % G == g && !(i % 3 == 0 && i % 2 == 0);
            ck_assert_msg(seen[i] == present, "key %d group %d seen %d times", i, g, seen[i]);
        }
    }
    free(seen);
    sl_keyed_state_close(st);
}
END_TEST

START_TEST(test_visit_stops_on_nonzero)
{
    sl_keyed_state *st = open_hm(0, 1);
    unsigned char seen[10] = {0};
    visit_acc acc = {.want_kg = 1, .seen = seen, .stop_after = 3};

    for (int i = 0; i < 10; i++) {
        int v = -i;
        ck_assert_int_eq(sl_keyed_state_put(st, 1, &i, sizeof(i), &v, sizeof(v)), SL_OK);
    }
    ck_assert_int_eq(sl_keyed_state_visit_group(st, 1, visit_cb, &acc), 77);
    ck_assert_int_eq(acc.calls, 3);
    acc = (visit_acc){.want_kg = 0, .seen = seen};
    ck_assert_int_eq(sl_keyed_state_visit_group(st, 0, visit_cb, &acc), 0);
    ck_assert_int_eq(acc.calls, 0);
    sl_keyed_state_close(st);
}
END_TEST

START_TEST(test_unknown_backend_is_einval)
{
    sl_keyed_state *st = NULL;

    ck_assert_int_eq(sl_keyed_state_open("rocksdb", 0, 127, NULL, &st), SL_EINVAL);
    ck_assert_int_eq(sl_keyed_state_open("", 0, 127, NULL, &st), SL_EINVAL);
    ck_assert_int_eq(sl_keyed_state_open(NULL, 0, 127, NULL, &st), SL_EINVAL);
    ck_assert_ptr_null(st);
}
END_TEST

START_TEST(test_bad_arguments_are_einval)
{
    sl_keyed_state *st = NULL;

    ck_assert_int_eq(sl_keyed_state_open("hashmap", 5, 4, NULL, &st), SL_EINVAL);
    ck_assert_int_eq(sl_keyed_state_open("hashmap", -1, 4, NULL, &st), SL_EINVAL);
    ck_assert_int_eq(sl_keyed_state_open("hashmap", 0, 32768, NULL, &st), SL_EINVAL);
    st = open_hm(64, 127);
    ck_assert_int_eq(sl_keyed_state_put(st, 63, "k", 1, "v", 1), SL_EINVAL);
    ck_assert_int_eq(sl_keyed_state_put(st, 128, "k", 1, "v", 1), SL_EINVAL);
    ck_assert_int_eq(sl_keyed_state_put(st, 64, NULL, 1, "v", 1), SL_EINVAL);
    ck_assert_int_eq(sl_keyed_state_put(st, 64, "k", 1, NULL, 1), SL_EINVAL);
    ck_assert_int_eq(sl_keyed_state_get(st, 63, "k", 1, NULL, NULL), SL_EINVAL);
    ck_assert_int_eq(sl_keyed_state_delete(st, 200, "k", 1), SL_EINVAL);
    ck_assert_int_eq(sl_keyed_state_visit_group(st, 10, visit_cb, NULL), SL_EINVAL);
    ck_assert_int_eq(sl_keyed_state_visit_group(st, 64, NULL, NULL), SL_EINVAL);
    ck_assert_uint_eq(sl_keyed_state_count(st), 0);
    sl_keyed_state_close(st);
    sl_keyed_state_close(NULL);
}
END_TEST

static Suite *keyed_state_suite(void)
{
    Suite *s = suite_create("keyed_state");
    TCase *tc = tcase_create("hashmap");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_put_get);
    tcase_add_test(tc, test_get_missing_is_enotfound);
    tcase_add_test(tc, test_empty_key_and_empty_value);
    tcase_add_test(tc, test_replace_smaller_is_in_place);
    tcase_add_test(tc, test_replace_larger_value);
    tcase_add_test(tc, test_delete);
    tcase_add_test(tc, test_growth_to_100k_keys);
    tcase_add_test(tc, test_many_keys_in_one_group_with_colliding_prefixes);
    tcase_add_test(tc, test_visit_group_sees_exactly_its_entries);
    tcase_add_test(tc, test_visit_stops_on_nonzero);
    tcase_add_test(tc, test_unknown_backend_is_einval);
    tcase_add_test(tc, test_bad_arguments_are_einval);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(keyed_state_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
