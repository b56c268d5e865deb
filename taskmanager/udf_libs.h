/* The udf libraries of one job run (`operator: udf`): loaded once per run
 * from the bytes in DeployTasks and closed when the run is freed.
 *
 * Place: the job run (job_run.c) loads them at deploy and owns the set
 * (sl_job_run.udf_libs); the udf operator looks its library up by path.
 * Calls only common/ (sl_udf_load). No global state: each run has its own
 * set, read-only once loaded (lookups need no lock). */
#ifndef SL_UDF_LIBS_H
#define SL_UDF_LIBS_H

#include <stddef.h>

#include "proto/sluice.pb-c.h"

typedef struct sl_udf_libs sl_udf_libs;

/* Loads every library of d into *out (NULL when d has none; owned by the
 * caller, sl_udf_libs_free). On error writes the reason to err. */
int sl_udf_libs_load(const Sluice__DeployTasks *d, sl_udf_libs **out, char *err, size_t errlen);
/* The dlopen handle of the library with this path, or NULL (also for libs
 * NULL). */
void *sl_udf_libs_handle(const sl_udf_libs *libs, const char *path);
/* dlcloses the libraries (after every task using them ended). NULL is a no-op. */
void sl_udf_libs_free(sl_udf_libs *libs);

#endif
