/* Configuration: one table row per key (name, type, bounds, default), a
 * value slot per row, a libyaml event loop that flattens nested mappings
 * into dotted keys, and the text parsers for durations, sizes and paths. */
#include "common/config.h"

#include "common/status.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <yaml.h>

#define CFG_KEY_MAX 256     /* longest dotted key we accept */
#define CFG_VALUE_MAX 4096  /* longest text value we accept */
#define CFG_MAX_DEPTH 32    /* deepest nesting of YAML mappings */
#define CFG_FILE_MAX (16 * 1024 * 1024) /* largest configuration file */
#define CFG_NOLIMIT INT64_MAX
#define CFG_DEF_TMPDIR 1u   /* default is a folder named `def` under $TMPDIR or /tmp */

/* ------------------------------------------------------------------ table */

struct cfg_key {
    const char *name;
    enum sl_config_type type;
    int64_t min, max;           /* INT, DURATION, SIZE */
    double dmin, dmax;          /* DOUBLE */
    const char *def;            /* text form of the default, NULL = none */
    const char *const *choices; /* ENUM: canonical names, NULL-terminated */
    const char *const *aliases; /* ENUM: pairs "alias", "canonical", NULL */
    unsigned flags;
};

#define K_STR(n, d) {.name = n, .type = SL_CFG_STRING, .def = d}
#define K_INT(n, d, lo, hi) {.name = n, .type = SL_CFG_INT, .def = d, .min = lo, .max = hi}
#define K_DUR(n, d, lo, hi) {.name = n, .type = SL_CFG_DURATION, .def = d, .min = lo, .max = hi}
#define K_SIZE(n, d, lo, hi) {.name = n, .type = SL_CFG_SIZE, .def = d, .min = lo, .max = hi}
#define K_BOOL(n, d) {.name = n, .type = SL_CFG_BOOL, .def = d}
#define K_ENUM(n, d, c, a) {.name = n, .type = SL_CFG_ENUM, .def = d, .choices = c, .aliases = a}
#define K_PATH(n, d, f) {.name = n, .type = SL_CFG_PATH, .def = d, .flags = f}
#define K_DBL(n, d, lo, hi) {.name = n, .type = SL_CFG_DOUBLE, .def = d, .dmin = lo, .dmax = hi}

static const char *const backend_choices[] = {"hashmap", "leveldb", NULL};
static const char *const mode_choices[] = {"EXACTLY_ONCE", "AT_LEAST_ONCE", NULL};
static const char *const retention_choices[] = {"DELETE_ON_CANCELLATION",
                                                "RETAIN_ON_CANCELLATION", NULL};
static const char *const restart_choices[] = {"none", "fixed-delay", "failure-rate",
                                              "exponential-delay", NULL};
static const char *const restart_aliases[] = {
    "fixeddelay", "fixed-delay", "failurerate", "failure-rate",
    "exponentialdelay", "exponential-delay", "disable", "none", "off", "none", NULL};
static const char *const level_choices[] = {"DEBUG", "INFO", "WARN", "ERROR", NULL};
static const char *const level_aliases[] = {"WARNING", "WARN", NULL};

static const struct cfg_key cfg_table[] = {
    K_STR("jobmanager.rpc.address", "127.0.0.1"),
    K_INT("jobmanager.rpc.port", "6123", 1, 65535),
    K_DUR("jobmanager.restart.slot-wait-timeout", "5 min", 0, CFG_NOLIMIT),
    K_STR("taskmanager.host", "127.0.0.1"),
    K_INT("taskmanager.rpc.port", "0", 0, 65535),
    K_INT("taskmanager.data.port", "0", 0, 65535),
    K_INT("taskmanager.numberOfTaskSlots", "1", 1, 1024),
    K_PATH("taskmanager.state.local.root-dirs", "sluice-local-state", CFG_DEF_TMPDIR),
    K_SIZE("taskmanager.memory.network.buffer-size", "32 kb", 4096, 4194304),
    K_INT("taskmanager.network.credits-per-channel", "4", 1, 1024),
    K_SIZE("rpc.max-message-size", "64 mb", 1024, CFG_NOLIMIT),
    K_DUR("heartbeat.interval", "1 s", 1, CFG_NOLIMIT),
    K_DUR("heartbeat.timeout", "5 s", 1, CFG_NOLIMIT),
    K_INT("parallelism.default", "1", 1, 32768),
    K_ENUM("state.backend.type", "hashmap", backend_choices, NULL),
    K_SIZE("state.backend.leveldb.cache-size", "64 mb", 4096, CFG_NOLIMIT),
    K_PATH("state.checkpoints.dir", NULL, 0),
    K_INT("state.checkpoints.num-retained", "3", 1, CFG_NOLIMIT),
    K_PATH("state.savepoints.dir", NULL, 0),
    K_DUR("execution.checkpointing.interval", NULL, 1, CFG_NOLIMIT),
    K_ENUM("execution.checkpointing.mode", "EXACTLY_ONCE", mode_choices, NULL),
    K_DUR("execution.checkpointing.timeout", "10 min", 1, CFG_NOLIMIT),
    K_DUR("execution.checkpointing.min-pause", "0", 0, CFG_NOLIMIT),
    K_INT("execution.checkpointing.max-concurrent-checkpoints", "1", 1, CFG_NOLIMIT),
    K_INT("execution.checkpointing.tolerable-failed-checkpoints", "0", 0, CFG_NOLIMIT),
    K_ENUM("execution.checkpointing.externalized-checkpoint-retention",
           "DELETE_ON_CANCELLATION", retention_choices, NULL),
    K_DUR("execution.buffer-timeout", "100 ms", 0, CFG_NOLIMIT),
    K_ENUM("restart-strategy.type", NULL, restart_choices, restart_aliases),
    K_INT("restart-strategy.fixed-delay.attempts", "1", 0, CFG_NOLIMIT),
    K_DUR("restart-strategy.fixed-delay.delay", "1 s", 0, CFG_NOLIMIT),
    K_INT("restart-strategy.failure-rate.max-failures-per-interval", "1", 1, CFG_NOLIMIT),
    K_DUR("restart-strategy.failure-rate.failure-rate-interval", "1 min", 1, CFG_NOLIMIT),
    K_DUR("restart-strategy.failure-rate.delay", "1 s", 0, CFG_NOLIMIT),
    K_DUR("restart-strategy.exponential-delay.initial-backoff", "1 s", 0, CFG_NOLIMIT),
    K_DUR("restart-strategy.exponential-delay.max-backoff", "5 min", 0, CFG_NOLIMIT),
    K_DBL("restart-strategy.exponential-delay.backoff-multiplier", "2.0", 1.0, HUGE_VAL),
    K_DUR("restart-strategy.exponential-delay.reset-backoff-threshold", "1 h", 1, CFG_NOLIMIT),
    K_DBL("restart-strategy.exponential-delay.jitter-factor", "0.1", 0.0, 1.0),
    K_ENUM("log.level", "INFO", level_choices, level_aliases),
};

#define CFG_NKEYS (sizeof(cfg_table) / sizeof(cfg_table[0]))

struct cfg_value {
    int present; /* holds a value (default or set) */
    int set;     /* set explicitly */
    int64_t i;   /* INT, DURATION, SIZE, BOOL, ENUM (index into choices) */
    double d;    /* DOUBLE */
    char *s;     /* STRING, PATH: owned */
};

struct sl_config {
    struct cfg_value v[CFG_NKEYS];
};

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
static int utf8_next(const unsigned char **pp, uint32_t *cp)
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

static int utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    uint32_t c;
    while (*p)
        if (utf8_next(&p, &c) != SL_OK)
            return 0;
    return 1;
}

/* ------------------------------------------------------------ table lookup */

static int key_index(const char *key)
{
    for (size_t i = 0; i < CFG_NKEYS; i++)
        if (strcmp(cfg_table[i].name, key) == 0)
            return (int)i;
    return -1;
}

/* 1 if some key starts with "prefix." (a mapping that only groups keys). */
static int key_is_prefix(const char *prefix)
{
    size_t n = strlen(prefix);
    for (size_t i = 0; i < CFG_NKEYS; i++)
        if (strncmp(cfg_table[i].name, prefix, n) == 0 && cfg_table[i].name[n] == '.')
            return 1;
    return 0;
}

static void format_range_end(const struct cfg_key *k, int64_t v, char *buf, size_t len)
{
    if (k->type == SL_CFG_DURATION)
        format_scaled(v, duration_display, buf, len);
    else if (k->type == SL_CFG_SIZE)
        format_scaled(v, size_display, buf, len);
    else
        snprintf(buf, len, "%lld", (long long)v);
}

static void format_range(const struct cfg_key *k, char *buf, size_t len)
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

static void format_choices(const struct cfg_key *k, char *buf, size_t len)
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

static int parse_enum(const struct cfg_key *k, const char *text, int64_t *out)
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
static void expectation(const struct cfg_key *k, char *buf, size_t len)
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

static int in_range(const struct cfg_key *k, const struct cfg_value *v)
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
static int parse_value(const struct cfg_key *k, const char *text, struct cfg_value *out,
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

/* ---------------------------------------------------------------- errors */

__attribute__((format(printf, 6, 7)))
static void set_error(char *err, size_t errlen, const char *where, int line, int col,
                      const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (where && line > 0)
        snprintf(err, errlen, "%s:%d:%d: %s", where, line, col, msg);
    else if (where)
        snprintf(err, errlen, "%s: %s", where, msg);
    else
        snprintf(err, errlen, "%s", msg);
}

/* ------------------------------------------------------------ set and get */

static void value_clear(struct cfg_value *v)
{
    free(v->s);
    memset(v, 0, sizeof *v);
}

struct place {
    const char *where;
    int key_line, key_col;     /* where unknown-key errors point */
    int value_line, value_col; /* where bad-value errors point */
};

static int apply(sl_config *cfg, const char *key, const char *value, const struct place *at,
                 char *err, size_t errlen)
{
    char why[512];
    struct cfg_value nv;
    int idx = key_index(key);
    if (idx < 0) {
        set_error(err, errlen, at->where, at->key_line, at->key_col,
                  "unknown configuration key '%.*s'", CFG_KEY_MAX, key);
        return SL_EINVAL;
    }
    int rc = strlen(value) >= CFG_VALUE_MAX || !utf8_valid(value) ? SL_EINVAL : SL_OK;
    if (rc != SL_OK)
        snprintf(why, sizeof why, "expected UTF-8 text shorter than %d bytes", CFG_VALUE_MAX);
    else
        rc = parse_value(&cfg_table[idx], value, &nv, why, sizeof why);
    if (rc == SL_EINVAL)
        set_error(err, errlen, at->where, at->value_line, at->value_col,
                  "bad value '%.128s' for %s: %s", value, key, why);
    if (rc != SL_OK)
        return rc;
    value_clear(&cfg->v[idx]);
    cfg->v[idx] = nv;
    cfg->v[idx].present = cfg->v[idx].set = 1;
    return SL_OK;
}

int sl_config_set_at(sl_config *cfg, const char *key, const char *value, const char *where,
                     int line, int col, char *err, size_t errlen)
{
    struct place at = {where, line, col, line, col};
    if (!cfg || !key || !value)
        return SL_EINVAL;
    return apply(cfg, key, value, &at, err, errlen);
}

static void trim_copy(char *dst, size_t dstlen, const char *src, size_t len)
{
    while (len > 0 && isspace((unsigned char)*src))
        src++, len--;
    while (len > 0 && isspace((unsigned char)src[len - 1]))
        len--;
    snprintf(dst, dstlen, "%.*s", (int)(len < dstlen ? len : dstlen - 1), src);
}

int sl_config_set_override(sl_config *cfg, const char *kv, char *err, size_t errlen)
{
    char where[CFG_KEY_MAX + 32], key[CFG_KEY_MAX + 1], value[CFG_VALUE_MAX + 1];
    struct place at = {where, 0, 0, 0, 0};
    if (!cfg || !kv)
        return SL_EINVAL;
    snprintf(where, sizeof where, "-D %.*s", CFG_KEY_MAX, kv);
    const char *eq = strchr(kv, '=');
    if (eq)
        trim_copy(key, sizeof key, kv, (size_t)(eq - kv));
    if (!eq || key[0] == '\0') {
        set_error(err, errlen, where, 0, 0, "expected key=value");
        return SL_EINVAL;
    }
    trim_copy(value, sizeof value, eq + 1, strlen(eq + 1));
    return apply(cfg, key, value, &at, err, errlen);
}

static int lookup(const sl_config *cfg, const char *key, unsigned types,
                  const struct cfg_value **out)
{
    int idx = cfg && key ? key_index(key) : -1;
    if (idx < 0 || !(types & (1u << cfg_table[idx].type)))
        return SL_EINVAL;
    if (!cfg->v[idx].present)
        return SL_ENOTFOUND;
    *out = &cfg->v[idx];
    return SL_OK;
}

#define CFG_T(t) (1u << (t))

int sl_config_get_string(const sl_config *cfg, const char *key, const char **out)
{
    const struct cfg_value *v;
    int rc = lookup(cfg, key, CFG_T(SL_CFG_STRING) | CFG_T(SL_CFG_PATH) | CFG_T(SL_CFG_ENUM), &v);
    if (rc == SL_OK)
        *out = v->s ? v->s : cfg_table[key_index(key)].choices[v->i];
    return rc;
}

static int get_i64(const sl_config *cfg, const char *key, unsigned types, int64_t *out)
{
    const struct cfg_value *v;
    int rc = lookup(cfg, key, types, &v);
    if (rc == SL_OK)
        *out = v->i;
    return rc;
}

int sl_config_get_int(const sl_config *cfg, const char *key, int64_t *out)
{
    return get_i64(cfg, key, CFG_T(SL_CFG_INT), out);
}

int sl_config_get_ms(const sl_config *cfg, const char *key, int64_t *out)
{
    return get_i64(cfg, key, CFG_T(SL_CFG_DURATION), out);
}

int sl_config_get_bytes(const sl_config *cfg, const char *key, int64_t *out)
{
    return get_i64(cfg, key, CFG_T(SL_CFG_SIZE), out);
}

int sl_config_get_bool(const sl_config *cfg, const char *key, int *out)
{
    int64_t v;
    int rc = get_i64(cfg, key, CFG_T(SL_CFG_BOOL), &v);
    if (rc == SL_OK)
        *out = (int)v;
    return rc;
}

int sl_config_get_double(const sl_config *cfg, const char *key, double *out)
{
    const struct cfg_value *v;
    int rc = lookup(cfg, key, CFG_T(SL_CFG_DOUBLE), &v);
    if (rc == SL_OK)
        *out = v->d;
    return rc;
}

int sl_config_is_set(const sl_config *cfg, const char *key)
{
    int idx = cfg && key ? key_index(key) : -1;
    return idx >= 0 && cfg->v[idx].set;
}

/* ------------------------------------------------------- new, free, dup */

static const char *default_text(const struct cfg_key *k, char *buf, size_t len)
{
    if (!(k->flags & CFG_DEF_TMPDIR))
        return k->def;
    const char *tmp = getenv("TMPDIR");
    size_t n = tmp ? strlen(tmp) : 0;
    while (n > 1 && tmp[n - 1] == '/')
        n--;
    if (n == 0 || tmp[0] != '/' || n + strlen(k->def) + 2 > len)
        tmp = "/tmp", n = 4;
    snprintf(buf, len, "%.*s/%s", (int)n, tmp, k->def);
    return buf;
}

int sl_config_new(sl_config **out)
{
    char why[512], buf[CFG_VALUE_MAX];
    int rc = SL_OK;
    sl_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return SL_ENOMEM;
    for (size_t i = 0; i < CFG_NKEYS && rc == SL_OK; i++) {
        const struct cfg_key *k = &cfg_table[i];
        if (!k->def)
            continue;
        rc = parse_value(k, default_text(k, buf, sizeof buf), &cfg->v[i], why, sizeof why);
        cfg->v[i].present = rc == SL_OK;
    }
    if (rc != SL_OK)
        goto fail;
    *out = cfg;
    return SL_OK;
fail:
    sl_config_free(cfg);
    return rc;
}

void sl_config_free(sl_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < CFG_NKEYS; i++)
        free(cfg->v[i].s);
    free(cfg);
}

int sl_config_dup(const sl_config *cfg, sl_config **out)
{
    if (!cfg || !out)
        return SL_EINVAL;
    sl_config *copy = malloc(sizeof *copy);
    if (!copy)
        return SL_ENOMEM;
    *copy = *cfg;
    for (size_t i = 0; i < CFG_NKEYS; i++)
        copy->v[i].s = NULL;
    for (size_t i = 0; i < CFG_NKEYS; i++) {
        if (cfg->v[i].s && !(copy->v[i].s = strdup(cfg->v[i].s)))
            goto fail;
    }
    *out = copy;
    return SL_OK;
fail:
    sl_config_free(copy);
    return SL_ENOMEM;
}

/* Moves scratch's values into cfg and frees what cfg held. */
static void adopt(sl_config *cfg, sl_config *scratch)
{
    sl_config old = *cfg;
    *cfg = *scratch;
    *scratch = old;
    sl_config_free(scratch);
}

/* ------------------------------------------------------------ YAML loading */

struct yload {
    sl_config *cfg;
    const char *name;
    const char *text; /* the whole input, to place reader errors */
    size_t len;
    char *err;
    size_t errlen;
    int depth;                        /* open mappings */
    size_t prefix[CFG_MAX_DEPTH + 1]; /* length of path that prefixes keys at each depth */
    char path[CFG_KEY_MAX + 1];       /* dotted key being read */
    int have_key;                     /* a key was read; its value comes next */
    int key_line, key_col;
};

__attribute__((format(printf, 3, 4)))
static int yerror(struct yload *y, const yaml_mark_t *m, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    set_error(y->err, y->errlen, y->name, (int)m->line + 1, (int)m->column + 1, "%s", msg);
    return SL_EINVAL;
}

static int is_null(const yaml_event_t *ev)
{
    const char *s = (const char *)ev->data.scalar.value;
    return ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           (s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0);
}

static int on_key(struct yload *y, const yaml_event_t *ev)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t at = y->prefix[y->depth];
    size_t n = ev->data.scalar.length;
    if (n == 0 || strlen(s) != n || at + 1 + n > CFG_KEY_MAX)
        return yerror(y, &ev->start_mark, "unknown configuration key '%.*s'", CFG_KEY_MAX, s);
    snprintf(y->path + at, sizeof y->path - at, "%s%s", at ? "." : "", s);
    y->have_key = 1;
    y->key_line = (int)ev->start_mark.line + 1;
    y->key_col = (int)ev->start_mark.column + 1;
    return SL_OK;
}

static int on_value(struct yload *y, const yaml_event_t *ev)
{
    const char *s = (const char *)ev->data.scalar.value;
    struct place at = {y->name, y->key_line, y->key_col, (int)ev->start_mark.line + 1,
                       (int)ev->start_mark.column + 1};
    y->have_key = 0;
    if (is_null(ev) && key_index(y->path) < 0 && key_is_prefix(y->path))
        return SL_OK; /* "heartbeat:" with every sub-key commented out */
    if (strlen(s) != ev->data.scalar.length)
        return yerror(y, &ev->start_mark, "bad value for %s: contains a NUL byte", y->path);
    return apply(y->cfg, y->path, s, &at, y->err, y->errlen);
}

static int on_scalar(struct yload *y, const yaml_event_t *ev)
{
    if (y->depth > 0)
        return y->have_key ? on_value(y, ev) : on_key(y, ev);
    if (is_null(ev)) /* a document holding nothing */
        return SL_OK;
    return yerror(y, &ev->start_mark, "expected a mapping of configuration keys");
}

static int on_mapping_start(struct yload *y, const yaml_event_t *ev)
{
    if (y->depth > 0 && !y->have_key)
        return yerror(y, &ev->start_mark, "a configuration key must be plain text");
    if (y->depth == CFG_MAX_DEPTH)
        return yerror(y, &ev->start_mark, "mappings nested deeper than %d", CFG_MAX_DEPTH);
    y->depth++;
    y->prefix[y->depth] = y->depth == 1 ? 0 : strlen(y->path);
    y->have_key = 0;
    return SL_OK;
}

static int on_sequence_start(struct yload *y, const yaml_event_t *ev)
{
    struct place at = {y->name, y->key_line, y->key_col, 0, 0};
    if (!y->have_key)
        return yerror(y, &ev->start_mark, "expected a mapping of configuration keys, not a list");
    if (key_index(y->path) < 0) /* name the unknown key first */
        return apply(y->cfg, y->path, "", &at, y->err, y->errlen);
    return yerror(y, &ev->start_mark, "bad value for %s: expected a single value, not a list",
                  y->path);
}

static int on_event(struct yload *y, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_SCALAR_EVENT: return on_scalar(y, ev);
    case YAML_MAPPING_START_EVENT: return on_mapping_start(y, ev);
    case YAML_MAPPING_END_EVENT:
        y->depth--;
        y->have_key = 0;
        return SL_OK;
    case YAML_SEQUENCE_START_EVENT: return on_sequence_start(y, ev);
    case YAML_ALIAS_EVENT: return yerror(y, &ev->start_mark, "YAML aliases are not supported");
    default: return SL_OK;
    }
}

/* Reader errors (bad UTF-8, control characters) carry a byte offset only. */
static yaml_mark_t offset_mark(const struct yload *y, size_t offset)
{
    yaml_mark_t m = {offset, 0, 0};
    for (size_t i = 0; i < offset && i < y->len; i++) {
        unsigned char c = (unsigned char)y->text[i];
        if (c == '\n')
            m.line++, m.column = 0;
        else if ((c & 0xC0) != 0x80)
            m.column++;
    }
    return m;
}

static int syntax_error(struct yload *y, const yaml_parser_t *p)
{
    yaml_mark_t m = p->problem_mark;
    const char *ctx = p->context;
    if (p->error == YAML_MEMORY_ERROR)
        return SL_ENOMEM;
    if (p->error == YAML_READER_ERROR)
        m = offset_mark(y, p->problem_offset);
    return yerror(y, &m, "%s%s%s%s", p->problem ? p->problem : "YAML syntax error",
                  ctx ? " (" : "", ctx ? ctx : "", ctx ? ")" : "");
}

/* Applies every key of the YAML text to cfg (not atomic: see load_atomic). */
static int load_text(sl_config *cfg, const char *name, const char *text, size_t len, char *err,
                     size_t errlen)
{
    struct yload y = {.cfg = cfg, .name = name, .text = text, .len = len, .err = err,
                      .errlen = errlen};
    yaml_parser_t parser;
    yaml_event_t ev;
    int rc = SL_OK, done = 0;
    if (!yaml_parser_initialize(&parser))
        return SL_ENOMEM;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    while (rc == SL_OK && !done) {
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = syntax_error(&y, &parser);
            break;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        rc = on_event(&y, &ev);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    return rc;
}

/* All or nothing: parses into a copy and keeps it only if every key applied. */
static int load_atomic(sl_config *cfg, const char *name, const char *text, size_t len, char *err,
                       size_t errlen)
{
    sl_config *scratch = NULL;
    int rc = sl_config_dup(cfg, &scratch);
    if (rc == SL_OK)
        rc = load_text(scratch, name, text, len, err, errlen);
    if (rc == SL_OK) {
        adopt(cfg, scratch);
        scratch = NULL;
    }
    sl_config_free(scratch);
    return rc;
}

int sl_config_load_string(sl_config *cfg, const char *name, const char *text, size_t len,
                          char *err, size_t errlen)
{
    if (!cfg || (!text && len > 0))
        return SL_EINVAL;
    return load_atomic(cfg, name ? name : "<string>", text ? text : "", len, err, errlen);
}

/* Reads a whole regular file of at most CFG_FILE_MAX bytes into *out. */
static int read_file(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
    struct stat st;
    char *buf = NULL;
    int rc = SL_OK;
    FILE *f = fopen(path, "re");
    if (!f) {
        set_error(err, errlen, path, 0, 0, "%s", strerror(errno));
        return errno == ENOENT ? SL_ENOTFOUND : SL_EIO;
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > CFG_FILE_MAX) {
        set_error(err, errlen, path, 0, 0, "not a regular file of at most %d bytes", CFG_FILE_MAX);
        rc = SL_EIO;
        goto out;
    }
    *len = (size_t)st.st_size;
    if (!(buf = malloc(*len + 1))) {
        rc = SL_ENOMEM;
        goto out;
    }
    if (fread(buf, 1, *len, f) != *len) {
        set_error(err, errlen, path, 0, 0, "read failed");
        rc = SL_EIO;
        goto out;
    }
    *out = buf;
    buf = NULL;
out:
    free(buf);
    fclose(f);
    return rc;
}

int sl_config_load_file(sl_config *cfg, const char *path, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    if (!cfg || !path)
        return SL_EINVAL;
    int rc = read_file(path, &text, &len, err, errlen);
    if (rc == SL_OK)
        rc = load_atomic(cfg, path, text, len, err, errlen);
    free(text);
    return rc;
}

/* ------------------------------------------------------------ load_default */

static int conf_file_path(const char *conf_dir, char *out, size_t outlen, char *err, size_t errlen)
{
    char dir[CFG_VALUE_MAX];
    const char *d = conf_dir ? conf_dir : getenv("SLUICE_CONF_DIR");
    if (!d || !d[0])
        d = "conf";
    if (strncasecmp(d, "file:", 5) == 0) {
        if (sl_path_from_uri(d, dir, sizeof dir) != SL_OK) {
            set_error(err, errlen, d, 0, 0, "expected an absolute path or a file:// URI");
            return SL_EINVAL;
        }
        d = dir;
    }
    if ((size_t)snprintf(out, outlen, "%s/sluice.yaml", d) >= outlen) {
        set_error(err, errlen, NULL, 0, 0, "configuration folder name too long");
        return SL_EINVAL;
    }
    return SL_OK;
}

int sl_config_load_default(sl_config *cfg, const char *conf_dir, char **overrides, int noverrides,
                           char *err, size_t errlen)
{
    char path[CFG_VALUE_MAX + 16];
    sl_config *scratch = NULL;
    if (!cfg || (noverrides > 0 && !overrides))
        return SL_EINVAL;
    int rc = conf_file_path(conf_dir, path, sizeof path, err, errlen);
    if (rc == SL_OK)
        rc = sl_config_dup(cfg, &scratch);
    if (rc == SL_OK)
        rc = sl_config_load_file(scratch, path, err, errlen);
    if (rc == SL_ENOTFOUND && err && errlen > 0)
        err[0] = '\0';
    if (rc == SL_ENOTFOUND) /* no sluice.yaml: defaults */
        rc = SL_OK;
    for (int i = 0; i < noverrides && rc == SL_OK; i++)
        rc = sl_config_set_override(scratch, overrides[i], err, errlen);
    if (rc == SL_OK) {
        adopt(cfg, scratch);
        scratch = NULL;
    }
    sl_config_free(scratch);
    return rc;
}

/* ------------------------------------------------------------ serialize */

static int plain_safe(const char *s)
{
    if (!isalnum((unsigned char)s[0]) && s[0] != '/' && s[0] != '_' && s[0] != '.')
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("._/-+@", *s))
            return 0;
    return 1;
}

/* Characters YAML cannot carry raw in a double-quoted scalar. */
static int needs_escape(uint32_t c)
{
    return c < 0x20 || c == '"' || c == '\\' || (c >= 0x7F && c <= 0x9F) || c == 0x2028 ||
           c == 0x2029 || c == 0xFFFE || c == 0xFFFF || c == 0xFEFF;
}

static void write_quoted(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', f);
    while (*p) {
        const unsigned char *start = p;
        uint32_t c;
        if (utf8_next(&p, &c) != SL_OK) { /* values are validated on set; be safe */
            c = 0xFFFD;
            p = start + 1;
        }
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", (int)c);
        else if (c == '\n' || c == '\t')
            fputs(c == '\n' ? "\\n" : "\\t", f);
        else if (needs_escape(c) || c == 0xFFFD)
            fprintf(f, "\\u%04X", (unsigned)c);
        else
            fwrite(start, 1, (size_t)(p - start), f);
    }
    fputc('"', f);
}

static void write_value(FILE *f, const struct cfg_key *k, const struct cfg_value *v)
{
    char buf[64];
    switch (k->type) {
    case SL_CFG_INT: fprintf(f, "%lld", (long long)v->i); break;
    case SL_CFG_DURATION: fprintf(f, "%lld ms", (long long)v->i); break;
    case SL_CFG_SIZE:
        format_scaled(v->i, size_display, buf, sizeof buf);
        fputs(buf, f);
        break;
    case SL_CFG_BOOL: fputs(v->i ? "true" : "false", f); break;
    case SL_CFG_ENUM: fputs(k->choices[v->i], f); break;
    case SL_CFG_DOUBLE: fprintf(f, "%.17g", v->d); break;
    default:
        if (plain_safe(v->s))
            fputs(v->s, f);
        else
            write_quoted(f, v->s);
        break;
    }
}

int sl_config_serialize(const sl_config *cfg, char **out)
{
    char *buf = NULL;
    size_t len = 0;
    if (!cfg || !out)
        return SL_EINVAL;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return SL_ENOMEM;
    for (size_t i = 0; i < CFG_NKEYS; i++) {
        if (!cfg->v[i].set)
            continue;
        fprintf(f, "%s: ", cfg_table[i].name);
        write_value(f, &cfg_table[i], &cfg->v[i]);
        fputc('\n', f);
    }
    int failed = ferror(f);
    if (fclose(f) != 0 || failed) {
        free(buf);
        return SL_ENOMEM;
    }
    *out = buf;
    return SL_OK;
}
