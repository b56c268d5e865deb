/* Unit tests: common/crc32c.c, its two implementations (crc32c_internal.h).
 *
 * The hardware version (SSE4.2 crc32, three interleaved streams combined
 * with shift tables) must give exactly the results of the slicing-by-8
 * tables, since state files and checkpoint metadata store the CRC. Both are
 * checked against the check value of "123456789" (0xE3069283, from the
 * CRC catalogue), the RFC 3720 appendix B.4 patterns and a bit-at-a-time
 * reference written from the polynomial, then against each other on random
 * buffers of many lengths (across the interleaved loops' block boundaries),
 * start alignments and initial CRCs, in one call and in pieces. Where the
 * CPU lacks SSE4.2, sl_crc32c_hw is the table version and the comparisons
 * are trivial. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/crc32c.h"
#include "common/crc32c_internal.h"

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

static const crc_fn impls[] = {sl_crc32c, sl_crc32c_sw, sl_crc32c_hw};
static const char *const impl_names[] = {"sl_crc32c", "sw", "hw"};
#define NIMPLS (sizeof(impls) / sizeof(impls[0]))

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void fill_random(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (uint8_t)rnd();
    }
}

static uint8_t *xmalloc(size_t n)
{
    uint8_t *p = malloc(n);
    ck_assert_ptr_nonnull(p);
    return p;
}

/* Bit at a time, from the reflected polynomial; continues crc like
 * sl_crc32c. */
static uint32_t ref_crc(uint32_t crc, const uint8_t *p, size_t n)
{
    uint32_t c = ~crc;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) {
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        }
    }
    return ~c;
}

START_TEST(test_hw_is_used_where_the_cpu_has_sse42)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    ck_assert_int_eq(sl_crc32c_hw_available(), __builtin_cpu_supports("sse4.2") != 0);
#else
    ck_assert_int_eq(sl_crc32c_hw_available(), 0);
#endif
}
END_TEST

START_TEST(test_check_value_and_empty_input)
{
    for (size_t i = 0; i < NIMPLS; i++) {
        ck_assert_msg(impls[i](0, "123456789", 9) == 0xE3069283u, "%s", impl_names[i]);
        ck_assert_msg(impls[i](0, "a", 1) == 0xC1D04330u, "%s", impl_names[i]);
        ck_assert_msg(impls[i](0, NULL, 0) == 0, "%s", impl_names[i]);
        ck_assert_msg(impls[i](0x12345678u, NULL, 0) == 0x12345678u, "%s", impl_names[i]);
    }
}
END_TEST

START_TEST(test_rfc3720_vectors)
{
    uint8_t b[32];

    for (size_t i = 0; i < NIMPLS; i++) {
        memset(b, 0, sizeof(b));
        ck_assert_msg(impls[i](0, b, 32) == 0x8A9136AAu, "%s", impl_names[i]);
        memset(b, 0xff, sizeof(b));
        ck_assert_msg(impls[i](0, b, 32) == 0x62A8AB43u, "%s", impl_names[i]);
        for (int k = 0; k < 32; k++) {
            b[k] = (uint8_t)k;
        }
        ck_assert_msg(impls[i](0, b, 32) == 0x46DD794Eu, "%s", impl_names[i]);
        for (int k = 0; k < 32; k++) {
            b[k] = (uint8_t)(31 - k);
        }
        ck_assert_msg(impls[i](0, b, 32) == 0x113FDB5Cu, "%s", impl_names[i]);
    }
}
END_TEST

/* Every length up to a little past 3 * SHORT (the first interleaved loop)
 * at every alignment mod 16, against the bitwise reference. */
START_TEST(test_small_lengths_match_bitwise_reference)
{
    enum { MAXN = 3 * SL_CRC32C_SHORT + 40 };
    uint8_t *buf = xmalloc(MAXN + 16);

    fill_random(buf, MAXN + 16);
    for (size_t off = 0; off < 16; off++) {
        for (size_t n = 0; n <= MAXN; n++) {
            uint32_t init = (n % 3 == 0) ? 0 : (uint32_t)rnd();
            uint32_t want = ref_crc(init, buf + off, n);
            for (size_t i = 0; i < NIMPLS; i++) {
                ck_assert_msg(impls[i](init, buf + off, n) == want,
                              "%s: off %zu len %zu", impl_names[i], off, n);
            }
        }
    }
    free(buf);
}
END_TEST

/* Lengths around the block boundaries of both interleaved loops and their
 * multiples, every alignment mod 16, random initial CRCs: hw == sw. */
START_TEST(test_hw_equals_sw_around_block_boundaries)
{
    const size_t s3 = 3 * (size_t)SL_CRC32C_SHORT, l3 = 3 * (size_t)SL_CRC32C_LONG;
    const size_t bases[] = {s3, 2 * s3, 5 * s3, l3, 2 * l3, 3 * l3 + s3, 4 * l3 + 7 * s3};
    const size_t maxn = 4 * l3 + 7 * s3 + 64;
    uint8_t *buf = xmalloc(maxn + 16);

    fill_random(buf, maxn + 16);
    for (size_t b = 0; b < sizeof(bases) / sizeof(bases[0]); b++) {
        for (long d = -17; d <= 17; d++) {
            size_t n = (size_t)((long)bases[b] + d);
            for (size_t off = 0; off < 16; off++) {
                uint32_t init = (uint32_t)rnd();
                uint32_t sw = sl_crc32c_sw(init, buf + off, n);
                ck_assert_msg(sl_crc32c_hw(init, buf + off, n) == sw, "hw: off %zu len %zu",
                              off, n);
                ck_assert_msg(sl_crc32c(init, buf + off, n) == sw, "dispatch: off %zu len %zu",
                              off, n);
            }
        }
    }
    free(buf);
}
END_TEST

/* Random lengths up to 256 KiB at random alignments, random contents. */
START_TEST(test_hw_equals_sw_on_random_buffers)
{
    const size_t maxn = 256 * 1024;
    uint8_t *buf = xmalloc(maxn + 64);

    for (int round = 0; round < 400; round++) {
        size_t off = rnd() % 64;
        size_t n = round % 4 == 0 ? rnd() % maxn : rnd() % (4 * 3 * SL_CRC32C_SHORT);
        uint32_t init = round % 5 == 0 ? 0 : (uint32_t)rnd();
        fill_random(buf + off, n);
        uint32_t sw = sl_crc32c_sw(init, buf + off, n);
        ck_assert_msg(sl_crc32c_hw(init, buf + off, n) == sw, "off %zu len %zu", off, n);
        ck_assert_msg(sl_crc32c(init, buf + off, n) == sw, "off %zu len %zu", off, n);
    }
    free(buf);
}
END_TEST

/* All zeros and all ones over several long blocks (patterns where a wrong
 * shift table would cancel out are unlikely to be missed by random data,
 * but these are cheap), and a 4 MiB buffer against the bitwise reference. */
START_TEST(test_large_buffers_match_reference)
{
    const size_t n = (size_t)4 << 20;
    uint8_t *buf = xmalloc(n + 8);

    memset(buf, 0, n + 8);
    ck_assert_uint_eq(sl_crc32c_hw(0, buf + 1, n), sl_crc32c_sw(0, buf + 1, n));
    memset(buf, 0xff, n + 8);
    ck_assert_uint_eq(sl_crc32c_hw(0, buf + 3, n), sl_crc32c_sw(0, buf + 3, n));
    fill_random(buf, n + 8);
    uint32_t want = ref_crc(0, buf + 5, n);
    ck_assert_uint_eq(sl_crc32c_sw(0, buf + 5, n), want);
    ck_assert_uint_eq(sl_crc32c_hw(0, buf + 5, n), want);
    ck_assert_uint_eq(sl_crc32c(0, buf + 5, n), want);
    free(buf);
}
END_TEST

/* The CRC of a buffer computed in random pieces (so pieces start at every
 * alignment and end inside blocks) equals the one-shot CRC. */
START_TEST(test_incremental_equals_one_shot)
{
    const size_t n = 200 * 1024 + 13;
    uint8_t *buf = xmalloc(n);

    fill_random(buf, n);
    uint32_t whole = sl_crc32c_sw(0, buf, n);
    ck_assert_uint_eq(sl_crc32c_hw(0, buf, n), whole);
    for (int round = 0; round < 50; round++) {
        uint32_t c = 0;
        size_t pos = 0;
        while (pos < n) {
            size_t piece = round % 2 == 0 ? rnd() % 100 : rnd() % (3 * SL_CRC32C_LONG + 999);
            if (piece > n - pos) {
                piece = n - pos;
            }
            c = sl_crc32c_hw(c, buf + pos, piece);
            pos += piece;
        }
        ck_assert_uint_eq(c, whole);
    }
    free(buf);
}
END_TEST

static Suite *crc32c_suite(void)
{
    Suite *s = suite_create("crc32c");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_hw_is_used_where_the_cpu_has_sse42);
    tcase_add_test(tc, test_check_value_and_empty_input);
    tcase_add_test(tc, test_rfc3720_vectors);
    tcase_add_test(tc, test_small_lengths_match_bitwise_reference);
    tcase_add_test(tc, test_hw_equals_sw_around_block_boundaries);
    tcase_add_test(tc, test_hw_equals_sw_on_random_buffers);
    tcase_add_test(tc, test_large_buffers_match_reference);
    tcase_add_test(tc, test_incremental_equals_one_shot);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(crc32c_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
