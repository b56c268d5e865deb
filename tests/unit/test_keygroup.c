/* Unit tests: common/keygroup.c (Flink-compatible key-group assignment).
 *
 * Expected values were computed independently on a JVM (OpenJDK, jshell /
 * single-file java): String.hashCode(), Long.hashCode(long) and
 * Double.hashCode(double) from the JDK itself, and Flink's algorithm as
 * written in org.apache.flink.util.MathUtils.murmurHash and
 * KeyGroupRangeAssignment:
 *
 *   murmurHash(code): code *= 0xcc9e2d51; code = rotl(code, 15);
 *     code *= 0x1b873593; code = rotl(code, 13); code = code * 5 + 0xe6546b64;
 *     code ^= 4; code ^= code >>> 16; code *= 0x85ebca6b; code ^= code >>> 13;
 *     code *= 0xc2b2ae35; code ^= code >>> 16;
 *     return code >= 0 ? code : code != MIN_VALUE ? -code : 0;
 *   keyGroup  = murmurHash(key.hashCode()) % maxParallelism
 *   operator  = keyGroup * parallelism / maxParallelism
 *   range(i)  = [(i * maxP + p - 1) / p, ((i + 1) * maxP - 1) / p]
 *
 * e.g. "hello".hashCode() = 99162322 (the well-known JDK value),
 * murmurHash(99162322) = 1715862179, 1715862179 % 128 = 35, and
 * 35 * 2 / 128 = 0. Tuple keys: Tuple2.hashCode = 31 * f0.hashCode() +
 * f1.hashCode(). */
#include <check.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "taskmanager/state/keygroup.h"

static sl_value vint(int64_t i)
{
    sl_value v = {.type = SL_TYPE_INT, .u.i = i};
    return v;
}

static sl_value vdbl(double d)
{
    sl_value v = {.type = SL_TYPE_DOUBLE, .u.d = d};
    return v;
}

static sl_value vstr(const char *s)
{
    sl_value v = {.type = SL_TYPE_STRING};
    v.u.s.ptr = s;
    v.u.s.len = (uint32_t)strlen(s);
    return v;
}

static int32_t hash_of(sl_value v)
{
    return sl_keygroup_java_hash(&v);
}

START_TEST(test_murmur_known_values)
{
    ck_assert_int_eq(sl_keygroup_murmur(0), 593689054);
    ck_assert_int_eq(sl_keygroup_murmur(1), 68075478);
    ck_assert_int_eq(sl_keygroup_murmur(-1), 1982413648);
    ck_assert_int_eq(sl_keygroup_murmur(INT32_MIN), 1718298732);
    ck_assert_int_eq(sl_keygroup_murmur(INT32_MAX), 1653689534);
    ck_assert_int_eq(sl_keygroup_murmur(99162322), 1715862179);
}
END_TEST

START_TEST(test_murmur_never_negative)
{
    unsigned seed = 99;

    for (int i = 0; i < 100000; i++) {
        int32_t code = (int32_t)((uint32_t)rand_r(&seed) * 2654435761u ^ (uint32_t)i);
        ck_assert_int_ge(sl_keygroup_murmur(code), 0);
    }
}
END_TEST

START_TEST(test_java_string_hash)
{
    ck_assert_int_eq(hash_of(vstr("hello")), 99162322);
    ck_assert_int_eq(hash_of(vstr("word")), 3655434);
    ck_assert_int_eq(hash_of(vstr("flink")), 97520992);
    ck_assert_int_eq(hash_of(vstr("the")), 114801);
    ck_assert_int_eq(hash_of(vstr("")), 0);
    /* wraps around to negative like Java's int */
    ck_assert_int_eq(hash_of(vstr("a fairly long key string 1234567890")), -253937227);
    /* bytes >= 0x80 count as unsigned (Java: the ISO-8859-1 string) */
    ck_assert_int_eq(hash_of(vstr("caf\xc3\xa9")), 94422542);
}
END_TEST

START_TEST(test_java_long_hash)
{
    ck_assert_int_eq(hash_of(vint(0)), 0);
    ck_assert_int_eq(hash_of(vint(1)), 1);
    ck_assert_int_eq(hash_of(vint(-1)), 0);
    ck_assert_int_eq(hash_of(vint(42)), 42);
    ck_assert_int_eq(hash_of(vint(INT64_MIN)), INT32_MIN);
    ck_assert_int_eq(hash_of(vint(INT64_MAX)), INT32_MIN);
    ck_assert_int_eq(hash_of(vint(INT64_C(4294967296))), 1);
    ck_assert_int_eq(hash_of(vint(INT64_C(-4294967296))), -1);
}
END_TEST

START_TEST(test_java_double_hash)
{
    ck_assert_int_eq(hash_of(vdbl(0.0)), 0);
    ck_assert_int_eq(hash_of(vdbl(-0.0)), INT32_MIN);
    ck_assert_int_eq(hash_of(vdbl(1.5)), 1073217536);
    ck_assert_int_eq(hash_of(vdbl(0.1)), -1507852285);
    ck_assert_int_eq(hash_of(vdbl(INFINITY)), 2146435072);
    ck_assert_int_eq(hash_of(vdbl(-2.5e300)), 1414352456);
    /* doubleToLongBits: every NaN is the canonical one */
    ck_assert_int_eq(hash_of(vdbl(NAN)), 2146959360);
    ck_assert_int_eq(hash_of(vdbl(-NAN)), 2146959360);
}
END_TEST

START_TEST(test_key_groups_of_known_keys)
{
    static const struct {
        const char *s;
        int kg;
    } strs[] = {{"hello", 35}, {"word", 93}, {"flink", 98}, {"", 94}, {"the", 66}};
    static const struct {
        int64_t i;
        int kg;
    } ints[] = {{0, 94}, {1, 86}, {-1, 94}, {42, 29}, {INT64_MIN, 108}, {INT64_C(-4294967296), 80}};

    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        ck_assert_int_eq(sl_keygroup_for_hash(hash_of(vstr(strs[i].s)), 128), strs[i].kg);
    }
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        ck_assert_int_eq(sl_keygroup_for_hash(hash_of(vint(ints[i].i)), 128), ints[i].kg);
    }
    ck_assert_int_eq(sl_keygroup_for_hash(hash_of(vdbl(NAN)), 128), 41);
}
END_TEST

START_TEST(test_operator_index_of_known_keys)
{
    /* "hello" kg 35, "word" kg 93, "the" kg 66, 42 kg 29 */
    ck_assert_int_eq(sl_keygroup_operator_index(35, 128, 2), 0);
    ck_assert_int_eq(sl_keygroup_operator_index(35, 128, 3), 0);
    ck_assert_int_eq(sl_keygroup_operator_index(93, 128, 2), 1);
    ck_assert_int_eq(sl_keygroup_operator_index(93, 128, 3), 2);
    ck_assert_int_eq(sl_keygroup_operator_index(66, 128, 3), 1);
    ck_assert_int_eq(sl_keygroup_operator_index(29, 128, 2), 0);
}
END_TEST

START_TEST(test_single_field_key_is_field_hash)
{
    sl_row r = {.nfields = 3};
    int idx = 1;

    r.v[0] = vint(5);
    r.v[1] = vstr("hello");
    r.v[2] = vdbl(2.5);
    ck_assert_int_eq(sl_keygroup_key_hash(&r, &idx, 1), 99162322);
}
END_TEST

START_TEST(test_multi_field_key_is_tuple_hash)
{
    sl_row r = {.nfields = 3};
    int ab[] = {0, 1}, abc[] = {0, 1, 2};

    r.v[0] = vstr("hello");
    r.v[1] = vint(42);
    r.v[2] = vdbl(2.5);
    /* Tuple2("hello", 42L).hashCode() */
    ck_assert_int_eq(sl_keygroup_key_hash(&r, ab, 2), -1220935272);
    ck_assert_int_eq(sl_keygroup_for_hash(sl_keygroup_key_hash(&r, ab, 2), 128), 108);
    /* Tuple3("word", -1L, 2.5).hashCode() */
    r.v[0] = vstr("word");
    r.v[1] = vint(-1);
    ck_assert_int_eq(sl_keygroup_key_hash(&r, abc, 3), 291908746);
    ck_assert_int_eq(sl_keygroup_for_hash(sl_keygroup_key_hash(&r, abc, 3), 128), 8);
    /* Tuple2("a", 1L) */
    r.v[0] = vstr("a");
    r.v[1] = vint(1);
    ck_assert_int_eq(sl_keygroup_key_hash(&r, ab, 2), 3008);
}
END_TEST

START_TEST(test_key_group_ranges_128)
{
    int s, e;

    sl_keygroup_range(128, 2, 0, &s, &e);
    ck_assert(s == 0 && e == 63);
    sl_keygroup_range(128, 2, 1, &s, &e);
    ck_assert(s == 64 && e == 127);
    sl_keygroup_range(128, 3, 0, &s, &e);
    ck_assert(s == 0 && e == 42);
    sl_keygroup_range(128, 3, 1, &s, &e);
    ck_assert(s == 43 && e == 85);
    sl_keygroup_range(128, 3, 2, &s, &e);
    ck_assert(s == 86 && e == 127);
    sl_keygroup_range(128, 1, 0, &s, &e);
    ck_assert(s == 0 && e == 127);
}
END_TEST

START_TEST(test_operator_index_matches_ranges_for_all_key_groups)
{
    static const int maxps[] = {1, 7, 128, 1000, 32768};

    for (size_t m = 0; m < sizeof(maxps) / sizeof(maxps[0]); m++) {
        int maxp = maxps[m];
        for (int p = 1; p <= maxp && p <= 70; p++) {
            int next = 0;
            for (int i = 0; i < p; i++) {
                int s, e;
                sl_keygroup_range(maxp, p, i, &s, &e);
                ck_assert_int_eq(s, next); /* ranges tile [0, maxp) */
                ck_assert_int_ge(e, s);
                for (int kg = s; kg <= e; kg++) {
                    ck_assert_int_eq(sl_keygroup_operator_index(kg, maxp, p), i);
                }
                next = e + 1;
            }
            ck_assert_int_eq(next, maxp);
        }
    }
}
END_TEST

START_TEST(test_bad_arguments)
{
    int s, e;

    ck_assert_int_eq(sl_keygroup_for_hash(1, 0), -1);
    ck_assert_int_eq(sl_keygroup_operator_index(3, 0, 2), -1);
    ck_assert_int_eq(sl_keygroup_operator_index(3, 128, 0), -1);
    sl_keygroup_range(128, 2, 2, &s, &e);
    ck_assert(s == 0 && e == -1);
    sl_keygroup_range(2, 3, 0, &s, &e);
    ck_assert(s == 0 && e == -1);
}
END_TEST

static Suite *keygroup_suite(void)
{
    Suite *s = suite_create("keygroup");
    TCase *tc = tcase_create("keygroup");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_murmur_known_values);
    tcase_add_test(tc, test_murmur_never_negative);
    tcase_add_test(tc, test_java_string_hash);
    tcase_add_test(tc, test_java_long_hash);
    tcase_add_test(tc, test_java_double_hash);
    tcase_add_test(tc, test_key_groups_of_known_keys);
    tcase_add_test(tc, test_operator_index_of_known_keys);
    tcase_add_test(tc, test_single_field_key_is_field_hash);
    tcase_add_test(tc, test_multi_field_key_is_tuple_hash);
    tcase_add_test(tc, test_key_group_ranges_128);
    tcase_add_test(tc, test_operator_index_matches_ranges_for_all_key_groups);
    tcase_add_test(tc, test_bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(keygroup_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
