/* Rows: schemas, the binary wire form, varints and CSV text.
 *
 * Encode, decode and the formatters run once per record, so they never
 * allocate and check every length against the buffer before touching it. */
#include "common/row.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/status.h"

#define SL_VARINT_MAX 10 /* ceil(64 / 7) */

/* ---- schema ---------------------------------------------------------- */

static int type_valid(sl_type t)
{
    return t == SL_TYPE_INT || t == SL_TYPE_DOUBLE || t == SL_TYPE_STRING;
}

int sl_schema_add(sl_schema *s, const char *name, sl_type type)
{
    char *copy;

    if (s == NULL || name == NULL || !type_valid(type)) {
        return SL_EINVAL;
    }
    if (s->nfields >= SL_MAX_FIELDS) {
        return SL_ENOSPC;
    }
    if (sl_schema_find(s, name) >= 0) {
        return SL_EEXIST;
    }
    if ((copy = strdup(name)) == NULL) {
        return SL_ENOMEM;
    }
    s->names[s->nfields] = copy;
    s->types[s->nfields] = type;
    s->nfields++;
    return SL_OK;
}

int sl_schema_find(const sl_schema *s, const char *name)
{
    if (s == NULL || name == NULL) {
        return -1;
    }
    for (int i = 0; i < s->nfields; i++) {
        if (strcmp(s->names[i], name) == 0) {
            return i;
        }
    }
    return -1;
}

void sl_schema_clear(sl_schema *s)
{
    if (s == NULL) {
        return;
    }
    for (int i = 0; i < s->nfields; i++) {
        free(s->names[i]);
        s->names[i] = NULL;
    }
    s->nfields = 0;
}

int sl_schema_copy(const sl_schema *src, sl_schema *dst)
{
    int rv;

    if (src == NULL || dst == NULL) {
        return SL_EINVAL;
    }
    if (src == dst) {
        return SL_OK;
    }
    dst->nfields = 0;
    for (int i = 0; i < src->nfields; i++) {
        if ((rv = sl_schema_add(dst, src->names[i], src->types[i])) != SL_OK) {
            sl_schema_clear(dst);
            return rv;
        }
    }
    return SL_OK;
}

const char *sl_type_name(sl_type t)
{
    switch (t) {
    case SL_TYPE_INT: return "int";
    case SL_TYPE_DOUBLE: return "double";
    case SL_TYPE_STRING: return "string";
    }
    return "unknown";
}

/* ---- varints ----------------------------------------------------------- */

size_t sl_varint_put(uint8_t *buf, uint64_t v)
{
    size_t n = 0;

    while (v >= 0x80) {
        buf[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    buf[n++] = (uint8_t)v;
    return n;
}

int sl_varint_get(const uint8_t *buf, size_t len, uint64_t *v, size_t *used)
{
    size_t max = len < SL_VARINT_MAX ? len : SL_VARINT_MAX;
    uint64_t r = 0;

    if (len > 0 && buf[0] < 0x80) { /* one-byte fast path */
        *v = buf[0];
        *used = 1;
        return SL_OK;
    }
    for (size_t i = 0; i < max; i++) {
        uint8_t b = buf[i];
        r |= (uint64_t)(b & 0x7f) << (7 * i);
        if (b & 0x80) {
            continue;
        }
        /* The last byte may not be zero (not minimal) nor carry bits
         * above bit 63. */
        if (b == 0 || (i == SL_VARINT_MAX - 1 && b > 1)) {
            return SL_EINVAL;
        }
        *v = r;
        *used = i + 1;
        return SL_OK;
    }
    return SL_EINVAL; /* truncated, or longer than 10 bytes */
}

static uint64_t zigzag(int64_t n)
{
    return ((uint64_t)n << 1) ^ (0 - ((uint64_t)n >> 63));
}

static int64_t unzigzag(uint64_t z)
{
    return (int64_t)((z >> 1) ^ (0 - (z & 1)));
}

/* ---- encode -------------------------------------------------------------- */

static void put_le64(uint8_t *p, uint64_t x)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(x >> (8 * i));
    }
}

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t x = 0;

    for (int i = 0; i < 8; i++) {
        x |= (uint64_t)p[i] << (8 * i);
    }
    return x;
}

/* Writes tag + varint at buf[*pos]. */
static int put_tagged_varint(uint8_t *buf, size_t cap, size_t *pos, uint8_t tag, uint64_t x)
{
    uint8_t tmp[1 + SL_VARINT_MAX];
    size_t n;

    if (cap - *pos >= sizeof(tmp)) {
        buf[*pos] = tag;
        *pos += 1 + sl_varint_put(buf + *pos + 1, x);
        return SL_OK;
    }
    tmp[0] = tag;
    n = 1 + sl_varint_put(tmp + 1, x);
    if (cap - *pos < n) {
        return SL_ENOSPC;
    }
    memcpy(buf + *pos, tmp, n);
    *pos += n;
    return SL_OK;
}

static int encode_double(double d, uint8_t *buf, size_t cap, size_t *pos)
{
    uint64_t bits;

    if (cap - *pos < 9) {
        return SL_ENOSPC;
    }
    memcpy(&bits, &d, sizeof(bits));
    buf[*pos] = SL_TYPE_DOUBLE;
    put_le64(buf + *pos + 1, bits);
    *pos += 9;
    return SL_OK;
}

static int encode_string(const sl_value *v, uint8_t *buf, size_t cap, size_t *pos)
{
    uint32_t len = v->u.s.len;
    int rv;

    if (len > SL_MAX_STRING || (len > 0 && v->u.s.ptr == NULL)) {
        return SL_EINVAL;
    }
    if ((rv = put_tagged_varint(buf, cap, pos, SL_TYPE_STRING, len)) != SL_OK) {
        return rv;
    }
    if (cap - *pos < len) {
        return SL_ENOSPC;
    }
    if (len > 0) {
        memcpy(buf + *pos, v->u.s.ptr, len);
    }
    *pos += len;
    return SL_OK;
}

static int encode_value(const sl_value *v, uint8_t *buf, size_t cap, size_t *pos)
{
    switch (v->type) {
    case SL_TYPE_INT: return put_tagged_varint(buf, cap, pos, SL_TYPE_INT, zigzag(v->u.i));
    case SL_TYPE_DOUBLE: return encode_double(v->u.d, buf, cap, pos);
    case SL_TYPE_STRING: return encode_string(v, buf, cap, pos);
    }
    return SL_EINVAL;
}

int sl_row_encode(const sl_row *row, uint8_t *buf, size_t cap, size_t *used)
{
    size_t pos = 1;
    int rv;

    if (row == NULL || buf == NULL || used == NULL || row->nfields < 0 ||
        row->nfields > SL_MAX_FIELDS) {
        return SL_EINVAL;
    }
    if (cap < 1) {
        return SL_ENOSPC;
    }
    buf[0] = (uint8_t)row->nfields;
    for (int i = 0; i < row->nfields; i++) {
        if ((rv = encode_value(&row->v[i], buf, cap, &pos)) != SL_OK) {
            return rv;
        }
    }
    *used = pos;
    return SL_OK;
}

/* ---- decode -------------------------------------------------------------- */

static int decode_value(const uint8_t *buf, size_t len, size_t *pos, sl_value *v)
{
    uint64_t x;
    size_t n;

    if (*pos >= len) {
        return SL_EINVAL;
    }
    switch (buf[(*pos)++]) {
    case SL_TYPE_INT:
        if (sl_varint_get(buf + *pos, len - *pos, &x, &n) != SL_OK) {
            return SL_EINVAL;
        }
        v->type = SL_TYPE_INT;
        v->u.i = unzigzag(x);
        *pos += n;
        return SL_OK;
    case SL_TYPE_DOUBLE:
        if (len - *pos < 8) {
            return SL_EINVAL;
        }
        x = get_le64(buf + *pos);
        v->type = SL_TYPE_DOUBLE;
        memcpy(&v->u.d, &x, sizeof(x));
        *pos += 8;
        return SL_OK;
    case SL_TYPE_STRING:
        if (sl_varint_get(buf + *pos, len - *pos, &x, &n) != SL_OK || x > SL_MAX_STRING ||
            x > len - *pos - n) {
            return SL_EINVAL;
        }
        *pos += n;
        v->type = SL_TYPE_STRING;
        v->u.s.ptr = (const char *)buf + *pos;
        v->u.s.len = (uint32_t)x;
        *pos += (size_t)x;
        return SL_OK;
    }
    return SL_EINVAL; /* unknown type tag */
}

int sl_row_decode(const uint8_t *buf, size_t len, sl_row *row, size_t *used)
{
    size_t pos = 1;
    int nfields;

    if (buf == NULL || row == NULL || used == NULL || len < 1 || buf[0] > SL_MAX_FIELDS) {
        return SL_EINVAL;
    }
    nfields = buf[0];
    for (int i = 0; i < nfields; i++) {
        if (decode_value(buf, len, &pos, &row->v[i]) != SL_OK) {
            return SL_EINVAL;
        }
    }
    row->nfields = nfields;
    *used = pos;
    return SL_OK;
}

/* ---- text ---------------------------------------------------------------- */

/* Copies the n bytes of s plus a NUL if cap allows; returns n or -1. */
static int put_text(char *out, size_t cap, const char *s, size_t n)
{
    if (out == NULL || n >= cap || n > (size_t)INT32_MAX) {
        return -1;
    }
    if (n > 0) {
        memcpy(out, s, n);
    }
    out[n] = '\0';
    return (int)n;
}

/* Decimal text of x into the end of tmp[0..24); returns the start. */
static char *int_digits(int64_t x, char tmp[24])
{
    uint64_t u = x < 0 ? 0 - (uint64_t)x : (uint64_t)x;
    char *p = tmp + 24;

    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (x < 0) {
        *--p = '-';
    }
    return p;
}

static int format_int(int64_t x, char *out, size_t cap)
{
    char tmp[24];
    char *p = int_digits(x, tmp);

    return put_text(out, cap, p, (size_t)(tmp + 24 - p));
}

/* Writes d with prec significant digits into tmp; true if it reads back. */
static int round_trips(double d, int prec, char tmp[40])
{
    snprintf(tmp, 40, "%.*e", prec - 1, d);
    return strtod(tmp, NULL) == d;
}

/* Shortest significant digits of a finite non-zero d that read back to d:
 * digits (no sign, no point) into dig, *ndig of them, and the decimal
 * exponent of the first digit into *exp10.
 *
 * The answer is the first precision 1..17 that round-trips. For a normal
 * double that search is done in at most three steps: a p-digit decimal that
 * reads back lies within half an ulp (< 1.2e-16 |d|) of d, which is closer
 * than half the 15-digit spacing (>= 5e-16 |d|), so it is also the 15-digit
 * rounding. Hence if 15 digits round-trip, the shortest form is those
 * digits without trailing zeros; if not, it is 16 or 17 digits. Subnormals
 * (coarser ulps) take the plain search. */
static void shortest_digits(double d, char dig[20], int *ndig, int *exp10)
{
    char tmp[40];
    const char *p;
    int n = 0;

    if (fabs(d) >= DBL_MIN) {
        if (!round_trips(d, 15, tmp) && !round_trips(d, 16, tmp)) {
            (void)round_trips(d, 17, tmp);
        }
    } else {
        for (int prec = 1; prec <= 17 && !round_trips(d, prec, tmp); prec++) {
        }
    }
    /* tmp is "[-]d[.ddd]e[+-]xx": collect the digits up to 'e'. */
    for (p = tmp; *p != 'e'; p++) {
        if (*p >= '0' && *p <= '9') {
            dig[n++] = *p;
        }
    }
    while (n > 1 && dig[n - 1] == '0') {
        n--;
    }
    *ndig = n;
    *exp10 = atoi(p + 1);
}

/* Lays out digits the way ECMAScript's Number::toString does: plain
 * notation for 1e-6 <= |d| < 1e21, else d[.ddd]e+x / e-x. */
static size_t layout(int neg, const char *dig, int k, int exp10, char *o)
{
    int n = exp10 + 1; /* digits before the point */
    size_t len = 0;

    if (neg) {
        o[len++] = '-';
    }
    if (k <= n && n <= 21) {
        memcpy(o + len, dig, (size_t)k);
        len += (size_t)k;
        memset(o + len, '0', (size_t)(n - k));
        return len + (size_t)(n - k);
    }
    if (0 < n && n <= 21) {
        memcpy(o + len, dig, (size_t)n);
        len += (size_t)n;
        o[len++] = '.';
        memcpy(o + len, dig + n, (size_t)(k - n));
        return len + (size_t)(k - n);
    }
    if (-6 < n && n <= 0) {
        o[len++] = '0';
        o[len++] = '.';
        memset(o + len, '0', (size_t)-n);
        len += (size_t)-n;
        memcpy(o + len, dig, (size_t)k);
        return len + (size_t)k;
    }
    o[len++] = dig[0];
    if (k > 1) {
        o[len++] = '.';
        memcpy(o + len, dig + 1, (size_t)(k - 1));
        len += (size_t)(k - 1);
    }
    return len + (size_t)sprintf(o + len, "e%c%d", n - 1 < 0 ? '-' : '+', abs(n - 1));
}

int sl_format_double(double d, char *out, size_t cap)
{
    char dig[20], tmp[40];
    int k, exp10;

    if (isnan(d)) {
        return put_text(out, cap, "NaN", 3);
    }
    if (isinf(d)) {
        return d < 0 ? put_text(out, cap, "-Infinity", 9) : put_text(out, cap, "Infinity", 8);
    }
    if (d == 0) {
        return signbit(d) ? put_text(out, cap, "-0", 2) : put_text(out, cap, "0", 1);
    }
    /* Below 2^53 an integral double's own digits are its shortest form. */
    if (fabs(d) < 9007199254740992.0 && d == (double)(int64_t)d) {
        return format_int((int64_t)d, out, cap);
    }
    shortest_digits(d, dig, &k, &exp10);
    return put_text(out, cap, tmp, layout(signbit(d), dig, k, exp10, tmp));
}

/* Per byte: 1 if it forces quotes (, CR LF), 3 for the double quote (forces
 * quotes and is doubled), else 0. */
static const uint8_t csv_class[256] = {['"'] = 3, [','] = 1, ['\r'] = 1, ['\n'] = 1};

/* A string needs quotes if it holds , " CR LF or starts/ends with a space;
 * *nquote counts the double quotes to double. */
static int csv_needs_quotes(const char *s, size_t len, size_t *nquote)
{
    unsigned need = len > 0 && (s[0] == ' ' || s[len - 1] == ' ');
    size_t q = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned c = csv_class[(uint8_t)s[i]];
        need |= c;
        q += c >> 1;
    }
    *nquote = q;
    return need != 0;
}

static int format_csv_string(const char *s, size_t len, char *out, size_t cap)
{
    size_t nq, total, o = 0;

    if (!csv_needs_quotes(s, len, &nq)) {
        return put_text(out, cap, s, len);
    }
    total = len + nq + 2;
    if (total >= cap || total > (size_t)INT32_MAX) {
        return -1;
    }
    out[o++] = '"';
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"') {
            out[o++] = '"';
        }
        out[o++] = s[i];
    }
    out[o++] = '"';
    out[o] = '\0';
    return (int)o;
}

int sl_value_format_csv(const sl_value *v, char *out, size_t cap)
{
    if (v == NULL || out == NULL) {
        return -1;
    }
    switch (v->type) {
    case SL_TYPE_INT: return format_int(v->u.i, out, cap);
    case SL_TYPE_DOUBLE: return sl_format_double(v->u.d, out, cap);
    case SL_TYPE_STRING:
        if (v->u.s.len > 0 && v->u.s.ptr == NULL) {
            return -1;
        }
        return format_csv_string(v->u.s.ptr, v->u.s.len, out, cap);
    }
    return -1;
}
