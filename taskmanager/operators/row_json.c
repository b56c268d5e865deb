/* JSON lines: one object per line into a row, and a row out as one object
 * (row_text.h). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/row_text.h"
#include "taskmanager/operators/row_json.h"
#include "common/status.h"
#include "common/util.h"

#define MAX_DEPTH 64

typedef struct jparse {
    const char *p;
    size_t n, i;
    char *scratch; /* decoded strings go here, never more than n bytes in all */
    char *err;
    size_t errlen;
} jparse;

static int jfail(jparse *j, const char *what)
{
    sl_errf(j->err, j->errlen, "column %zu: %s", j->i + 1, what);
    return SL_EINVAL;
}

static void ws(jparse *j)
{
    while (j->i < j->n && (j->p[j->i] == ' ' || j->p[j->i] == '\t' || j->p[j->i] == '\r' ||
                           j->p[j->i] == '\n'))
        j->i++;
}

static int peek(const jparse *j)
{
    return j->i < j->n ? (unsigned char)j->p[j->i] : -1;
}

static int hex4(jparse *j, unsigned *out)
{
    unsigned v = 0;

    if (j->n - j->i < 4)
        return jfail(j, "truncated \\u escape");
    for (int k = 0; k < 4; k++) {
        char c = j->p[j->i++];
        int d = c >= '0' && c <= '9' ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return jfail(j, "bad hex digit in \\u escape");
        v = v * 16 + (unsigned)d;
    }
    *out = v;
    return SL_OK;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* \uXXXX (after the backslash and u), a surrogate pair joined. */
static int unicode_escape(jparse *j, char *o, size_t *len)
{
    unsigned cp, lo;
    int rv = hex4(j, &cp);

    if (rv != SL_OK)
        return rv;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return jfail(j, "lone low surrogate in \\u escape");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (j->n - j->i < 2 || j->p[j->i] != '\\' || j->p[j->i + 1] != 'u')
            return jfail(j, "high surrogate without a low one in \\u escape");
        j->i += 2;
        if ((rv = hex4(j, &lo)) != SL_OK)
            return rv;
        if (lo < 0xDC00 || lo > 0xDFFF)
            return jfail(j, "high surrogate without a low one in \\u escape");
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    *len = put_utf8(o, cp);
    return SL_OK;
}

/* A string at p[i] == '"', decoded into the scratch space (*s, *len). */
static int jstring(jparse *j, const char **s, size_t *len)
{
    static const char esc_in[] = "\"\\/bfnrt", esc_out[] = "\"\\/\b\f\n\r\t";
    char *o = j->scratch;
    size_t k = 0, w;
    int rv;

    j->i++;
    for (;;) {
        if (j->i >= j->n)
            return jfail(j, "string does not end");
        unsigned char c = (unsigned char)j->p[j->i];
        if (c == '"')
            break;
        if (c < 0x20)
            return jfail(j, "control character in a string");
        j->i++;
        if (c != '\\') {
            o[k++] = (char)c;
            continue;
        }
        const char *e = j->i < j->n ? strchr(esc_in, j->p[j->i]) : NULL;
        if (j->i < j->n && j->p[j->i] == 'u') {
            j->i++;
            if ((rv = unicode_escape(j, o + k, &w)) != SL_OK)
                return rv;
            k += w;
        } else if (e != NULL && *e != '\0') {
            o[k++] = esc_out[e - esc_in];
            j->i++;
        } else {
            return jfail(j, "bad escape in a string");
        }
    }
    j->i++;
    j->scratch += k;
    *s = o;
    *len = k;
    return SL_OK;
}

static size_t digits(const jparse *j, size_t i)
{
    while (i < j->n && j->p[i] >= '0' && j->p[i] <= '9')
        i++;
    return i;
}

/* A number (RFC 8259 grammar); *is_int: no fraction and no exponent. */
static int jnumber(jparse *j, const char **s, size_t *len, int *is_int)
{
    size_t i = j->i, d;

    *is_int = 1;
    if (i < j->n && j->p[i] == '-')
        i++;
    d = digits(j, i);
    if (d == i || (j->p[i] == '0' && d > i + 1))
        return jfail(j, "bad number");
    i = d;
    if (i < j->n && j->p[i] == '.') {
        d = digits(j, i + 1);
        if (d == i + 1)
            return jfail(j, "bad number");
        i = d;
        *is_int = 0;
    }
    if (i < j->n && (j->p[i] == 'e' || j->p[i] == 'E')) {
        i++;
        if (i < j->n && (j->p[i] == '+' || j->p[i] == '-'))
            i++;
        d = digits(j, i);
        if (d == i)
            return jfail(j, "bad number");
        i = d;
        *is_int = 0;
    }
    *s = j->p + j->i;
    *len = i - j->i;
    j->i = i;
    return SL_OK;
}

static int literal(jparse *j)
{
    static const char *const words[] = {"true", "false", "null"};

    for (size_t k = 0; k < 3; k++) {
        size_t wl = strlen(words[k]);
        if (j->n - j->i >= wl && memcmp(j->p + j->i, words[k], wl) == 0) {
            j->i += wl;
            return SL_OK;
        }
    }
    return jfail(j, "expected a value");
}

static int skip_value(jparse *j, int depth);

/* An object or array at p[i] (its opening bracket), checked and skipped. */
static int skip_container(jparse *j, int depth)
{
    char close = j->p[j->i] == '{' ? '}' : ']';
    const char *s;
    size_t len;
    int rv;

    if (depth >= MAX_DEPTH)
        return jfail(j, "nested too deeply");
    j->i++;
    ws(j);
    if (peek(j) == close) {
        j->i++;
        return SL_OK;
    }
    for (;;) {
        if (close == '}') {
            if (peek(j) != '"')
                return jfail(j, "expected a member name");
            if ((rv = jstring(j, &s, &len)) != SL_OK)
                return rv;
            ws(j);
            if (peek(j) != ':')
                return jfail(j, "expected ':'");
            j->i++;
        }
        if ((rv = skip_value(j, depth + 1)) != SL_OK)
            return rv;
        ws(j);
        if (peek(j) == close) {
            j->i++;
            return SL_OK;
        }
        if (peek(j) != ',')
            return jfail(j, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
        j->i++;
        ws(j);
    }
}

static int skip_value(jparse *j, int depth)
{
    const char *s;
    size_t len;
    int is_int;

    ws(j);
    switch (peek(j)) {
    case '"': return jstring(j, &s, &len);
    case '{':
    case '[': return skip_container(j, depth);
    case '-':
    case '0' ... '9': return jnumber(j, &s, &len, &is_int);
    default: return literal(j);
    }
}

/* The value of schema field f at p[i]. */
static int field_value(jparse *j, const sl_schema *schema, int f, sl_value *v)
{
    const char *s;
    size_t len;
    int is_int, rv, c = peek(j);
    char what[320];

    v->type = schema->types[f];
    if (v->type == SL_TYPE_STRING && c == '"') {
        if ((rv = jstring(j, &s, &len)) != SL_OK)
            return rv;
        v->u.s.ptr = s;
        v->u.s.len = (uint32_t)len;
        return SL_OK;
    }
    if (v->type != SL_TYPE_STRING && (c == '-' || (c >= '0' && c <= '9'))) {
        if ((rv = jnumber(j, &s, &len, &is_int)) != SL_OK)
            return rv;
        if (v->type == SL_TYPE_DOUBLE && sl_text_parse_double(s, len, &v->u.d) == SL_OK)
            return SL_OK;
        if (v->type == SL_TYPE_INT && is_int && sl_text_parse_int(s, len, &v->u.i) == SL_OK)
            return SL_OK;
        snprintf(what, sizeof(what), "field '%s': %.*s is not %s %s", schema->names[f],
                 len > 40 ? 40 : (int)len, s, v->type == SL_TYPE_INT ? "a 64-bit" : "a",
                 sl_type_name(v->type));
        return jfail(j, what);
    }
    snprintf(what, sizeof(what), "field '%s': expected %s%s", schema->names[f],
             v->type == SL_TYPE_STRING ? "a string" : "a number",
             c == 't' || c == 'f' ? " (booleans are not supported)"
             : c == 'n'           ? " (null is not supported)"
                                  : "");
    return jfail(j, what);
}

/* One member "name": value of the top-level object. */
static int member(jparse *j, const sl_schema *schema, sl_row *row, uint64_t *seen)
{
    const char *name;
    size_t len;
    char key[256];
    int rv, f = -1;

    if (peek(j) != '"')
        return jfail(j, "expected a member name");
    if ((rv = jstring(j, &name, &len)) != SL_OK)
        return rv;
    ws(j);
    if (peek(j) != ':')
        return jfail(j, "expected ':'");
    j->i++;
    ws(j);
    if (len < sizeof(key) && memchr(name, '\0', len) == NULL) {
        memcpy(key, name, len);
        key[len] = '\0';
        f = sl_schema_find(schema, key);
    }
    if (f < 0)
        return skip_value(j, 1);
    if (*seen & (UINT64_C(1) << f)) {
        snprintf(key, sizeof(key), "field '%s' appears twice", schema->names[f]);
        return jfail(j, key);
    }
    *seen |= UINT64_C(1) << f;
    return field_value(j, schema, f, &row->v[f]);
}

int sl_json_parse_line(const char *p, size_t n, const sl_schema *schema, sl_row *row,
                       char *scratch, char *err, size_t errlen)
{
    jparse j = {.p = p, .n = n, .scratch = scratch, .err = err, .errlen = errlen};
    uint64_t seen = 0;
    int rv;

    ws(&j);
    if (peek(&j) != '{')
        return jfail(&j, "expected a JSON object");
    j.i++;
    ws(&j);
    while (peek(&j) != '}') {
        if ((rv = member(&j, schema, row, &seen)) != SL_OK)
            return rv;
        ws(&j);
        if (peek(&j) == '}')
            break;
        if (peek(&j) != ',')
            return jfail(&j, "expected ',' or '}'");
        j.i++;
        ws(&j);
        if (peek(&j) == '}')
            return jfail(&j, "expected a member name");
    }
    j.i++;
    ws(&j);
    if (j.i < j.n)
        return jfail(&j, "text after the object");
    for (int f = 0; f < schema->nfields; f++) {
        if (!(seen & (UINT64_C(1) << f))) {
            sl_errf(err, errlen, "field '%s' is missing", schema->names[f]);
            return SL_EINVAL;
        }
    }
    row->nfields = schema->nfields;
    return SL_OK;
}

/* ---- formatting ---- */

typedef struct jout {
    char *p;
    size_t cap, len;
    int full;
} jout;

static void put(jout *o, const char *s, size_t n)
{
    if (o->full || o->cap - o->len <= n) {
        o->full = 1;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void put_string(jout *o, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;

    put(o, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char e[6] = {'\\', 0, '0', '0', 0, 0};
        size_t elen = 2;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put(o, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': e[1] = '"'; break;
        case '\\': e[1] = '\\'; break;
        case '\b': e[1] = 'b'; break;
        case '\f': e[1] = 'f'; break;
        case '\n': e[1] = 'n'; break;
        case '\r': e[1] = 'r'; break;
        case '\t': e[1] = 't'; break;
        default:
            e[1] = 'u';
            e[4] = hex[c >> 4];
            e[5] = hex[c & 15];
            elen = 6;
        }
        put(o, e, elen);
    }
    put(o, s + run, n - run);
    put(o, "\"", 1);
}

static void put_value(jout *o, const sl_value *v)
{
    char num[32];
    int w;

    switch (v->type) {
    case SL_TYPE_INT:
        w = snprintf(num, sizeof(num), "%lld", (long long)v->u.i);
        put(o, num, (size_t)w);
        break;
    case SL_TYPE_DOUBLE:
        if (!isfinite(v->u.d)) {
            put(o, "null", 4);
            break;
        }
        w = sl_format_double(v->u.d, num, sizeof(num));
        put(o, num, w < 0 ? 0 : (size_t)w);
        break;
    case SL_TYPE_STRING: put_string(o, v->u.s.ptr, v->u.s.len); break;
    default: o->full = 1;
    }
}

int sl_row_format_json(const sl_row *row, const sl_schema *schema, char *out, size_t cap)
{
    jout o = {.p = out, .cap = cap};

    if (cap == 0 || row->nfields != schema->nfields)
        return -1;
    put(&o, "{", 1);
    for (int i = 0; i < row->nfields; i++) {
        if (i > 0)
            put(&o, ",", 1);
        put_string(&o, schema->names[i], strlen(schema->names[i]));
        put(&o, ":", 1);
        put_value(&o, &row->v[i]);
    }
    put(&o, "}", 1);
    if (o.full)
        return -1;
    out[o.len] = '\0';
    return (int)o.len;
}
