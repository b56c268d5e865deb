/* Job-file parsing internals shared by jobfile.c (the job, its config:
 * block, sl_job_parse), jobfile_yaml.c (nodes and errors),
 * jobfile_stages.c (stages and the pipeline) and jobfile_params.c (stage
 * parameters). Only common/jobfile*.c include this; callers use jobfile.h. */
#ifndef SL_JOBFILE_INTERNAL_H
#define SL_JOBFILE_INTERNAL_H

#include <stddef.h>
#include <yaml.h>

#include "common/config.h"
#include "common/jobfile.h"
#include "common/stage_catalog.h"

#define CONFIG_MAX_KEY 256    /* bytes of a flattened config key or mapping parameter */

/* One parse: the document, the job being built, where errors go. */
typedef struct sl_jp {
    const char *file;
    yaml_document_t *doc;
    sl_job_spec *job;
    int ndone;              /* stages fully checked so far */
    yaml_node_t **names;    /* per stage: its `name` scalar (prescan) or NULL */
    sl_config *scratch;     /* validates config: entries */
    char *err;
    size_t errlen;
} sl_jp;

/* The keys of one stage mapping, sorted by role. */
typedef struct sl_jp_stage_keys {
    yaml_node_t *name;
    yaml_node_t *kind_key, *kind_val;
    yaml_node_t *in_key, *in_val; /* `input:` or `inputs:` */
    yaml_node_t *kb_key, *kb_val;
    yaml_node_pair_t *params[64];
    int nparams;
} sl_jp_stage_keys;

/* jobfile_yaml.c. The fail functions write "file:line:column: message" to
 * p->err and return SL_EINVAL; sl_jp_nomem returns SL_ENOMEM. */
int sl_jp_fail_at(sl_jp *p, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int sl_jp_fail(sl_jp *p, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int sl_jp_nomem(sl_jp *p);
/* libyaml's error as "file:line:col: message". */
int sl_jp_yaml_fail(sl_jp *p, const yaml_parser_t *parser, const char *text, size_t len);
int sl_jp_node_line(const yaml_node_t *n);
int sl_jp_node_col(const yaml_node_t *n);
yaml_node_t *sl_jp_node(sl_jp *p, int id);
const char *sl_jp_sval(const yaml_node_t *n);
int sl_jp_is_scalar(const yaml_node_t *n);
/* A plain scalar that YAML reads as null: "", "~", "null". */
int sl_jp_is_null(const yaml_node_t *n);
int sl_jp_scalar_eq(const yaml_node_t *n, const char *s);
/* A non-null scalar without NUL bytes, as text; `what` names it in errors. */
int sl_jp_want_text(sl_jp *p, const yaml_node_t *n, const char *what, const char **out);
int sl_jp_dup_text(sl_jp *p, const yaml_node_t *n, const char *what, char **out);
/* A decimal integer in [lo, hi]. */
int sl_jp_want_int(sl_jp *p, const yaml_node_t *n, const char *what, long lo, long hi,
                   int *out);
/* Mapping keys must be scalars and appear once. */
int sl_jp_check_keys(sl_jp *p, const yaml_node_t *map);

/* jobfile_params.c: the parameters k sorted out of stage map, for type. */
int sl_jp_stage_params(sl_jp *p, sl_stage *st, const yaml_node_t *map,
                       const sl_jp_stage_keys *k, const sl_stage_type *type);

/* jobfile_stages.c: every stage of the `pipeline:` list, then the whole. */
int sl_jp_parse_pipeline(sl_jp *p, yaml_node_t *seq);

#endif
