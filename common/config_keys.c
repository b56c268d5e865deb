/* Configuration key table: one row per key (name, type, bounds, default),
 * the enum choices and aliases, and lookups of a key by name. The value
 * slots live in struct sl_config (config_internal.h), one per row. */
#include "common/limits.h"
#include "common/config_internal.h"

#include <math.h>
#include <string.h>

#define K_STR(n, d) {.name = n, .type = SL_CFG_STRING, .def = d}
#define K_INT(n, d, lo, hi) {.name = n, .type = SL_CFG_INT, .def = d, .min = lo, .max = hi}
#define K_DUR(n, d, lo, hi) {.name = n, .type = SL_CFG_DURATION, .def = d, .min = lo, .max = hi}
#define K_SIZE(n, d, lo, hi) {.name = n, .type = SL_CFG_SIZE, .def = d, .min = lo, .max = hi}
#define K_BOOL(n, d) {.name = n, .type = SL_CFG_BOOL, .def = d}
#define K_ENUM(n, d, c, a) {.name = n, .type = SL_CFG_ENUM, .def = d, .choices = c, .aliases = a}
#define K_PATH(n, d, f) {.name = n, .type = SL_CFG_PATH, .def = d, .flags = f}
#define K_DBL(n, d, lo, hi) {.name = n, .type = SL_CFG_DOUBLE, .def = d, .dmin = lo, .dmax = hi}

static const char *const backend_choices[] = {"hashmap", "leveldb", NULL};
static const char *const mode_choices[] = {"EXACTLY_ONCE", "AT_LEAST_ONCE", NULL};
static const char *const retention_choices[] = {"DELETE_ON_CANCELLATION",
                                                "RETAIN_ON_CANCELLATION", NULL};
static const char *const restart_choices[] = {"none", "fixed-delay", "failure-rate",
                                              "exponential-delay", NULL};
static const char *const restart_aliases[] = {
    "fixeddelay", "fixed-delay", "failurerate", "failure-rate",
    "exponentialdelay", "exponential-delay", "disable", "none", "off", "none", NULL};
static const char *const level_choices[] = {"DEBUG", "INFO", "WARN", "ERROR", NULL};
static const char *const level_aliases[] = {"WARNING", "WARN", NULL};
static const char *const ha_choices[] = {"none", "zookeeper", NULL};

const struct sl_cfg_key sl_cfg_table[] = {
    K_STR("jobmanager.rpc.address", "127.0.0.1"),
    K_INT("jobmanager.rpc.port", "6123", 1, 65535),
    K_STR("jobmanager.bind-host", "0.0.0.0"),
    K_DUR("jobmanager.restart.slot-wait-timeout", "5 min", 0, CFG_NOLIMIT),
    /* Unset: the local address of the route to the jobmanager (net_addr.h). */
    K_STR("taskmanager.host", NULL),
    K_STR("taskmanager.bind-host", "0.0.0.0"),
    K_INT("taskmanager.rpc.port", "0", 0, 65535),
    K_INT("taskmanager.data.port", "0", 0, 65535),
    K_INT("taskmanager.numberOfTaskSlots", "1", 1, SL_MAX_TM_SLOTS),
    K_PATH("taskmanager.state.local.root-dirs", "sluice-local-state", CFG_DEF_TMPDIR),
    K_SIZE("taskmanager.memory.network.buffer-size", "32 kb", 4096, 4194304),
    K_INT("taskmanager.network.credits-per-channel", "4", 1, 1024),
    K_SIZE("rpc.max-message-size", "64 mb", 1024, CFG_NOLIMIT),
    K_DUR("heartbeat.interval", "1 s", 1, CFG_NOLIMIT),
    K_DUR("heartbeat.timeout", "5 s", 1, CFG_NOLIMIT),
    K_INT("parallelism.default", "1", 1, 32768),
    K_ENUM("state.backend.type", "hashmap", backend_choices, NULL),
    K_SIZE("state.backend.leveldb.cache-size", "64 mb", 4096, CFG_NOLIMIT),
    /* One host: under the temp dir. Several hosts: set a folder they share. */
    K_PATH("state.checkpoints.dir", "sluice-checkpoints", CFG_DEF_TMPDIR | CFG_SHIP_DEFAULT),
    K_INT("state.checkpoints.num-retained", "3", 1, CFG_NOLIMIT),
    K_PATH("state.savepoints.dir", NULL, 0),
    K_DUR("execution.checkpointing.interval", NULL, 1, CFG_NOLIMIT),
    K_ENUM("execution.checkpointing.mode", "EXACTLY_ONCE", mode_choices, NULL),
    K_DUR("execution.checkpointing.timeout", "10 min", 1, CFG_NOLIMIT),
    K_DUR("execution.checkpointing.min-pause", "0", 0, CFG_NOLIMIT),
    K_INT("execution.checkpointing.max-concurrent-checkpoints", "1", 1, CFG_NOLIMIT),
    K_INT("execution.checkpointing.tolerable-failed-checkpoints", "0", 0, CFG_NOLIMIT),
    K_ENUM("execution.checkpointing.externalized-checkpoint-retention",
           "DELETE_ON_CANCELLATION", retention_choices, NULL),
    /* Restart without state when no retained checkpoint verifies (else the job fails). */
    K_BOOL("execution.state-recovery.allow-empty-on-failure", "false"),
    K_DUR("execution.buffer-timeout", "100 ms", 0, CFG_NOLIMIT),
    K_ENUM("restart-strategy.type", NULL, restart_choices, restart_aliases),
    K_INT("restart-strategy.fixed-delay.attempts", "1", 0, CFG_NOLIMIT),
    K_DUR("restart-strategy.fixed-delay.delay", "1 s", 0, CFG_NOLIMIT),
    K_INT("restart-strategy.failure-rate.max-failures-per-interval", "1", 1, CFG_NOLIMIT),
    K_DUR("restart-strategy.failure-rate.failure-rate-interval", "1 min", 1, CFG_NOLIMIT),
    K_DUR("restart-strategy.failure-rate.delay", "1 s", 0, CFG_NOLIMIT),
    K_DUR("restart-strategy.exponential-delay.initial-backoff", "1 s", 0, CFG_NOLIMIT),
    K_DUR("restart-strategy.exponential-delay.max-backoff", "5 min", 0, CFG_NOLIMIT),
    K_DBL("restart-strategy.exponential-delay.backoff-multiplier", "2.0", 1.0, HUGE_VAL),
    K_DUR("restart-strategy.exponential-delay.reset-backoff-threshold", "1 h", 1, CFG_NOLIMIT),
    K_DBL("restart-strategy.exponential-delay.jitter-factor", "0.1", 0.0, 1.0),
    K_ENUM("log.level", "INFO", level_choices, level_aliases),
    /* High availability (interface.md section 8). With zookeeper, the quorum
     * and storageDir are required; these keys are checked together after
     * loading (config_yaml.c, check_ha). */
    K_ENUM("high-availability.type", "none", ha_choices, NULL),
    K_STR("high-availability.zookeeper.quorum", NULL),
    K_STR("high-availability.zookeeper.path.root", "/sluice"),
    K_STR("high-availability.cluster-id", "default"),
    K_PATH("high-availability.storageDir", NULL, 0),
    /* The server bounds the session timeout by 2 and 20 ticks of its tickTime. */
    K_DUR("high-availability.zookeeper.client.session-timeout", "60 s", 1, INT32_MAX),
    K_DUR("high-availability.zookeeper.client.connection-timeout", "15 s", 1, INT32_MAX),
    /* Security (interface.md section 9): PEM files; checked together after
     * loading (config_yaml.c, check_security). */
    K_BOOL("security.ssl.internal.enabled", "false"),
    K_PATH("security.ssl.internal.cert", NULL, 0),
    K_PATH("security.ssl.internal.key", NULL, 0),
    K_PATH("security.ssl.internal.trust-cert", NULL, 0),
    K_BOOL("security.ssl.rest.enabled", "false"),
    K_PATH("security.ssl.rest.cert", NULL, 0),
    K_PATH("security.ssl.rest.key", NULL, 0),
    K_PATH("security.ssl.rest.trust-cert", NULL, 0),
    K_BOOL("security.ssl.rest.authentication-enabled", "false"),
    K_STR("security.authorization.roles", NULL),
    /* A file of 32 bytes (raw, or 64 hex digits): checkpoints are sealed. */
    K_PATH("state.checkpoints.encryption.key-file", NULL, 0),
};

_Static_assert(sizeof(sl_cfg_table) / sizeof(sl_cfg_table[0]) == SL_CFG_NKEYS,
               "SL_CFG_NKEYS in config_internal.h must count the rows of sl_cfg_table");

int sl_cfg_key_index(const char *key)
{
    for (size_t i = 0; i < SL_CFG_NKEYS; i++)
        if (strcmp(sl_cfg_table[i].name, key) == 0)
            return (int)i;
    return -1;
}

/* 1 if some key starts with "prefix." (a mapping that only groups keys). */
int sl_cfg_key_is_prefix(const char *prefix)
{
    size_t n = strlen(prefix);
    for (size_t i = 0; i < SL_CFG_NKEYS; i++)
        if (strncmp(sl_cfg_table[i].name, prefix, n) == 0 && sl_cfg_table[i].name[n] == '.')
            return 1;
    return 0;
}
