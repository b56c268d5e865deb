/* Libraries of `operator: udf` at the jobmanager (udf_check.h). */
#include "jobmanager/udf_check.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/stage_catalog.h"
#include "common/status.h"

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

int sl_udfcheck_check(const sl_job_spec *spec, const char *file, const Sluice__SubmitJob *s,
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

int sl_udfcheck_copy(sl_udfcheck_libs *out, const Sluice__SubmitJob *s)
{
    out->n = 0;
    out->libs = NULL;
    if (s->n_libraries == 0)
        return SL_OK;
    if ((out->libs = calloc(s->n_libraries, sizeof(*out->libs))) == NULL)
        return SL_ENOMEM;
    for (; out->n < s->n_libraries; out->n++) {
        if ((out->libs[out->n] = copy_lib(s->libraries[out->n])) == NULL) {
            sl_udfcheck_free(out);
            return SL_ENOMEM;
        }
    }
    return SL_OK;
}

void sl_udfcheck_free(sl_udfcheck_libs *l)
{
    free_libs(l->libs, l->n);
    l->libs = NULL;
    l->n = 0;
}
