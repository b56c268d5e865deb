/* Fuzz target: expressions (common/expr*.c: lexer, parser, type check,
 * stack program), as `filter: where:` and `map: set:` compile them.
 *
 * Input: the expression text up to the first NUL (empty: none), compiled
 * against the schema "a:int, b:double, s:string, t:string"; a compiled
 * expression is evaluated on rows made of the bytes after the NUL (8 for
 * a, 8 for b, then the two strings split in the middle of what is left)
 * and on a few fixed rows. */
#include "fuzz/fuzz.h"

#include "common/bytes.h"
#include "common/expr.h"
#include "common/row.h"
#include "common/row_text.h"
#include "common/status.h"

static sl_schema schema;
static volatile uint8_t result_sum; /* keeps the reads of a string result */

static void setup(void)
{
    if (schema.nfields > 0)
        return;
    size_t off;
    char err[128];
    if (sl_schema_parse("a:int, b:double, s:string, t:string", &schema, &off, err,
                        sizeof(err)) != SL_OK)
        abort();
}

static void eval(sl_expr *e, const sl_row *row)
{
    if (sl_expr_type(e) == SL_EXPR_BOOL) {
        int b = -1;
        if (sl_expr_eval_bool(e, row, &b) == SL_OK)
            FUZZ_CHECK(b == 0 || b == 1);
        return;
    }
    sl_value v;
    if (sl_expr_eval(e, row, &v) == SL_OK) {
        FUZZ_CHECK((int)v.type == sl_expr_type(e));
        if (v.type == SL_TYPE_STRING) { /* every byte of the result is readable */
            for (uint32_t i = 0; i < v.u.s.len; i++)
                result_sum += (uint8_t)v.u.s.ptr[i];
        }
    }
}

static sl_row make_row(int64_t a, double b, const char *s, size_t sl, const char *t, size_t tl)
{
    sl_row r = {.nfields = 4};
    r.v[0] = (sl_value){.type = SL_TYPE_INT, .u.i = a};
    r.v[1] = (sl_value){.type = SL_TYPE_DOUBLE, .u.d = b};
    r.v[2] = (sl_value){.type = SL_TYPE_STRING, .u.s = {s, (uint32_t)sl}};
    r.v[3] = (sl_value){.type = SL_TYPE_STRING, .u.s = {t, (uint32_t)tl}};
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    const uint8_t *nul = memchr(data, '\0', size);
    size_t tlen = nul != NULL ? (size_t)(nul - data) : size;
    char *text = fuzz_strndup(data, tlen);
    sl_expr *e = NULL;
    sl_expr_error err;
    if (sl_expr_compile(text, &schema, &e, &err) != SL_OK) {
        free(text);
        return 0;
    }
    free(text);
    static const struct { int64_t a; double b; } fixed[] = {
        {0, 0.0}, {-1, -0.5}, {INT64_MIN, 1e308}, {INT64_MAX, -1e-308}, {7, 0.0 / 0.0}};
    for (size_t k = 0; k < sizeof(fixed) / sizeof(fixed[0]); k++) {
        sl_row r = make_row(fixed[k].a, fixed[k].b, "", 0, "abc", 3);
        eval(e, &r);
    }
    if (nul != NULL) {
        const uint8_t *p = nul + 1;
        size_t n = size - tlen - 1;
        if (n >= 16) {
            double b;
            uint64_t bits = sl_get_le64(p + 8);
            memcpy(&b, &bits, sizeof(b));
            size_t rest = n - 16, half = rest / 2;
            char *buf = malloc(rest + 1); /* strings in their own buffer */
            if (buf == NULL)
                abort();
            memcpy(buf, p + 16, rest);
            sl_row r = make_row((int64_t)sl_get_le64(p), b, buf, half, buf + half, rest - half);
            eval(e, &r);
            free(buf);
        }
    }
    sl_expr_free(e);
    return 0;
}
