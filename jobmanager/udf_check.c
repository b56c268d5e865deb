/* Libraries of `operator: udf` at the jobmanager (udf_check.h). The bytes
 * are kept in a table of their own, keyed by the job, so a restart deploys
 * exactly what was submitted. */
#include "jobmanager/udf_check.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/stage_catalog.h"
#include "common/status.h"

typedef struct kept {
    const void *owner;
    size_t n;
    Sluice__UdfLibrary **libs;
    struct kept *next;
} kept;

static pthread_mutex_t kept_mu = PTHREAD_MUTEX_INITIALIZER;
static kept *kept_list;

static const sl_param *param_at(const sl_stage *st, const char *key)
{
    for (int i = 0; i < st->nparams; i++)
        if (strcmp(st->params[i].key, key) == 0)
            return &st->params[i];
    return NULL;
}

static int fail_at(char *err, size_t errlen, const char *file, const sl_stage *st,
                   const sl_param *p, const char *fmt, const char *a, const char *b)
{
    char msg[768];
    int line = p != NULL && p->line > 0 ? p->line : st->line;
    int col = p != NULL && p->line > 0 ? p->col : st->col;

    snprintf(msg, sizeof(msg), fmt, a, b);
    snprintf(err, errlen, "%s:%d:%d: %s", file, line, col, msg);
    return SL_EINVAL;
}

static const Sluice__UdfLibrary *find_lib(const Sluice__SubmitJob *s, const char *path)
{
    for (size_t i = 0; i < s->n_libraries; i++)
        if (s->libraries[i] != NULL && strcmp(s->libraries[i]->path, path) == 0)
            return s->libraries[i];
    return NULL;
}

static int check_stage(const sl_stage *st, const char *file, const Sluice__SubmitJob *s,
                       char *err, size_t errlen)
{
    const sl_param *lp = param_at(st, "library"), *sp = param_at(st, "symbol");
    const Sluice__UdfLibrary *lib;
    char why[512];
    void *h = NULL;

    if (lp == NULL || sp == NULL)
        return fail_at(err, errlen, file, st, NULL, "%s%s", "udf stage lacks library: or ",
                       "symbol:");
    if ((lib = find_lib(s, lp->value)) == NULL)
        return fail_at(err, errlen, file, st, lp,
                       "cannot load library '%s': %s", lp->value,
                       "it was not sent with the job (submit with sluice run)");
    if (sl_udf_load(lib->content.data, lib->content.len, &h, why, sizeof(why)) != SL_OK)
        return fail_at(err, errlen, file, st, lp, "cannot load library '%s': %s", lp->value,
                       why);
    const sluice_udf *u = sl_udf_lookup(h, sp->value, why, sizeof(why));
    dlclose(h);
    if (u == NULL)
        return fail_at(err, errlen, file, st, sp, "library '%s' %s", lp->value, why);
    return SL_OK;
}

int sl_jm_udf_check(const sl_job_spec *spec, const char *file, const Sluice__SubmitJob *s,
                    char *err, size_t errlen)
{
    size_t total = 0;

    for (size_t i = 0; i < s->n_libraries; i++) {
        if (s->libraries[i] == NULL || s->libraries[i]->content.len > SLUICE_UDF_LIBRARY_MAX ||
            (total += s->libraries[i]->content.len) > SLUICE_UDF_LIBRARY_MAX) {
            snprintf(err, errlen, "%s: the libraries of the job exceed %zu bytes", file,
                     (size_t)SLUICE_UDF_LIBRARY_MAX);
            return SL_EINVAL;
        }
    }
    for (int i = 0; i < spec->nstages; i++) {
        const sl_stage *st = &spec->stages[i];
        if (st->kind != SL_STAGE_OPERATOR || strcmp(st->type, "udf") != 0)
            continue;
        int rv = check_stage(st, file, s, err, errlen);
        if (rv != SL_OK)
            return rv;
    }
    return SL_OK;
}

static void free_libs(Sluice__UdfLibrary **libs, size_t n)
{
    for (size_t i = 0; libs != NULL && i < n; i++) {
        if (libs[i] == NULL)
            continue;
        free(libs[i]->path);
        free(libs[i]->content.data);
        free(libs[i]);
    }
    free(libs);
}

static Sluice__UdfLibrary *copy_lib(const Sluice__UdfLibrary *src)
{
    Sluice__UdfLibrary *l = calloc(1, sizeof(*l));

    if (l == NULL)
        return NULL;
    sluice__udf_library__init(l);
    l->path = strdup(src->path);
    l->content.data = malloc(src->content.len > 0 ? src->content.len : 1);
    if (l->path == NULL || l->content.data == NULL) {
        free(l->path);
        free(l->content.data);
        free(l);
        return NULL;
    }
    if (src->content.len > 0)
        memcpy(l->content.data, src->content.data, src->content.len);
    l->content.len = src->content.len;
    return l;
}

int sl_jm_udf_keep(const void *owner, const Sluice__SubmitJob *s)
{
    kept *k;

    if (s->n_libraries == 0)
        return SL_OK;
    if ((k = calloc(1, sizeof(*k))) == NULL)
        return SL_ENOMEM;
    if ((k->libs = calloc(s->n_libraries, sizeof(*k->libs))) == NULL) {
        free(k);
        return SL_ENOMEM;
    }
    k->owner = owner;
    for (; k->n < s->n_libraries; k->n++) {
        if ((k->libs[k->n] = copy_lib(s->libraries[k->n])) == NULL) {
            free_libs(k->libs, k->n);
            free(k);
            return SL_ENOMEM;
        }
    }
    pthread_mutex_lock(&kept_mu);
    k->next = kept_list;
    kept_list = k;
    pthread_mutex_unlock(&kept_mu);
    return SL_OK;
}

Sluice__UdfLibrary **sl_jm_udf_libraries(const void *owner, size_t *n)
{
    Sluice__UdfLibrary **libs = NULL;

    *n = 0;
    pthread_mutex_lock(&kept_mu);
    for (kept *k = kept_list; k != NULL; k = k->next) {
        if (k->owner == owner) {
            libs = k->libs;
            *n = k->n;
            break;
        }
    }
    pthread_mutex_unlock(&kept_mu);
    return libs;
}

void sl_jm_udf_forget(const void *owner)
{
    kept **pp, *k = NULL;

    pthread_mutex_lock(&kept_mu);
    for (pp = &kept_list; *pp != NULL; pp = &(*pp)->next) {
        if ((*pp)->owner == owner) {
            k = *pp;
            *pp = k->next;
            break;
        }
    }
    pthread_mutex_unlock(&kept_mu);
    if (k != NULL) {
        free_libs(k->libs, k->n);
        free(k);
    }
}
