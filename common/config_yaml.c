/* Configuration loading: reads sluice.yaml (or YAML text), flattens nested
 * mappings into dotted keys with a libyaml event loop, places every error
 * at file:line:column, applies all keys or none, and layers -D overrides on
 * top (sl_config_load_default). */
#include "common/config_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <yaml.h>

#include "common/status.h"

#define CFG_MAX_DEPTH 32    /* deepest nesting of YAML mappings */
#define CFG_FILE_MAX (16 * 1024 * 1024) /* largest configuration file */

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
    sl_cfg_set_error(y->err, y->errlen, y->name, (int)m->line + 1, (int)m->column + 1, "%s",
                     msg);
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
    struct sl_cfg_place at = {y->name, y->key_line, y->key_col, (int)ev->start_mark.line + 1,
                       (int)ev->start_mark.column + 1};
    y->have_key = 0;
    if (is_null(ev) && sl_cfg_key_index(y->path) < 0 && sl_cfg_key_is_prefix(y->path))
        return SL_OK; /* "heartbeat:" with every sub-key commented out */
    if (strlen(s) != ev->data.scalar.length)
        return yerror(y, &ev->start_mark, "bad value for %s: contains a NUL byte", y->path);
    return sl_cfg_apply(y->cfg, y->path, s, &at, y->err, y->errlen);
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
    struct sl_cfg_place at = {y->name, y->key_line, y->key_col, 0, 0};
    if (!y->have_key)
        return yerror(y, &ev->start_mark, "expected a mapping of configuration keys, not a list");
    if (sl_cfg_key_index(y->path) < 0) /* name the unknown key first */
        return sl_cfg_apply(y->cfg, y->path, "", &at, y->err, y->errlen);
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
        sl_cfg_adopt(cfg, scratch);
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
        sl_cfg_set_error(err, errlen, path, 0, 0, "%s", strerror(errno));
        return errno == ENOENT ? SL_ENOTFOUND : SL_EIO;
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > CFG_FILE_MAX) {
        sl_cfg_set_error(err, errlen, path, 0, 0, "not a regular file of at most %d bytes",
                         CFG_FILE_MAX);
        rc = SL_EIO;
        goto out;
    }
    *len = (size_t)st.st_size;
    if (!(buf = malloc(*len + 1))) {
        rc = SL_ENOMEM;
        goto out;
    }
    if (fread(buf, 1, *len, f) != *len) {
        sl_cfg_set_error(err, errlen, path, 0, 0, "read failed");
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
            sl_cfg_set_error(err, errlen, d, 0, 0,
                             "expected an absolute path or a file:// URI");
            return SL_EINVAL;
        }
        d = dir;
    }
    if ((size_t)snprintf(out, outlen, "%s/sluice.yaml", d) >= outlen) {
        sl_cfg_set_error(err, errlen, NULL, 0, 0, "configuration folder name too long");
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
    if (rc == SL_OK)
        rc = sl_cfg_check_rules(scratch, path, overrides, noverrides, err, errlen);
    if (rc == SL_OK) {
        sl_cfg_adopt(cfg, scratch);
        scratch = NULL;
    }
    sl_config_free(scratch);
    return rc;
}
