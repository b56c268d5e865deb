/* High availability helpers shared by the daemons and the CLI: see ha.h. */
#include "common/ha.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/status.h"

#define HA_SEQ_DIGITS 10 /* ZooKeeper's sequential counter */

int sl_ha_enabled(const sl_config *cfg)
{
    const char *type = NULL;
    return sl_config_get_string(cfg, "high-availability.type", &type) == SL_OK && type != NULL &&
           strcmp(type, "zookeeper") == 0;
}

int sl_ha_path(const sl_config *cfg, const char *sub, char *buf, size_t len)
{
    const char *root = "/sluice", *cluster = "default";
    sl_config_get_string(cfg, "high-availability.zookeeper.path.root", &root);
    sl_config_get_string(cfg, "high-availability.cluster-id", &cluster);
    if (strcmp(root, "/") == 0)
        root = ""; /* "/" + "/<cluster>" */
    int has_sub = sub != NULL && sub[0] != '\0';
    int n = snprintf(buf, len, "%s/%s%s%s", root, cluster, has_sub ? "/" : "", has_sub ? sub : "");
    return n < 0 || (size_t)n >= len ? SL_ENOSPC : SL_OK;
}

int sl_ha_connect(const sl_config *cfg, sl_zk_watch_fn watch, void *ctx, sl_zk **out)
{
    struct sl_zk_opts o = {0};
    o.quorum = NULL;
    sl_config_get_string(cfg, "high-availability.zookeeper.quorum", &o.quorum);
    sl_config_get_ms(cfg, "high-availability.zookeeper.client.session-timeout",
                     &o.session_timeout_ms);
    sl_config_get_ms(cfg, "high-availability.zookeeper.client.connection-timeout",
                     &o.connect_timeout_ms);
    if (o.quorum == NULL || o.quorum[0] == '\0')
        return SL_EINVAL;
    o.watch = watch;
    o.watch_ctx = ctx;
    return sl_zk_connect(&o, out);
}

uint64_t sl_ha_latch_id(const char *name)
{
    size_t plen = strlen(SL_HA_LATCH_PREFIX);
    if (strncmp(name, SL_HA_LATCH_PREFIX, plen) != 0 || strlen(name + plen) != HA_SEQ_DIGITS)
        return 0;
    uint64_t v = 0;
    for (const char *p = name + plen; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    return v + 1;
}

/* Reads one latch's address; SL_ENOTFOUND if it went meanwhile. */
static int read_latch(sl_zk *zk, const char *dir, const char *name, char *addr, size_t addrlen)
{
    char path[SL_ZK_PATH_MAX];
    size_t n = 0;
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
        return SL_ENOSPC;
    int rv = sl_zk_get(zk, path, 0, addr, addrlen - 1, &n, NULL);
    if (rv != SL_OK)
        return rv;
    addr[n] = '\0';
    if (n == 0 || strlen(addr) != n) /* no address yet or not text: not usable */
        return SL_EINVAL;
    return SL_OK;
}

int sl_ha_leader_read(sl_zk *zk, const sl_config *cfg, int watch, char *addr, size_t addrlen,
                      uint64_t *leader_id)
{
    char dir[SL_ZK_PATH_MAX];
    char **names = NULL;
    size_t count = 0;
    int rv = sl_ha_path(cfg, SL_HA_LEADER_DIR, dir, sizeof(dir));
    if (rv == SL_OK)
        rv = sl_zk_children(zk, dir, watch, &names, &count);
    if (rv != SL_OK)
        return rv;
    rv = SL_ENOTFOUND;
    /* sorted by name: latches of one prefix in counter order */
    for (size_t i = 0; i < count && rv != SL_OK; i++) {
        uint64_t id = sl_ha_latch_id(names[i]);
        if (id == 0)
            continue;
        int r = read_latch(zk, dir, names[i], addr, addrlen);
        if (r == SL_OK) {
            *leader_id = id;
            rv = SL_OK;
        } else if (r != SL_ENOTFOUND) { /* the lowest latch is the leader, read or not */
            rv = r;
            break;
        }
    }
    sl_zk_children_free(names, count);
    return rv;
}
