/* The gate of the jobmanager's RPC port (see rpc_guard.h). */
#include "common/rpc_guard.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/auth.h"
#include "common/authz.h"
#include "common/log.h"
#include "common/status.h"
#include "common/util.h"

#define WHY_MAX 256

struct sl_rpc_guard {
    sl_auth_verifier *daemons; /* NULL: registrations are not checked */
    sl_auth_verifier *clients; /* NULL: client requests are not checked */
    sl_authz_roles *roles;
};

void sl_guard_free(sl_rpc_guard *g)
{
    if (g == NULL)
        return;
    sl_auth_verifier_free(g->daemons);
    sl_auth_verifier_free(g->clients);
    sl_authz_roles_free(g->roles);
    free(g);
}

static int open_verifier(const sl_config *cfg, const char *key, sl_auth_verifier **out,
                         char *err, size_t errlen)
{
    const char *path = NULL;
    char why[WHY_MAX];
    if (sl_config_get_string(cfg, key, &path) != SL_OK || path == NULL) {
        snprintf(err, errlen, "%s is not set", key);
        return SL_EINVAL;
    }
    int rv = sl_auth_verifier_open(path, out, why, sizeof why);
    if (rv != SL_OK)
        snprintf(err, errlen, "%s %s: %s", key, path, why);
    return rv;
}

int sl_guard_open(const sl_config *cfg, sl_rpc_guard **out, char *err, size_t errlen)
{
    int internal = 0, authn = 0, rv = SL_OK;
    const char *roles = NULL;
    *out = NULL;
    sl_config_get_bool(cfg, "security.ssl.internal.enabled", &internal);
    sl_config_get_bool(cfg, "security.ssl.rest.authentication-enabled", &authn);
    if (!internal && !authn)
        return SL_OK;
    sl_rpc_guard *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return SL_ENOMEM;
    if (internal)
        rv = open_verifier(cfg, "security.ssl.internal.trust-cert", &g->daemons, err, errlen);
    if (rv == SL_OK && authn)
        rv = open_verifier(cfg, "security.ssl.rest.trust-cert", &g->clients, err, errlen);
    sl_config_get_string(cfg, "security.authorization.roles", &roles);
    if (rv == SL_OK && authn)
        rv = sl_authz_roles_parse(roles, &g->roles, err, errlen);
    if (rv != SL_OK)
        sl_guard_free(g);
    else
        *out = g;
    return rv;
}

/* Refuses. identified: the caller proved its certificate, and every such
 * refusal is an audit line; unidentified callers are rate-limited (else
 * one could flood the log and hide others' lines). */
static int deny(const char *who, int kind, const char *detail, int identified, char *msg,
                size_t msglen)
{
    const char *verb = sl_authz_verb(kind);
    if (detail != NULL)
        snprintf(msg, msglen, "permission denied: %s may not %s: %s", who, verb, detail);
    else
        snprintf(msg, msglen, "permission denied: %s may not %s", who, verb);
    if (identified)
        sl_warn("audit: %s %s: denied (%s)", who, verb, msg + sizeof("permission denied:"));
    else
        sl_warn_limited("audit: %s %s: denied (%s)", who, verb, msg + sizeof("permission denied:"));
    return SL_EPERM;
}

/* A taskmanager registers: with a daemon certificate. */
static int check_daemon(sl_rpc_guard *g, const uint8_t *frame, size_t len,
                        const Sluice__Request *req, char *msg, size_t msglen)
{
    char why[WHY_MAX];
    sl_auth_identity id = {0};
    int kind = (int)req->body_case;
    if (sl_auth_verify(g->daemons, frame, len, req->credential, sl_wall_ms(), &id, why,
                       sizeof why) != SL_OK)
        return deny("an unidentified caller", kind, why, 0, msg, msglen);
    if (id.kind != SL_AUTH_DAEMON)
        return deny(id.cn[0] ? id.cn : "a certificate without CN", kind,
                    "not a daemon certificate (no serverAuth key usage)", 0, msg, msglen);
    sl_info("audit: %s %s: allowed", id.cn[0] ? id.cn : "daemon", sl_authz_verb(kind));
    return SL_OK;
}

/* A daemon certificate (the cluster's own scripts, on a cluster host) may
 * view: start-cluster.sh waits for the taskmanagers with `sluice
 * taskmanagers`. It verifies against the internal trust certificate. */
static int daemon_viewer(sl_rpc_guard *g, const uint8_t *frame, size_t len,
                         const Sluice__Request *req, sl_auth_identity *id)
{
    char why[WHY_MAX];
    sl_auth_identity d = {0};
    if (g->daemons == NULL || sl_auth_verify(g->daemons, frame, len, req->credential,
                                             sl_wall_ms(), &d, why, sizeof why) != SL_OK ||
        d.kind != SL_AUTH_DAEMON)
        return 0;
    *id = d;
    return 1;
}

static int check_client(sl_rpc_guard *g, const uint8_t *frame, size_t len,
                        const Sluice__Request *req, int need, char *msg, size_t msglen)
{
    char why[WHY_MAX];
    sl_auth_identity id = {0};
    int kind = (int)req->body_case, role = SL_AUTHZ_NONE;
    int rv = sl_auth_verify(g->clients, frame, len, req->credential, sl_wall_ms(), &id, why,
                            sizeof why);
    if (rv == SL_OK)
        role = sl_authz_role_of(g->roles, id.cn);
    if ((rv != SL_OK || id.kind == SL_AUTH_DAEMON) && daemon_viewer(g, frame, len, req, &id)) {
        rv = SL_OK;
        role = role > SL_AUTHZ_VIEW ? role : SL_AUTHZ_VIEW;
    }
    if (rv != SL_OK) {
        snprintf(msg, msglen, "permission denied: %s", why);
        sl_warn_limited("audit: unidentified caller %s: denied (%s)", sl_authz_verb(kind), why);
        return SL_EPERM;
    }
    const char *cn = id.cn[0] ? id.cn : "a certificate without CN";
    if (role < need)
        return deny(cn, kind, NULL, 1, msg, msglen);
    if (need > SL_AUTHZ_VIEW)
        sl_info("audit: %s (%s) %s: allowed", cn, sl_authz_role_name(role), sl_authz_verb(kind));
    else
        sl_debug("audit: %s (%s) %s: allowed", cn, sl_authz_role_name(role), sl_authz_verb(kind));
    return SL_OK;
}

int sl_guard_check(sl_rpc_guard *g, const uint8_t *frame, size_t len, const Sluice__Request *req,
                   char *msg, size_t msglen)
{
    int kind = (int)req->body_case;
    int need = sl_authz_required(kind);
    if (g == NULL)
        return SL_OK;
    if (need == SL_AUTHZ_DAEMON)
        return kind == SLUICE__REQUEST__BODY_REGISTER_TM && g->daemons != NULL
                   ? check_daemon(g, frame, len, req, msg, msglen)
                   : SL_OK;
    return g->clients != NULL ? check_client(g, frame, len, req, need, msg, msglen) : SL_OK;
}
