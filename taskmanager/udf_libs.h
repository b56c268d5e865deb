/* The udf libraries of a job run (udf_libs.c), keyed by the run. */
#ifndef SL_UDF_LIBS_H
#define SL_UDF_LIBS_H

#include "proto/sluice.pb-c.h"

/* Loads every library of d for run. On error writes the reason to err. */
int sl_udf_libs_load(const void *run, const Sluice__DeployTasks *d, char *err, size_t errlen);
/* The dlopen handle of the library with this path, or NULL. */
void *sl_udf_libs_handle(const void *run, const char *path);
/* dlcloses the libraries of run (after every task of it ended). */
void sl_udf_libs_free(const void *run);

#endif
