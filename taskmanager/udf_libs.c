/* Libraries of `operator: udf` at a taskmanager: loaded once per job run
 * from the bytes in DeployTasks (sl_udf_load: a unique temporary file per
 * library per run, removed as soon as it is mapped) and closed when the
 * run is freed. Kept in a table of their own, keyed by the run. */
#include "taskmanager/udf_libs.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/stage_catalog.h"
#include "common/status.h"

typedef struct lib {
    char *path;
    void *handle;
} lib;

typedef struct run_libs {
    const void *run;
    size_t n;
    lib *libs;
    struct run_libs *next;
} run_libs;

static pthread_mutex_t libs_mu = PTHREAD_MUTEX_INITIALIZER;
static run_libs *libs_list;

static void close_libs(run_libs *rl)
{
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

int sl_udf_libs_load(const void *run, const Sluice__DeployTasks *d, char *err, size_t errlen)
{
    run_libs *rl;
    int rv = SL_OK;

    if (d->n_libraries == 0)
        return SL_OK;
    if ((rl = calloc(1, sizeof(*rl))) == NULL)
        return SL_ENOMEM;
    if ((rl->libs = calloc(d->n_libraries, sizeof(*rl->libs))) == NULL) {
        free(rl);
        return SL_ENOMEM;
    }
    rl->run = run;
    for (; rl->n < d->n_libraries && rv == SL_OK; rl->n++)
        rv = load_one(&rl->libs[rl->n], d->libraries[rl->n], err, errlen);
    if (rv != SL_OK) {
        close_libs(rl);
        return rv;
    }
    pthread_mutex_lock(&libs_mu);
    rl->next = libs_list;
    libs_list = rl;
    pthread_mutex_unlock(&libs_mu);
    return SL_OK;
}

void *sl_udf_libs_handle(const void *run, const char *path)
{
    void *h = NULL;

    pthread_mutex_lock(&libs_mu);
    for (run_libs *rl = libs_list; rl != NULL && h == NULL; rl = rl->next) {
        if (rl->run != run)
            continue;
        for (size_t i = 0; i < rl->n && h == NULL; i++)
            if (strcmp(rl->libs[i].path, path) == 0)
                h = rl->libs[i].handle;
    }
    pthread_mutex_unlock(&libs_mu);
    return h;
}

void sl_udf_libs_free(const void *run)
{
    run_libs **pp, *rl = NULL;

    pthread_mutex_lock(&libs_mu);
    for (pp = &libs_list; *pp != NULL; pp = &(*pp)->next) {
        if ((*pp)->run == run) {
            rl = *pp;
            *pp = rl->next;
            break;
        }
    }
    pthread_mutex_unlock(&libs_mu);
    if (rl != NULL)
        close_libs(rl);
}
