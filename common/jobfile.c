#include "common/jobfile.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "common/config.h"
#include "common/stage_catalog.h"
#include "common/status.h"

#define JOB_MAX_PARALLELISM 32768
#define JOB_DEFAULT_MAX_PARALLELISM 128
#define JOB_MAX_NAME 256      /* bytes of a job name */
#define STAGE_MAX_NAME 128    /* bytes of a stage name */
#define CONFIG_MAX_KEYS 256   /* entries of a job's config: block */
#define CONFIG_MAX_DEPTH 16   /* nesting of the config: block */
#define CONFIG_MAX_KEY 256    /* bytes of a flattened config key */
#define MAP_MAX_KEYS 1024     /* keys of any one mapping (duplicates check is quadratic) */

typedef struct jp {
    const char *file;
    yaml_document_t *doc;
    sl_job_spec *job;
    int ndone;              /* stages fully checked so far */
    yaml_node_t **names;    /* per stage: its `name` scalar (prescan) or NULL */
    sl_config *scratch;     /* validates config: entries */
    char *err;
    size_t errlen;
} jp;

/* ---- errors and nodes ---- */

static int fail_at(jp *p, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(jp *p, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void vfail(jp *p, int line, int col, const char *fmt, va_list ap)
{
    char msg[512];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (p->err != NULL && p->errlen > 0)
        snprintf(p->err, p->errlen, "%s:%d:%d: %s", p->file, line, col, msg);
}

static int fail_at(jp *p, int line, int col, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfail(p, line, col, fmt, ap);
    va_end(ap);
    return SL_EINVAL;
}

static int node_line(const yaml_node_t *n)
{
    return (int)n->start_mark.line + 1;
}

static int node_col(const yaml_node_t *n)
{
    return (int)n->start_mark.column + 1;
}

static int fail(jp *p, const yaml_node_t *n, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfail(p, node_line(n), node_col(n), fmt, ap);
    va_end(ap);
    return SL_EINVAL;
}

static int nomem(jp *p)
{
    if (p->err != NULL && p->errlen > 0)
        snprintf(p->err, p->errlen, "%s: out of memory", p->file);
    return SL_ENOMEM;
}

static yaml_node_t *node(jp *p, int id)
{
    return yaml_document_get_node(p->doc, id);
}

static const char *sval(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static int is_scalar(const yaml_node_t *n)
{
    return n != NULL && n->type == YAML_SCALAR_NODE;
}

/* A plain scalar that YAML reads as null: "", "~", "null". */
static int is_null(const yaml_node_t *n)
{
    const char *s;

    if (!is_scalar(n) || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    s = sval(n);
    return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
           strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

static int scalar_eq(const yaml_node_t *n, const char *s)
{
    return is_scalar(n) && n->data.scalar.length == strlen(s) && strcmp(sval(n), s) == 0;
}

/* A non-null scalar without NUL bytes, as text; `what` names it in errors. */
static int want_text(jp *p, const yaml_node_t *n, const char *what, const char **out)
{
    if (!is_scalar(n))
        return fail(p, n, "%s must be a single value, not a %s", what,
                    n->type == YAML_MAPPING_NODE ? "mapping" : "list");
    if (is_null(n))
        return fail(p, n, "%s has no value", what);
    if (strlen(sval(n)) != n->data.scalar.length)
        return fail(p, n, "%s contains a NUL byte", what);
    *out = sval(n);
    return SL_OK;
}

static int dup_text(jp *p, const yaml_node_t *n, const char *what, char **out)
{
    const char *s;
    int rv;

    if ((rv = want_text(p, n, what, &s)) != SL_OK)
        return rv;
    if ((*out = strdup(s)) == NULL)
        return nomem(p);
    return SL_OK;
}

/* A decimal integer in [lo, hi]. */
static int want_int(jp *p, const yaml_node_t *n, const char *what, long lo, long hi, int *out)
{
    const char *s;
    char *end = NULL;
    long long v;
    int rv;

    if ((rv = want_text(p, n, what, &s)) != SL_OK)
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
    return fail(p, n, "%s must be an integer between %ld and %ld, not '%s'", what, lo, hi, s);
}

/* Mapping keys must be scalars and appear once. */
static int check_keys(jp *p, const yaml_node_t *map)
{
    yaml_node_pair_t *a, *b;

    for (a = map->data.mapping.pairs.start; a < map->data.mapping.pairs.top; a++) {
        yaml_node_t *k = node(p, a->key);
        if (a - map->data.mapping.pairs.start >= MAP_MAX_KEYS)
            return fail(p, k, "too many keys in one mapping (at most %d)", MAP_MAX_KEYS);
        if (!is_scalar(k) || is_null(k))
            return fail(p, k, "a key must be a plain name");
        if (strlen(sval(k)) != k->data.scalar.length)
            return fail(p, k, "a key contains a NUL byte");
        for (b = map->data.mapping.pairs.start; b < a; b++) {
            yaml_node_t *kb = node(p, b->key);
            if (kb->data.scalar.length == k->data.scalar.length &&
                memcmp(kb->data.scalar.value, k->data.scalar.value, k->data.scalar.length) == 0)
                return fail(p, k, "duplicate key '%s' (first at line %d)", sval(k),
                            node_line(kb));
        }
    }
    return SL_OK;
}

static int name_char_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-' || c == '.';
}

/* ---- the config: block ---- */

static int config_prefix_ok(const char *key)
{
    static const char *const prefixes[] = {"execution.", "restart-strategy.", "state."};

    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        if (strncmp(key, prefixes[i], strlen(prefixes[i])) == 0)
            return 1;
    }
    return 0;
}

static int config_add(jp *p, const char *key, const yaml_node_t *kn, const yaml_node_t *vn)
{
    sl_job_spec *job = p->job;
    sl_param *grown, *c;
    const char *value;
    int rv;

    if (!config_prefix_ok(key))
        return fail(p, kn,
                    "config key '%s' cannot be set per job (only execution.*, "
                    "restart-strategy.* and state.* keys)",
                    key);
    for (int i = 0; i < job->nconfig; i++) {
        if (strcmp(job->config[i].key, key) == 0)
            return fail(p, kn, "duplicate config key '%s' (first at line %d)", key,
                        job->config[i].line);
    }
    if (job->nconfig >= CONFIG_MAX_KEYS)
        return fail(p, kn, "too many config keys (at most %d)", CONFIG_MAX_KEYS);
    if (!is_scalar(vn))
        return fail(p, vn, "config value of '%s' must be a single value", key);
    if (strlen(sval(vn)) != vn->data.scalar.length)
        return fail(p, vn, "config value of '%s' contains a NUL byte", key);
    value = sval(vn);
    rv = sl_config_set_at(p->scratch, key, value, p->file, node_line(vn), node_col(vn), p->err,
                          p->errlen);
    if (rv != SL_OK)
        return rv == SL_ENOMEM ? nomem(p) : SL_EINVAL;

    grown = realloc(job->config, (size_t)(job->nconfig + 1) * sizeof(*grown));
    if (grown == NULL)
        return nomem(p);
    job->config = grown;
    c = &job->config[job->nconfig];
    memset(c, 0, sizeof(*c));
    c->key = strdup(key);
    c->value = strdup(value);
    c->line = node_line(vn);
    c->col = node_col(vn);
    job->nconfig++; /* counted now so sl_job_free releases a half-made entry */
    if (c->key == NULL || c->value == NULL)
        return nomem(p);
    return SL_OK;
}

static int config_walk(jp *p, const yaml_node_t *map, const char *prefix, int depth)
{
    yaml_node_pair_t *pr;
    int rv;

    if (depth > CONFIG_MAX_DEPTH)
        return fail(p, map, "config is nested too deeply");
    if ((rv = check_keys(p, map)) != SL_OK)
        return rv;
    for (pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top; pr++) {
        yaml_node_t *kn = node(p, pr->key), *vn = node(p, pr->value);
        char key[CONFIG_MAX_KEY];
        int n;

        n = snprintf(key, sizeof(key), "%s%s%s", prefix, prefix[0] ? "." : "", sval(kn));
        if (n < 0 || (size_t)n >= sizeof(key))
            return fail(p, kn, "config key is too long");
        if (vn->type == YAML_MAPPING_NODE)
            rv = config_walk(p, vn, key, depth + 1);
        else
            rv = config_add(p, key, kn, vn);
        if (rv != SL_OK)
            return rv;
    }
    return SL_OK;
}

static int parse_config(jp *p, const yaml_node_t *n)
{
    int rv;

    if (is_null(n))
        return SL_OK; /* `config:` with nothing under it */
    if (n->type != YAML_MAPPING_NODE)
        return fail(p, n, "config must be a mapping of configuration keys to values");
    if ((rv = sl_config_new(&p->scratch)) != SL_OK)
        return rv == SL_ENOMEM ? nomem(p) : rv;
    return config_walk(p, n, "", 0);
}

/* ---- stages ---- */

/* The keys of one stage mapping, sorted by role. */
typedef struct stage_keys {
    yaml_node_t *name;
    yaml_node_t *kind_key, *kind_val;
    yaml_node_t *in_key, *in_val; /* `input:` or `inputs:` */
    yaml_node_t *kb_key, *kb_val;
    yaml_node_pair_t *params[64];
    int nparams;
} stage_keys;

/* Index among the checked stages, -1 if absent. */
static int find_done(jp *p, const char *name)
{
    for (int i = 0; i < p->ndone; i++) {
        if (strcmp(p->job->stages[i].name, name) == 0)
            return i;
    }
    return -1;
}

static int sort_keys(jp *p, sl_stage *st, const yaml_node_t *map, stage_keys *k)
{
    sl_job_spec *job = p->job;
    yaml_node_pair_t *pr;
    int rv;

    if ((rv = check_keys(p, map)) != SL_OK)
        return rv;
    for (pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top; pr++) {
        yaml_node_t *kn = node(p, pr->key), *vn = node(p, pr->value);
        const char *key = sval(kn);

        if (strcmp(key, "name") == 0) {
            k->name = vn;
        } else if (strcmp(key, "source") == 0 || strcmp(key, "operator") == 0 ||
                   strcmp(key, "sink") == 0) {
            if (k->kind_key != NULL)
                return fail(p, kn,
                            "a stage is exactly one of source, operator or sink (it already "
                            "has '%s')",
                            sval(k->kind_key));
            k->kind_key = kn;
            k->kind_val = vn;
        } else if (strcmp(key, "parallelism") == 0) {
            if ((rv = want_int(p, vn, "parallelism", 1, JOB_MAX_PARALLELISM,
                               &st->parallelism)) != SL_OK)
                return rv;
            if (st->parallelism > job->max_parallelism)
                return fail(p, vn, "parallelism %d exceeds max-parallelism %d",
                            st->parallelism, job->max_parallelism);
        } else if (strcmp(key, "input") == 0 || strcmp(key, "inputs") == 0) {
            if (k->in_key != NULL)
                return fail(p, kn, "use either 'input' or 'inputs', not both");
            k->in_key = kn;
            k->in_val = vn;
        } else if (strcmp(key, "key-by") == 0) {
            k->kb_key = kn;
            k->kb_val = vn;
        } else {
            if (k->nparams >= (int)(sizeof(k->params) / sizeof(k->params[0])))
                return fail(p, kn, "too many parameters");
            k->params[k->nparams++] = pr;
        }
    }
    return SL_OK;
}

static int stage_name(jp *p, sl_stage *st, const yaml_node_t *map, const stage_keys *k)
{
    const char *s;
    size_t len;
    int rv, other;

    if (k->name == NULL)
        return fail(p, map, "stage has no 'name'");
    if ((rv = want_text(p, k->name, "a stage name", &s)) != SL_OK)
        return rv;
    len = strlen(s);
    if (len > STAGE_MAX_NAME)
        return fail(p, k->name, "stage name is longer than %d bytes", STAGE_MAX_NAME);
    for (size_t i = 0; i < len; i++) {
        if (!name_char_ok((unsigned char)s[i]) || (i == 0 && (s[0] == '.' || s[0] == '-')))
            return fail(p, k->name,
                        "stage name '%s' may only use letters, digits, '_', '-' and '.' "
                        "(and starts with a letter, digit or '_')",
                        s);
    }
    if ((other = find_done(p, s)) >= 0)
        return fail(p, k->name, "duplicate stage name '%s' (first at line %d)", s,
                    p->job->stages[other].line);
    if ((st->name = strdup(s)) == NULL)
        return nomem(p);
    return SL_OK;
}

static int stage_type(jp *p, sl_stage *st, const yaml_node_t *map, const stage_keys *k,
                      const sl_stage_type **type)
{
    const char *kind = NULL, *s;
    int rv;

    if (k->kind_key == NULL)
        return fail(p, map, "stage '%s' needs one of source, operator or sink", st->name);
    kind = sval(k->kind_key);
    st->kind = strcmp(kind, "source") == 0     ? SL_STAGE_SOURCE
               : strcmp(kind, "operator") == 0 ? SL_STAGE_OPERATOR
                                               : SL_STAGE_SINK;
    if ((rv = want_text(p, k->kind_val, kind, &s)) != SL_OK)
        return rv;
    if ((*type = sl_stage_type_find(st->kind, s)) == NULL)
        return fail(p, k->kind_val, "unknown %s '%s'", kind, s);
    if ((st->type = strdup(s)) == NULL)
        return nomem(p);
    return SL_OK;
}

static int add_param(jp *p, sl_stage *st, const char *key, const char *value, int line, int col)
{
    sl_param *grown = realloc(st->params, (size_t)(st->nparams + 1) * sizeof(*grown));
    sl_param *c;

    if (grown == NULL)
        return nomem(p);
    st->params = grown;
    c = &st->params[st->nparams];
    memset(c, 0, sizeof(*c));
    c->key = strdup(key);
    c->value = strdup(value);
    c->line = line;
    c->col = col;
    st->nparams++;
    if (c->key == NULL || c->value == NULL)
        return nomem(p);
    return SL_OK;
}

/* Column of a value; for an expression, of its first character (after the
 * opening quote of a quoted scalar). */
static int value_col(const yaml_node_t *n, int flags)
{
    int quoted = n->type == YAML_SCALAR_NODE &&
                 (n->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                  n->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE);

    return node_col(n) + ((flags & SL_PARAM_EXPR) && quoted ? 1 : 0);
}

/* SL_PARAM_MAPPING: one parameter "<key>.<name>" per entry, in file order. */
static int add_mapping_param(jp *p, sl_stage *st, const char *key, const yaml_node_t *vn,
                             int flags)
{
    yaml_node_pair_t *pr;
    int rv;

    if (is_null(vn))
        return fail(p, vn, "parameter '%s' has no value", key);
    if (vn->type != YAML_MAPPING_NODE)
        return fail(p, vn, "parameter '%s' must be a mapping (name: value, ...), not a %s", key,
                    vn->type == YAML_SEQUENCE_NODE ? "list" : "single value");
    if ((rv = check_keys(p, vn)) != SL_OK)
        return rv;
    if (vn->data.mapping.pairs.top == vn->data.mapping.pairs.start)
        return fail(p, vn, "parameter '%s' is an empty mapping", key);
    for (pr = vn->data.mapping.pairs.start; pr < vn->data.mapping.pairs.top; pr++) {
        yaml_node_t *kn = node(p, pr->key), *en = node(p, pr->value);
        char full[CONFIG_MAX_KEY], what[CONFIG_MAX_KEY + 32];
        const char *v;
        int n = snprintf(full, sizeof(full), "%s.%s", key, sval(kn));

        if (n < 0 || (size_t)n >= sizeof(full))
            return fail(p, kn, "name '%s' is too long", sval(kn));
        snprintf(what, sizeof(what), "'%s' under '%s'", sval(kn), key);
        if ((rv = want_text(p, en, what, &v)) != SL_OK)
            return rv;
        if ((rv = add_param(p, st, full, v, node_line(en), value_col(en, flags))) != SL_OK)
            return rv;
    }
    return SL_OK;
}

/* SL_PARAM_LIST given a list: one parameter, the items joined by ','. */
static int add_list_param(jp *p, sl_stage *st, const char *key, const yaml_node_t *vn)
{
    yaml_node_item_t *it, *start = vn->data.sequence.items.start;
    size_t len = 0;
    char what[96], *joined;
    const char *v;
    int rv;

    if (vn->data.sequence.items.top == start)
        return fail(p, vn, "parameter '%s' is an empty list", key);
    snprintf(what, sizeof(what), "an item of '%s'", key);
    for (it = start; it < vn->data.sequence.items.top; it++) {
        if ((rv = want_text(p, node(p, *it), what, &v)) != SL_OK)
            return rv;
        if (strchr(v, ',') != NULL)
            return fail(p, node(p, *it), "%s cannot contain ','", what);
        len += strlen(v) + 1;
    }
    if ((joined = malloc(len)) == NULL)
        return nomem(p);
    len = 0;
    for (it = start; it < vn->data.sequence.items.top; it++) {
        size_t n;
        v = sval(node(p, *it));
        n = strlen(v);
        if (it > start)
            joined[len++] = ',';
        memcpy(joined + len, v, n);
        len += n;
    }
    joined[len] = '\0';
    rv = add_param(p, st, key, joined, node_line(vn), node_col(vn));
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

static int stage_param(jp *p, sl_stage *st, const sl_stage_param_def *d, const yaml_node_t *kn,
                       const yaml_node_t *vn)
{
    const char *v;
    char what[96];
    int rv;

    if (d->required & SL_PARAM_MAPPING)
        return add_mapping_param(p, st, sval(kn), vn, d->required);
    if ((d->required & SL_PARAM_LIST) && vn->type == YAML_SEQUENCE_NODE)
        return add_list_param(p, st, sval(kn), vn);
    snprintf(what, sizeof(what), "parameter '%s'", sval(kn));
    if ((rv = want_text(p, vn, what, &v)) != SL_OK)
        return rv;
    return add_param(p, st, sval(kn), v, node_line(vn), value_col(vn, d->required));
}

static int stage_params(jp *p, sl_stage *st, const yaml_node_t *map, const stage_keys *k,
                        const sl_stage_type *type)
{
    const char *kind = sl_stage_kind_name(st->kind);
    int rv;

    for (int i = 0; i < k->nparams; i++) {
        yaml_node_t *kn = node(p, k->params[i]->key), *vn = node(p, k->params[i]->value);
        const sl_stage_param_def *d = sl_stage_type_param(type, sval(kn));

        if (d == NULL)
            return fail(p, kn, "unknown parameter '%s' for %s '%s'", sval(kn), kind, st->type);
        if ((rv = stage_param(p, st, d, kn, vn)) != SL_OK)
            return rv;
    }
    for (const sl_stage_param_def *d = type->params; d->name != NULL; d++) {
        if (has_param(st, d))
            continue;
        if (d->required & SL_PARAM_REQUIRED)
            return fail(p, map, "%s '%s' requires '%s'", kind, st->type, d->name);
        if (d->dflt != NULL && (rv = add_param(p, st, d->name, d->dflt, 0, 0)) != SL_OK)
            return rv;
    }
    return SL_OK;
}

/* Resolves one input name written at node n. */
static int resolve_input(jp *p, sl_stage *st, const yaml_node_t *n, int *out)
{
    const char *s;
    int rv, i;

    if ((rv = want_text(p, n, "an input", &s)) != SL_OK)
        return rv;
    if (strcmp(s, st->name) == 0)
        return fail(p, n, "stage '%s' cannot read its own output", s);
    i = find_done(p, s);
    if (i < 0) {
        for (int j = p->ndone + 1; j < p->job->nstages; j++) {
            if (p->names[j] != NULL && scalar_eq(p->names[j], s))
                return fail(p, n,
                            "input '%s' must name a stage defined earlier in the pipeline", s);
        }
        return fail(p, n, "unknown stage '%s'", s);
    }
    if (p->job->stages[i].kind == SL_STAGE_SINK)
        return fail(p, n, "stage '%s' is a sink and has no output", s);
    *out = i;
    return SL_OK;
}

static int stage_inputs(jp *p, sl_stage *st, int idx, const yaml_node_t *map,
                        const stage_keys *k, const sl_stage_type *type)
{
    const char *kind = sl_stage_kind_name(st->kind);
    yaml_node_t *names[2];
    int n = 0, rv;

    if (type->max_inputs == 0) {
        if (k->in_key != NULL)
            return fail(p, k->in_key, "a %s takes no input", kind);
        st->ninputs = 0;
        return SL_OK;
    }
    if (k->in_key == NULL) {
        const sl_stage *prev = idx > 0 ? &p->job->stages[idx - 1] : NULL;
        if (prev == NULL)
            return fail(p, map, "stage '%s' has no input: the first stage must be a source",
                        st->name);
        if (prev->kind == SL_STAGE_SINK)
            return fail(p, map,
                        "stage '%s' has no input: the previous stage '%s' is a sink (name "
                        "one with 'input:')",
                        st->name, prev->name);
        st->inputs[0] = idx - 1;
        st->ninputs = 1;
    } else if (strcmp(sval(k->in_key), "input") == 0) {
        if ((rv = resolve_input(p, st, k->in_val, &st->inputs[0])) != SL_OK)
            return rv;
        st->ninputs = 1;
    } else {
        yaml_node_item_t *it;
        if (k->in_val->type != YAML_SEQUENCE_NODE)
            return fail(p, k->in_val, "inputs must be a list of stage names");
        for (it = k->in_val->data.sequence.items.start; it < k->in_val->data.sequence.items.top;
             it++) {
            if (n >= 2)
                return fail(p, node(p, *it), "a stage takes at most 2 inputs");
            names[n++] = node(p, *it);
        }
        if (n == 0)
            return fail(p, k->in_val, "inputs must name at least one stage");
        for (int i = 0; i < n; i++) {
            if ((rv = resolve_input(p, st, names[i], &st->inputs[i])) != SL_OK)
                return rv;
        }
        st->ninputs = n;
    }
    if (st->ninputs < type->min_inputs || st->ninputs > type->max_inputs) {
        const yaml_node_t *at = k->in_val != NULL ? k->in_val : map;
        if (type->min_inputs == type->max_inputs)
            return fail(p, at, "%s '%s' takes %d input%s", kind, st->type, type->min_inputs,
                        type->min_inputs == 1 ? "" : "s");
        return fail(p, at, "%s '%s' takes %d to %d inputs", kind, st->type, type->min_inputs,
                    type->max_inputs);
    }
    return SL_OK;
}

static int stage_key_by(jp *p, sl_stage *st, const yaml_node_t *map, const stage_keys *k,
                        const sl_stage_type *type)
{
    const char *kind = sl_stage_kind_name(st->kind);
    yaml_node_t *fields[SL_MAX_KEYS];
    int n = 0, rv;

    if (k->kb_key == NULL) {
        if (type->key_by == SL_KEYBY_REQUIRED)
            return fail(p, map, "%s '%s' requires key-by", kind, st->type);
        return SL_OK;
    }
    if (type->key_by == SL_KEYBY_FORBIDDEN)
        return fail(p, k->kb_key, "key-by is not allowed for %s '%s'", kind, st->type);
    if (k->kb_val->type == YAML_SEQUENCE_NODE) {
        yaml_node_item_t *it;
        for (it = k->kb_val->data.sequence.items.start; it < k->kb_val->data.sequence.items.top;
             it++) {
            if (n >= SL_MAX_KEYS)
                return fail(p, node(p, *it), "key-by takes at most %d fields", SL_MAX_KEYS);
            fields[n++] = node(p, *it);
        }
        if (n == 0)
            return fail(p, k->kb_val, "key-by must name at least one field");
    } else {
        fields[n++] = k->kb_val;
    }
    for (int i = 0; i < n; i++) {
        const char *f;
        if ((rv = want_text(p, fields[i], "a key-by field", &f)) != SL_OK)
            return rv;
        for (int j = 0; j < st->nkeys; j++) {
            if (strcmp(st->key_by[j], f) == 0)
                return fail(p, fields[i], "key-by field '%s' is listed twice", f);
        }
        for (int in = 0; in < st->ninputs; in++) {
            const sl_stage *src = &p->job->stages[st->inputs[in]];
            int fi = sl_schema_find(&src->out_schema, f);
            if (fi < 0)
                return fail(p, fields[i], "key-by field '%s' is not in the output of '%s'", f,
                            src->name);
            if (in == 0)
                st->key_idx[st->nkeys] = fi;
        }
        if ((st->key_by[st->nkeys] = strdup(f)) == NULL)
            return nomem(p);
        st->nkeys++;
    }
    return SL_OK;
}

static int parse_stage(jp *p, int idx, yaml_node_t *map)
{
    sl_stage *st = &p->job->stages[idx];
    const sl_stage_type *type = NULL;
    sl_stage_check chk;
    stage_keys k;
    int rv;

    memset(&k, 0, sizeof(k));
    st->line = node_line(map);
    st->col = node_col(map);
    if (map->type != YAML_MAPPING_NODE)
        return fail(p, map, "a stage must be a mapping (name:, source|operator|sink:, ...)");
    if ((rv = sort_keys(p, st, map, &k)) != SL_OK)
        return rv;
    if ((rv = stage_name(p, st, map, &k)) != SL_OK)
        return rv;
    if ((rv = stage_type(p, st, map, &k, &type)) != SL_OK)
        return rv;
    if ((rv = stage_params(p, st, map, &k, type)) != SL_OK)
        return rv;
    if ((rv = stage_inputs(p, st, idx, map, &k, type)) != SL_OK)
        return rv;
    if ((rv = stage_key_by(p, st, map, &k, type)) != SL_OK)
        return rv;
    if (st->parallelism == 0)
        st->parallelism = p->job->parallelism;

    memset(&chk, 0, sizeof(chk));
    chk.file = p->file;
    chk.st = st;
    for (int i = 0; i < st->ninputs; i++)
        chk.in[i] = &p->job->stages[st->inputs[i]].out_schema;
    chk.err = p->err;
    chk.errlen = p->errlen;
    if ((rv = type->validate(&chk)) != SL_OK)
        return rv == SL_ENOMEM ? nomem(p) : rv;
    return SL_OK;
}

/* After every stage: a source and a sink, no dangling stage, chaining. */
static int finish_pipeline(jp *p, const yaml_node_t *seq)
{
    sl_job_spec *job = p->job;
    int consumers[SL_MAX_STAGES] = {0};
    int sources = 0, sinks = 0;

    for (int i = 0; i < job->nstages; i++) {
        const sl_stage *st = &job->stages[i];
        sources += st->kind == SL_STAGE_SOURCE;
        sinks += st->kind == SL_STAGE_SINK;
        for (int j = 0; j < st->ninputs; j++) {
            if (j == 1 && st->inputs[1] == st->inputs[0])
                continue; /* one consumer, read twice */
            consumers[st->inputs[j]]++;
        }
    }
    if (sources == 0)
        return fail(p, seq, "pipeline has no source");
    if (sinks == 0)
        return fail(p, seq, "pipeline has no sink");
    for (int i = 0; i < job->nstages; i++) {
        const sl_stage *st = &job->stages[i];
        if (st->kind != SL_STAGE_SINK && consumers[i] == 0)
            return fail_at(p, st->line, st->col, "stage '%s' has no consumer", st->name);
    }
    for (int i = 0; i < job->nstages; i++) {
        sl_stage *st = &job->stages[i];
        const sl_stage *in = st->ninputs == 1 ? &job->stages[st->inputs[0]] : NULL;
        st->chained = in != NULL && in->parallelism == st->parallelism && st->nkeys == 0 &&
                      consumers[st->inputs[0]] == 1;
    }
    return SL_OK;
}

static int parse_pipeline(jp *p, yaml_node_t *seq)
{
    sl_job_spec *job = p->job;
    yaml_node_item_t *it;
    int n, rv;

    if (seq->type != YAML_SEQUENCE_NODE)
        return fail(p, seq, "pipeline must be a list of stages");
    n = (int)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    if (n == 0)
        return fail(p, seq, "pipeline has no stages");
    if (n > SL_MAX_STAGES)
        return fail(p, node(p, seq->data.sequence.items.start[SL_MAX_STAGES]),
                    "too many stages (at most %d)", SL_MAX_STAGES);
    job->stages = calloc((size_t)n, sizeof(*job->stages));
    p->names = calloc((size_t)n, sizeof(*p->names));
    if (job->stages == NULL || p->names == NULL)
        return nomem(p);
    job->nstages = n;

    /* Every stage's name up front, to tell "defined later" from "unknown". */
    for (int i = 0; i < n; i++) {
        yaml_node_t *st = node(p, seq->data.sequence.items.start[i]);
        yaml_node_pair_t *pr;
        if (st->type != YAML_MAPPING_NODE)
            continue;
        for (pr = st->data.mapping.pairs.start; pr < st->data.mapping.pairs.top; pr++) {
            if (scalar_eq(node(p, pr->key), "name") && is_scalar(node(p, pr->value)))
                p->names[i] = node(p, pr->value);
        }
    }
    for (it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
        if ((rv = parse_stage(p, p->ndone, node(p, *it))) != SL_OK)
            return rv;
        p->ndone++;
    }
    return finish_pipeline(p, seq);
}

/* ---- the job ---- */

static int parse_job(jp *p, yaml_node_t *root, int parallelism_override)
{
    static const char *const keys[] = {"name", "parallelism", "max-parallelism", "config",
                                       "pipeline"};
    sl_job_spec *job = p->job;
    yaml_node_t *npar = NULL, *nmax = NULL, *ncfg = NULL, *npipe = NULL, *nname = NULL;
    yaml_node_pair_t *pr;
    int par = 0, rv;

    if (root->type != YAML_MAPPING_NODE)
        return fail(p, root, "a job file must be a mapping (name:, pipeline:, ...)");
    if ((rv = check_keys(p, root)) != SL_OK)
        return rv;
    job->max_parallelism = JOB_DEFAULT_MAX_PARALLELISM;
    for (pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top; pr++) {
        yaml_node_t *kn = node(p, pr->key), *vn = node(p, pr->value);
        const char *key = sval(kn);
        size_t i;

        for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            if (strcmp(key, keys[i]) == 0)
                break;
        }
        switch (i) {
        case 0:
            nname = vn;
            if ((rv = dup_text(p, vn, "name", &job->name)) != SL_OK)
                return rv;
            if (strlen(job->name) > JOB_MAX_NAME)
                return fail(p, vn, "name is longer than %d bytes", JOB_MAX_NAME);
            for (const char *c = job->name; *c != '\0'; c++) {
                if ((unsigned char)*c < 0x20 || *c == 0x7f)
                    return fail(p, vn, "name contains a control character");
            }
            break;
        case 1:
            npar = vn;
            if ((rv = want_int(p, vn, "parallelism", 1, JOB_MAX_PARALLELISM, &par)) != SL_OK)
                return rv;
            break;
        case 2:
            nmax = vn;
            if ((rv = want_int(p, vn, "max-parallelism", 1, JOB_MAX_PARALLELISM,
                               &job->max_parallelism)) != SL_OK)
                return rv;
            break;
        case 3: ncfg = vn; break;
        case 4: npipe = vn; break;
        default:
            return fail(p, kn,
                        "unknown key '%s' (a job has name, parallelism, max-parallelism, "
                        "config and pipeline)",
                        key);
        }
    }
    if (nname == NULL)
        return fail(p, root, "job has no 'name'");
    if (npipe == NULL)
        return fail(p, root, "job has no 'pipeline'");

    job->parallelism_in_file = npar != NULL;
    job->parallelism = parallelism_override > 0 ? parallelism_override : par > 0 ? par : 1;
    if (job->parallelism > job->max_parallelism) {
        if (parallelism_override > 0)
            return fail(p, nmax != NULL ? nmax : root,
                        "parallelism %d (-p) exceeds max-parallelism %d", job->parallelism,
                        job->max_parallelism);
        return fail(p, npar, "parallelism %d exceeds max-parallelism %d", job->parallelism,
                    job->max_parallelism);
    }
    if (ncfg != NULL && (rv = parse_config(p, ncfg)) != SL_OK)
        return rv;
    return parse_pipeline(p, npipe);
}

/* libyaml's error as "file:line:col: message". */
static int yaml_fail(jp *p, const yaml_parser_t *parser, const char *text, size_t len)
{
    int line = (int)parser->problem_mark.line + 1, col = (int)parser->problem_mark.column + 1;
    const char *problem = parser->problem != NULL ? parser->problem : "malformed YAML";

    if (parser->error == YAML_MEMORY_ERROR)
        return nomem(p);
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
        return fail_at(p, line, col, "YAML error: %s", problem);
    }
    if (parser->context != NULL)
        return fail_at(p, line, col, "YAML syntax error: %s %s", problem, parser->context);
    return fail_at(p, line, col, "YAML syntax error: %s", problem);
}

int sl_job_parse(const char *filename, const char *text, size_t len, int parallelism_override,
                 sl_job_spec **out, char *err, size_t errlen)
{
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    int have_parser = 0, have_doc = 0, have_extra = 0;
    yaml_node_t *root;
    jp p;
    int rv;

    memset(&p, 0, sizeof(p));
    p.file = filename != NULL ? filename : "<job>";
    p.err = err;
    p.errlen = errlen;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    *out = NULL;
    if (text == NULL)
        len = 0;

    if (!yaml_parser_initialize(&parser)) {
        rv = nomem(&p);
        goto cleanup;
    }
    have_parser = 1;
    yaml_parser_set_input_string(&parser, (const unsigned char *)(text != NULL ? text : ""),
                                 len);
    if (!yaml_parser_load(&parser, &doc)) {
        rv = yaml_fail(&p, &parser, text, len);
        goto cleanup;
    }
    have_doc = 1;
    p.doc = &doc;
    root = yaml_document_get_root_node(&doc);
    if (root == NULL) {
        rv = fail_at(&p, 1, 1, "empty job file");
        goto cleanup;
    }
    if (!yaml_parser_load(&parser, &extra)) {
        rv = yaml_fail(&p, &parser, text, len);
        goto cleanup;
    }
    have_extra = 1;
    if (yaml_document_get_root_node(&extra) != NULL) {
        rv = fail(&p, yaml_document_get_root_node(&extra),
                  "a job file holds one YAML document");
        goto cleanup;
    }

    if ((p.job = calloc(1, sizeof(*p.job))) == NULL) {
        rv = nomem(&p);
        goto cleanup;
    }
    if ((rv = parse_job(&p, root, parallelism_override)) != SL_OK)
        goto cleanup;
    *out = p.job;
    p.job = NULL;

cleanup:
    sl_job_free(p.job);
    free(p.names);
    if (p.scratch != NULL)
        sl_config_free(p.scratch);
    if (have_extra)
        yaml_document_delete(&extra);
    if (have_doc)
        yaml_document_delete(&doc);
    if (have_parser)
        yaml_parser_delete(&parser);
    return rv;
}

void sl_job_free(sl_job_spec *job)
{
    if (job == NULL)
        return;
    for (int i = 0; i < job->nstages; i++) {
        sl_stage *st = &job->stages[i];
        free(st->name);
        free(st->type);
        for (int j = 0; j < st->nkeys; j++)
            free(st->key_by[j]);
        for (int j = 0; j < st->nparams; j++) {
            free(st->params[j].key);
            free(st->params[j].value);
        }
        free(st->params);
        sl_schema_clear(&st->out_schema);
    }
    free(job->stages);
    for (int i = 0; i < job->nconfig; i++) {
        free(job->config[i].key);
        free(job->config[i].value);
    }
    free(job->config);
    free(job->name);
    free(job);
}

const char *sl_stage_param(const sl_stage *st, const char *key)
{
    for (int i = 0; i < st->nparams; i++) {
        if (strcmp(st->params[i].key, key) == 0)
            return st->params[i].value;
    }
    return NULL;
}

int sl_job_find_stage(const sl_job_spec *job, const char *name)
{
    for (int i = 0; i < job->nstages; i++) {
        if (job->stages[i].name != NULL && strcmp(job->stages[i].name, name) == 0)
            return i;
    }
    return -1;
}
