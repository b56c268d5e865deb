/* `operator: udf` at the jobmanager: checks the libraries sent with a
 * submission and keeps their bytes for every deployment of the job. */
#ifndef SL_JM_UDF_CHECK_H
#define SL_JM_UDF_CHECK_H

#include "common/jobfile.h"
#include "proto/sluice.pb-c.h"

/* For every udf stage of spec: its library must be among s->libraries (by
 * path), load, and have the symbol with the right API version. The total
 * size is bounded by SLUICE_UDF_LIBRARY_MAX. On error returns SL_EINVAL and
 * writes "file:line:column: ..." (at the library: or symbol: value). */
int sl_jm_udf_check(const sl_job_spec *spec, const char *file, const Sluice__SubmitJob *s,
                    char *err, size_t errlen);
/* Keeps a copy of the libraries of s for owner (a job). SL_ENOMEM. */
int sl_jm_udf_keep(const void *owner, const Sluice__SubmitJob *s);
/* The libraries kept for owner (n = 0 if none); valid until forget. */
Sluice__UdfLibrary **sl_jm_udf_libraries(const void *owner, size_t *n);
void sl_jm_udf_forget(const void *owner);

#endif
