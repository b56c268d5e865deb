/* Job-file stage parameters: every key of a stage that is not name, kind,
 * parallelism, input(s) or key-by, checked against the stage type's
 * parameter table (scalars, lists joined by ',', mappings as "<key>.<name>")
 * with where each value stands, and the catalog defaults of absent ones. */
#include "common/jobfile_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/stage_catalog.h"
#include "common/status.h"

static int add_param(sl_jp *p, sl_stage *st, const char *key, const char *value, int line, int col)
{
    sl_param *grown = realloc(st->params, (size_t)(st->nparams + 1) * sizeof(*grown));
    sl_param *c;

    if (grown == NULL)
        return sl_jp_nomem(p);
    st->params = grown;
    c = &st->params[st->nparams];
    memset(c, 0, sizeof(*c));
    c->key = strdup(key);
    c->value = strdup(value);
    c->line = line;
    c->col = col;
    st->nparams++;
    if (c->key == NULL || c->value == NULL)
        return sl_jp_nomem(p);
    return SL_OK;
}

/* Column of a value; for an expression, of its first character (after the
 * opening quote of a quoted scalar). */
static int value_col(const yaml_node_t *n, int flags)
{
    int quoted = n->type == YAML_SCALAR_NODE &&
                 (n->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                  n->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE);

    return sl_jp_node_col(n) + ((flags & SL_PARAM_EXPR) && quoted ? 1 : 0);
}

/* SL_PARAM_MAPPING: one parameter "<key>.<name>" per entry, in file order. */
static int add_mapping_param(sl_jp *p, sl_stage *st, const char *key, const yaml_node_t *vn,
                             int flags)
{
    yaml_node_pair_t *pr;
    int rv;

    if (sl_jp_is_null(vn))
        return sl_jp_fail(p, vn, "parameter '%s' has no value", key);
    if (vn->type != YAML_MAPPING_NODE)
        return sl_jp_fail(p, vn,
                          "parameter '%s' must be a mapping (name: value, ...), not a %s", key,
                          vn->type == YAML_SEQUENCE_NODE ? "list" : "single value");
    if ((rv = sl_jp_check_keys(p, vn)) != SL_OK)
        return rv;
    if (vn->data.mapping.pairs.top == vn->data.mapping.pairs.start)
        return sl_jp_fail(p, vn, "parameter '%s' is an empty mapping", key);
    for (pr = vn->data.mapping.pairs.start; pr < vn->data.mapping.pairs.top; pr++) {
        yaml_node_t *kn = sl_jp_node(p, pr->key), *en = sl_jp_node(p, pr->value);
        char full[CONFIG_MAX_KEY], what[CONFIG_MAX_KEY + 32];
        const char *v;
        int n = snprintf(full, sizeof(full), "%s.%s", key, sl_jp_sval(kn));

        if (n < 0 || (size_t)n >= sizeof(full))
            return sl_jp_fail(p, kn, "name '%s' is too long", sl_jp_sval(kn));
        snprintf(what, sizeof(what), "'%s' under '%s'", sl_jp_sval(kn), key);
        if ((rv = sl_jp_want_text(p, en, what, &v)) != SL_OK)
            return rv;
        if ((rv = add_param(p, st, full, v, sl_jp_node_line(en), value_col(en, flags))) != SL_OK)
            return rv;
    }
    return SL_OK;
}

/* SL_PARAM_LIST given a list: one parameter, the items joined by ','. */
static int add_list_param(sl_jp *p, sl_stage *st, const char *key, const yaml_node_t *vn)
{
    yaml_node_item_t *it, *start = vn->data.sequence.items.start;
    size_t len = 0;
    char what[96], *joined;
    const char *v;
    int rv;

    if (vn->data.sequence.items.top == start)
        return sl_jp_fail(p, vn, "parameter '%s' is an empty list", key);
    snprintf(what, sizeof(what), "an item of '%s'", key);
    for (it = start; it < vn->data.sequence.items.top; it++) {
        if ((rv = sl_jp_want_text(p, sl_jp_node(p, *it), what, &v)) != SL_OK)
            return rv;
        if (strchr(v, ',') != NULL)
            return sl_jp_fail(p, sl_jp_node(p, *it), "%s cannot contain ','", what);
        len += strlen(v) + 1;
    }
    if ((joined = malloc(len)) == NULL)
        return sl_jp_nomem(p);
    len = 0;
    for (it = start; it < vn->data.sequence.items.top; it++) {
        size_t n;
        v = sl_jp_sval(sl_jp_node(p, *it));
        n = strlen(v);
        if (it > start)
            joined[len++] = ',';
        memcpy(joined + len, v, n);
        len += n;
    }
    joined[len] = '\0';
    rv = add_param(p, st, key, joined, sl_jp_node_line(vn), sl_jp_node_col(vn));
    free(joined);
    return rv;
}

/* Whether the stage has parameter d (a mapping one as "<name>.<k>"). */
static int has_param(const sl_stage *st, const sl_stage_param_def *d)
{
    size_t n = strlen(d->name);

    for (int i = 0; i < st->nparams; i++) {
        const char *key = st->params[i].key;
        if (strncmp(key, d->name, n) == 0 &&
            (key[n] == '\0' || ((d->required & SL_PARAM_MAPPING) && key[n] == '.')))
            return 1;
    }
    return 0;
}

static int stage_param(sl_jp *p, sl_stage *st, const sl_stage_param_def *d, const yaml_node_t *kn,
                       const yaml_node_t *vn)
{
    const char *v;
    char what[96];
    int rv;

    if (d->required & SL_PARAM_MAPPING)
        return add_mapping_param(p, st, sl_jp_sval(kn), vn, d->required);
    if ((d->required & SL_PARAM_LIST) && vn->type == YAML_SEQUENCE_NODE)
        return add_list_param(p, st, sl_jp_sval(kn), vn);
    snprintf(what, sizeof(what), "parameter '%s'", sl_jp_sval(kn));
    if ((rv = sl_jp_want_text(p, vn, what, &v)) != SL_OK)
        return rv;
    return add_param(p, st, sl_jp_sval(kn), v, sl_jp_node_line(vn), value_col(vn, d->required));
}

int sl_jp_stage_params(sl_jp *p, sl_stage *st, const yaml_node_t *map,
                       const sl_jp_stage_keys *k, const sl_stage_type *type)
{
    const char *kind = sl_stage_kind_name(st->kind);
    int rv;

    for (int i = 0; i < k->nparams; i++) {
        yaml_node_t *kn = sl_jp_node(p, k->params[i]->key);
        yaml_node_t *vn = sl_jp_node(p, k->params[i]->value);
        const sl_stage_param_def *d = sl_stage_type_param(type, sl_jp_sval(kn));

        if (d == NULL)
            return sl_jp_fail(p, kn, "unknown parameter '%s' for %s '%s'", sl_jp_sval(kn), kind,
                              st->type);
        if ((rv = stage_param(p, st, d, kn, vn)) != SL_OK)
            return rv;
    }
    for (const sl_stage_param_def *d = type->params; d->name != NULL; d++) {
        if (has_param(st, d))
            continue;
        if (d->required & SL_PARAM_REQUIRED)
            return sl_jp_fail(p, map, "%s '%s' requires '%s'", kind, st->type, d->name);
        if (d->dflt != NULL && (rv = add_param(p, st, d->name, d->dflt, 0, 0)) != SL_OK)
            return rv;
    }
    return SL_OK;
}
