/* Unit tests: rows as text (common/row_text.c, row_json.c: schemas, CSV
 * records, JSON lines), the catalog rows of stage_catalog_io.c (file source
 * formats, datagen, aggregates, json sink) and datagen's records
 * (taskmanager/op_datagen.c). */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/jobfile.h"
#include "common/row_text.h"
#include "taskmanager/operators/row_json.h"
#include "common/status.h"
#include "taskmanager/operators/op_datagen.h"

static char scratch[4096];
static char err[512];

static sl_schema schema_of(const char *text)
{
    sl_schema s;
    size_t off = 0;

    memset(&s, 0, sizeof(s));
    ck_assert_msg(sl_schema_parse(text, &s, &off, err, sizeof(err)) == SL_OK, "%s: %s", text,
                  err);
    return s;
}

static void assert_str(const sl_value *v, const char *want)
{
    ck_assert_int_eq(v->type, SL_TYPE_STRING);
    ck_assert_uint_eq(v->u.s.len, strlen(want));
    ck_assert(memcmp(v->u.s.ptr, want, v->u.s.len) == 0);
}

/* Copies s[0..n) to the very end of a readable page that is followed by an
 * unreadable one, with no terminator: a parser that reads one byte past n
 * crashes the test (in every build, not only under ASan). Valid until the
 * next call. */
static const char *at_page_end(const char *s, size_t n)
{
    static char *pages;
    static size_t page;

    if (pages == NULL) {
        page = (size_t)sysconf(_SC_PAGESIZE);
        pages = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ck_assert(pages != MAP_FAILED);
        ck_assert_int_eq(mprotect(pages + page, page, PROT_NONE), 0);
    }
    ck_assert_uint_le(n, page);
    memcpy(pages + page - n, s, n);
    return pages + page - n;
}

/* ---- schemas ---- */

START_TEST(test_schema_parse)
{
    sl_schema s = schema_of("ts:int, user:string, amount:double");

    ck_assert_int_eq(s.nfields, 3);
    ck_assert_str_eq(s.names[1], "user");
    ck_assert_int_eq(s.types[0], SL_TYPE_INT);
    ck_assert_int_eq(s.types[1], SL_TYPE_STRING);
    ck_assert_int_eq(s.types[2], SL_TYPE_DOUBLE);
    sl_schema_clear(&s);
    s = schema_of("  a : int ,b:double\t");
    ck_assert_int_eq(s.nfields, 2);
    ck_assert_str_eq(s.names[0], "a");
    ck_assert_str_eq(s.names[1], "b");
    sl_schema_clear(&s);
}
END_TEST

static void schema_err(const char *text, size_t want_off, const char *want)
{
    sl_schema s;
    size_t off = 999;

    memset(&s, 0, sizeof(s));
    ck_assert_int_eq(sl_schema_parse(text, &s, &off, err, sizeof(err)), SL_EINVAL);
    ck_assert_int_eq(s.nfields, 0);
    ck_assert_msg(strstr(err, want) != NULL, "'%s': error '%s' lacks '%s'", text, err, want);
    ck_assert_msg(off == want_off, "'%s': offset %zu, expected %zu", text, off, want_off);
}

START_TEST(test_schema_errors)
{
    schema_err("", 0, "no fields");
    schema_err("   ", 0, "no fields");
    schema_err("a:int, b:float", 9, "unknown type 'float'");
    schema_err("a:int, a:string", 7, "named twice");
    schema_err("a:int,", 6, "expected a field name");
    schema_err("a int", 2, "expected ':'");
    schema_err("a:int b:int", 2, "unknown type");
    schema_err("9a:int", 0, "expected a field name");
    schema_err("a:", 2, "unknown type ''");
}
END_TEST

/* ---- CSV ---- */

START_TEST(test_csv_record_end)
{
    const char *t = "a,\"x\ny\",b\nnext\n";
    size_t end = 0;
    int q = 0, inside = 0;

    ck_assert_int_eq(sl_csv_record_end(t, strlen(t), &q, &end), 1);
    ck_assert_uint_eq(end, 9);
    ck_assert_int_eq(q, 0);
    /* in pieces: the state carries over */
    q = 0;
    ck_assert_int_eq(sl_csv_record_end(t, 4, &q, &end), 0);
    ck_assert_int_ne(q, 0);
    ck_assert_int_eq(sl_csv_record_end(t + 4, strlen(t) - 4, &q, &end), 1);
    ck_assert_uint_eq(end, 5);
    /* starting inside quotes: the first LF is inside */
    ck_assert_int_eq(sl_csv_record_end("\"", 1, &inside, &end), 0);
    q = inside;
    ck_assert_int_eq(sl_csv_record_end("x\ny\"z\n", 6, &q, &end), 1);
    ck_assert_uint_eq(end, 5);
    /* doubled quotes stay inside */
    q = 0;
    ck_assert_int_eq(sl_csv_record_end("\"a\"\"\n\"\n", 7, &q, &end), 1);
    ck_assert_uint_eq(end, 6);
    /* a stray quote (not at a field start) opens nothing */
    q = 0;
    ck_assert_int_eq(sl_csv_record_end("1,a\"b,2\nx\n", 10, &q, &end), 1);
    ck_assert_uint_eq(end, 7);
    q = 0;
    ck_assert_int_eq(sl_csv_record_end("1,\"a\"b\n", 7, &q, &end), 1);
    ck_assert_uint_eq(end, 6);
    /* a CR before the LF is part of the record */
    q = 0;
    ck_assert_int_eq(sl_csv_record_end("\"a\"\r\n", 5, &q, &end), 1);
    ck_assert_uint_eq(end, 4);
}
END_TEST

/* Every record is parsed at the end of a page (at_page_end). */
static int csv(const char *rec, const sl_schema *s, sl_row *row)
{
    size_t n = strlen(rec);

    return sl_csv_parse_record(at_page_end(rec, n), n, s, row, scratch, err, sizeof(err));
}

START_TEST(test_csv_parse)
{
    sl_schema s = schema_of("ts:int, user:string, amount:double");
    sl_row row;

    ck_assert_int_eq(csv("1,alice,2.5", &s, &row), SL_OK);
    ck_assert_int_eq(row.nfields, 3);
    ck_assert(row.v[0].u.i == 1);
    assert_str(&row.v[1], "alice");
    ck_assert(row.v[2].u.d == 2.5);
    ck_assert_int_eq(csv("-9223372036854775808,\"a, \"\"b\"\"\nc\",-1e-3", &s, &row), SL_OK);
    ck_assert(row.v[0].u.i == INT64_MIN);
    assert_str(&row.v[1], "a, \"b\"\nc");
    ck_assert(row.v[2].u.d == -1e-3);
    ck_assert_int_eq(csv(" 7 ,,\"3\"", &s, &row), SL_OK);
    ck_assert(row.v[0].u.i == 7);
    assert_str(&row.v[1], "");
    ck_assert(row.v[2].u.d == 3.0);
    ck_assert_int_eq(csv("1,\"\",.5", &s, &row), SL_OK);
    assert_str(&row.v[1], "");
    ck_assert(row.v[2].u.d == 0.5);
    sl_schema_clear(&s);
    s = schema_of("a:string, b:string");
    ck_assert_int_eq(csv("x,", &s, &row), SL_OK);
    assert_str(&row.v[0], "x");
    assert_str(&row.v[1], "");
    ck_assert_int_eq(csv(" sp ,\"\r\n\"", &s, &row), SL_OK);
    assert_str(&row.v[0], " sp ");
    assert_str(&row.v[1], "\r\n");
    sl_schema_clear(&s);
}
END_TEST

static void csv_err(const sl_schema *s, const char *rec, const char *want)
{
    sl_row row;

    ck_assert_int_eq(csv(rec, s, &row), SL_EINVAL);
    ck_assert_msg(strstr(err, want) != NULL, "'%s': error '%s' lacks '%s'", rec, err, want);
}

START_TEST(test_csv_malformed)
{
    sl_schema s = schema_of("ts:int, user:string, amount:double");

    csv_err(&s, "1,a", "2 fields, expected 3");
    csv_err(&s, "1,a,2,3", "more than 3 fields");
    csv_err(&s, "x,a,2", "field 1 (ts): 'x' is not an int");
    csv_err(&s, "1.5,a,2", "is not an int");
    csv_err(&s, "9223372036854775808,a,2", "is not an int");
    csv_err(&s, ",a,2", "'' is not an int");
    csv_err(&s, "1,a,abc", "field 3 (amount): 'abc' is not a double");
    csv_err(&s, "1,a,\"x\ny\"", "field 3 (amount): 'x?y' is not a double");
    csv_err(&s, "1,a,nan", "is not a double");
    csv_err(&s, "1,a,1e999", "is not a double");
    csv_err(&s, "1,\"a,2", "quoted field does not end");
    csv_err(&s, "1,\"a\"b,2", "'b' after the closing quote");
    csv_err(&s, "1,a\"b,2", "quote inside an unquoted field");
    csv_err(&s, "", "field 1 (ts): '' is not an int");
    sl_schema_clear(&s);
    s = schema_of("a:string, b:string");
    csv_err(&s, "", "1 field, expected 2");
    sl_schema_clear(&s);
}
END_TEST

/* ---- JSON lines ---- */

/* Every line is parsed at the end of a page (at_page_end). */
static int json(const char *line, const sl_schema *s, sl_row *row)
{
    size_t n = strlen(line);

    return sl_json_parse_line(at_page_end(line, n), n, s, row, scratch, err, sizeof(err));
}

START_TEST(test_json_parse)
{
    sl_schema s = schema_of("ts:int, user:string, amount:double");
    sl_row row;

    ck_assert_int_eq(json("{\"ts\": 1, \"user\": \"alice\", \"amount\": 2.5}", &s, &row), SL_OK);
    ck_assert_int_eq(row.nfields, 3);
    ck_assert(row.v[0].u.i == 1);
    assert_str(&row.v[1], "alice");
    ck_assert(row.v[2].u.d == 2.5);
    /* any order, extra fields of any kind, an int for a double */
    ck_assert_int_eq(json(" {\"amount\":3,\"x\":{\"a\":[1,true,null,{\"b\":\"}\"}]},"
                          "\"user\":\"\\\"q\\\\ \\u00e9\\ud83d\\ude42\\n\",\"f\":false,"
                          "\"ts\":-42} ",
                          &s, &row),
                     SL_OK);
    ck_assert(row.v[0].u.i == -42);
    assert_str(&row.v[1], "\"q\\ \xc3\xa9\xf0\x9f\x99\x82\n");
    ck_assert(row.v[2].u.d == 3.0);
    ck_assert_int_eq(json("{\"ts\":0,\"user\":\"\",\"amount\":-1.5E+2}", &s, &row), SL_OK);
    ck_assert(row.v[2].u.d == -150.0);
    sl_schema_clear(&s);
}
END_TEST

static void json_err(const sl_schema *s, const char *line, const char *want)
{
    sl_row row;

    ck_assert_int_eq(json(line, s, &row), SL_EINVAL);
    ck_assert_msg(strstr(err, want) != NULL, "'%s': error '%s' lacks '%s'", line, err, want);
}

START_TEST(test_json_malformed)
{
    sl_schema s = schema_of("ts:int, user:string");

    json_err(&s, "{\"ts\":1}", "field 'user' is missing");
    json_err(&s, "{\"ts\":1,\"user\":true}", "booleans are not supported");
    json_err(&s, "{\"ts\":null,\"user\":\"a\"}", "null is not supported");
    json_err(&s, "{\"ts\":1.5,\"user\":\"a\"}", "field 'ts': 1.5 is not a 64-bit int");
    json_err(&s, "{\"ts\":1e3,\"user\":\"a\"}", "is not a 64-bit int");
    json_err(&s, "{\"ts\":99999999999999999999,\"user\":\"a\"}", "is not a 64-bit int");
    json_err(&s, "{\"ts\":\"1\",\"user\":\"a\"}", "field 'ts': expected a number");
    json_err(&s, "{\"ts\":1,\"user\":2}", "field 'user': expected a string");
    json_err(&s, "{\"ts\":1,\"ts\":2,\"user\":\"a\"}", "field 'ts' appears twice");
    json_err(&s, "{\"ts\":1,\"user\":\"a\"} x", "text after the object");
    json_err(&s, "[1,2]", "expected a JSON object");
    json_err(&s, "", "expected a JSON object");
    json_err(&s, "{\"ts\":1,\"user\":\"a\"", "expected ',' or '}'");
    json_err(&s, "{\"ts\":1 \"user\":\"a\"}", "expected ',' or '}'");
    json_err(&s, "{\"ts\":01,\"user\":\"a\"}", "bad number");
    json_err(&s, "{\"ts\":-,\"user\":\"a\"}", "bad number");
    json_err(&s, "{\"ts\":1,\"user\":\"a\\x\"}", "bad escape");
    json_err(&s, "{\"ts\":1,\"user\":\"\\ud800\"}", "high surrogate");
    json_err(&s, "{\"ts\":1,\"user\":\"a\tb\"}", "control character");
    json_err(&s, "{\"ts\":1,\"user\":\"abc", "string does not end");
    json_err(&s, "{\"ts\":1,\"user\":\"a\",\"x\":[1,}", "expected a value");
    json_err(&s, "{\"ts\":1,\"user\":\"a\",\"x\":tru}", "expected a value");
    json_err(&s, "{ts:1}", "expected a member name");
    json_err(&s, "{\"ts\":1,\"user\":\"a\",}", "expected a member name");
    json_err(&s, "{\"ts\":1,\"user\":\"a\",\"x\":[1,]}", "expected a value");
    json_err(&s, "{\"ts\":1,\"user\":\"a\",\"x\":{\"a\":1,}}", "expected a member name");
    json_err(&s, "{,}", "expected a member name");
    sl_schema_clear(&s);
}
END_TEST

/* ---- input that ends where its buffer ends (no terminator) ---- */

/* Parses every prefix of line (the whole line included) at a page end: each
 * is either a row or a clean error, and nothing reads past it. */
static void prefixes(const char *line, const sl_schema *s, int is_json)
{
    size_t n = strlen(line);
    char part[512];
    sl_row row;

    ck_assert_uint_lt(n, sizeof(part));
    for (size_t k = 0; k <= n; k++) {
        memcpy(part, line, k);
        part[k] = '\0';
        int rv = is_json ? json(part, s, &row) : csv(part, s, &row);
        ck_assert_msg(rv == SL_OK || rv == SL_EINVAL, "'%s': %d", part, rv);
        if (k == n)
            ck_assert_msg(rv == SL_OK, "'%s': %s", line, err);
    }
}

START_TEST(test_parse_unterminated)
{
    sl_schema s = schema_of("ts:int, user:string, amount:double");
    sl_schema c = schema_of("c:double");
    sl_row row;
    double d = 0;
    int64_t i = 0;

    /* the reported cases: a double that ends the record / the line */
    ck_assert_int_eq(csv("1,hello,2.5", &s, &row), SL_OK);
    ck_assert(row.v[2].u.d == 2.5);
    ck_assert_int_eq(json("{\"c\":25", &c, &row), SL_EINVAL);
    ck_assert_msg(strstr(err, "expected ',' or '}'") != NULL, "%s", err);
    ck_assert_int_eq(json("{\"c\":25}", &c, &row), SL_OK);
    ck_assert(row.v[0].u.d == 25.0);
    /* the number parsers on their own */
    ck_assert_int_eq(sl_text_parse_double(at_page_end("-1.5e3", 6), 6, &d), SL_OK);
    ck_assert(d == -1500.0);
    ck_assert_int_eq(sl_text_parse_double(at_page_end("1.5x", 4), 3, &d), SL_OK);
    ck_assert(d == 1.5);
    ck_assert_int_eq(sl_text_parse_double(at_page_end("1x", 2), 2, &d), SL_EINVAL);
    ck_assert_int_eq(sl_text_parse_int(at_page_end("-42", 3), 3, &i), SL_OK);
    ck_assert(i == -42);
    /* every truncation of records with each kind of field at its end */
    prefixes("1,hello,2.5", &s, 0);
    prefixes("-7 ,\"a, \"\"b\"\"\", 1e-3 ", &s, 0);
    prefixes("\"3\",\"\",\"-0.25\"", &s, 0);
    prefixes("{\"ts\":1,\"user\":\"\\u00e9\\ud83d\\ude42\\n\",\"amount\":-2.5E+2}", &s, 1);
    prefixes(" {\"x\":[true,false,null,{\"y\":-0.5e1}],\"amount\":0,\"user\":\"\","
             "\"ts\":-9223372036854775808} ",
             &s, 1);
    prefixes("{\"c\":25}", &c, 1);
    sl_schema_clear(&s);
    sl_schema_clear(&c);
}
END_TEST

START_TEST(test_json_format)
{
    sl_schema s = schema_of("n:int, s:string, d:double, e:double");
    sl_row row = {.nfields = 4}, back;
    char out[256];
    const char *str = "q\"b\\s/\n\t\x01\xc3\xa9";

    row.v[0] = (sl_value){.type = SL_TYPE_INT, .u.i = -7};
    row.v[1].type = SL_TYPE_STRING;
    row.v[1].u.s.ptr = str;
    row.v[1].u.s.len = (uint32_t)strlen(str);
    row.v[2] = (sl_value){.type = SL_TYPE_DOUBLE, .u.d = 0.1};
    row.v[3] = (sl_value){.type = SL_TYPE_DOUBLE, .u.d = 1e21};
    int n = sl_row_format_json(&row, &s, out, sizeof(out));
    ck_assert_str_eq(out,
                     "{\"n\":-7,\"s\":\"q\\\"b\\\\s/\\n\\t\\u0001\xc3\xa9\",\"d\":0.1,\"e\":1e+21}");
    ck_assert_int_eq(n, (int)strlen(out));
    /* reads back to the same row */
    ck_assert_int_eq(json(out, &s, &back), SL_OK);
    ck_assert(back.v[0].u.i == -7);
    assert_str(&back.v[1], str);
    ck_assert(back.v[2].u.d == 0.1 && back.v[3].u.d == 1e21);
    /* NaN is null; too small a buffer is -1 */
    row.v[3].u.d = NAN;
    ck_assert_int_ge(sl_row_format_json(&row, &s, out, sizeof(out)), 0);
    ck_assert(strstr(out, "\"e\":null}") != NULL);
    ck_assert_int_eq(sl_row_format_json(&row, &s, out, 10), -1);
    row.nfields = 3;
    ck_assert_int_eq(sl_row_format_json(&row, &s, out, sizeof(out)), -1);
    sl_schema_clear(&s);
}
END_TEST

/* ---- datagen ---- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The records of count records at parallelism p, in the order subtasks
 * 0..p-1 emit them, as (key, value, ts) folded into one number each,
 * sorted. */
static void datagen_union(uint64_t seed, uint64_t count, int p, uint64_t *out)
{
    size_t n = 0;

    for (int s = 0; s < p; s++) {
        for (uint64_t i = (uint64_t)s; i < count; i += (uint64_t)p) {
            sl_row r;
            sl_op_datagen_record(seed, i, 100, &r);
            ck_assert_int_eq(r.nfields, 3);
            ck_assert(r.v[0].u.i >= 0 && r.v[0].u.i < 100);
            ck_assert(r.v[1].u.i >= 0 && r.v[1].u.i < 1000);
            ck_assert(r.v[2].u.i == (int64_t)i);
            out[n++] = ((uint64_t)r.v[2].u.i << 20) | ((uint64_t)r.v[0].u.i << 10) |
                       (uint64_t)r.v[1].u.i;
        }
    }
    ck_assert_uint_eq(n, count);
    qsort(out, n, sizeof(*out), cmp_u64);
}

START_TEST(test_datagen_deterministic)
{
    enum { N = 10007 };
    static uint64_t a[N], b[N];
    sl_row r1, r2;
    int differ = 0, keys[100] = {0}, distinct = 0;

    datagen_union(42, N, 1, a);
    for (int p = 2; p <= 7; p++) {
        datagen_union(42, N, p, b);
        ck_assert_msg(memcmp(a, b, sizeof(a)) == 0, "parallelism %d differs from 1", p);
    }
    /* a pure function of (seed, i); another seed gives other records */
    for (uint64_t i = 0; i < 1000; i++) {
        sl_op_datagen_record(7, i, 1000, &r1);
        sl_op_datagen_record(7, i, 1000, &r2);
        for (int f = 0; f < 3; f++)
            ck_assert(r1.v[f].type == SL_TYPE_INT && r1.v[f].u.i == r2.v[f].u.i);
        sl_op_datagen_record(8, i, 1000, &r2);
        differ += r1.v[0].u.i != r2.v[0].u.i;
    }
    ck_assert_int_gt(differ, 900);
    /* every key shows up */
    for (uint64_t i = 0; i < 10000; i++) {
        sl_op_datagen_record(1, i, 100, &r1);
        distinct += keys[r1.v[0].u.i]++ == 0;
    }
    ck_assert_int_eq(distinct, 100);
}
END_TEST

/* ---- the catalog rows ---- */

static sl_job_spec *parse(const char *text, char *e, size_t elen)
{
    sl_job_spec *job = NULL;

    e[0] = '\0';
    sl_job_parse("job.yaml", text, strlen(text), 0, &job, e, elen);
    return job;
}

#define JOB(stages) "name: t\npipeline:\n" stages
#define CSV_SRC(schema)                                                                   \
    "  - name: in\n    source: file\n    path: /in\n    format: csv\n    schema: " schema "\n"
#define PRINT(in) "  - name: o\n    sink: print\n    input: " in "\n"

static void catalog_err(const char *text, const char *want)
{
    char e[512];
    sl_job_spec *job = parse(text, e, sizeof(e));

    ck_assert_ptr_null(job);
    ck_assert_str_eq(e, want);
}

START_TEST(test_catalog_sources)
{
    char e[512];
    sl_job_spec *job = parse(JOB(CSV_SRC("\"ts:int, user:string, amount:double\"") PRINT("in")),
                             e, sizeof(e));

    ck_assert_msg(job != NULL, "%s", e);
    ck_assert_int_eq(job->stages[0].out_schema.nfields, 3);
    ck_assert_str_eq(job->stages[0].out_schema.names[2], "amount");
    ck_assert_ptr_null(sl_stage_param(&job->stages[0], "on-error")); /* fail */
    sl_job_free(job);
    catalog_err(JOB(CSV_SRC("\"ts:int, amount:float\"") PRINT("in")),
                "job.yaml:7:13: bad schema at character 16 ('float'): field 'amount': "
                "unknown type 'float' (expected int, double or string)");
    catalog_err(JOB("  - name: in\n    source: file\n    path: /in\n    format: json\n" PRINT("in")),
                "job.yaml:3:5: format json requires 'schema' (e.g. \"ts:int, user:string, "
                "amount:double\")");
    catalog_err(JOB(CSV_SRC("a:int") "    on-error: ignore\n" PRINT("in")),
                "job.yaml:8:15: unknown on-error 'ignore' (expected fail or skip)");
    catalog_err(JOB("  - name: in\n    source: file\n    path: /in\n    schema: a:int\n" PRINT("in")),
                "job.yaml:6:13: schema is for format csv or json, not text");
    job = parse(JOB("  - name: g\n    source: datagen\n    count: 10\n" PRINT("g")), e, sizeof(e));
    ck_assert_msg(job != NULL, "%s", e);
    ck_assert_str_eq(job->stages[0].out_schema.names[0], "key");
    ck_assert_str_eq(job->stages[0].out_schema.names[2], "ts");
    ck_assert_str_eq(sl_stage_param(&job->stages[0], "keys"), "1000");
    sl_job_free(job);
    catalog_err(JOB("  - name: g\n    source: datagen\n    keys: 0\n" PRINT("g")),
                "job.yaml:5:11: keys must be a positive integer (distinct keys): '0'");
    catalog_err(JOB("  - name: g\n    source: datagen\n    seed: -1\n" PRINT("g")),
                "job.yaml:5:11: seed must be an integer in [0, 2^64): '-1'");
}
END_TEST

START_TEST(test_catalog_aggregates)
{
    static const char *const ops[] = {"sum", "min", "max", "avg"};
    char text[1024], e[512];

    for (int i = 0; i < 4; i++) {
        snprintf(text, sizeof(text),
                 JOB(CSV_SRC("\"k:string, j:int, n:int, x:double\"") "  - name: a\n"
                                                                     "    operator: %s\n"
                                                                     "    key-by: [k, j]\n"
                                                                     "    field: n\n" PRINT("a")),
                 ops[i]);
        sl_job_spec *job = parse(text, e, sizeof(e));
        ck_assert_msg(job != NULL, "%s", e);
        const sl_schema *out = &job->stages[1].out_schema;
        ck_assert_int_eq(out->nfields, 3);
        ck_assert_str_eq(out->names[0], "k");
        ck_assert_str_eq(out->names[1], "j");
        ck_assert_str_eq(out->names[2], ops[i]);
        ck_assert_int_eq(out->types[2], i == 3 ? SL_TYPE_DOUBLE : SL_TYPE_INT);
        sl_job_free(job);
    }
    catalog_err(JOB(CSV_SRC("\"k:string, x:double\"") "  - name: a\n    operator: sum\n"
                                                       "    key-by: k\n" PRINT("a")),
                "job.yaml:8:5: operator 'sum' requires 'field'");
    catalog_err(JOB(CSV_SRC("\"k:string, x:double\"") "  - name: a\n    operator: max\n"
                                                       "    key-by: k\n    field: k\n" PRINT("a")),
                "job.yaml:11:12: field 'k' is string, expected int or double");
    catalog_err(JOB(CSV_SRC("\"k:string, x:double\"") "  - name: a\n    operator: min\n"
                                                       "    key-by: k\n    field: y\n" PRINT("a")),
                "job.yaml:11:12: field 'y' does not exist in the input (numeric fields: x)");
    catalog_err(JOB(CSV_SRC("\"avg:string, x:double\"") "  - name: a\n    operator: avg\n"
                                                         "    key-by: avg\n    field: x\n"
                                                         PRINT("a")),
                "job.yaml:8:5: key field 'avg' clashes with the output field 'avg'");
    catalog_err(JOB(CSV_SRC("\"k:string, x:double\"") "  - name: a\n    operator: count\n"
                                                       "    key-by: k\n    field: x\n" PRINT("a")),
                "job.yaml:11:5: unknown parameter 'field' for operator 'count'");
}
END_TEST

START_TEST(test_catalog_sink)
{
    char e[512];
    sl_job_spec *job = parse(JOB(CSV_SRC("a:int") "  - name: o\n    sink: file\n"
                                                  "    path: /out\n    format: json\n"),
                             e, sizeof(e));

    ck_assert_msg(job != NULL, "%s", e);
    ck_assert_str_eq(sl_stage_param(&job->stages[1], "format"), "json");
    sl_job_free(job);
    catalog_err(JOB(CSV_SRC("a:int") "  - name: o\n    sink: file\n    path: /out\n"
                                     "    format: xml\n"),
                "job.yaml:11:13: unknown format 'xml' (expected csv or json)");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("io_formats");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_schema_parse);
    tcase_add_test(tc, test_schema_errors);
    tcase_add_test(tc, test_csv_record_end);
    tcase_add_test(tc, test_csv_parse);
    tcase_add_test(tc, test_csv_malformed);
    tcase_add_test(tc, test_json_parse);
    tcase_add_test(tc, test_json_malformed);
    tcase_add_test(tc, test_parse_unterminated);
    tcase_add_test(tc, test_json_format);
    tcase_add_test(tc, test_datagen_deterministic);
    tcase_add_test(tc, test_catalog_sources);
    tcase_add_test(tc, test_catalog_aggregates);
    tcase_add_test(tc, test_catalog_sink);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
