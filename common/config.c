/* Configuration values: an sl_config holds one value slot per row of the
 * key table (config_keys.c). This file owns setting one key (from a file,
 * -D or a job), the typed getters, new/free/dup, the error format
 * "file:line:column: message" and serializing the explicitly set keys.
 * Text parsing is in config_parse.c, YAML loading in config_yaml.c. */
#include "common/config_internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/status.h"

/* ---------------------------------------------------------------- errors */

void sl_cfg_set_error(char *err, size_t errlen, const char *where, int line, int col,
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

static void value_clear(struct sl_cfg_value *v)
{
    free(v->s);
    memset(v, 0, sizeof *v);
}

int sl_cfg_apply(sl_config *cfg, const char *key, const char *value,
                 const struct sl_cfg_place *at, char *err, size_t errlen)
{
    char why[512];
    struct sl_cfg_value nv;
    int idx = sl_cfg_key_index(key);
    if (idx < 0) {
        sl_cfg_set_error(err, errlen, at->where, at->key_line, at->key_col,
                         "unknown configuration key '%.*s'", CFG_KEY_MAX, key);
        return SL_EINVAL;
    }
    int rc = strlen(value) >= CFG_VALUE_MAX || !sl_cfg_utf8_valid(value) ? SL_EINVAL : SL_OK;
    if (rc != SL_OK)
        snprintf(why, sizeof why, "expected UTF-8 text shorter than %d bytes", CFG_VALUE_MAX);
    else
        rc = sl_cfg_parse_value(&sl_cfg_table[idx], value, &nv, why, sizeof why);
    if (rc == SL_EINVAL)
        sl_cfg_set_error(err, errlen, at->where, at->value_line, at->value_col,
                         "bad value '%.128s' for %s: %s", value, key, why);
    if (rc != SL_OK)
        return rc;
    value_clear(&cfg->v[idx]);
    cfg->v[idx] = nv;
    cfg->v[idx].present = cfg->v[idx].set = 1;
    cfg->v[idx].line = at->value_line;
    cfg->v[idx].col = at->value_col;
    return SL_OK;
}

int sl_config_set_at(sl_config *cfg, const char *key, const char *value, const char *where,
                     int line, int col, char *err, size_t errlen)
{
    struct sl_cfg_place at = {where, line, col, line, col};
    if (!cfg || !key || !value)
        return SL_EINVAL;
    return sl_cfg_apply(cfg, key, value, &at, err, errlen);
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
    struct sl_cfg_place at = {where, 0, 0, 0, 0};
    if (!cfg || !kv)
        return SL_EINVAL;
    snprintf(where, sizeof where, "-D %.*s", CFG_KEY_MAX, kv);
    const char *eq = strchr(kv, '=');
    if (eq)
        trim_copy(key, sizeof key, kv, (size_t)(eq - kv));
    if (!eq || key[0] == '\0') {
        sl_cfg_set_error(err, errlen, where, 0, 0, "expected key=value");
        return SL_EINVAL;
    }
    trim_copy(value, sizeof value, eq + 1, strlen(eq + 1));
    return sl_cfg_apply(cfg, key, value, &at, err, errlen);
}

static int lookup(const sl_config *cfg, const char *key, unsigned types,
                  const struct sl_cfg_value **out)
{
    int idx = cfg && key ? sl_cfg_key_index(key) : -1;
    if (idx < 0 || !(types & (1u << sl_cfg_table[idx].type)))
        return SL_EINVAL;
    if (!cfg->v[idx].present)
        return SL_ENOTFOUND;
    *out = &cfg->v[idx];
    return SL_OK;
}

#define CFG_T(t) (1u << (t))

int sl_config_get_string(const sl_config *cfg, const char *key, const char **out)
{
    const struct sl_cfg_value *v;
    int rc = lookup(cfg, key, CFG_T(SL_CFG_STRING) | CFG_T(SL_CFG_PATH) | CFG_T(SL_CFG_ENUM), &v);
    if (rc == SL_OK)
        *out = v->s ? v->s : sl_cfg_table[sl_cfg_key_index(key)].choices[v->i];
    return rc;
}

static int get_i64(const sl_config *cfg, const char *key, unsigned types, int64_t *out)
{
    const struct sl_cfg_value *v;
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
    const struct sl_cfg_value *v;
    int rc = lookup(cfg, key, CFG_T(SL_CFG_DOUBLE), &v);
    if (rc == SL_OK)
        *out = v->d;
    return rc;
}

int sl_config_is_set(const sl_config *cfg, const char *key)
{
    int idx = cfg && key ? sl_cfg_key_index(key) : -1;
    return idx >= 0 && cfg->v[idx].set;
}

/* ------------------------------------------------------- new, free, dup */

static const char *default_text(const struct sl_cfg_key *k, char *buf, size_t len)
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
    for (size_t i = 0; i < SL_CFG_NKEYS && rc == SL_OK; i++) {
        const struct sl_cfg_key *k = &sl_cfg_table[i];
        if (!k->def)
            continue;
        rc = sl_cfg_parse_value(k, default_text(k, buf, sizeof buf), &cfg->v[i], why, sizeof why);
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
    for (size_t i = 0; i < SL_CFG_NKEYS; i++)
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
    for (size_t i = 0; i < SL_CFG_NKEYS; i++)
        copy->v[i].s = NULL;
    for (size_t i = 0; i < SL_CFG_NKEYS; i++) {
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
void sl_cfg_adopt(sl_config *cfg, sl_config *scratch)
{
    sl_config old = *cfg;
    *cfg = *scratch;
    *scratch = old;
    sl_config_free(scratch);
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
        if (sl_cfg_utf8_next(&p, &c) != SL_OK) { /* values are validated on set; be safe */
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

static void write_value(FILE *f, const struct sl_cfg_key *k, const struct sl_cfg_value *v)
{
    char buf[64];
    switch (k->type) {
    case SL_CFG_INT: fprintf(f, "%lld", (long long)v->i); break;
    case SL_CFG_DURATION: fprintf(f, "%lld ms", (long long)v->i); break;
    case SL_CFG_SIZE:
        sl_cfg_format_size(v->i, buf, sizeof buf);
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
    for (size_t i = 0; i < SL_CFG_NKEYS; i++) {
        int ship = (sl_cfg_table[i].flags & CFG_SHIP_DEFAULT) && cfg->v[i].present;
        if (!cfg->v[i].set && !ship)
            continue;
        fprintf(f, "%s: ", sl_cfg_table[i].name);
        write_value(f, &sl_cfg_table[i], &cfg->v[i]);
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
