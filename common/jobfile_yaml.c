/* Job-file YAML nodes: errors placed at "file:line:column", node access,
 * scalars as text or bounded integers, mapping keys (plain, unique), and
 * libyaml's own parse errors. Shared by jobfile.c, jobfile_stages.c and
 * jobfile_params.c through jobfile_internal.h. */
#include "common/jobfile_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/status.h"

#define MAP_MAX_KEYS 1024     /* keys of any one mapping (duplicates check is quadratic) */

static void vfail(sl_jp *p, int line, int col, const char *fmt, va_list ap)
{
    char msg[512];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (p->err != NULL && p->errlen > 0)
        snprintf(p->err, p->errlen, "%s:%d:%d: %s", p->file, line, col, msg);
}

int sl_jp_fail_at(sl_jp *p, int line, int col, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfail(p, line, col, fmt, ap);
    va_end(ap);
    return SL_EINVAL;
}

int sl_jp_node_line(const yaml_node_t *n)
{
    return (int)n->start_mark.line + 1;
}

int sl_jp_node_col(const yaml_node_t *n)
{
    return (int)n->start_mark.column + 1;
}

int sl_jp_fail(sl_jp *p, const yaml_node_t *n, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfail(p, sl_jp_node_line(n), sl_jp_node_col(n), fmt, ap);
    va_end(ap);
    return SL_EINVAL;
}

int sl_jp_nomem(sl_jp *p)
{
    if (p->err != NULL && p->errlen > 0)
        snprintf(p->err, p->errlen, "%s: out of memory", p->file);
    return SL_ENOMEM;
}

yaml_node_t *sl_jp_node(sl_jp *p, int id)
{
    return yaml_document_get_node(p->doc, id);
}

const char *sl_jp_sval(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

int sl_jp_is_scalar(const yaml_node_t *n)
{
    return n != NULL && n->type == YAML_SCALAR_NODE;
}

/* A plain scalar that YAML reads as null: "", "~", "null". */
int sl_jp_is_null(const yaml_node_t *n)
{
    const char *s;

    if (!sl_jp_is_scalar(n) || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    s = sl_jp_sval(n);
    return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
           strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

int sl_jp_scalar_eq(const yaml_node_t *n, const char *s)
{
    return sl_jp_is_scalar(n) && n->data.scalar.length == strlen(s) &&
           strcmp(sl_jp_sval(n), s) == 0;
}

/* A non-null scalar without NUL bytes, as text; `what` names it in errors. */
int sl_jp_want_text(sl_jp *p, const yaml_node_t *n, const char *what, const char **out)
{
    if (!sl_jp_is_scalar(n))
        return sl_jp_fail(p, n, "%s must be a single value, not a %s", what,
                          n->type == YAML_MAPPING_NODE ? "mapping" : "list");
    if (sl_jp_is_null(n))
        return sl_jp_fail(p, n, "%s has no value", what);
    if (strlen(sl_jp_sval(n)) != n->data.scalar.length)
        return sl_jp_fail(p, n, "%s contains a NUL byte", what);
    *out = sl_jp_sval(n);
    return SL_OK;
}

int sl_jp_dup_text(sl_jp *p, const yaml_node_t *n, const char *what, char **out)
{
    const char *s;
    int rv;

    if ((rv = sl_jp_want_text(p, n, what, &s)) != SL_OK)
        return rv;
    if ((*out = strdup(s)) == NULL)
        return sl_jp_nomem(p);
    return SL_OK;
}

/* A decimal integer in [lo, hi]. */
int sl_jp_want_int(sl_jp *p, const yaml_node_t *n, const char *what, long lo, long hi, int *out)
{
    const char *s;
    char *end = NULL;
    long long v;
    int rv;

    if ((rv = sl_jp_want_text(p, n, what, &s)) != SL_OK)
        return rv;
    if (!((s[0] >= '0' && s[0] <= '9') || (s[0] == '-' && s[1] >= '0' && s[1] <= '9')))
        goto bad;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        goto bad;
    *out = (int)v;
    return SL_OK;
bad:
    return sl_jp_fail(p, n, "%s must be an integer between %ld and %ld, not '%s'", what, lo, hi, s);
}

/* Mapping keys must be scalars and appear once. */
int sl_jp_check_keys(sl_jp *p, const yaml_node_t *map)
{
    yaml_node_pair_t *a, *b;

    for (a = map->data.mapping.pairs.start; a < map->data.mapping.pairs.top; a++) {
        yaml_node_t *k = sl_jp_node(p, a->key);
        if (a - map->data.mapping.pairs.start >= MAP_MAX_KEYS)
            return sl_jp_fail(p, k, "too many keys in one mapping (at most %d)", MAP_MAX_KEYS);
        if (!sl_jp_is_scalar(k) || sl_jp_is_null(k))
            return sl_jp_fail(p, k, "a key must be a plain name");
        if (strlen(sl_jp_sval(k)) != k->data.scalar.length)
            return sl_jp_fail(p, k, "a key contains a NUL byte");
        for (b = map->data.mapping.pairs.start; b < a; b++) {
            yaml_node_t *kb = sl_jp_node(p, b->key);
            if (kb->data.scalar.length == k->data.scalar.length &&
                memcmp(kb->data.scalar.value, k->data.scalar.value, k->data.scalar.length) == 0)
                return sl_jp_fail(p, k, "duplicate key '%s' (first at line %d)", sl_jp_sval(k),
                                  sl_jp_node_line(kb));
        }
    }
    return SL_OK;
}


/* libyaml's error as "file:line:col: message". */
int sl_jp_yaml_fail(sl_jp *p, const yaml_parser_t *parser, const char *text, size_t len)
{
    int line = (int)parser->problem_mark.line + 1, col = (int)parser->problem_mark.column + 1;
    const char *problem = parser->problem != NULL ? parser->problem : "malformed YAML";

    if (parser->error == YAML_MEMORY_ERROR)
        return sl_jp_nomem(p);
    if (parser->error == YAML_READER_ERROR) {
        /* Reader errors carry a byte offset, not a mark. */
        size_t off = parser->problem_offset < len ? parser->problem_offset : len;
        line = 1;
        col = 1;
        for (size_t i = 0; i < off; i++) {
            if (text[i] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        return sl_jp_fail_at(p, line, col, "YAML error: %s", problem);
    }
    if (parser->context != NULL)
        return sl_jp_fail_at(p, line, col, "YAML syntax error: %s %s", problem, parser->context);
    return sl_jp_fail_at(p, line, col, "YAML syntax error: %s", problem);
}
