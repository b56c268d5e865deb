/* Configuration internals shared by config.c (values, set/get, serialize),
 * config_keys.c (the table, one row per key), config_parse.c (text to typed
 * value, durations, sizes, paths, UTF-8) and config_yaml.c (loading files,
 * flattening YAML, -D on top). Only common/config*.c include this; every
 * other caller uses config.h. */
#ifndef SL_CONFIG_INTERNAL_H
#define SL_CONFIG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

#define CFG_KEY_MAX 256     /* longest dotted key we accept */
#define CFG_VALUE_MAX 4096  /* longest text value we accept */
#define CFG_NOLIMIT INT64_MAX
#define CFG_DEF_TMPDIR 1u   /* default is a folder named `def` under $TMPDIR or /tmp */
/* sl_config_serialize writes the key even when it holds its default: the
 * default depends on the process's environment, and every daemon of a job
 * must use the jobmanager's value (state.checkpoints.dir). */
#define CFG_SHIP_DEFAULT 2u
#define SL_CFG_NKEYS 60     /* rows of sl_cfg_table: config_keys.c checks it */

/* One row of the key table. */
struct sl_cfg_key {
    const char *name;
    enum sl_config_type type;
    int64_t min, max;           /* INT, DURATION, SIZE */
    double dmin, dmax;          /* DOUBLE */
    const char *def;            /* text form of the default, NULL = none */
    const char *const *choices; /* ENUM: canonical names, NULL-terminated */
    const char *const *aliases; /* ENUM: pairs "alias", "canonical", NULL */
    unsigned flags;
};

struct sl_cfg_value {
    int present; /* holds a value (default or set) */
    int set;     /* set explicitly */
    int64_t i;   /* INT, DURATION, SIZE, BOOL, ENUM (index into choices) */
    double d;    /* DOUBLE */
    char *s;     /* STRING, PATH: owned */
    int line, col; /* where a file set it (0: a default or -D), for checks across keys */
};

struct sl_config {
    struct sl_cfg_value v[SL_CFG_NKEYS];
};

/* Where a key and its value stand, for error messages. */
struct sl_cfg_place {
    const char *where;
    int key_line, key_col;     /* where unknown-key errors point */
    int value_line, value_col; /* where bad-value errors point */
};

/* config_keys.c: the table and lookups by name. */
extern const struct sl_cfg_key sl_cfg_table[SL_CFG_NKEYS];
int sl_cfg_key_index(const char *key);       /* -1 if unknown */
int sl_cfg_key_is_prefix(const char *prefix); /* 1 if some key starts with "prefix." */

/* config_parse.c: text -> typed value. SL_EINVAL with `why` filled on a bad
 * or out of range value; SL_ENOMEM. On success out->s (if any) is owned by
 * the caller. */
int sl_cfg_parse_value(const struct sl_cfg_key *k, const char *text, struct sl_cfg_value *out,
                       char *why, size_t whylen);
int sl_cfg_utf8_next(const unsigned char **pp, uint32_t *cp);
int sl_cfg_utf8_valid(const char *s);
/* A size in the largest unit that divides it exactly ("32 kb"). */
void sl_cfg_format_size(int64_t v, char *buf, size_t len);

/* config.c: errors, setting one key, replacing a config's values. */
__attribute__((format(printf, 6, 7)))
void sl_cfg_set_error(char *err, size_t errlen, const char *where, int line, int col,
                      const char *fmt, ...);
int sl_cfg_apply(sl_config *cfg, const char *key, const char *value,
                 const struct sl_cfg_place *at, char *err, size_t errlen);
/* Moves scratch's values into cfg and frees what cfg held (and scratch). */
void sl_cfg_adopt(sl_config *cfg, sl_config *scratch);
/* Rules across keys (config_check.c): high availability, security. Errors
 * name the place the offending key got its value (file:line:col or -D). */
int sl_cfg_check_rules(const sl_config *cfg, const char *file, char **ov, int nov, char *err,
                       size_t errlen);

#endif
