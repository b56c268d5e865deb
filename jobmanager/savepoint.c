/* Savepoints on the jobmanager side (savepoint.h).
 *
 * A savepoint is a checkpoint record with `savepoint` set whose folder is
 * <target>/savepoint-<first 6 hex of the job id>-<12 random hex> instead of
 * <root>/<job>/chk-<n>: the coordinator triggers, collects acks and writes
 * its _metadata (savepoint = true) like any other, but never retains or
 * removes it once complete (the user owns it), does not count its failures
 * against the tolerable ones, and removes only the folder it created when
 * it fails. Tasks write their state files straight into that folder, so a
 * savepoint is self-contained. Keyed state is stored per key group in one
 * format for both backends, which is what makes it usable after a change
 * of parallelism or state backend. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/checkpoint_store.h"
#include "common/config.h"
#include "common/log.h"
#include "common/status.h"
#include "common/util.h"
#include "jobmanager/checkpoint_record.h"
#include "jobmanager/checkpoint_restore.h"
#include "jobmanager/savepoint.h"


/* ---- trigger */

static int job_can_savepoint(const sl_coord *cc, const sl_coord_view *v, char *err,
                             size_t errlen)
{
    if (!sl_coord_view_running(v)) {
        snprintf(err, errlen, "job %s is not running (%s)", v->job_id,
                 sl_job_state_name(v->state));
        return SL_EBUSY;
    }
    for (int t = 0; t < v->ntasks; t++) {
        if (!v->tasks[t].running) {
            snprintf(err, errlen, "job %s: not all of its tasks are running yet", v->job_id);
            return SL_EBUSY;
        }
        if (v->tasks[t].input_ended) {
            snprintf(err, errlen, "job %s: its sources reached the end of their input",
                     v->job_id);
            return SL_EBUSY;
        }
    }
    for (const sl_ckrec *c = cc->history; c != NULL; c = c->next) {
        if (c->stop && (c->status == SL_CKREC_PENDING ||
                        (c->status == SL_CKREC_COMPLETED && c->attempt == v->attempt))) {
            snprintf(err, errlen, "job %s is being stopped with savepoint %" PRIu64, v->job_id,
                     c->id);
            return SL_EBUSY;
        }
    }
    return SL_OK;
}

static int savepoint_dir(const sl_coord *cc, const char *job_id, const char *target, char *out,
                         size_t outlen, char *err, size_t errlen)
{
    char root[PATH_MAX], rnd[13];
    if (target[0] == '\0' && cc->savepoint_root == NULL) {
        snprintf(err, errlen, "no savepoint folder: give one (sluice savepoint %s DIR) or set "
                 "state.savepoints.dir", job_id);
        return SL_EINVAL;
    }
    if (target[0] == '\0')
        snprintf(root, sizeof(root), "%s", cc->savepoint_root);
    else if (sl_path_from_uri(target, root, sizeof(root)) != SL_OK) {
        snprintf(err, errlen, "savepoint folder '%.1000s': expected an absolute path or a "
                 "file:// URI", target);
        return SL_EINVAL;
    }
    if (sl_random_hex(rnd, 6) != SL_OK) {
        snprintf(err, errlen, "cannot name the savepoint: no randomness");
        return SL_EIO;
    }
    size_t n = strlen(root);
    while (n > 1 && root[n - 1] == '/')
        root[--n] = '\0';
    int w = snprintf(out, outlen, "%s/savepoint-%.6s-%s", root, job_id, rnd);
    if (w < 0 || (size_t)w >= outlen) {
        snprintf(err, errlen, "savepoint folder '%.1000s' is too long", root);
        return SL_EINVAL;
    }
    return SL_OK;
}

int sl_savepoint_trigger(sl_coord *cc, const sl_coord_view *v, const Sluice__TriggerSavepoint *t,
                         uint64_t *id, char *err, size_t errlen)
{
    char dir[PATH_MAX];
    if (strlen(t->request_id) > SL_REQUEST_ID_MAX) {
        snprintf(err, errlen, "request id longer than %d characters", SL_REQUEST_ID_MAX);
        return SL_EINVAL;
    }
    const sl_ckrec *known = sl_ckrec_find_request(cc, t->request_id);
    if (known != NULL && known->savepoint) {
        *id = known->id;
        return SL_OK;
    }
    int rv = job_can_savepoint(cc, v, err, errlen);
    if (rv == SL_OK)
        rv = savepoint_dir(cc, v->job_id, t->target_dir, dir, sizeof(dir), err, errlen);
    if (rv != SL_OK)
        return rv;
    sl_ckrec *c = sl_ckrec_create_in(cc, v, dir);
    if (c == NULL || (c->request_id = strdup(t->request_id)) == NULL) {
        snprintf(err, errlen, "cannot create a savepoint of job %s: out of memory", v->job_id);
        if (c != NULL)
            sl_ckrec_fail(cc, v->job_id, c, "out of memory", 0, 0);
        return SL_ENOMEM;
    }
    c->savepoint = 1;
    c->stop = t->stop;
    c->manual = 1;
    sl_info("%s %" PRIu64 " of job %s requested into %s",
            c->stop ? "stop-with-savepoint" : "savepoint", c->id, v->job_id, dir);
    *id = c->id;
    return SL_OK;
}

/* ---- status */

int sl_savepoint_status(const sl_coord *cc, Sluice__JobState job_state, uint64_t id,
                        sl_arena *a, Sluice__SavepointStatus **out)
{
    const sl_ckrec *c = sl_ckrec_find(cc, id);
    if (c == NULL || !c->savepoint)
        return SL_ENOTFOUND;
    Sluice__SavepointStatus *s = sl_arena_alloc(a, sizeof(*s));
    if (s == NULL)
        return SL_ENOMEM;
    sluice__savepoint_status__init(s);
    s->id = c->id;
    s->status = c->status == SL_CKREC_PENDING     ? "IN_PROGRESS"
                : c->status == SL_CKREC_COMPLETED ? "COMPLETED"
                                                : "FAILED";
    s->path = sl_arena_printf(a, "file://%s", c->dir);
    s->failure = sl_arena_strdup(a, c->failure != NULL ? c->failure : "");
    s->job_state = job_state;
    if (s->path == NULL || s->failure == NULL)
        return SL_ENOMEM;
    *out = s;
    return SL_OK;
}

/* ---- paths given by users */

/* path (plain or file://) of a savepoint or checkpoint folder, or of its
 * _metadata file, as the folder's plain path. */
static int folder_of(const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
    if (sl_path_from_uri(path, out, outlen) != SL_OK) {
        snprintf(err, errlen, "'%.1000s': expected an absolute path or a file:// URI", path);
        return SL_EINVAL;
    }
    size_t n = strlen(out);
    while (n > 1 && out[n - 1] == '/')
        out[--n] = '\0';
    size_t m = strlen(SL_STORE_METADATA_NAME);
    if (n > m + 1 && strcmp(out + n - m, SL_STORE_METADATA_NAME) == 0 && out[n - m - 1] == '/')
        out[n - m - 1] = '\0';
    return SL_OK;
}

static int read_metadata(const char *dir, Sluice__CheckpointMetadata **md, char *err,
                         size_t errlen)
{
    char why[PATH_MAX + 512];
    int rv = sl_store_metadata_read(dir, md, why, sizeof(why));
    if (rv == SL_ENOTFOUND)
        snprintf(err, errlen, "%s: no savepoint or checkpoint there (no %s)", dir,
                 SL_STORE_METADATA_NAME);
    else if (rv != SL_OK)
        snprintf(err, errlen, "%s: %s", dir, why);
    return rv;
}

/* ---- dispose */

static int remove_files(const char *dir, const Sluice__CheckpointMetadata *md, char *err,
                        size_t errlen)
{
    char p[PATH_MAX + 300]; /* dir + "/" + a state file name (<= 255) */
    for (size_t i = 0; i < md->n_states; i++) {
        if (!sl_store_state_name_ok(md->states[i]->path)) {
            snprintf(err, errlen, "%s: its metadata names a bad state file '%.300s'", dir,
                     md->states[i]->path);
            return SL_EINVAL;
        }
    }
    for (size_t i = 0; i < md->n_states; i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, md->states[i]->path);
        if (unlink(p) != 0 && errno != ENOENT) {
            snprintf(err, errlen, "cannot remove %s: %s", p, strerror(errno));
            return SL_EIO;
        }
    }
    snprintf(p, sizeof(p), "%s/%s", dir, SL_STORE_METADATA_NAME);
    if (unlink(p) != 0 && errno != ENOENT) {
        snprintf(err, errlen, "cannot remove %s: %s", p, strerror(errno));
        return SL_EIO;
    }
    if (rmdir(dir) != 0) {
        snprintf(err, errlen, "removed the savepoint's files, but not %s: %s", dir,
                 strerror(errno));
        return SL_EIO;
    }
    return SL_OK;
}

int sl_savepoint_dispose(const char *path, char *err, size_t errlen)
{
    char dir[PATH_MAX];
    Sluice__CheckpointMetadata *md = NULL;
    int rv = folder_of(path, dir, sizeof(dir), err, errlen);
    if (rv == SL_OK)
        rv = read_metadata(dir, &md, err, errlen);
    if (rv == SL_OK && !md->savepoint) {
        snprintf(err, errlen, "%s is checkpoint %" PRIu64 " of job %s, not a savepoint", dir,
                 md->checkpoint_id, md->job_id);
        rv = SL_EINVAL;
    }
    if (rv == SL_OK)
        rv = remove_files(dir, md, err, errlen);
    if (rv == SL_OK)
        sl_info("disposed of savepoint %s", dir);
    if (md != NULL)
        sluice__checkpoint_metadata__free_unpacked(md, NULL);
    return rv;
}

/* ---- restore at submit */

static const sl_stage *stage_named(const sl_job_spec *spec, const char *name)
{
    for (int i = 0; i < spec->nstages; i++)
        if (strcmp(spec->stages[i].name, name) == 0)
            return &spec->stages[i];
    return NULL;
}

static void stage_kind(const sl_stage *st, char *out, size_t len)
{
    const char *k = st->kind == SL_STAGE_SOURCE ? "source"
                    : st->kind == SL_STAGE_SINK ? "sink"
                                                : "operator";
    snprintf(out, len, "%s:%s", k, st->type);
}

/* Every state of md maps to a stage of the same kind (or -n). */
static int check_mapping(const sl_job_spec *spec, const char *job_id, const char *file_name,
                         const char *dir, const Sluice__CheckpointMetadata *md,
                         int allow_non_restored, char *err, size_t errlen)
{
    char kind[128];
    for (size_t i = 0; i < md->n_states; i++) {
        const Sluice__StateHandle *h = md->states[i];
        const sl_stage *st = stage_named(spec, h->stage);
        if (st == NULL && allow_non_restored) {
            sl_info("job %s: state of stage '%s' in %s maps to no stage: skipped (-n)", job_id,
                    h->stage, dir);
            continue;
        }
        if (st == NULL) {
            snprintf(err, errlen, "%s: the state of stage '%.200s' maps to no stage of %s "
                     "(run with -n to skip it)", dir, h->stage, file_name);
            return SL_EINVAL;
        }
        stage_kind(st, kind, sizeof(kind));
        if (h->kind[0] != '\0' && strcmp(h->kind, kind) != 0) {
            snprintf(err, errlen, "%s: stage '%.200s' held state of a %.100s, but in %s it is a "
                     "%s", dir, h->stage, h->kind, file_name, kind);
            return SL_EINVAL;
        }
    }
    return SL_OK;
}

static int check_restore(const sl_job_spec *spec, const char *job_id, const char *file_name,
                         const char *dir, const Sluice__CheckpointMetadata *md,
                         int allow_non_restored, char *err, size_t errlen)
{
    char why[PATH_MAX + 512];
    if (md->max_parallelism != (uint32_t)spec->max_parallelism) {
        snprintf(err, errlen, "%s was taken with max-parallelism %u, but %s has %d: the number "
                 "of key groups is fixed for the life of a job's state", dir,
                 md->max_parallelism, file_name, spec->max_parallelism);
        return SL_EINVAL;
    }
    int rv = check_mapping(spec, job_id, file_name, dir, md, allow_non_restored, err, errlen);
    if (rv == SL_OK && sl_store_verify(dir, md, why, sizeof(why)) != SL_OK) {
        snprintf(err, errlen, "%s is damaged: %s", dir, why);
        rv = SL_EINVAL;
    }
    return rv;
}

int sl_savepoint_restore_check(sl_coord *cc, const sl_job_spec *spec, const char *job_id,
                               const char *file_name, const char *path, int allow_non_restored,
                               char *err, size_t errlen)
{
    char dir[PATH_MAX];
    Sluice__CheckpointMetadata *md = NULL;
    int rv = folder_of(path, dir, sizeof(dir), err, errlen);
    if (rv == SL_OK && (rv = read_metadata(dir, &md, err, errlen)) != SL_OK)
        rv = rv == SL_ENOMEM ? rv : SL_EINVAL;
    if (rv == SL_OK)
        rv = check_restore(spec, job_id, file_name, dir, md, allow_non_restored, err, errlen);
    if (rv == SL_OK && ((cc->initial_dir = strdup(dir)) == NULL ||
                        (cc->restore_dir = strdup(dir)) == NULL))
        rv = SL_ENOMEM;
    if (rv == SL_OK) {
        cc->initial_id = cc->restore_id = md->checkpoint_id;
        cc->last_id = md->checkpoint_id; /* ids go on after the restored one */
        sl_restore_use(cc);
    }
    if (md != NULL)
        sluice__checkpoint_metadata__free_unpacked(md, NULL);
    return rv;
}
