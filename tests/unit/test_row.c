/* Unit tests: common/row.c (schemas, wire form, varints, CSV text). */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/row.h"
#include "common/status.h"

/* ---- helpers ------------------------------------------------------------- */

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

static sl_value vstr(const char *p, uint32_t len)
{
    sl_value v = {.type = SL_TYPE_STRING};
    v.u.s.ptr = p;
    v.u.s.len = len;
    return v;
}

static uint64_t dbits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof(b));
    return b;
}

static void assert_value_eq(const sl_value *a, const sl_value *b)
{
    ck_assert_int_eq(a->type, b->type);
    switch (a->type) {
    case SL_TYPE_INT: ck_assert(a->u.i == b->u.i); break;
    case SL_TYPE_DOUBLE: ck_assert(dbits(a->u.d) == dbits(b->u.d)); break;
    case SL_TYPE_STRING:
        ck_assert_uint_eq(a->u.s.len, b->u.s.len);
        ck_assert(a->u.s.len == 0 || memcmp(a->u.s.ptr, b->u.s.ptr, a->u.s.len) == 0);
        break;
    }
}

/* Encodes, then decodes from an exactly sized heap copy (so ASan sees any
 * read past the end), and compares. Returns the encoded size. */
static size_t roundtrip(const sl_row *in)
{
    static uint8_t buf[SL_MAX_STRING + 1024];
    size_t used = 0, used2 = 0;
    sl_row out;
    uint8_t *copy;

    ck_assert_int_eq(sl_row_encode(in, buf, sizeof(buf), &used), SL_OK);
    copy = malloc(used);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, buf, used);
    ck_assert_int_eq(sl_row_decode(copy, used, &out, &used2), SL_OK);
    ck_assert_uint_eq(used, used2);
    ck_assert_int_eq(out.nfields, in->nfields);
    for (int i = 0; i < in->nfields; i++) {
        assert_value_eq(&in->v[i], &out.v[i]);
    }
    free(copy);
    return used;
}

static size_t roundtrip_one(sl_value v)
{
    sl_row r = {.nfields = 1};
    r.v[0] = v;
    return roundtrip(&r);
}

/* Decodes buf[0..len) from an exactly sized heap copy. */
static int decode_exact(const uint8_t *buf, size_t len)
{
    uint8_t *copy = malloc(len > 0 ? len : 1);
    size_t used = 0;
    sl_row out;
    int rv;

    ck_assert_ptr_nonnull(copy);
    if (len > 0) {
        memcpy(copy, buf, len);
    }
    rv = sl_row_decode(copy, len, &out, &used);
    if (rv == SL_OK) {
        ck_assert_uint_le(used, len);
    }
    free(copy);
    return rv;
}

static const char *fmt_double(double d)
{
    static char out[64];
    ck_assert_int_ge(sl_format_double(d, out, sizeof(out)), 0);
    return out;
}

static const char *fmt_csv(sl_value v)
{
    static char out[256];
    int n = sl_value_format_csv(&v, out, sizeof(out));
    ck_assert_int_ge(n, 0);
    ck_assert_uint_eq(strlen(out), (size_t)n);
    return out;
}

/* ---- schema ---------------------------------------------------------------- */

START_TEST(test_schema_add_find_clear)
{
    sl_schema s = {0};

    ck_assert_int_eq(sl_schema_add(&s, "user", SL_TYPE_STRING), SL_OK);
    ck_assert_int_eq(sl_schema_add(&s, "amount", SL_TYPE_DOUBLE), SL_OK);
    ck_assert_int_eq(s.nfields, 2);
    ck_assert_int_eq(sl_schema_find(&s, "amount"), 1);
    ck_assert_int_eq(sl_schema_find(&s, "user"), 0);
    ck_assert_int_eq(sl_schema_find(&s, "nope"), -1);
    ck_assert_int_eq(s.types[1], SL_TYPE_DOUBLE);
    sl_schema_clear(&s);
    ck_assert_int_eq(s.nfields, 0);
    ck_assert_int_eq(sl_schema_find(&s, "user"), -1);
}
END_TEST

START_TEST(test_schema_rejects_duplicate_and_bad_type)
{
    sl_schema s = {0};

    ck_assert_int_eq(sl_schema_add(&s, "a", SL_TYPE_INT), SL_OK);
    ck_assert_int_eq(sl_schema_add(&s, "a", SL_TYPE_INT), SL_EEXIST);
    ck_assert_int_eq(sl_schema_add(&s, "b", (sl_type)9), SL_EINVAL);
    ck_assert_int_eq(sl_schema_add(&s, NULL, SL_TYPE_INT), SL_EINVAL);
    ck_assert_int_eq(s.nfields, 1);
    sl_schema_clear(&s);
}
END_TEST

START_TEST(test_schema_full_is_enospc)
{
    sl_schema s = {0};
    char name[16];

    for (int i = 0; i < SL_MAX_FIELDS; i++) {
        snprintf(name, sizeof(name), "f%d", i);
        ck_assert_int_eq(sl_schema_add(&s, name, SL_TYPE_INT), SL_OK);
    }
    ck_assert_int_eq(sl_schema_add(&s, "extra", SL_TYPE_INT), SL_ENOSPC);
    sl_schema_clear(&s);
}
END_TEST

START_TEST(test_schema_copy_is_deep)
{
    sl_schema a = {0}, b = {0};

    ck_assert_int_eq(sl_schema_add(&a, "ts", SL_TYPE_INT), SL_OK);
    ck_assert_int_eq(sl_schema_add(&a, "word", SL_TYPE_STRING), SL_OK);
    ck_assert_int_eq(sl_schema_copy(&a, &b), SL_OK);
    ck_assert_int_eq(b.nfields, 2);
    ck_assert_ptr_ne(a.names[1], b.names[1]);
    ck_assert_str_eq(b.names[1], "word");
    ck_assert_int_eq(b.types[1], SL_TYPE_STRING);
    sl_schema_clear(&a);
    ck_assert_int_eq(sl_schema_find(&b, "word"), 1);
    sl_schema_clear(&b);
}
END_TEST

START_TEST(test_type_names)
{
    ck_assert_str_eq(sl_type_name(SL_TYPE_INT), "int");
    ck_assert_str_eq(sl_type_name(SL_TYPE_DOUBLE), "double");
    ck_assert_str_eq(sl_type_name(SL_TYPE_STRING), "string");
    ck_assert_str_eq(sl_type_name((sl_type)0), "unknown");
}
END_TEST

/* ---- varints --------------------------------------------------------------- */

START_TEST(test_varint_roundtrip_boundaries)
{
    static const struct {
        uint64_t v;
        size_t len;
    } cases[] = {
        {0, 1}, {1, 1}, {127, 1}, {128, 2}, {16383, 2}, {16384, 3},
        {UINT32_MAX, 5}, {UINT64_C(1) << 63, 10}, {UINT64_MAX, 10},
    };
    uint8_t buf[10];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t got;
        size_t used;
        size_t n = sl_varint_put(buf, cases[i].v);
        ck_assert_uint_eq(n, cases[i].len);
        ck_assert_int_eq(sl_varint_get(buf, n, &got, &used), SL_OK);
        ck_assert(got == cases[i].v);
        ck_assert_uint_eq(used, n);
        /* every shorter prefix is truncated */
        for (size_t k = 0; k < n; k++) {
            ck_assert_int_eq(sl_varint_get(buf, k, &got, &used), SL_EINVAL);
        }
    }
}
END_TEST

START_TEST(test_varint_rejects_overlong)
{
    static const uint8_t eleven[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    static const uint8_t overflow[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    static const uint8_t padded_zero[] = {0x80, 0x00};
    static const uint8_t padded_one[] = {0x81, 0x80, 0x00};
    uint64_t v;
    size_t used;

    ck_assert_int_eq(sl_varint_get(eleven, sizeof(eleven), &v, &used), SL_EINVAL);
    ck_assert_int_eq(sl_varint_get(overflow, sizeof(overflow), &v, &used), SL_EINVAL);
    ck_assert_int_eq(sl_varint_get(padded_zero, sizeof(padded_zero), &v, &used), SL_EINVAL);
    ck_assert_int_eq(sl_varint_get(padded_one, sizeof(padded_one), &v, &used), SL_EINVAL);
}
END_TEST

/* ---- round trips ----------------------------------------------------------- */

START_TEST(test_roundtrip_ints)
{
    static const int64_t vals[] = {0, 1, -1, 63, -64, 64, -65, 1000000, -1000000,
                                   INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN, INT64_MIN + 1};

    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        roundtrip_one(vint(vals[i]));
    }
    /* zigzag keeps small magnitudes short: 1 nfields + 1 tag + varint */
    ck_assert_uint_eq(roundtrip_one(vint(-1)), 3);
    ck_assert_uint_eq(roundtrip_one(vint(63)), 3);
    ck_assert_uint_eq(roundtrip_one(vint(INT64_MIN)), 12);
}
END_TEST

START_TEST(test_roundtrip_doubles)
{
    const double vals[] = {0.0, -0.0, 0.1, -2.5, 1e300, DBL_MAX, DBL_MIN, 5e-324,
                           INFINITY, -INFINITY, NAN};

    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        ck_assert_uint_eq(roundtrip_one(vdbl(vals[i])), 10);
    }
}
END_TEST

START_TEST(test_roundtrip_double_wire_is_little_endian)
{
    sl_row r = {.nfields = 1};
    uint8_t buf[16];
    size_t used;

    r.v[0] = vdbl(1.0); /* 0x3ff0000000000000 */
    ck_assert_int_eq(sl_row_encode(&r, buf, sizeof(buf), &used), SL_OK);
    ck_assert_uint_eq(used, 10);
    ck_assert_int_eq(buf[0], 1);
    ck_assert_int_eq(buf[1], SL_TYPE_DOUBLE);
    ck_assert_int_eq(buf[8], 0xf0);
    ck_assert_int_eq(buf[9], 0x3f);
}
END_TEST

START_TEST(test_roundtrip_strings)
{
    static const char bin[] = {'a', 0, (char)0xff, '\n', (char)0x80};
    char *big = malloc(SL_MAX_STRING);

    ck_assert_ptr_nonnull(big);
    for (uint32_t i = 0; i < SL_MAX_STRING; i++) {
        big[i] = (char)('a' + i % 26);
    }
    ck_assert_uint_eq(roundtrip_one(vstr(NULL, 0)), 3);
    ck_assert_uint_eq(roundtrip_one(vstr("", 0)), 3);
    roundtrip_one(vstr("hello", 5));
    roundtrip_one(vstr(bin, sizeof(bin)));
    roundtrip_one(vstr(big, 200));
    roundtrip_one(vstr(big, SL_MAX_STRING));
    free(big);
}
END_TEST

START_TEST(test_roundtrip_empty_row)
{
    sl_row r = {.nfields = 0};
    ck_assert_uint_eq(roundtrip(&r), 1);
}
END_TEST

START_TEST(test_roundtrip_max_fields_mixed)
{
    sl_row r = {.nfields = SL_MAX_FIELDS};

    for (int i = 0; i < SL_MAX_FIELDS; i++) {
        switch (i % 3) {
        case 0: r.v[i] = vint(-i * 1000003LL); break;
        case 1: r.v[i] = vdbl(i / 7.0); break;
        default: r.v[i] = vstr("field", (uint32_t)(i % 6)); break;
        }
    }
    roundtrip(&r);
}
END_TEST

START_TEST(test_decode_reports_bytes_of_first_row)
{
    sl_row a = {.nfields = 2}, b = {.nfields = 1}, out;
    uint8_t buf[64];
    size_t n1, n2, used;

    a.v[0] = vstr("word", 4);
    a.v[1] = vint(7);
    b.v[0] = vdbl(3.5);
    ck_assert_int_eq(sl_row_encode(&a, buf, sizeof(buf), &n1), SL_OK);
    ck_assert_int_eq(sl_row_encode(&b, buf + n1, sizeof(buf) - n1, &n2), SL_OK);
    ck_assert_int_eq(sl_row_decode(buf, n1 + n2, &out, &used), SL_OK);
    ck_assert_uint_eq(used, n1);
    ck_assert_int_eq(out.nfields, 2);
    ck_assert_int_eq(sl_row_decode(buf + used, n1 + n2 - used, &out, &used), SL_OK);
    ck_assert_uint_eq(used, n2);
    ck_assert(out.v[0].u.d == 3.5);
}
END_TEST

START_TEST(test_decode_strings_point_into_buffer)
{
    sl_row r = {.nfields = 1}, out;
    uint8_t buf[32];
    size_t used;

    r.v[0] = vstr("abc", 3);
    ck_assert_int_eq(sl_row_encode(&r, buf, sizeof(buf), &used), SL_OK);
    ck_assert_int_eq(sl_row_decode(buf, used, &out, &used), SL_OK);
    ck_assert_ptr_eq(out.v[0].u.s.ptr, (const char *)buf + 3);
}
END_TEST

/* ---- encode errors --------------------------------------------------------- */

START_TEST(test_encode_enospc_at_every_short_cap)
{
    sl_row r = {.nfields = 3};
    uint8_t buf[64];
    size_t need, used;

    r.v[0] = vint(INT64_MIN);
    r.v[1] = vdbl(0.25);
    r.v[2] = vstr("hello world", 11);
    ck_assert_int_eq(sl_row_encode(&r, buf, sizeof(buf), &need), SL_OK);
    for (size_t cap = 0; cap < need; cap++) {
        uint8_t *b = malloc(cap > 0 ? cap : 1);
        ck_assert_int_eq(sl_row_encode(&r, b, cap, &used), SL_ENOSPC);
        free(b);
    }
    ck_assert_int_eq(sl_row_encode(&r, buf, need, &used), SL_OK);
    ck_assert_uint_eq(used, need);
}
END_TEST

START_TEST(test_encode_rejects_bad_rows)
{
    static uint8_t buf[SL_MAX_STRING + 64];
    sl_row r = {.nfields = SL_MAX_FIELDS + 1};
    size_t used;

    ck_assert_int_eq(sl_row_encode(&r, buf, sizeof(buf), &used), SL_EINVAL);
    r.nfields = -1;
    ck_assert_int_eq(sl_row_encode(&r, buf, sizeof(buf), &used), SL_EINVAL);
    r.nfields = 1;
    r.v[0].type = (sl_type)7;
    ck_assert_int_eq(sl_row_encode(&r, buf, sizeof(buf), &used), SL_EINVAL);
    r.v[0] = vstr((const char *)buf, SL_MAX_STRING + 1);
    ck_assert_int_eq(sl_row_encode(&r, buf, sizeof(buf), &used), SL_EINVAL);
    r.v[0] = vstr(NULL, 3);
    ck_assert_int_eq(sl_row_encode(&r, buf, sizeof(buf), &used), SL_EINVAL);
}
END_TEST

/* ---- decode errors --------------------------------------------------------- */

START_TEST(test_decode_truncated_at_every_byte)
{
    sl_row r = {.nfields = 4};
    uint8_t buf[512];
    char s[300];
    size_t n;

    memset(s, 'x', sizeof(s));
    r.v[0] = vint(INT64_MAX);
    r.v[1] = vdbl(-0.5);
    r.v[2] = vstr(s, sizeof(s)); /* two-byte length */
    r.v[3] = vint(-3);
    ck_assert_int_eq(sl_row_encode(&r, buf, sizeof(buf), &n), SL_OK);
    for (size_t len = 0; len < n; len++) {
        ck_assert_msg(decode_exact(buf, len) == SL_EINVAL, "prefix %zu of %zu accepted", len, n);
    }
    ck_assert_int_eq(decode_exact(buf, n), SL_OK);
}
END_TEST

START_TEST(test_decode_rejects_bad_type_tag)
{
    uint8_t buf[] = {1, 0, 0};

    ck_assert_int_eq(decode_exact(buf, sizeof(buf)), SL_EINVAL);
    buf[1] = 4;
    ck_assert_int_eq(decode_exact(buf, sizeof(buf)), SL_EINVAL);
    buf[1] = 0xff;
    ck_assert_int_eq(decode_exact(buf, sizeof(buf)), SL_EINVAL);
    buf[1] = SL_TYPE_INT;
    ck_assert_int_eq(decode_exact(buf, sizeof(buf)), SL_OK);
}
END_TEST

START_TEST(test_decode_rejects_too_many_fields)
{
    uint8_t buf[1 + 2 * (SL_MAX_FIELDS + 1)];

    for (int i = 0; i <= SL_MAX_FIELDS; i++) {
        buf[1 + 2 * i] = SL_TYPE_INT;
        buf[2 + 2 * i] = 0;
    }
    buf[0] = SL_MAX_FIELDS + 1;
    ck_assert_int_eq(decode_exact(buf, sizeof(buf)), SL_EINVAL);
    buf[0] = 0xff;
    ck_assert_int_eq(decode_exact(buf, sizeof(buf)), SL_EINVAL);
    buf[0] = SL_MAX_FIELDS;
    ck_assert_int_eq(decode_exact(buf, sizeof(buf)), SL_OK);
}
END_TEST

START_TEST(test_decode_rejects_oversize_string_length)
{
    uint8_t buf[16];
    size_t n;

    /* longer than SL_MAX_STRING */
    buf[0] = 1;
    buf[1] = SL_TYPE_STRING;
    n = 2 + sl_varint_put(buf + 2, (uint64_t)SL_MAX_STRING + 1);
    ck_assert_int_eq(decode_exact(buf, n), SL_EINVAL);
    /* longer than what is left of the buffer */
    n = 2 + sl_varint_put(buf + 2, 5);
    memcpy(buf + n, "abcd", 4);
    ck_assert_int_eq(decode_exact(buf, n + 4), SL_EINVAL);
    ck_assert_int_eq(decode_exact(buf, n + 5), SL_OK);
    /* a length that would wrap size_t arithmetic */
    n = 2 + sl_varint_put(buf + 2, UINT64_MAX);
    ck_assert_int_eq(decode_exact(buf, n), SL_EINVAL);
}
END_TEST

START_TEST(test_decode_rejects_overlong_varint)
{
    uint8_t buf[16] = {1, SL_TYPE_INT};

    memset(buf + 2, 0x80, 10);
    buf[12] = 0x01; /* 11 bytes */
    ck_assert_int_eq(decode_exact(buf, 13), SL_EINVAL);
    memset(buf + 2, 0xff, 9);
    buf[11] = 0x02; /* 10 bytes, bit 64 set */
    ck_assert_int_eq(decode_exact(buf, 12), SL_EINVAL);
    buf[2] = 0x85; /* 5 in two bytes */
    buf[3] = 0x00;
    ck_assert_int_eq(decode_exact(buf, 4), SL_EINVAL);
    buf[1] = SL_TYPE_STRING; /* same for a string length */
    ck_assert_int_eq(decode_exact(buf, 4), SL_EINVAL);
}
END_TEST

START_TEST(test_decode_random_bytes_stay_in_bounds)
{
    uint8_t buf[64];
    unsigned seed = 12345;

    for (int iter = 0; iter < 20000; iter++) {
        size_t len = (size_t)(rand_r(&seed) % sizeof(buf));
        for (size_t i = 0; i < len; i++) {
            buf[i] = (uint8_t)rand_r(&seed);
        }
        if (len > 0) {
            buf[0] %= 6; /* mostly few fields so bodies get parsed */
        }
        (void)decode_exact(buf, len);
    }
}
END_TEST

/* ---- doubles as text ------------------------------------------------------- */

START_TEST(test_format_double_shortest)
{
    ck_assert_str_eq(fmt_double(0.1), "0.1");
    ck_assert_str_eq(fmt_double(0.1 + 0.2), "0.30000000000000004");
    ck_assert_str_eq(fmt_double(1.0 / 3.0), "0.3333333333333333");
    ck_assert_str_eq(fmt_double(1.5), "1.5");
    ck_assert_str_eq(fmt_double(-2.25), "-2.25");
    ck_assert_str_eq(fmt_double(100.0), "100");
    ck_assert_str_eq(fmt_double(123.456), "123.456");
    ck_assert_str_eq(fmt_double(1e21), "1e+21");
    ck_assert_str_eq(fmt_double(1e20), "100000000000000000000");
    ck_assert_str_eq(fmt_double(1.5e300), "1.5e+300");
    ck_assert_str_eq(fmt_double(5e-324), "5e-324");
    ck_assert_str_eq(fmt_double(DBL_MAX), "1.7976931348623157e+308");
    ck_assert_str_eq(fmt_double(0.000001), "0.000001");
    ck_assert_str_eq(fmt_double(1e-7), "1e-7");
    ck_assert_str_eq(fmt_double(-1.25e-10), "-1.25e-10");
    ck_assert_str_eq(fmt_double(9007199254740992.0), "9007199254740992");
    ck_assert_str_eq(fmt_double(1152921504606846976.0), "1152921504606847000");
    ck_assert_str_eq(fmt_double(-42.0), "-42");
}
END_TEST

START_TEST(test_format_double_special_values)
{
    ck_assert_str_eq(fmt_double(NAN), "NaN");
    ck_assert_str_eq(fmt_double(-NAN), "NaN");
    ck_assert_str_eq(fmt_double(INFINITY), "Infinity");
    ck_assert_str_eq(fmt_double(-INFINITY), "-Infinity");
    ck_assert_str_eq(fmt_double(0.0), "0");
    ck_assert_str_eq(fmt_double(-0.0), "-0");
}
END_TEST

/* Significant digits of a plain or exponent form, for the shortness check. */
static int count_digits(const char *s)
{
    int n = 0, lead = 1, zeros = 0;

    for (; *s != '\0' && *s != 'e'; s++) {
        if (*s < '0' || *s > '9') {
            continue;
        }
        if (lead && *s == '0') {
            continue;
        }
        lead = 0;
        zeros = *s == '0' ? zeros + 1 : 0;
        n++;
    }
    return n - zeros;
}

/* Output reads back to d and has as few digits as the plain reference
 * search (first precision 1..17 whose %.*e text reads back). */
static void assert_shortest_round_trip(double d)
{
    char out[32], ref[40];
    int n, p;

    n = sl_format_double(d, out, sizeof(out));
    ck_assert_int_gt(n, 0);
    ck_assert_int_le(n, 25);
    ck_assert_msg(dbits(strtod(out, NULL)) == dbits(d), "%s does not read back", out);
    for (p = 1; p < 17; p++) {
        snprintf(ref, sizeof(ref), "%.*e", p - 1, d);
        if (strtod(ref, NULL) == d) {
            break;
        }
    }
    ck_assert_msg(count_digits(out) == p, "%s: %d digits, want %d", out, count_digits(out), p);
}

START_TEST(test_format_double_random_bits_round_trip_shortest)
{
    unsigned seed = 777;

    for (int iter = 0; iter < 20000; iter++) {
        uint64_t bits = ((uint64_t)rand_r(&seed) << 40) ^ ((uint64_t)rand_r(&seed) << 20) ^
                        (uint64_t)rand_r(&seed) ^ ((uint64_t)(rand_r(&seed) & 0xf) << 60);
        double d;

        memcpy(&d, &bits, sizeof(d));
        if (!isnan(d) && !isinf(d) && d != 0) {
            assert_shortest_round_trip(d);
        }
    }
}
END_TEST

START_TEST(test_format_double_short_decimals_and_subnormals_shortest)
{
    for (int i = 1; i < 20000; i++) {
        assert_shortest_round_trip(i / 1000.0);
        assert_shortest_round_trip(i * 0.37);
        assert_shortest_round_trip(-i * 1.1e-5);
        assert_shortest_round_trip(i * 1e-310);   /* subnormal */
        assert_shortest_round_trip(i * 4.9e-324); /* deep subnormal */
        assert_shortest_round_trip(i * 1.7e300);
    }
    assert_shortest_round_trip(DBL_MIN);
    assert_shortest_round_trip(DBL_MAX);
    assert_shortest_round_trip(nextafter(DBL_MIN, 0));
}
END_TEST

START_TEST(test_format_double_respects_cap)
{
    char out[32];

    ck_assert_int_eq(sl_format_double(0.125, out, 6), 5);
    ck_assert_str_eq(out, "0.125");
    ck_assert_int_eq(sl_format_double(0.125, out, 5), -1);
    ck_assert_int_eq(sl_format_double(NAN, out, 3), -1);
    ck_assert_int_eq(sl_format_double(12345.0, out, 5), -1);
    ck_assert_int_eq(sl_format_double(-1.2345678901234567e-300, out, 26), 24);
}
END_TEST

/* ---- csv --------------------------------------------------------------------- */

START_TEST(test_csv_ints)
{
    ck_assert_str_eq(fmt_csv(vint(0)), "0");
    ck_assert_str_eq(fmt_csv(vint(-17)), "-17");
    ck_assert_str_eq(fmt_csv(vint(INT64_MAX)), "9223372036854775807");
    ck_assert_str_eq(fmt_csv(vint(INT64_MIN)), "-9223372036854775808");
}
END_TEST

START_TEST(test_csv_doubles)
{
    ck_assert_str_eq(fmt_csv(vdbl(0.1)), "0.1");
    ck_assert_str_eq(fmt_csv(vdbl(1e21)), "1e+21");
    ck_assert_str_eq(fmt_csv(vdbl(5e-324)), "5e-324");
    ck_assert_str_eq(fmt_csv(vdbl(-INFINITY)), "-Infinity");
}
END_TEST

START_TEST(test_csv_plain_strings_unquoted)
{
    ck_assert_str_eq(fmt_csv(vstr("hello", 5)), "hello");
    ck_assert_str_eq(fmt_csv(vstr("two words", 9)), "two words");
    ck_assert_str_eq(fmt_csv(vstr("tab\there;semi'q", 15)), "tab\there;semi'q");
    ck_assert_str_eq(fmt_csv(vstr("", 0)), "");
    ck_assert_str_eq(fmt_csv(vstr(NULL, 0)), "");
}
END_TEST

START_TEST(test_csv_quotes_when_needed)
{
    ck_assert_str_eq(fmt_csv(vstr("a,b", 3)), "\"a,b\"");
    ck_assert_str_eq(fmt_csv(vstr("say \"hi\"", 8)), "\"say \"\"hi\"\"\"");
    ck_assert_str_eq(fmt_csv(vstr("\"", 1)), "\"\"\"\"");
    ck_assert_str_eq(fmt_csv(vstr("line\nbreak", 10)), "\"line\nbreak\"");
    ck_assert_str_eq(fmt_csv(vstr("cr\r", 3)), "\"cr\r\"");
    ck_assert_str_eq(fmt_csv(vstr(" lead", 5)), "\" lead\"");
    ck_assert_str_eq(fmt_csv(vstr("trail ", 6)), "\"trail \"");
    ck_assert_str_eq(fmt_csv(vstr(" ", 1)), "\" \"");
}
END_TEST

START_TEST(test_csv_respects_cap)
{
    sl_value q = vstr("a\"b", 3); /* "a""b" = 6 bytes */
    sl_value p = vstr("abc", 3);
    sl_value i = vint(-100);
    char out[16];

    ck_assert_int_eq(sl_value_format_csv(&q, out, 7), 6);
    ck_assert_str_eq(out, "\"a\"\"b\"");
    ck_assert_int_eq(sl_value_format_csv(&q, out, 6), -1);
    ck_assert_int_eq(sl_value_format_csv(&p, out, 4), 3);
    ck_assert_int_eq(sl_value_format_csv(&p, out, 3), -1);
    ck_assert_int_eq(sl_value_format_csv(&i, out, 5), 4);
    ck_assert_int_eq(sl_value_format_csv(&i, out, 4), -1);
}
END_TEST

static Suite *row_suite(void)
{
    Suite *s = suite_create("row");
    TCase *tc = tcase_create("row");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_schema_add_find_clear);
    tcase_add_test(tc, test_schema_rejects_duplicate_and_bad_type);
    tcase_add_test(tc, test_schema_full_is_enospc);
    tcase_add_test(tc, test_schema_copy_is_deep);
    tcase_add_test(tc, test_type_names);
    tcase_add_test(tc, test_varint_roundtrip_boundaries);
    tcase_add_test(tc, test_varint_rejects_overlong);
    tcase_add_test(tc, test_roundtrip_ints);
    tcase_add_test(tc, test_roundtrip_doubles);
    tcase_add_test(tc, test_roundtrip_double_wire_is_little_endian);
    tcase_add_test(tc, test_roundtrip_strings);
    tcase_add_test(tc, test_roundtrip_empty_row);
    tcase_add_test(tc, test_roundtrip_max_fields_mixed);
    tcase_add_test(tc, test_decode_reports_bytes_of_first_row);
    tcase_add_test(tc, test_decode_strings_point_into_buffer);
    tcase_add_test(tc, test_encode_enospc_at_every_short_cap);
    tcase_add_test(tc, test_encode_rejects_bad_rows);
    tcase_add_test(tc, test_decode_truncated_at_every_byte);
    tcase_add_test(tc, test_decode_rejects_bad_type_tag);
    tcase_add_test(tc, test_decode_rejects_too_many_fields);
    tcase_add_test(tc, test_decode_rejects_oversize_string_length);
    tcase_add_test(tc, test_decode_rejects_overlong_varint);
    tcase_add_test(tc, test_decode_random_bytes_stay_in_bounds);
    tcase_add_test(tc, test_format_double_shortest);
    tcase_add_test(tc, test_format_double_special_values);
    tcase_add_test(tc, test_format_double_random_bits_round_trip_shortest);
    tcase_add_test(tc, test_format_double_short_decimals_and_subnormals_shortest);
    tcase_add_test(tc, test_format_double_respects_cap);
    tcase_add_test(tc, test_csv_ints);
    tcase_add_test(tc, test_csv_doubles);
    tcase_add_test(tc, test_csv_plain_strings_unquoted);
    tcase_add_test(tc, test_csv_quotes_when_needed);
    tcase_add_test(tc, test_csv_respects_cap);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(row_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
