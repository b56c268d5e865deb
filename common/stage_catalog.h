/* Stage catalog: every source, operator and sink type a job file may name.
 *
 * One row per type (stage_catalog.c): its kind and name, the parameters it
 * accepts (with defaults and which are required), how many inputs it takes,
 * whether it accepts key-by, and a validate function. The job-file parser
 * (jobfile.c) does the generic checks from the row -- unknown and missing
 * parameters, defaults, input count, key-by presence, key-by fields present
 * in every input schema, st->key_idx -- then calls validate, which checks
 * parameter values and fills st->out_schema from the input schemas.
 *
 * Adding a type: write its parameter list and validate function and add a
 * row to the table. Nothing else in the parser needs to change. */
#ifndef SL_STAGE_CATALOG_H
#define SL_STAGE_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "common/jobfile.h"
#include "include/sluice/udf.h"

enum sl_keyby_rule {
    SL_KEYBY_FORBIDDEN = 0, /* "key-by is not allowed for operator 'x'" */
    SL_KEYBY_OPTIONAL,
    SL_KEYBY_REQUIRED,      /* "operator 'x' requires key-by" */
};

/* One parameter a stage type accepts. A parameter absent from the file that
 * has a default is added to st->params with that value and line = col = 0
 * (so operators read every parameter with sl_stage_param). */
typedef struct sl_stage_param_def {
    const char *name;
    const char *dflt; /* NULL: no default */
    int required;     /* 1 (SL_PARAM_REQUIRED): the file must set it; may be
                         or'ed with the other SL_PARAM_* flags */
} sl_stage_param_def;

/* Flags of sl_stage_param_def.required. A value is a single scalar unless
 * the flags allow more; structured values become plain parameters:
 *   MAPPING  the value must be a mapping; each entry k: v is a parameter
 *            "<name>.<k>" = v (in file order, each with its own position)
 *   LIST     a scalar or a list of scalars (none containing ','): one
 *            parameter, the items joined by ',', at the list's position
 *   EXPR     an expression: line/col point at its first character (after
 *            the opening quote of a quoted scalar) */
enum {
    SL_PARAM_REQUIRED = 1,
    SL_PARAM_MAPPING = 2,
    SL_PARAM_LIST = 4,
    SL_PARAM_EXPR = 8,
};

/* What a validate function gets. in[i] is the out_schema of st->inputs[i]
 * (NULL beyond st->ninputs). st->params (defaults included), st->key_by and
 * st->key_idx are filled; validate may rewrite parameter values
 * (sl_stage_param_set) and must fill st->out_schema. */
typedef struct sl_stage_check {
    const char *file; /* for error messages */
    sl_stage *st;
    const sl_schema *in[2];
    char *err;
    size_t errlen;
} sl_stage_check;

typedef int (*sl_stage_validate_fn)(sl_stage_check *chk);

typedef struct sl_stage_type {
    enum sl_stage_kind kind;
    const char *name;
    const sl_stage_param_def *params; /* terminated by a row whose name is NULL */
    enum sl_keyby_rule key_by;
    int min_inputs, max_inputs;       /* 0, 0 for sources */
    sl_stage_validate_fn validate;
} sl_stage_type;

/* The row for kind/name, or NULL if there is none. */
const sl_stage_type *sl_stage_type_find(enum sl_stage_kind kind, const char *name);
/* A type's parameter by name, or NULL if the type does not accept it. */
const sl_stage_param_def *sl_stage_type_param(const sl_stage_type *t, const char *name);
/* "source", "operator", "sink" (the job-file keys). */
const char *sl_stage_kind_name(enum sl_stage_kind kind);

/* The parameter record of a stage, or NULL if absent. */
sl_param *sl_stage_param_ref(sl_stage *st, const char *key);
/* Replaces a parameter's value (copied). SL_ENOMEM on allocation failure. */
int sl_stage_param_set(sl_param *p, const char *value);

/* Writes "file:line:column: message" into chk->err, at the parameter's value
 * (or at the stage when at is NULL or was not written in the file) and
 * returns SL_EINVAL. */
int sl_stage_check_fail(sl_stage_check *chk, const sl_param *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- stage_catalog_io.c: checks shared by validate functions ---- */

/* Parameter key, if set, must be an absolute path or a file:// URI; the
 * plain absolute path is stored back. */
int sl_stage_check_path(sl_stage_check *chk, const char *key);
/* Parameter `format`, if set, must be one of supported[] (one of planned[],
 * which may be NULL, is "not supported yet"); expected lists them in errors. */
int sl_stage_check_format(sl_stage_check *chk, const char *const *supported,
                          const char *const *planned, const char *expected);
/* Parameter key, if set, must be a positive decimal integer; what follows
 * the key in the error (" (records/s)"). */
int sl_stage_check_positive_int(sl_stage_check *chk, const char *key, const char *what);
/* Appends a field to the stage's output schema (errors at the stage). */
int sl_stage_out_add(sl_stage_check *chk, const char *name, sl_type t);

/* ---- stage_catalog_io.c: rows of the table ---- */

extern const sl_stage_param_def sl_stage_params_source_file[];
extern const sl_stage_param_def sl_stage_params_source_datagen[];
extern const sl_stage_param_def sl_stage_params_count[];
extern const sl_stage_param_def sl_stage_params_aggregate[];
extern const sl_stage_param_def sl_stage_params_sink_file[];
int sl_stage_validate_source_file(sl_stage_check *chk);
int sl_stage_validate_source_datagen(sl_stage_check *chk);
/* count, sum, min, max, avg (the aggregate is st->type). */
int sl_stage_validate_aggregate(sl_stage_check *chk);
int sl_stage_validate_sink_file(sl_stage_check *chk);
extern const sl_stage_param_def sl_stage_params_sink_blackhole[];
int sl_stage_validate_sink_blackhole(sl_stage_check *chk);

/* ---- stage_catalog_expr.c: filter and map ---- */

extern const sl_stage_param_def sl_stage_params_filter[];
extern const sl_stage_param_def sl_stage_params_map[];
int sl_stage_validate_filter(sl_stage_check *chk);
int sl_stage_validate_map(sl_stage_check *chk);

/* ---- stage_catalog_udf.c: user-defined operators ---- */

extern const sl_stage_param_def sl_stage_params_udf[];
int sl_stage_validate_udf(sl_stage_check *chk);

/* A library shipped with a job (bytes of a shared object): written to a
 * private temporary file, dlopen'ed (RTLD_NOW | RTLD_LOCAL) and the file
 * removed again. On error *handle is NULL and err holds dlerror() or why
 * the file could not be written. dlclose the handle when done. */
int sl_udf_load(const uint8_t *bytes, size_t len, void **handle, char *err, size_t errlen);
/* The operator named symbol in a loaded library, checked (API version,
 * process set); NULL with the reason in err ("has no symbol 'x'", ...). */
const sluice_udf *sl_udf_lookup(void *handle, const char *symbol, char *err, size_t errlen);

/* ---- stage_catalog_window.c: window and the sources' watermark ---- */

extern const sl_stage_param_def sl_stage_params_source_file_wm[];
extern const sl_stage_param_def sl_stage_params_source_datagen_wm[];
extern const sl_stage_param_def sl_stage_params_window[];
int sl_stage_validate_source_file_wm(sl_stage_check *chk);
int sl_stage_validate_source_datagen_wm(sl_stage_check *chk);
int sl_stage_validate_window(sl_stage_check *chk);
/* The durations of an event-time window stage, each where set:
 * max-out-of-orderness >= 0 ms; size, slide and gap >= 1 ms (also used by
 * `operator: argmax`). */
int sl_stage_check_window_durations(sl_stage_check *chk);

/* ---- stage_catalog_nexmark.c: the Nexmark event generator ---- */

extern const sl_stage_param_def sl_stage_params_source_nexmark[];
int sl_stage_validate_source_nexmark(sl_stage_check *chk);

/* ---- stage_catalog_argmax.c: rows with a window's maximum ---- */

extern const sl_stage_param_def sl_stage_params_argmax[];
int sl_stage_validate_argmax(sl_stage_check *chk);

#endif
