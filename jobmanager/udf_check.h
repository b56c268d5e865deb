/* `operator: udf` at the jobmanager: checks the libraries sent with a
 * submission and keeps a copy of their bytes in the job, so every
 * deployment (restarts too) sends exactly what was submitted.
 *
 * Place: called by job_submit.c (check, copy, free); scheduler.c reads the
 * copy; calls common/stage_catalog.h only. No lock: the copy belongs to its job
 * (guarded like the job by jm->mu once the job is shared). */
#ifndef SL_JM_UDF_CHECK_H
#define SL_JM_UDF_CHECK_H

#include <stddef.h>

#include "common/jobfile.h"
#include "proto/sluice.pb-c.h"

/* The libraries of a job (owned: sl_udfcheck_free). */
typedef struct sl_udfcheck_libs {
    size_t n;
    Sluice__UdfLibrary **libs;
} sl_udfcheck_libs;

/* For every udf stage of spec: its library must be among s->libraries (by
 * path), load, and have the symbol with the right API version. The total
 * size is bounded by SLUICE_UDF_LIBRARY_MAX. On error returns SL_EINVAL and
 * writes "file:line:column: ..." (at the library: or symbol: value). */
int sl_udfcheck_check(const sl_job_spec *spec, const char *file, const Sluice__SubmitJob *s,
                      char *err, size_t errlen);
/* Copies the libraries of s into *out (empty if none). SL_ENOMEM (then
 * *out is empty). */
int sl_udfcheck_copy(sl_udfcheck_libs *out, const Sluice__SubmitJob *s);
/* Frees the copy; *l is empty afterwards. */
void sl_udfcheck_free(sl_udfcheck_libs *l);

#endif
