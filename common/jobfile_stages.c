/* Job-file stages: one stage mapping checked and built (name, kind and
 * type from the stage catalog, inputs that come earlier, key-by fields in
 * the input's schema, the type's own validation), then the pipeline as a
 * whole (a source, a sink, every stage consumed, which stages chain).
 * Parameters are in jobfile_params.c. */
#include "common/jobfile_internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/names.h"
#include "common/stage_catalog.h"
#include "common/status.h"

#define STAGE_MAX_NAME 128    /* bytes of a stage name */
#define STATE_FILE_EXTRA 20   /* "op-" "-<subtask, 10 digits>" ".state" around it */

_Static_assert(STAGE_MAX_NAME + STATE_FILE_EXTRA <= SL_NAME_MAX,
               "a stage's state file names must fit the name rule's length");

/* Index among the checked stages, -1 if absent. */
static int find_done(sl_jp *p, const char *name)
{
    for (int i = 0; i < p->ndone; i++) {
        if (strcmp(p->job->stages[i].name, name) == 0)
            return i;
    }
    return -1;
}

static int sort_keys(sl_jp *p, sl_stage *st, const yaml_node_t *map, sl_jp_stage_keys *k)
{
    sl_job_spec *job = p->job;
    yaml_node_pair_t *pr;
    int rv;

    if ((rv = sl_jp_check_keys(p, map)) != SL_OK)
        return rv;
    for (pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top; pr++) {
        yaml_node_t *kn = sl_jp_node(p, pr->key), *vn = sl_jp_node(p, pr->value);
        const char *key = sl_jp_sval(kn);

        if (strcmp(key, "name") == 0) {
            k->name = vn;
        } else if (strcmp(key, "source") == 0 || strcmp(key, "operator") == 0 ||
                   strcmp(key, "sink") == 0) {
            if (k->kind_key != NULL)
                return sl_jp_fail(p, kn,
                                  "a stage is exactly one of source, operator or sink (it already "
                                  "has '%s')",
                                  sl_jp_sval(k->kind_key));
            k->kind_key = kn;
            k->kind_val = vn;
        } else if (strcmp(key, "parallelism") == 0) {
            if ((rv = sl_jp_want_int(p, vn, "parallelism", 1, SL_MAX_PARALLELISM,
                                     &st->parallelism)) != SL_OK)
                return rv;
            if (st->parallelism > job->max_parallelism)
                return sl_jp_fail(p, vn, "parallelism %d exceeds max-parallelism %d",
                                  st->parallelism, job->max_parallelism);
        } else if (strcmp(key, "input") == 0 || strcmp(key, "inputs") == 0) {
            if (k->in_key != NULL)
                return sl_jp_fail(p, kn, "use either 'input' or 'inputs', not both");
            k->in_key = kn;
            k->in_val = vn;
        } else if (strcmp(key, "key-by") == 0) {
            k->kb_key = kn;
            k->kb_val = vn;
        } else {
            if (k->nparams >= (int)(sizeof(k->params) / sizeof(k->params[0])))
                return sl_jp_fail(p, kn, "too many parameters");
            k->params[k->nparams++] = pr;
        }
    }
    return SL_OK;
}

static int stage_name(sl_jp *p, sl_stage *st, const yaml_node_t *map, const sl_jp_stage_keys *k)
{
    const char *s, *why;
    int rv, other;

    if (k->name == NULL)
        return sl_jp_fail(p, map, "stage has no 'name'");
    if ((rv = sl_jp_want_text(p, k->name, "a stage name", &s)) != SL_OK)
        return rv;
    if (strlen(s) > STAGE_MAX_NAME)
        return sl_jp_fail(p, k->name, "stage name is longer than %d bytes", STAGE_MAX_NAME);
    /* The name becomes part of state file names: the checkpoint store's rule. */
    if ((why = sl_name_problem(s)) != NULL)
        return sl_jp_fail(p, k->name, "stage name '%s' %s", s, why);
    if ((other = find_done(p, s)) >= 0)
        return sl_jp_fail(p, k->name, "duplicate stage name '%s' (first at line %d)", s,
                          p->job->stages[other].line);
    if ((st->name = strdup(s)) == NULL)
        return sl_jp_nomem(p);
    return SL_OK;
}

static int stage_type(sl_jp *p, sl_stage *st, const yaml_node_t *map, const sl_jp_stage_keys *k,
                      const sl_stage_type **type)
{
    const char *kind = NULL, *s;
    int rv;

    if (k->kind_key == NULL)
        return sl_jp_fail(p, map, "stage '%s' needs one of source, operator or sink", st->name);
    kind = sl_jp_sval(k->kind_key);
    st->kind = strcmp(kind, "source") == 0     ? SL_STAGE_SOURCE
               : strcmp(kind, "operator") == 0 ? SL_STAGE_OPERATOR
                                               : SL_STAGE_SINK;
    if ((rv = sl_jp_want_text(p, k->kind_val, kind, &s)) != SL_OK)
        return rv;
    if ((*type = sl_stage_type_find(st->kind, s)) == NULL)
        return sl_jp_fail(p, k->kind_val, "unknown %s '%s'", kind, s);
    if ((st->type = strdup(s)) == NULL)
        return sl_jp_nomem(p);
    return SL_OK;
}

/* Resolves one input name written at node n. */
static int resolve_input(sl_jp *p, sl_stage *st, const yaml_node_t *n, int *out)
{
    const char *s;
    int rv, i;

    if ((rv = sl_jp_want_text(p, n, "an input", &s)) != SL_OK)
        return rv;
    if (strcmp(s, st->name) == 0)
        return sl_jp_fail(p, n, "stage '%s' cannot read its own output", s);
    i = find_done(p, s);
    if (i < 0) {
        for (int j = p->ndone + 1; j < p->job->nstages; j++) {
            if (p->names[j] != NULL && sl_jp_scalar_eq(p->names[j], s))
                return sl_jp_fail(p, n,
                                  "input '%s' must name a stage defined earlier in the pipeline",
                                  s);
        }
        return sl_jp_fail(p, n, "unknown stage '%s'", s);
    }
    if (p->job->stages[i].kind == SL_STAGE_SINK)
        return sl_jp_fail(p, n, "stage '%s' is a sink and has no output", s);
    *out = i;
    return SL_OK;
}

static int stage_inputs(sl_jp *p, sl_stage *st, int idx, const yaml_node_t *map,
                        const sl_jp_stage_keys *k, const sl_stage_type *type)
{
    const char *kind = sl_stage_kind_name(st->kind);
    yaml_node_t *names[2];
    int n = 0, rv;

    if (type->max_inputs == 0) {
        if (k->in_key != NULL)
            return sl_jp_fail(p, k->in_key, "a %s takes no input", kind);
        st->ninputs = 0;
        return SL_OK;
    }
    if (k->in_key == NULL) {
        const sl_stage *prev = idx > 0 ? &p->job->stages[idx - 1] : NULL;
        if (prev == NULL)
            return sl_jp_fail(p, map, "stage '%s' has no input: the first stage must be a source",
                              st->name);
        if (prev->kind == SL_STAGE_SINK)
            return sl_jp_fail(p, map,
                              "stage '%s' has no input: the previous stage '%s' is a sink (name "
                              "one with 'input:')",
                              st->name, prev->name);
        st->inputs[0] = idx - 1;
        st->ninputs = 1;
    } else if (strcmp(sl_jp_sval(k->in_key), "input") == 0) {
        if ((rv = resolve_input(p, st, k->in_val, &st->inputs[0])) != SL_OK)
            return rv;
        st->ninputs = 1;
    } else {
        yaml_node_item_t *it;
        if (k->in_val->type != YAML_SEQUENCE_NODE)
            return sl_jp_fail(p, k->in_val, "inputs must be a list of stage names");
        for (it = k->in_val->data.sequence.items.start; it < k->in_val->data.sequence.items.top;
             it++) {
            if (n >= 2)
                return sl_jp_fail(p, sl_jp_node(p, *it), "a stage takes at most 2 inputs");
            names[n++] = sl_jp_node(p, *it);
        }
        if (n == 0)
            return sl_jp_fail(p, k->in_val, "inputs must name at least one stage");
        for (int i = 0; i < n; i++) {
            if ((rv = resolve_input(p, st, names[i], &st->inputs[i])) != SL_OK)
                return rv;
        }
        st->ninputs = n;
    }
    if (st->ninputs < type->min_inputs || st->ninputs > type->max_inputs) {
        const yaml_node_t *at = k->in_val != NULL ? k->in_val : map;
        if (type->min_inputs == type->max_inputs)
            return sl_jp_fail(p, at, "%s '%s' takes %d input%s", kind, st->type, type->min_inputs,
                              type->min_inputs == 1 ? "" : "s");
        return sl_jp_fail(p, at, "%s '%s' takes %d to %d inputs", kind, st->type, type->min_inputs,
                          type->max_inputs);
    }
    return SL_OK;
}

static int stage_key_by(sl_jp *p, sl_stage *st, const yaml_node_t *map, const sl_jp_stage_keys *k,
                        const sl_stage_type *type)
{
    const char *kind = sl_stage_kind_name(st->kind);
    yaml_node_t *fields[SL_MAX_KEYS];
    int n = 0, rv;

    if (k->kb_key == NULL) {
        if (type->key_by == SL_KEYBY_REQUIRED)
            return sl_jp_fail(p, map, "%s '%s' requires key-by", kind, st->type);
        return SL_OK;
    }
    if (type->key_by == SL_KEYBY_FORBIDDEN)
        return sl_jp_fail(p, k->kb_key, "key-by is not allowed for %s '%s'", kind, st->type);
    if (k->kb_val->type == YAML_SEQUENCE_NODE) {
        yaml_node_item_t *it;
        for (it = k->kb_val->data.sequence.items.start; it < k->kb_val->data.sequence.items.top;
             it++) {
            if (n >= SL_MAX_KEYS)
                return sl_jp_fail(p, sl_jp_node(p, *it), "key-by takes at most %d fields",
                                  SL_MAX_KEYS);
            fields[n++] = sl_jp_node(p, *it);
        }
        if (n == 0)
            return sl_jp_fail(p, k->kb_val, "key-by must name at least one field");
    } else {
        fields[n++] = k->kb_val;
    }
    for (int i = 0; i < n; i++) {
        const char *f;
        if ((rv = sl_jp_want_text(p, fields[i], "a key-by field", &f)) != SL_OK)
            return rv;
        for (int j = 0; j < st->nkeys; j++) {
            if (strcmp(st->key_by[j], f) == 0)
                return sl_jp_fail(p, fields[i], "key-by field '%s' is listed twice", f);
        }
        for (int in = 0; in < st->ninputs; in++) {
            const sl_stage *src = &p->job->stages[st->inputs[in]];
            int fi = sl_schema_find(&src->out_schema, f);
            if (fi < 0)
                return sl_jp_fail(p, fields[i], "key-by field '%s' is not in the output of '%s'", f,
                                  src->name);
            if (in == 0)
                st->key_idx[st->nkeys] = fi;
        }
        if ((st->key_by[st->nkeys] = strdup(f)) == NULL)
            return sl_jp_nomem(p);
        st->nkeys++;
    }
    return SL_OK;
}

static int parse_stage(sl_jp *p, int idx, yaml_node_t *map)
{
    sl_stage *st = &p->job->stages[idx];
    const sl_stage_type *type = NULL;
    sl_stage_check chk;
    sl_jp_stage_keys k;
    int rv;

    memset(&k, 0, sizeof(k));
    st->line = sl_jp_node_line(map);
    st->col = sl_jp_node_col(map);
    if (map->type != YAML_MAPPING_NODE)
        return sl_jp_fail(p, map, "a stage must be a mapping (name:, source|operator|sink:, ...)");
    if ((rv = sort_keys(p, st, map, &k)) != SL_OK)
        return rv;
    if ((rv = stage_name(p, st, map, &k)) != SL_OK)
        return rv;
    if ((rv = stage_type(p, st, map, &k, &type)) != SL_OK)
        return rv;
    if ((rv = sl_jp_stage_params(p, st, map, &k, type)) != SL_OK)
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
        return rv == SL_ENOMEM ? sl_jp_nomem(p) : rv;
    return SL_OK;
}

/* After every stage: a source and a sink, no dangling stage, chaining. */
static int finish_pipeline(sl_jp *p, const yaml_node_t *seq)
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
        return sl_jp_fail(p, seq, "pipeline has no source");
    if (sinks == 0)
        return sl_jp_fail(p, seq, "pipeline has no sink");
    for (int i = 0; i < job->nstages; i++) {
        const sl_stage *st = &job->stages[i];
        if (st->kind != SL_STAGE_SINK && consumers[i] == 0)
            return sl_jp_fail_at(p, st->line, st->col, "stage '%s' has no consumer", st->name);
    }
    for (int i = 0; i < job->nstages; i++) {
        sl_stage *st = &job->stages[i];
        const sl_stage *in = st->ninputs == 1 ? &job->stages[st->inputs[0]] : NULL;
        st->chained = in != NULL && in->parallelism == st->parallelism && st->nkeys == 0 &&
                      consumers[st->inputs[0]] == 1;
    }
    return SL_OK;
}

int sl_jp_parse_pipeline(sl_jp *p, yaml_node_t *seq)
{
    sl_job_spec *job = p->job;
    yaml_node_item_t *it;
    int n, rv;

    if (seq->type != YAML_SEQUENCE_NODE)
        return sl_jp_fail(p, seq, "pipeline must be a list of stages");
    n = (int)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    if (n == 0)
        return sl_jp_fail(p, seq, "pipeline has no stages");
    if (n > SL_MAX_STAGES)
        return sl_jp_fail(p, sl_jp_node(p, seq->data.sequence.items.start[SL_MAX_STAGES]),
                          "too many stages (at most %d)", SL_MAX_STAGES);
    job->stages = calloc((size_t)n, sizeof(*job->stages));
    p->names = calloc((size_t)n, sizeof(*p->names));
    if (job->stages == NULL || p->names == NULL)
        return sl_jp_nomem(p);
    job->nstages = n;

    /* Every stage's name up front, to tell "defined later" from "unknown". */
    for (int i = 0; i < n; i++) {
        yaml_node_t *st = sl_jp_node(p, seq->data.sequence.items.start[i]);
        yaml_node_pair_t *pr;
        if (st->type != YAML_MAPPING_NODE)
            continue;
        for (pr = st->data.mapping.pairs.start; pr < st->data.mapping.pairs.top; pr++) {
            if (sl_jp_scalar_eq(sl_jp_node(p, pr->key), "name") &&
                sl_jp_is_scalar(sl_jp_node(p, pr->value)))
                p->names[i] = sl_jp_node(p, pr->value);
        }
    }
    for (it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
        if ((rv = parse_stage(p, p->ndone, sl_jp_node(p, *it))) != SL_OK)
            return rv;
        p->ndone++;
    }
    return finish_pipeline(p, seq);
}
