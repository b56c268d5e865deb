/* Local working folders of keyed state (sl_ks_local_dir, keyed_state.h):
 * naming one per state of a job attempt under the configured roots, and
 * sweeping the folders earlier attempts left there (a killed taskmanager
 * cannot delete its own). Part of the keyed state module; calls the
 * leveldb backend to remove a folder only if no live process holds it. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/status.h"
#include "taskmanager/state/keyed_state.h"
#include "taskmanager/state/keyed_state_leveldb.h"

#define FILE_URI "file://"
#define FILE_URI_LEN (sizeof(FILE_URI) - 1)

/* Copies the n-th (mod their number) comma-separated root into out,
 * blanks trimmed, a file:// prefix and trailing slashes dropped. */
static int pick_root(const char *roots, int n, char *out, size_t outlen)
{
    int count = 1;
    const char *p = roots, *end;
    size_t len;

    for (const char *c = roots; *c != '\0'; c++) {
        count += *c == ',';
    }
    for (int i = n % count; i > 0; i--) {
        p = strchr(p, ',') + 1;
    }
    end = strchr(p, ',');
    end = end != NULL ? end : p + strlen(p);
    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }
    while (end > p && (end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }
    if (end - p >= (ptrdiff_t)FILE_URI_LEN && strncmp(p, FILE_URI, FILE_URI_LEN) == 0) {
        p += FILE_URI_LEN;
    }
    while (end - p > 1 && end[-1] == '/') {
        end--;
    }
    len = (size_t)(end - p);
    if (len == 0 || *p != '/' || len >= outlen) {
        return SL_EINVAL;
    }
    memcpy(out, p, len);
    out[len] = '\0';
    return SL_OK;
}

/* 1 if name is "<job_id>-<attempt>-..." with attempt below `below`. */
static int earlier_attempt(const char *name, const char *job_id, uint32_t below)
{
    size_t n = strlen(job_id);
    unsigned long a;
    char *end;

    if (strncmp(name, job_id, n) != 0 || name[n] != '-' || name[n + 1] < '0' ||
        name[n + 1] > '9') {
        return 0;
    }
    errno = 0;
    a = strtoul(name + n + 1, &end, 10);
    return errno == 0 && *end == '-' && a < below;
}

/* Removes root's folders of earlier attempts of job_id that nobody holds. */
static void sweep(const char *root, const char *job_id, uint32_t attempt)
{
    DIR *d = opendir(root);
    struct dirent *e;
    char path[PATH_MAX];

    if (d == NULL) {
        return;
    }
    while ((e = readdir(d)) != NULL) {
        if (!earlier_attempt(e->d_name, job_id, attempt)) {
            continue;
        }
        if (snprintf(path, sizeof(path), "%s/%s", root, e->d_name) >= (int)sizeof(path)) {
            continue;
        }
        if (sl_leveldb_remove(path) == SL_OK) {
            sl_info("removed the stale local state folder %s", path);
        }
    }
    closedir(d);
}

static int name_ok(const char *s)
{
    if (s == NULL || s[0] == '\0' || s[0] == '.') {
        return 0;
    }
    for (; *s != '\0'; s++) {
        if (*s == '/' || (unsigned char)*s < 0x20) {
            return 0;
        }
    }
    return 1;
}

int sl_ks_local_dir(const char *roots, const char *job_id, uint32_t attempt,
                             const char *stage, int subtask, char *out, size_t outlen)
{
    char root[PATH_MAX];
    int n;

    if (roots == NULL || out == NULL || outlen == 0 || subtask < 0 || !name_ok(job_id) ||
        !name_ok(stage) || pick_root(roots, subtask, root, sizeof(root)) != SL_OK) {
        return SL_EINVAL;
    }
    n = snprintf(out, outlen, "%s/%s-%u-%s-%d", root, job_id, (unsigned)attempt, stage, subtask);
    if (n < 0 || (size_t)n >= outlen) {
        return SL_ENOSPC;
    }
    sweep(root, job_id, attempt);
    return SL_OK;
}
