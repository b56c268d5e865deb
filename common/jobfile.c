/* Job files: sl_job_parse (one YAML document; the job's top-level keys,
 * parallelism and its -p override), the job's config: block (flattened,
 * per-job keys checked against the config table), sl_job_free and the
 * lookups of jobfile.h. Nodes and errors are in jobfile_yaml.c, stages in
 * jobfile_stages.c and jobfile_params.c. */
#include "common/jobfile_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/status.h"

#define JOB_MAX_NAME 256      /* bytes of a job name */
#define CONFIG_MAX_KEYS 256   /* entries of a job's config: block */
#define CONFIG_MAX_DEPTH 16   /* nesting of the config: block */

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

static int config_add(sl_jp *p, const char *key, const yaml_node_t *kn, const yaml_node_t *vn)
{
    sl_job_spec *job = p->job;
    sl_param *grown, *c;
    const char *value;
    int rv;

    if (!config_prefix_ok(key))
        return sl_jp_fail(p, kn,
                          "config key '%s' cannot be set per job (only execution.*, "
                          "restart-strategy.* and state.* keys)",
                          key);
    for (int i = 0; i < job->nconfig; i++) {
        if (strcmp(job->config[i].key, key) == 0)
            return sl_jp_fail(p, kn, "duplicate config key '%s' (first at line %d)", key,
                              job->config[i].line);
    }
    if (job->nconfig >= CONFIG_MAX_KEYS)
        return sl_jp_fail(p, kn, "too many config keys (at most %d)", CONFIG_MAX_KEYS);
    if (!sl_jp_is_scalar(vn))
        return sl_jp_fail(p, vn, "config value of '%s' must be a single value", key);
    if (strlen(sl_jp_sval(vn)) != vn->data.scalar.length)
        return sl_jp_fail(p, vn, "config value of '%s' contains a NUL byte", key);
    value = sl_jp_sval(vn);
    rv = sl_config_set_at(p->scratch, key, value, p->file, sl_jp_node_line(vn),
                          sl_jp_node_col(vn), p->err,
                          p->errlen);
    if (rv != SL_OK)
        return rv == SL_ENOMEM ? sl_jp_nomem(p) : SL_EINVAL;

    grown = realloc(job->config, (size_t)(job->nconfig + 1) * sizeof(*grown));
    if (grown == NULL)
        return sl_jp_nomem(p);
    job->config = grown;
    c = &job->config[job->nconfig];
    memset(c, 0, sizeof(*c));
    c->key = strdup(key);
    c->value = strdup(value);
    c->line = sl_jp_node_line(vn);
    c->col = sl_jp_node_col(vn);
    job->nconfig++; /* counted now so sl_job_free releases a half-made entry */
    if (c->key == NULL || c->value == NULL)
        return sl_jp_nomem(p);
    return SL_OK;
}

static int config_walk(sl_jp *p, const yaml_node_t *map, const char *prefix, int depth)
{
    yaml_node_pair_t *pr;
    int rv;

    if (depth > CONFIG_MAX_DEPTH)
        return sl_jp_fail(p, map, "config is nested too deeply");
    if ((rv = sl_jp_check_keys(p, map)) != SL_OK)
        return rv;
    for (pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top; pr++) {
        yaml_node_t *kn = sl_jp_node(p, pr->key), *vn = sl_jp_node(p, pr->value);
        char key[CONFIG_MAX_KEY];
        int n;

        n = snprintf(key, sizeof(key), "%s%s%s", prefix, prefix[0] ? "." : "", sl_jp_sval(kn));
        if (n < 0 || (size_t)n >= sizeof(key))
            return sl_jp_fail(p, kn, "config key is too long");
        if (vn->type == YAML_MAPPING_NODE)
            rv = config_walk(p, vn, key, depth + 1);
        else
            rv = config_add(p, key, kn, vn);
        if (rv != SL_OK)
            return rv;
    }
    return SL_OK;
}

static int parse_config(sl_jp *p, const yaml_node_t *n)
{
    int rv;

    if (sl_jp_is_null(n))
        return SL_OK; /* `config:` with nothing under it */
    if (n->type != YAML_MAPPING_NODE)
        return sl_jp_fail(p, n, "config must be a mapping of configuration keys to values");
    if ((rv = sl_config_new(&p->scratch)) != SL_OK)
        return rv == SL_ENOMEM ? sl_jp_nomem(p) : rv;
    return config_walk(p, n, "", 0);
}

/* ---- the job ---- */

static int parse_job(sl_jp *p, yaml_node_t *root, int parallelism_override)
{
    static const char *const keys[] = {"name", "parallelism", "max-parallelism", "config",
                                       "pipeline"};
    sl_job_spec *job = p->job;
    yaml_node_t *npar = NULL, *nmax = NULL, *ncfg = NULL, *npipe = NULL, *nname = NULL;
    yaml_node_pair_t *pr;
    int par = 0, rv;

    if (root->type != YAML_MAPPING_NODE)
        return sl_jp_fail(p, root, "a job file must be a mapping (name:, pipeline:, ...)");
    if ((rv = sl_jp_check_keys(p, root)) != SL_OK)
        return rv;
    job->max_parallelism = SL_DEFAULT_MAX_PARALLELISM;
    for (pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top; pr++) {
        yaml_node_t *kn = sl_jp_node(p, pr->key), *vn = sl_jp_node(p, pr->value);
        const char *key = sl_jp_sval(kn);
        size_t i;

        for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            if (strcmp(key, keys[i]) == 0)
                break;
        }
        switch (i) {
        case 0:
            nname = vn;
            if ((rv = sl_jp_dup_text(p, vn, "name", &job->name)) != SL_OK)
                return rv;
            if (strlen(job->name) > JOB_MAX_NAME)
                return sl_jp_fail(p, vn, "name is longer than %d bytes", JOB_MAX_NAME);
            for (const char *c = job->name; *c != '\0'; c++) {
                if ((unsigned char)*c < 0x20 || *c == 0x7f)
                    return sl_jp_fail(p, vn, "name contains a control character");
            }
            break;
        case 1:
            npar = vn;
            if ((rv = sl_jp_want_int(p, vn, "parallelism", 1, SL_MAX_PARALLELISM, &par)) != SL_OK)
                return rv;
            break;
        case 2:
            nmax = vn;
            if ((rv = sl_jp_want_int(p, vn, "max-parallelism", 1, SL_MAX_PARALLELISM,
                                     &job->max_parallelism)) != SL_OK)
                return rv;
            break;
        case 3: ncfg = vn; break;
        case 4: npipe = vn; break;
        default:
            return sl_jp_fail(p, kn,
                              "unknown key '%s' (a job has name, parallelism, max-parallelism, "
                              "config and pipeline)",
                              key);
        }
    }
    if (nname == NULL)
        return sl_jp_fail(p, root, "job has no 'name'");
    if (npipe == NULL)
        return sl_jp_fail(p, root, "job has no 'pipeline'");

    job->parallelism_in_file = npar != NULL;
    job->parallelism = parallelism_override > 0 ? parallelism_override : par > 0 ? par : 1;
    if (job->parallelism > job->max_parallelism) {
        if (parallelism_override > 0)
            return sl_jp_fail(p, nmax != NULL ? nmax : root,
                              "parallelism %d (-p) exceeds max-parallelism %d", job->parallelism,
                              job->max_parallelism);
        return sl_jp_fail(p, npar, "parallelism %d exceeds max-parallelism %d", job->parallelism,
                          job->max_parallelism);
    }
    if (ncfg != NULL && (rv = parse_config(p, ncfg)) != SL_OK)
        return rv;
    return sl_jp_parse_pipeline(p, npipe);
}

int sl_job_parse(const char *filename, const char *text, size_t len, int parallelism_override,
                 sl_job_spec **out, char *err, size_t errlen)
{
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    int have_parser = 0, have_doc = 0, have_extra = 0;
    yaml_node_t *root;
    sl_jp p;
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
        rv = sl_jp_nomem(&p);
        goto cleanup;
    }
    have_parser = 1;
    yaml_parser_set_input_string(&parser, (const unsigned char *)(text != NULL ? text : ""),
                                 len);
    if (!yaml_parser_load(&parser, &doc)) {
        rv = sl_jp_yaml_fail(&p, &parser, text, len);
        goto cleanup;
    }
    have_doc = 1;
    p.doc = &doc;
    root = yaml_document_get_root_node(&doc);
    if (root == NULL) {
        rv = sl_jp_fail_at(&p, 1, 1, "empty job file");
        goto cleanup;
    }
    if (!yaml_parser_load(&parser, &extra)) {
        rv = sl_jp_yaml_fail(&p, &parser, text, len);
        goto cleanup;
    }
    have_extra = 1;
    if (yaml_document_get_root_node(&extra) != NULL) {
        rv = sl_jp_fail(&p, yaml_document_get_root_node(&extra),
                        "a job file holds one YAML document");
        goto cleanup;
    }

    if ((p.job = calloc(1, sizeof(*p.job))) == NULL) {
        rv = sl_jp_nomem(&p);
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
