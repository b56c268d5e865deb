/* Job files: parse and validate a job's YAML into an sl_job_spec.
 *
 * Format: README.md, "Job files". The whole file is checked
 * before a job is accepted: structure, unique stage names, exactly one of
 * source/operator/sink, known types and their parameters, absolute paths,
 * inputs that exist (and come earlier: the pipeline is a DAG in file order),
 * key-by fields that exist in the input's schema, per-job config overrides
 * (only execution.*, restart-strategy.*, state.* keys, checked against the
 * config table). The first error is reported as "file:line:column: message".
 *
 * The same text is parsed by the CLI (early error, exit 2), the jobmanager
 * (authoritative) and each taskmanager (to build its operators), so parsing
 * is deterministic and depends only on the text and the parallelism
 * override. */
#ifndef SL_JOBFILE_H
#define SL_JOBFILE_H

#include <stddef.h>

#include "common/limits.h"
#include "common/row.h"

#define SL_MAX_KEYS 8

enum sl_stage_kind { SL_STAGE_SOURCE = 1, SL_STAGE_OPERATOR = 2, SL_STAGE_SINK = 3 };

/* One scalar `key: value` of a stage or of the job's `config:` block, with
 * where it stands in the file (1-based line and column of the value). */
typedef struct sl_param {
    char *key;
    char *value;
    int line, col;
} sl_param;

typedef struct sl_stage {
    char *name;
    enum sl_stage_kind kind;
    char *type;        /* "file", "tokenize", "count", "print", ... */
    int parallelism;   /* resolved: the stage's own, else the job's */
    int ninputs;       /* 0 for sources, 1 or 2 otherwise */
    int inputs[2];     /* indices into sl_job_spec.stages */
    int nkeys;         /* key-by fields (0 = not keyed) */
    char *key_by[SL_MAX_KEYS];
    int key_idx[SL_MAX_KEYS]; /* indices of the key fields in the input's schema */
    int nparams;       /* every other scalar key (path, format, field, rate, ...);
                          absent parameters that have a default in the stage
                          catalog are added with line = col = 0 */
    sl_param *params;
    sl_schema out_schema; /* fields this stage emits (empty for sinks) */
    int chained;       /* 1: runs in the same task as inputs[0] (forward edge:
                          one input, same parallelism, no key-by, and the
                          input feeds only this stage) */
    int line, col;     /* where the stage's mapping starts */
} sl_stage;

typedef struct sl_job_spec {
    char *name;
    int parallelism;      /* job default after the -p override */
    int parallelism_in_file; /* 1 if the file sets `parallelism:` itself */
    int max_parallelism;  /* [128] number of key groups */
    int nconfig;          /* the `config:` block, flat dotted keys */
    sl_param *config;
    int nstages;
    sl_stage *stages;
} sl_job_spec;

/* Parses text (len bytes, need not be NUL-terminated); filename names the
 * file in errors. parallelism_override > 0 replaces the job's default
 * parallelism (-p). On success *out is owned by the caller (sl_job_free).
 * On error returns SL_EINVAL and writes "file:line:column: message" to err. */
int sl_job_parse(const char *filename, const char *text, size_t len, int parallelism_override,
                 sl_job_spec **out, char *err, size_t errlen);
void sl_job_free(sl_job_spec *job);

/* Value of a stage parameter, or NULL if absent. */
const char *sl_stage_param(const sl_stage *st, const char *key);
/* Index of a stage by name or -1. */
int sl_job_find_stage(const sl_job_spec *job, const char *name);

#endif
