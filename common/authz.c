/* Authorization: roles of client CNs and the role each request needs. */
#include "common/authz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/status.h"

struct sl_authz_entry {
    char cn[SL_AUTHZ_CN_MAX + 1];
    int role;
};

struct sl_authz_roles {
    size_t n;
    struct sl_authz_entry e[];
};

static const char *const role_names[] = {"none", "view", "operate", "submit", "admin", "daemon"};

/* Request body field numbers (proto/sluice.proto, Request.body). */
enum {
    K_REGISTER_TM = 1, K_HEARTBEAT, K_TASK_STATE, K_SUBMIT_JOB, K_LIST_JOBS, K_JOB_INFO,
    K_CANCEL_JOB, K_LIST_TMS, K_DEPLOY_TASKS, K_START_TASKS, K_CANCEL_TASKS,
    K_TRIGGER_CHECKPOINT, K_NOTIFY_CHECKPOINT, K_ACK_CHECKPOINT, K_CHECKPOINT_STATS,
    K_TRIGGER_CHECKPOINT_NOW, K_TRIGGER_SAVEPOINT, K_SAVEPOINT_STATUS, K_DISPOSE_SAVEPOINT,
    K_COUNT
};

static const struct {
    int role;
    const char *verb;
} kinds[K_COUNT] = {
    [K_REGISTER_TM] = {SL_AUTHZ_DAEMON, "register a taskmanager"},
    [K_HEARTBEAT] = {SL_AUTHZ_DAEMON, "send heartbeats"},
    [K_TASK_STATE] = {SL_AUTHZ_DAEMON, "report task states"},
    [K_SUBMIT_JOB] = {SL_AUTHZ_SUBMIT, "run"},
    [K_LIST_JOBS] = {SL_AUTHZ_VIEW, "list"},
    [K_JOB_INFO] = {SL_AUTHZ_VIEW, "info"},
    [K_CANCEL_JOB] = {SL_AUTHZ_OPERATE, "cancel"},
    [K_LIST_TMS] = {SL_AUTHZ_VIEW, "taskmanagers"},
    [K_DEPLOY_TASKS] = {SL_AUTHZ_DAEMON, "deploy tasks"},
    [K_START_TASKS] = {SL_AUTHZ_DAEMON, "start tasks"},
    [K_CANCEL_TASKS] = {SL_AUTHZ_DAEMON, "cancel tasks"},
    [K_TRIGGER_CHECKPOINT] = {SL_AUTHZ_DAEMON, "inject barriers"},
    [K_NOTIFY_CHECKPOINT] = {SL_AUTHZ_DAEMON, "notify checkpoints"},
    [K_ACK_CHECKPOINT] = {SL_AUTHZ_DAEMON, "acknowledge checkpoints"},
    [K_CHECKPOINT_STATS] = {SL_AUTHZ_VIEW, "checkpoints"},
    [K_TRIGGER_CHECKPOINT_NOW] = {SL_AUTHZ_OPERATE, "checkpoint"},
    [K_TRIGGER_SAVEPOINT] = {SL_AUTHZ_OPERATE, "savepoint"},
    [K_SAVEPOINT_STATUS] = {SL_AUTHZ_VIEW, "savepoint"},
    /* Deletes a savepoint's files: more than taking one. */
    [K_DISPOSE_SAVEPOINT] = {SL_AUTHZ_ADMIN, "dispose of savepoints"},
};

static int role_by_name(const char *s, size_t n)
{
    for (int r = SL_AUTHZ_VIEW; r <= SL_AUTHZ_ADMIN; r++)
        if (strlen(role_names[r]) == n && strncmp(role_names[r], s, n) == 0)
            return r;
    return SL_AUTHZ_NONE;
}

/* [s, e) without surrounding blanks. */
static void trim(const char **s, const char **e)
{
    while (*s < *e && (**s == ' ' || **s == '\t'))
        (*s)++;
    while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
        (*e)--;
}

/* Fills en from the item [s, e), the idx-th (from 1). */
static int parse_item(const char *s, const char *e, int idx, struct sl_authz_entry *en,
                      char *err, size_t errlen)
{
    trim(&s, &e);
    const char *colon = memchr(s, ':', (size_t)(e - s));
    const char *cs = s, *ce = colon ? colon : e, *rs = colon ? colon + 1 : e, *re = e;
    trim(&cs, &ce);
    trim(&rs, &re);
    int role = colon ? role_by_name(rs, (size_t)(re - rs)) : SL_AUTHZ_NONE;
    if (!colon || ce == cs || rs == re) {
        snprintf(err, errlen, "item %d '%.*s': expected cn:role", idx, (int)(e - s > 64 ? 64 : e - s), s);
        return SL_EINVAL;
    }
    if ((size_t)(ce - cs) > SL_AUTHZ_CN_MAX) {
        snprintf(err, errlen, "item %d: CN longer than %d characters", idx, SL_AUTHZ_CN_MAX);
        return SL_EINVAL;
    }
    if (role == SL_AUTHZ_NONE) {
        snprintf(err, errlen, "item %d: unknown role '%.*s' (view, operate, submit or admin)",
                 idx, (int)(re - rs > 32 ? 32 : re - rs), rs);
        return SL_EINVAL;
    }
    memcpy(en->cn, cs, (size_t)(ce - cs));
    en->cn[ce - cs] = '\0';
    en->role = role;
    return SL_OK;
}

static size_t count_items(const char *text)
{
    size_t n = 1;
    for (const char *p = text; *p; p++)
        n += *p == ',';
    return n;
}

int sl_authz_roles_parse(const char *text, sl_authz_roles **out, char *err, size_t errlen)
{
    *out = NULL;
    size_t cap = text && text[0] ? count_items(text) : 0;
    if (cap > SL_AUTHZ_MAX_ENTRIES) {
        snprintf(err, errlen, "%zu items, more than %d", cap, SL_AUTHZ_MAX_ENTRIES);
        return SL_EINVAL;
    }
    sl_authz_roles *r = calloc(1, sizeof(*r) + cap * sizeof(r->e[0]));
    if (r == NULL)
        return SL_ENOMEM;
    int rv = SL_OK;
    for (const char *s = text; cap > 0 && rv == SL_OK; r->n++) {
        const char *e = strchr(s, ',');
        if (e == NULL)
            e = s + strlen(s);
        rv = parse_item(s, e, (int)r->n + 1, &r->e[r->n], err, errlen);
        if (*e == '\0')
            cap = 0;
        s = e + 1;
    }
    if (rv != SL_OK)
        sl_authz_roles_free(r);
    else
        *out = r;
    return rv;
}

void sl_authz_roles_free(sl_authz_roles *r)
{
    free(r);
}

int sl_authz_role_of(const sl_authz_roles *r, const char *cn)
{
    int role = SL_AUTHZ_NONE;
    for (size_t i = 0; r != NULL && cn != NULL && i < r->n; i++)
        if (strcmp(r->e[i].cn, cn) == 0)
            role = r->e[i].role; /* the last mention wins, as for -D keys */
    return role;
}

int sl_authz_required(int kind)
{
    return kind > 0 && kind < K_COUNT ? kinds[kind].role : SL_AUTHZ_ADMIN;
}

const char *sl_authz_verb(int kind)
{
    return kind > 0 && kind < K_COUNT ? kinds[kind].verb : "send unknown requests";
}

const char *sl_authz_role_name(int role)
{
    return role >= 0 && role <= SL_AUTHZ_DAEMON ? role_names[role] : "none";
}
