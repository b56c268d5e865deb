/* Configuration value parsing: text to a typed value for a key-table row
 * (integers, durations, sizes, booleans, enums, paths, doubles), range
 * checks and the "expected ..." texts of bad-value messages, file:// URIs,
 * and UTF-8 checks. */
#include "common/config_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/status.h"

/* ------------------------------------------------------------ text parsers */

struct unit {
    const char *name;
    int64_t mult;
};

static const struct unit duration_units[] = {
    {"ms", 1}, {"milli", 1}, {"millis", 1}, {"millisecond", 1}, {"milliseconds", 1},
    {"s", 1000}, {"sec", 1000}, {"secs", 1000}, {"second", 1000}, {"seconds", 1000},
    {"m", 60000}, {"min", 60000}, {"mins", 60000}, {"minute", 60000}, {"minutes", 60000},
    {"h", 3600000}, {"hour", 3600000}, {"hours", 3600000},
    {"d", 86400000}, {"day", 86400000}, {"days", 86400000}, {NULL, 0}};
static const struct unit duration_display[] = {
    {"d", 86400000}, {"h", 3600000}, {"min", 60000}, {"s", 1000}, {"ms", 1}, {NULL, 0}};

#define KIB 1024LL
static const struct unit size_units[] = {
    {"b", 1}, {"bytes", 1},
    {"k", KIB}, {"kb", KIB}, {"kib", KIB}, {"kibibytes", KIB},
    {"m", KIB * KIB}, {"mb", KIB * KIB}, {"mib", KIB * KIB}, {"mebibytes", KIB * KIB},
    {"g", KIB * KIB * KIB}, {"gb", KIB * KIB * KIB}, {"gib", KIB * KIB * KIB},
    {"gibibytes", KIB * KIB * KIB},
    {"t", KIB * KIB * KIB * KIB}, {"tb", KIB * KIB * KIB * KIB},
    {"tib", KIB * KIB * KIB * KIB}, {"tebibytes", KIB * KIB * KIB * KIB}, {NULL, 0}};
static const struct unit size_display[] = {
    {"tb", KIB * KIB * KIB * KIB}, {"gb", KIB * KIB * KIB}, {"mb", KIB * KIB}, {"kb", KIB},
    {NULL, 0}};

static const char *skip_space(const char *p)
{
    while (isspace((unsigned char)*p))
        p++;
    return p;
}

static int find_unit(const struct unit *units, const char *name, size_t len, int64_t *mult)
{
    for (const struct unit *u = units; u->name; u++) {
        if (strlen(u->name) == len && strncasecmp(u->name, name, len) == 0) {
            *mult = u->mult;
            return SL_OK;
        }
    }
    return SL_EINVAL;
}

/* "<digits> [unit]" with optional spaces; a missing unit multiplies by 1. */
static int parse_scaled(const char *text, const struct unit *units, int64_t *out)
{
    const char *p = skip_space(text);
    int64_t n = 0, mult = 1;
    if (!isdigit((unsigned char)*p))
        return SL_EINVAL;
    for (; isdigit((unsigned char)*p); p++) {
        int digit = *p - '0';
        if (n > (INT64_MAX - digit) / 10)
            return SL_EINVAL;
        n = n * 10 + digit;
    }
    p = skip_space(p);
    const char *unit = p;
    while (isalpha((unsigned char)*p))
        p++;
    size_t ulen = (size_t)(p - unit);
    if (*skip_space(p) != '\0')
        return SL_EINVAL;
    if (ulen > 0 && find_unit(units, unit, ulen, &mult) != SL_OK)
        return SL_EINVAL;
    if (n > INT64_MAX / mult)
        return SL_EINVAL;
    *out = n * mult;
    return SL_OK;
}

int sl_parse_duration_ms(const char *text, int64_t *out)
{
    return text && out ? parse_scaled(text, duration_units, out) : SL_EINVAL;
}

int sl_parse_size(const char *text, int64_t *out)
{
    return text && out ? parse_scaled(text, size_units, out) : SL_EINVAL;
}

/* Largest display unit that divides v exactly ("5 min", "32 kb"), else v. */
static void format_scaled(int64_t v, const struct unit *display, char *buf, size_t len)
{
    for (const struct unit *u = display; u->name; u++) {
        if (v != 0 && v % u->mult == 0) {
            snprintf(buf, len, "%lld %s", (long long)(v / u->mult), u->name);
            return;
        }
    }
    snprintf(buf, len, "%lld", (long long)v);
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Copies src[0..len) into out, decoding %XX; NUL bytes are refused. */
static int percent_decode(const char *src, size_t len, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)src[i];
        if (c == '%') {
            int hi = i + 2 < len ? hex_value((unsigned char)src[i + 1]) : -1;
            int lo = hi >= 0 ? hex_value((unsigned char)src[i + 2]) : -1;
            if (lo < 0 || (hi == 0 && lo == 0))
                return SL_EINVAL;
            c = hi * 16 + lo;
            i += 2;
        }
        if (o + 1 >= outlen)
            return SL_ENOSPC;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return SL_OK;
}

/* Drops trailing slashes but keeps a lone "/". */
static void trim_slashes(char *path)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        path[--n] = '\0';
}

int sl_path_from_uri(const char *text, char *out, size_t outlen)
{
    if (!text || !out || outlen == 0)
        return SL_EINVAL;
    const char *p = text;
    int rc;
    if (strncasecmp(p, "file:", 5) == 0) {
        p += 5;
        if (strncmp(p, "//localhost/", 12) == 0)
            p += 11;
        else if (strncmp(p, "///", 3) == 0)
            p += 2;
        if (p[0] != '/' || p[1] == '/')
            return SL_EINVAL;
        rc = percent_decode(p, strlen(p), out, outlen);
    } else {
        if (p[0] != '/')
            return SL_EINVAL;
        if (strlen(p) >= outlen)
            return SL_ENOSPC;
        snprintf(out, outlen, "%s", p);
        rc = SL_OK;
    }
    if (rc == SL_OK)
        trim_slashes(out);
    return rc;
}

/* One UTF-8 sequence; rejects overlongs, surrogates and > U+10FFFF. */
int sl_cfg_utf8_next(const unsigned char **pp, uint32_t *cp)
{
    const unsigned char *p = *pp;
    uint32_t c = p[0], min;
    int n;
    if (c < 0x80) {
        n = 0, min = 0;
    } else if ((c & 0xE0) == 0xC0) {
        n = 1, min = 0x80, c &= 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        n = 2, min = 0x800, c &= 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        n = 3, min = 0x10000, c &= 0x07;
    } else {
        return SL_EINVAL;
    }
    for (int i = 1; i <= n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return SL_EINVAL;
        c = (c << 6) | (p[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return SL_EINVAL;
    *cp = c;
    *pp = p + n + 1;
    return SL_OK;
}

int sl_cfg_utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    uint32_t c;
    while (*p)
        if (sl_cfg_utf8_next(&p, &c) != SL_OK)
            return 0;
    return 1;
}

static void format_range_end(const struct sl_cfg_key *k, int64_t v, char *buf, size_t len)
{
    if (k->type == SL_CFG_DURATION)
        format_scaled(v, duration_display, buf, len);
    else if (k->type == SL_CFG_SIZE)
        format_scaled(v, size_display, buf, len);
    else
        snprintf(buf, len, "%lld", (long long)v);
}

static void format_range(const struct sl_cfg_key *k, char *buf, size_t len)
{
    char lo[64], hi[64] = "";
    if (k->type == SL_CFG_DOUBLE) {
        snprintf(lo, sizeof lo, "%g", k->dmin);
        if (isfinite(k->dmax))
            snprintf(hi, sizeof hi, "%g", k->dmax);
    } else {
        format_range_end(k, k->min, lo, sizeof lo);
        if (k->max != CFG_NOLIMIT)
            format_range_end(k, k->max, hi, sizeof hi);
    }
    snprintf(buf, len, "out of range %s..%s", lo, hi);
}

static void format_choices(const struct sl_cfg_key *k, char *buf, size_t len)
{
    size_t off = 0;
    snprintf(buf, len, "expected one of ");
    for (const char *const *c = k->choices; *c; c++) {
        off = strlen(buf);
        snprintf(buf + off, len - off, "%s%s", c == k->choices ? "" : ", ", *c);
    }
}

/* ------------------------------------------------------------ value parsing */

static int parse_int(const char *text, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (end == text || *skip_space(end) != '\0' || errno == ERANGE)
        return SL_EINVAL;
    *out = v;
    return SL_OK;
}

static int parse_double(const char *text, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *skip_space(end) != '\0' || errno == ERANGE || !isfinite(v))
        return SL_EINVAL;
    *out = v;
    return SL_OK;
}

static int parse_bool(const char *text, int64_t *out)
{
    if (strcasecmp(text, "true") == 0)
        *out = 1;
    else if (strcasecmp(text, "false") == 0)
        *out = 0;
    else
        return SL_EINVAL;
    return SL_OK;
}

static int parse_enum(const struct sl_cfg_key *k, const char *text, int64_t *out)
{
    for (const char *const *a = k->aliases; a && a[0]; a += 2)
        if (strcasecmp(a[0], text) == 0) {
            text = a[1];
            break;
        }
    for (int i = 0; k->choices[i]; i++) {
        if (strcasecmp(k->choices[i], text) == 0) {
            *out = i;
            return SL_OK;
        }
    }
    return SL_EINVAL;
}

static int parse_text(const char *text, int is_path, char **out)
{
    char path[CFG_VALUE_MAX];
    if (is_path) {
        if (sl_path_from_uri(text, path, sizeof path) != SL_OK)
            return SL_EINVAL;
        text = path;
    }
    *out = strdup(text);
    return *out ? SL_OK : SL_ENOMEM;
}

/* What a value of this type should look like, for "bad value" messages. */
static void expectation(const struct sl_cfg_key *k, char *buf, size_t len)
{
    switch (k->type) {
    case SL_CFG_INT: snprintf(buf, len, "expected an integer"); break;
    case SL_CFG_DURATION:
        snprintf(buf, len, "expected a duration such as '500 ms', '1 s', '10 min'");
        break;
    case SL_CFG_SIZE: snprintf(buf, len, "expected a size such as '512 kb', '64 mb', '1 gb'"); break;
    case SL_CFG_BOOL: snprintf(buf, len, "expected true or false"); break;
    case SL_CFG_ENUM: format_choices(k, buf, len); break;
    case SL_CFG_PATH: snprintf(buf, len, "expected an absolute path or a file:// URI"); break;
    case SL_CFG_DOUBLE: snprintf(buf, len, "expected a number"); break;
    default: snprintf(buf, len, "expected UTF-8 text"); break;
    }
}

static int in_range(const struct sl_cfg_key *k, const struct sl_cfg_value *v)
{
    switch (k->type) {
    case SL_CFG_INT:
    case SL_CFG_DURATION:
    case SL_CFG_SIZE: return v->i >= k->min && v->i <= k->max;
    case SL_CFG_DOUBLE: return v->d >= k->dmin && v->d <= k->dmax;
    default: return 1;
    }
}

/* Text -> typed value. SL_EINVAL with `why` filled on a bad or out of range
 * value; SL_ENOMEM. On success out->s (if any) is owned by the caller. */
int sl_cfg_parse_value(const struct sl_cfg_key *k, const char *text, struct sl_cfg_value *out,
                       char *why, size_t whylen)
{
    int rc;
    memset(out, 0, sizeof *out);
    switch (k->type) {
    case SL_CFG_INT: rc = parse_int(text, &out->i); break;
    case SL_CFG_DURATION: rc = sl_parse_duration_ms(text, &out->i); break;
    case SL_CFG_SIZE: rc = sl_parse_size(text, &out->i); break;
    case SL_CFG_BOOL: rc = parse_bool(text, &out->i); break;
    case SL_CFG_ENUM: rc = parse_enum(k, text, &out->i); break;
    case SL_CFG_DOUBLE: rc = parse_double(text, &out->d); break;
    default: rc = parse_text(text, k->type == SL_CFG_PATH, &out->s); break;
    }
    if (rc == SL_EINVAL)
        expectation(k, why, whylen);
    if (rc == SL_OK && !in_range(k, out)) {
        format_range(k, why, whylen);
        rc = SL_EINVAL;
    }
    return rc;
}

void sl_cfg_format_size(int64_t v, char *buf, size_t len)
{
    format_scaled(v, size_display, buf, len);
}
