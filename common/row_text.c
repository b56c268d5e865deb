/* Schemas as text and CSV records (row_text.h). */
#include "common/row_text.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/status.h"
#include "common/util.h"

#define NUM_MAX 128 /* longest number text accepted */

/* ---- schemas ---- */

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static int name_char(char c, int first)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
        return 1;
    return !first && ((c >= '0' && c <= '9') || c == '-' || c == '.');
}

static size_t skip_blanks(const char *s, size_t i)
{
    while (is_blank(s[i]))
        i++;
    return i;
}

static int type_of(const char *s, size_t n, sl_type *t)
{
    static const struct {
        const char *name;
        sl_type type;
    } types[] = {{"int", SL_TYPE_INT}, {"double", SL_TYPE_DOUBLE}, {"string", SL_TYPE_STRING}};

    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (strlen(types[i].name) == n && memcmp(types[i].name, s, n) == 0) {
            *t = types[i].type;
            return SL_OK;
        }
    }
    return SL_EINVAL;
}

/* One "name:type" entry at text[*pos]; *pos ends on the ',' or NUL after it. */
static int schema_entry(const char *text, size_t *pos, sl_schema *out, size_t *err_off,
                        char *err, size_t errlen)
{
    size_t i = skip_blanks(text, *pos), n0, n1, t0, t1;
    char name[256];
    sl_type type;
    int rv;

    n0 = i;
    while (name_char(text[i], i == n0))
        i++;
    n1 = i;
    *err_off = n0;
    if (n1 == n0 || n1 - n0 >= sizeof(name)) {
        sl_errf(err, errlen, "expected a field name (letters, digits, _ - .) at '%.20s'",
                text + n0);
        return SL_EINVAL;
    }
    i = skip_blanks(text, i);
    if (text[i] != ':') {
        *err_off = i;
        sl_errf(err, errlen, "expected ':' and a type after field name '%.*s'", (int)(n1 - n0),
                text + n0);
        return SL_EINVAL;
    }
    t0 = i = skip_blanks(text, i + 1);
    while (text[i] != '\0' && text[i] != ',' && !is_blank(text[i]))
        i++;
    t1 = i;
    i = skip_blanks(text, i);
    *err_off = t0;
    if (type_of(text + t0, t1 - t0, &type) != SL_OK || (text[i] != ',' && text[i] != '\0')) {
        sl_errf(err, errlen, "field '%.*s': unknown type '%.*s' (expected int, double or string)",
                (int)(n1 - n0), text + n0, (int)(i - t0), text + t0);
        return SL_EINVAL;
    }
    memcpy(name, text + n0, n1 - n0);
    name[n1 - n0] = '\0';
    *err_off = n0;
    rv = sl_schema_add(out, name, type);
    if (rv == SL_EEXIST)
        sl_errf(err, errlen, "field '%s' is named twice", name);
    else if (rv == SL_ENOSPC)
        sl_errf(err, errlen, "more than %d fields", SL_MAX_FIELDS);
    else if (rv != SL_OK)
        sl_errf(err, errlen, "%s", sl_strerror(rv));
    *pos = i;
    return rv == SL_ENOMEM ? rv : rv != SL_OK ? SL_EINVAL : SL_OK;
}

int sl_schema_parse(const char *text, sl_schema *out, size_t *err_off, char *err,
                    size_t errlen)
{
    size_t pos = 0, off = 0;
    int rv = SL_OK;

    if (text[skip_blanks(text, 0)] == '\0') {
        sl_errf(err, errlen, "the schema has no fields");
        rv = SL_EINVAL;
    }
    while (rv == SL_OK) {
        rv = schema_entry(text, &pos, out, &off, err, errlen);
        if (rv != SL_OK || text[pos] == '\0')
            break;
        pos++; /* the ',' */
    }
    if (rv != SL_OK) {
        sl_schema_clear(out);
        if (err_off != NULL)
            *err_off = off;
    }
    return rv;
}

/* ---- CSV ---- */

/* Scanner states (see sl_csv_record_end). */
enum { CSV_FIELD_START = 0, CSV_UNQUOTED, CSV_QUOTED, CSV_QUOTE_IN_QUOTED };

static int csv_step(int st, char c)
{
    switch (st) {
    case CSV_FIELD_START:
        return c == '"' ? CSV_QUOTED : c == ',' ? CSV_FIELD_START : CSV_UNQUOTED;
    case CSV_UNQUOTED: return c == ',' ? CSV_FIELD_START : CSV_UNQUOTED;
    case CSV_QUOTED: return c == '"' ? CSV_QUOTE_IN_QUOTED : CSV_QUOTED;
    default: /* a quote inside quotes: doubled, or the closing one */
        return c == '"' ? CSV_QUOTED : c == ',' ? CSV_FIELD_START : CSV_UNQUOTED;
    }
}

int sl_csv_record_end(const char *p, size_t n, int *state, size_t *end)
{
    int st = *state;

    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n' && st != CSV_QUOTED) {
            *state = CSV_FIELD_START;
            *end = i;
            return 1;
        }
        st = csv_step(st, p[i]);
    }
    *state = st;
    return 0;
}

int sl_text_parse_int(const char *s, size_t n, int64_t *out)
{
    uint64_t v = 0, limit = (uint64_t)INT64_MAX;
    size_t i = 0;
    int neg = 0;

    if (n > 0 && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        i++;
    }
    if (i == n)
        return SL_EINVAL;
    if (neg)
        limit++;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return SL_EINVAL;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (limit - d) / 10)
            return SL_EINVAL;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return SL_OK;
}

/* Whether s[0..n) holds only the characters of a decimal double; reads
 * exactly n bytes (s need not be terminated). */
static int double_chars(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (memchr("0123456789+-.eE", s[i], 15) == NULL)
            return 0;
    }
    return 1;
}

int sl_text_parse_double(const char *s, size_t n, double *out)
{
    char tmp[NUM_MAX + 1];
    char *end = NULL;

    if (n == 0 || n > NUM_MAX || !double_chars(s, n))
        return SL_EINVAL;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    errno = 0;
    *out = strtod(tmp, &end);
    if (end != tmp + n || (errno == ERANGE && (*out > 1.0 || *out < -1.0)))
        return SL_EINVAL;
    return SL_OK;
}

/* Converts field text s[0..n) to a value of type t. */
static int csv_value(const char *s, size_t n, sl_type t, sl_value *v)
{
    v->type = t;
    if (t == SL_TYPE_STRING) {
        v->u.s.ptr = s;
        v->u.s.len = (uint32_t)n;
        return SL_OK;
    }
    while (n > 0 && is_blank(s[0])) {
        s++;
        n--;
    }
    while (n > 0 && is_blank(s[n - 1]))
        n--;
    if (t == SL_TYPE_INT)
        return sl_text_parse_int(s, n, &v->u.i);
    return sl_text_parse_double(s, n, &v->u.d);
}

/* A quoted field starting at p[*pos] == '"', unquoted into scratch; *pos
 * ends after the closing quote. */
static int csv_quoted(const char *p, size_t n, size_t *pos, char *scratch, size_t *len)
{
    size_t i = *pos + 1, k = 0;

    for (;;) {
        if (i >= n)
            return SL_EINVAL;
        if (p[i] == '"') {
            if (i + 1 < n && p[i + 1] == '"') {
                scratch[k++] = '"';
                i += 2;
                continue;
            }
            break;
        }
        scratch[k++] = p[i++];
    }
    *pos = i + 1;
    *len = k;
    return SL_OK;
}

/* Up to 40 bytes of text for a message, control characters as '?'. */
static void excerpt(const char *text, size_t n, char *out, size_t cap)
{
    size_t k = 0;

    for (size_t i = 0; i < n && i < 40 && k + 4 < cap; i++)
        out[k++] = (unsigned char)text[i] < 0x20 ? '?' : text[i];
    if (n > 40 && k + 4 <= cap) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
}

static void csv_bad_value(const sl_schema *s, int f, const char *text, size_t n, char *err,
                          size_t errlen)
{
    char ex[48];

    excerpt(text, n, ex, sizeof(ex));
    sl_errf(err, errlen, "field %d (%s): '%s' is not %s %s", f + 1, s->names[f], ex,
            s->types[f] == SL_TYPE_INT ? "an" : "a", sl_type_name(s->types[f]));
}

int sl_csv_parse_record(const char *p, size_t n, const sl_schema *schema, sl_row *row,
                        char *scratch, char *err, size_t errlen)
{
    size_t pos = 0;
    int f = 0;

    for (;; f++) {
        const char *text;
        size_t len;

        if (f >= schema->nfields) {
            sl_errf(err, errlen, "more than %d fields", schema->nfields);
            return SL_EINVAL;
        }
        if (pos < n && p[pos] == '"') {
            text = scratch;
            if (csv_quoted(p, n, &pos, scratch, &len) != SL_OK) {
                sl_errf(err, errlen, "field %d: quoted field does not end", f + 1);
                return SL_EINVAL;
            }
            scratch += len;
            if (pos < n && p[pos] != ',') {
                sl_errf(err, errlen, "field %d: '%c' after the closing quote", f + 1, p[pos]);
                return SL_EINVAL;
            }
        } else {
            text = p + pos;
            while (pos < n && p[pos] != ',' && p[pos] != '"')
                pos++;
            len = (size_t)(p + pos - text);
            if (pos < n && p[pos] == '"') {
                sl_errf(err, errlen, "field %d: quote inside an unquoted field", f + 1);
                return SL_EINVAL;
            }
        }
        if (csv_value(text, len, schema->types[f], &row->v[f]) != SL_OK) {
            csv_bad_value(schema, f, text, len, err, errlen);
            return SL_EINVAL;
        }
        if (pos >= n)
            break;
        pos++; /* the ',' */
    }
    if (f + 1 != schema->nfields) {
        sl_errf(err, errlen, "%d field%s, expected %d", f + 1, f == 0 ? "" : "s",
                schema->nfields);
        return SL_EINVAL;
    }
    row->nfields = schema->nfields;
    return SL_OK;
}
