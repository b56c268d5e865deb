/* Authorization: who may do what (interface.md section 9). Prefix sl_authz_.
 *
 * Roles are ordered: view < operate < submit < admin; a role may do what
 * every role below it may. security.authorization.roles maps client
 * certificate subject CNs to roles, written as Flink writes map options:
 * "alice:admin,ops:operate,grafana:view". A CN not listed gets nothing.
 *
 * Place: a leaf of common/ (no nng, no config). Called by the config
 * check (syntax), and by the RPC server (common/rpc_server.c) before any
 * handler runs. */
#ifndef SL_AUTHZ_H
#define SL_AUTHZ_H

#include <stddef.h>

enum sl_authz_role {
    SL_AUTHZ_NONE = 0,
    SL_AUTHZ_VIEW = 1,
    SL_AUTHZ_OPERATE = 2,
    SL_AUTHZ_SUBMIT = 3,
    SL_AUTHZ_ADMIN = 4,
    /* Not a client role: requests only daemons send (a taskmanager's
     * registration); the caller must prove a daemon certificate. */
    SL_AUTHZ_DAEMON = 5,
};

#define SL_AUTHZ_MAX_ENTRIES 256 /* CNs in security.authorization.roles */
#define SL_AUTHZ_CN_MAX 64       /* longest subject CN (X.520 ub-common-name) */

typedef struct sl_authz_roles sl_authz_roles;

/* Parses text ("cn:role,cn:role"; spaces around items ignored). *out owned
 * by the caller: sl_authz_roles_free. SL_EINVAL with a reason in err
 * ("item 2 'bob': expected cn:role"), SL_ENOMEM. NULL or "" gives an
 * empty table. */
int sl_authz_roles_parse(const char *text, sl_authz_roles **out, char *err, size_t errlen);
void sl_authz_roles_free(sl_authz_roles *r);
/* The role of cn (SL_AUTHZ_NONE when not listed). */
int sl_authz_role_of(const sl_authz_roles *r, const char *cn);

/* The least role a request of this kind (Request body field number) needs,
 * and the verb users know it by ("cancel", "run", ...). Unknown kinds need
 * SL_AUTHZ_ADMIN. */
int sl_authz_required(int kind);
const char *sl_authz_verb(int kind);
const char *sl_authz_role_name(int role);

#endif
