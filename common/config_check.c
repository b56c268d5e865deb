/* Rules across configuration keys, checked once a configuration is loaded
 * (file and -D overrides): high availability and security. */
#include "common/config_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/authz.h"
#include "common/status.h"


#define HA "high-availability."

/* Reports msg at the place key got its value: "file:line:col" when the
 * file set it, else the last -D override of that key. */
static int key_error(const sl_config *cfg, const char *key, const char *file, char **overrides,
                     int noverrides, const char *msg, char *err, size_t errlen)
{
    const struct sl_cfg_value *v = &cfg->v[sl_cfg_key_index(key)];
    size_t n = strlen(key);
    if (v->line > 0) {
        sl_cfg_set_error(err, errlen, file, v->line, v->col, "%s", msg);
        return SL_EINVAL;
    }
    for (int i = noverrides - 1; i >= 0; i--) {
        const char *kv = overrides[i];
        while (*kv == ' ' || *kv == '\t')
            kv++;
        if (strncmp(kv, key, n) == 0 && strchr(" \t=", kv[n])) {
            char where[CFG_KEY_MAX + 32];
            snprintf(where, sizeof where, "-D %.*s", CFG_KEY_MAX, overrides[i]);
            sl_cfg_set_error(err, errlen, where, 0, 0, "%s", msg);
            return SL_EINVAL;
        }
    }
    sl_cfg_set_error(err, errlen, file, 0, 0, "%s", msg);
    return SL_EINVAL;
}

/* 1 if s is "host:port[,host:port...]" (IPv6 hosts in brackets). */
static int quorum_ok(const char *s)
{
    while (*s) {
        const char *end = strchr(s, ','), *colon;
        size_t len = end ? (size_t)(end - s) : strlen(s);
        char item[CFG_VALUE_MAX], *stop;
        snprintf(item, sizeof item, "%.*s", (int)len, s);
        colon = strrchr(item, ':');
        if (!colon || colon == item || strpbrk(item, " \t/"))
            return 0;
        if (item[0] == '[' ? colon[-1] != ']' : memchr(item, ':', (size_t)(colon - item)) != NULL)
            return 0;
        errno = 0;
        long port = strtol(colon + 1, &stop, 10);
        if (colon[1] == '\0' || *stop != '\0' || errno || port < 1 || port > 65535)
            return 0;
        if (!end)
            return 1;
        s = end + 1;
    }
    return 0; /* empty, or ends with a comma */
}

/* 1 if s is a ZooKeeper path: "/" or "/a/b", no empty component, no trailing slash. */
static int zk_path_ok(const char *s)
{
    size_t n = strlen(s);
    return s[0] == '/' && !strstr(s, "//") && (n == 1 || s[n - 1] != '/');
}

static int name_ok(const char *s)
{
    return s[0] && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* High availability: the ZooKeeper keys are well formed, and with
 * type zookeeper the quorum and storageDir are set. */
static int check_ha(const sl_config *cfg, const char *file, char **ov, int nov, char *err,
                    size_t errlen)
{
    char msg[CFG_VALUE_MAX + 256];
    const char *type = "none", *quorum = NULL, *root = "/", *id = "default";
    sl_config_get_string(cfg, HA "type", &type);
    sl_config_get_string(cfg, HA "zookeeper.path.root", &root);
    sl_config_get_string(cfg, HA "cluster-id", &id);
    if (sl_config_get_string(cfg, HA "zookeeper.quorum", &quorum) == SL_OK && !quorum_ok(quorum)) {
        snprintf(msg, sizeof msg, "bad value '%.128s' for " HA "zookeeper.quorum: expected "
                 "host:port[,host:port...]", quorum);
        return key_error(cfg, HA "zookeeper.quorum", file, ov, nov, msg, err, errlen);
    }
    if (!zk_path_ok(root)) {
        snprintf(msg, sizeof msg, "bad value '%.128s' for " HA "zookeeper.path.root: expected "
                 "an absolute ZooKeeper path such as /sluice", root);
        return key_error(cfg, HA "zookeeper.path.root", file, ov, nov, msg, err, errlen);
    }
    if (!name_ok(id)) {
        snprintf(msg, sizeof msg, "bad value '%.128s' for " HA "cluster-id: expected a name "
                 "without '/'", id);
        return key_error(cfg, HA "cluster-id", file, ov, nov, msg, err, errlen);
    }
    if (strcmp(type, "zookeeper") != 0)
        return SL_OK;
    static const char *const needed[] = {HA "zookeeper.quorum", HA "storageDir"};
    for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++) {
        if (sl_config_is_set(cfg, needed[i]))
            continue;
        snprintf(msg, sizeof msg, HA "type is zookeeper but %s is not set", needed[i]);
        return key_error(cfg, HA "type", file, ov, nov, msg, err, errlen);
    }
    return SL_OK;
}


#define SSL "security.ssl."

/* Security (interface.md section 9): an enabled TLS side names its trust
 * certificate (and the internal side its own certificate and key: every
 * daemon presents one); authentication needs TLS; the roles parse. The
 * files themselves are read, with their key named in any error, when a
 * daemon or the CLI opens its connections (common/tls.c). */
static int check_security(const sl_config *cfg, const char *file, char **ov, int nov, char *err,
                          size_t errlen)
{
    char msg[CFG_VALUE_MAX + 256];
    int internal = 0, rest = 0, authn = 0;
    sl_config_get_bool(cfg, SSL "internal.enabled", &internal);
    sl_config_get_bool(cfg, SSL "rest.enabled", &rest);
    sl_config_get_bool(cfg, SSL "rest.authentication-enabled", &authn);
    static const char *const internal_keys[] = {SSL "internal.cert", SSL "internal.key",
                                                SSL "internal.trust-cert"};
    for (size_t i = 0; internal && i < sizeof internal_keys / sizeof internal_keys[0]; i++) {
        if (sl_config_is_set(cfg, internal_keys[i]))
            continue;
        snprintf(msg, sizeof msg, SSL "internal.enabled is true but %s is not set",
                 internal_keys[i]);
        return key_error(cfg, SSL "internal.enabled", file, ov, nov, msg, err, errlen);
    }
    if (rest && !sl_config_is_set(cfg, SSL "rest.trust-cert"))
        return key_error(cfg, SSL "rest.enabled", file, ov, nov,
                         SSL "rest.enabled is true but " SSL "rest.trust-cert is not set", err,
                         errlen);
    if (authn && !rest)
        return key_error(cfg, SSL "rest.authentication-enabled", file, ov, nov,
                         SSL "rest.authentication-enabled needs " SSL "rest.enabled: true "
                         "(client certificates travel over TLS)", err, errlen);
    const char *roles = NULL;
    sl_authz_roles *r = NULL;
    char why[256];
    if (sl_config_get_string(cfg, "security.authorization.roles", &roles) != SL_OK)
        return SL_OK;
    int rv = sl_authz_roles_parse(roles, &r, why, sizeof why);
    sl_authz_roles_free(r);
    if (rv == SL_ENOMEM)
        return rv;
    if (rv != SL_OK) {
        snprintf(msg, sizeof msg, "bad value for security.authorization.roles: %s", why);
        return key_error(cfg, "security.authorization.roles", file, ov, nov, msg, err, errlen);
    }
    return SL_OK;
}

int sl_cfg_check_rules(const sl_config *cfg, const char *file, char **ov, int nov, char *err,
                       size_t errlen)
{
    int rv = check_ha(cfg, file, ov, nov, err, errlen);
    if (rv == SL_OK)
        rv = check_security(cfg, file, ov, nov, err, errlen);
    return rv;
}
