/* Libraries of `operator: udf` at a taskmanager (udf_libs.h): loaded once
 * per job run from the bytes in DeployTasks (sl_udf_load: a unique
 * temporary file per library per run, removed as soon as it is mapped) and
 * closed when the run is freed. */
#include "taskmanager/udf_libs.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/stage_catalog.h"
#include "common/status.h"

typedef struct lib {
    char *path;
    void *handle;
} lib;

struct sl_udf_libs {
    size_t n;
    lib *libs;
};

void sl_udf_libs_free(sl_udf_libs *rl)
{
    if (rl == NULL)
        return;
    for (size_t i = 0; i < rl->n; i++) {
        if (rl->libs[i].handle != NULL)
            dlclose(rl->libs[i].handle);
        free(rl->libs[i].path);
    }
    free(rl->libs);
    free(rl);
}

static int load_one(lib *l, const Sluice__UdfLibrary *src, char *err, size_t errlen)
{
    char why[512];

    if (src == NULL || src->content.len > SLUICE_UDF_LIBRARY_MAX) {
        snprintf(err, errlen, "a udf library is missing or too large");
        return SL_EINVAL;
    }
    if ((l->path = strdup(src->path)) == NULL)
        return SL_ENOMEM;
    if (sl_udf_load(src->content.data, src->content.len, &l->handle, why, sizeof(why)) !=
        SL_OK) {
        snprintf(err, errlen, "cannot load library '%s': %s", src->path, why);
        return SL_EINVAL;
    }
    return SL_OK;
}

int sl_udf_libs_load(const Sluice__DeployTasks *d, sl_udf_libs **out, char *err, size_t errlen)
{
    sl_udf_libs *rl;
    int rv = SL_OK;

    *out = NULL;
    if (d->n_libraries == 0)
        return SL_OK;
    if ((rl = calloc(1, sizeof(*rl))) == NULL)
        return SL_ENOMEM;
    if ((rl->libs = calloc(d->n_libraries, sizeof(*rl->libs))) == NULL) {
        free(rl);
        return SL_ENOMEM;
    }
    for (; rl->n < d->n_libraries && rv == SL_OK; rl->n++)
        rv = load_one(&rl->libs[rl->n], d->libraries[rl->n], err, errlen);
    if (rv != SL_OK) {
        sl_udf_libs_free(rl);
        return rv;
    }
    *out = rl;
    return SL_OK;
}

void *sl_udf_libs_handle(const sl_udf_libs *rl, const char *path)
{
    for (size_t i = 0; rl != NULL && i < rl->n; i++)
        if (strcmp(rl->libs[i].path, path) == 0)
            return rl->libs[i].handle;
    return NULL;
}
