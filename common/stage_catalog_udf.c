/* Stage catalog row for `operator: udf` (include/sluice/udf.h): library:
 * (an absolute path or file:// URI, stored back as the plain path),
 * symbol:, schema: (what the UDF emits, parsed like a csv source's) and
 * params: (a mapping; each entry k: v becomes parameter "params.k").
 * key-by is required: the UDF's state is keyed. Whether the library loads
 * and has the symbol is checked by the jobmanager (jobmanager/udf_check.c),
 * which has the library's bytes. */
#include "common/stage_catalog.h"

#include <limits.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/row_text.h"
#include "common/status.h"

const sl_stage_param_def sl_stage_params_udf[] = {
    {"library", NULL, SL_PARAM_REQUIRED},
    {"symbol", NULL, SL_PARAM_REQUIRED},
    {"schema", NULL, SL_PARAM_REQUIRED},
    {"params", NULL, SL_PARAM_MAPPING},
    {NULL, NULL, 0},
};

static int check_symbol(sl_stage_check *chk)
{
    sl_param *p = sl_stage_param_ref(chk->st, "symbol");
    size_t n = p != NULL ? strlen(p->value) : 0;

    if (p == NULL)
        return SL_OK;
    if (n == 0 || n > 255)
        return sl_stage_check_fail(chk, p, "symbol must have 1 to 255 characters");
    for (size_t i = 0; i < n; i++) {
        char c = p->value[i];
        int ok = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return sl_stage_check_fail(chk, p, "symbol '%s' is not a C identifier", p->value);
    }
    return SL_OK;
}

static int check_out_schema(sl_stage_check *chk)
{
    sl_param *p = sl_stage_param_ref(chk->st, "schema");
    char msg[256];
    size_t off = 0;
    int rv;

    if (p == NULL)
        return sl_stage_check_fail(chk, NULL, "operator 'udf' requires 'schema'");
    rv = sl_schema_parse(p->value, &chk->st->out_schema, &off, msg, sizeof(msg));
    if (rv == SL_EINVAL)
        return sl_stage_check_fail(chk, p, "bad schema at character %zu ('%.30s'): %s",
                                   off + 1, p->value + off, msg);
    return rv;
}

int sl_stage_validate_udf(sl_stage_check *chk)
{
    int rv;

    if ((rv = sl_stage_check_path(chk, "library")) != SL_OK ||
        (rv = check_symbol(chk)) != SL_OK)
        return rv;
    return check_out_schema(chk);
}

/* ---- loading a shipped library ---- */

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return SL_EIO;
        p += n;
        len -= (size_t)n;
    }
    return SL_OK;
}

/* Writes bytes to a fresh private file under $TMPDIR (or /tmp), dlopens it
 * and removes the file at once (the mapping stays). */
int sl_udf_load(const uint8_t *bytes, size_t len, void **handle, char *err, size_t errlen)
{
    const char *dir = getenv("TMPDIR");
    char path[PATH_MAX];
    int fd, n;

    if (dir == NULL || dir[0] != '/')
        dir = "/tmp";
    n = snprintf(path, sizeof(path), "%s/sluice-udf-XXXXXX", dir);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        snprintf(err, errlen, "TMPDIR is too long");
        return SL_EINVAL;
    }
    if ((fd = mkstemp(path)) < 0) {
        snprintf(err, errlen, "cannot create a file in %s: %s", dir, strerror(errno));
        return SL_EIO;
    }
    if (write_all(fd, bytes, len) != SL_OK) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return SL_EIO;
    }
    close(fd);
    dlerror();
    *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (*handle == NULL) {
        const char *e = dlerror();
        snprintf(err, errlen, "%s", e != NULL ? e : "unknown error");
    }
    unlink(path);
    return *handle != NULL ? SL_OK : SL_EINVAL;
}

const sluice_udf *sl_udf_lookup(void *handle, const char *symbol, char *err, size_t errlen)
{
    const sluice_udf *u;

    dlerror();
    u = dlsym(handle, symbol);
    if (u == NULL) {
        snprintf(err, errlen, "has no symbol '%s'", symbol);
        return NULL;
    }
    if (u->api_version < SLUICE_UDF_API_VERSION_MIN || u->api_version > SLUICE_UDF_API_VERSION) {
        snprintf(err, errlen, "symbol '%s' has API version %d, expected %d to %d", symbol,
                 u->api_version, SLUICE_UDF_API_VERSION_MIN, SLUICE_UDF_API_VERSION);
        return NULL;
    }
    if (u->process == NULL) {
        snprintf(err, errlen, "symbol '%s' has no process callback", symbol);
        return NULL;
    }
    return u;
}
