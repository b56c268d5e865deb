/* Configuration: the table of known keys, loading sluice.yaml, -D overrides.
 *
 * Keys are Flink's names (README.md, "Configuration"). Every
 * key has one row in the table in config_keys.c: name, type, bounds, default.
 * YAML may be nested (a: {b: 1}) or flat (a.b: 1); both mean key "a.b".
 * Durations accept "500 ms", "1 s", "10 min", "2 h" (a bare number is ms);
 * sizes accept "kb", "mb", "gb" (a bare number is bytes).
 *
 * Errors are written into a caller buffer as "file:line:column: message"
 * (for -D overrides the message reads "-D key=value: message").
 *
 * Thread-safety: a loaded sl_config is read-only and may be shared by
 * threads; setters are for the single thread that builds it. */
#ifndef SL_CONFIG_H
#define SL_CONFIG_H

#include <stddef.h>
#include <stdint.h>

typedef struct sl_config sl_config;

enum sl_config_type {
    SL_CFG_STRING,   /* free text */
    SL_CFG_INT,      /* 64-bit integer with bounds */
    SL_CFG_DURATION, /* milliseconds */
    SL_CFG_SIZE,     /* bytes */
    SL_CFG_BOOL,     /* true/false */
    SL_CFG_ENUM,     /* one of a fixed list, case-insensitive, stored canonical */
    SL_CFG_PATH,     /* absolute path or file:// URI, stored as a plain absolute path */
    SL_CFG_DOUBLE,
};

/* Allocates a config holding every key's default. *out owned by caller,
 * release with sl_config_free. */
int sl_config_new(sl_config **out);
void sl_config_free(sl_config *cfg);

/* Deep copy (for per-job configs layered over the cluster config). */
int sl_config_dup(const sl_config *cfg, sl_config **out);

/* Reads and applies a YAML file. A missing file is SL_ENOTFOUND (callers
 * decide whether that matters). Unknown key, bad value or YAML syntax error:
 * SL_EINVAL with "path:line:col: message" in err. */
int sl_config_load_file(sl_config *cfg, const char *path, char *err, size_t errlen);

/* Applies YAML text; `name` is used as the file name in error messages. */
int sl_config_load_string(sl_config *cfg, const char *name, const char *text, size_t len,
                          char *err, size_t errlen);

/* Sets one key from its text form; where = "file", line, col name the place
 * for error messages. SL_EINVAL on unknown key or bad value. */
int sl_config_set_at(sl_config *cfg, const char *key, const char *value, const char *where,
                     int line, int col, char *err, size_t errlen);

/* Applies "key=value" as given to -D; errors name "-D key=value". */
int sl_config_set_override(sl_config *cfg, const char *kv, char *err, size_t errlen);

/* Typed getters. The key must be in the table with a matching type (a
 * mismatch or unknown key is a programming error: SL_EINVAL). A key that has
 * no default and was not set gives SL_ENOTFOUND. Strings stay owned by cfg. */
int sl_config_get_string(const sl_config *cfg, const char *key, const char **out);
int sl_config_get_int(const sl_config *cfg, const char *key, int64_t *out);
int sl_config_get_ms(const sl_config *cfg, const char *key, int64_t *out); /* DURATION */
int sl_config_get_bytes(const sl_config *cfg, const char *key, int64_t *out); /* SIZE */
int sl_config_get_bool(const sl_config *cfg, const char *key, int *out);
int sl_config_get_double(const sl_config *cfg, const char *key, double *out);

/* 1 if the key was set explicitly (file, -D or job), 0 if it holds its default. */
int sl_config_is_set(const sl_config *cfg, const char *key);

/* Convenience used by every daemon and the CLI: loads $SLUICE_CONF_DIR or
 * conf_dir (if non-NULL) /sluice.yaml (missing file = defaults), then applies
 * each "-D" override in order. */
int sl_config_load_default(sl_config *cfg, const char *conf_dir, char **overrides, int noverrides,
                           char *err, size_t errlen);

/* Writes every explicitly-set key as flat YAML "key: value" lines into a
 * malloc'd string (*out, caller frees), and state.checkpoints.dir even at
 * its default (which follows this process's TMPDIR): the taskmanagers of a
 * job write their checkpoints where its jobmanager looks. Used to ship a
 * job's effective settings to taskmanagers. */
int sl_config_serialize(const sl_config *cfg, char **out);

/* Parsing helpers, exposed for job files and tests. */
int sl_parse_duration_ms(const char *text, int64_t *out);
int sl_parse_size(const char *text, int64_t *out);
/* "file:///abs" or "/abs" -> "/abs" in out. SL_EINVAL if not absolute. */
int sl_path_from_uri(const char *text, char *out, size_t outlen);

#endif
