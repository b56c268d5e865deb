/* Unit tests for common/config.c: one behaviour per test. */
#include "common/config.h"
#include "common/status.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[256];
static char files[8][512];
static int nfiles;

static void setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sluice-test-config-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    nfiles = 0;
    unsetenv("SLUICE_CONF_DIR");
    unsetenv("TMPDIR");
}

static void teardown(void)
{
    for (int i = 0; i < nfiles; i++)
        unlink(files[i]);
    rmdir(tmpdir);
}

/* Writes text to tmpdir/name and returns the full path (static storage). */
static const char *write_file(const char *name, const char *text)
{
    ck_assert_int_lt(nfiles, 8);
    char *path = files[nfiles++];
    snprintf(path, sizeof files[0], "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
    return path;
}

static sl_config *new_config(void)
{
    sl_config *cfg = NULL;
    ck_assert_int_eq(sl_config_new(&cfg), SL_OK);
    return cfg;
}

static sl_config *load_text(const char *text)
{
    char err[512] = "";
    sl_config *cfg = new_config();
    int rc = sl_config_load_string(cfg, "t.yaml", text, strlen(text), err, sizeof err);
    ck_assert_msg(rc == SL_OK, "load failed: %s", err);
    return cfg;
}

static int64_t get_int(const sl_config *cfg, const char *key)
{
    int64_t v = -1;
    ck_assert_int_eq(sl_config_get_int(cfg, key, &v), SL_OK);
    return v;
}

static int64_t get_ms(const sl_config *cfg, const char *key)
{
    int64_t v = -1;
    ck_assert_int_eq(sl_config_get_ms(cfg, key, &v), SL_OK);
    return v;
}

static const char *get_str(const sl_config *cfg, const char *key)
{
    const char *v = NULL;
    ck_assert_int_eq(sl_config_get_string(cfg, key, &v), SL_OK);
    return v;
}

/* Loads `text` from tmpdir/sluice.yaml expecting failure; the error must be
 * "<path>:<suffix>". */
static void expect_file_error(const char *text, const char *suffix)
{
    char err[512] = "", want[1024];
    const char *path = write_file("sluice.yaml", text);
    sl_config *cfg = new_config();
    ck_assert_int_eq(sl_config_load_file(cfg, path, err, sizeof err), SL_EINVAL);
    snprintf(want, sizeof want, "%s:%s", path, suffix);
    ck_assert_str_eq(err, want);
    sl_config_free(cfg);
}

START_TEST(test_defaults_hold_documented_values)
{
    sl_config *cfg = new_config();
    int64_t bytes = 0;
    double d = 0;
    ck_assert_str_eq(get_str(cfg, "jobmanager.rpc.address"), "127.0.0.1");
    ck_assert_int_eq(get_int(cfg, "jobmanager.rpc.port"), 6123);
    const char *tm_host = "unchanged";
    ck_assert_int_eq(sl_config_get_string(cfg, "taskmanager.host", &tm_host), SL_ENOTFOUND);
    ck_assert_str_eq(get_str(cfg, "taskmanager.bind-host"), "0.0.0.0");
    ck_assert_str_eq(get_str(cfg, "jobmanager.bind-host"), "0.0.0.0");
    ck_assert_int_eq(get_int(cfg, "taskmanager.rpc.port"), 0);
    ck_assert_int_eq(get_int(cfg, "taskmanager.data.port"), 0);
    ck_assert_int_eq(get_int(cfg, "taskmanager.numberOfTaskSlots"), 1);
    ck_assert_str_eq(get_str(cfg, "taskmanager.state.local.root-dirs"), "/tmp/sluice-local-state");
    ck_assert_int_eq(get_ms(cfg, "heartbeat.interval"), 1000);
    ck_assert_int_eq(get_ms(cfg, "heartbeat.timeout"), 5000);
    ck_assert_int_eq(get_int(cfg, "parallelism.default"), 1);
    ck_assert_str_eq(get_str(cfg, "state.backend.type"), "hashmap");
    ck_assert_int_eq(get_int(cfg, "state.checkpoints.num-retained"), 3);
    ck_assert_str_eq(get_str(cfg, "execution.checkpointing.mode"), "EXACTLY_ONCE");
    ck_assert_int_eq(get_ms(cfg, "execution.checkpointing.timeout"), 600000);
    ck_assert_int_eq(get_ms(cfg, "execution.checkpointing.min-pause"), 0);
    ck_assert_int_eq(get_int(cfg, "execution.checkpointing.max-concurrent-checkpoints"), 1);
    ck_assert_int_eq(get_int(cfg, "execution.checkpointing.tolerable-failed-checkpoints"), 0);
    ck_assert_str_eq(get_str(cfg, "execution.checkpointing.externalized-checkpoint-retention"),
                     "DELETE_ON_CANCELLATION");
    ck_assert_int_eq(get_ms(cfg, "execution.buffer-timeout"), 100);
    ck_assert_int_eq(get_int(cfg, "restart-strategy.fixed-delay.attempts"), 1);
    ck_assert_int_eq(get_ms(cfg, "restart-strategy.fixed-delay.delay"), 1000);
    ck_assert_int_eq(get_int(cfg, "restart-strategy.failure-rate.max-failures-per-interval"), 1);
    ck_assert_int_eq(get_ms(cfg, "restart-strategy.failure-rate.failure-rate-interval"), 60000);
    ck_assert_int_eq(get_ms(cfg, "restart-strategy.failure-rate.delay"), 1000);
    ck_assert_int_eq(get_ms(cfg, "restart-strategy.exponential-delay.initial-backoff"), 1000);
    ck_assert_int_eq(get_ms(cfg, "restart-strategy.exponential-delay.max-backoff"), 300000);
    ck_assert_int_eq(get_ms(cfg, "restart-strategy.exponential-delay.reset-backoff-threshold"),
                     3600000);
    ck_assert_int_eq(sl_config_get_double(cfg, "restart-strategy.exponential-delay.backoff-multiplier",
                                          &d), SL_OK);
    ck_assert_double_eq(d, 2.0);
    ck_assert_int_eq(sl_config_get_double(cfg, "restart-strategy.exponential-delay.jitter-factor",
                                          &d), SL_OK);
    ck_assert_double_eq(d, 0.1);
    ck_assert_int_eq(sl_config_get_bytes(cfg, "rpc.max-message-size", &bytes), SL_OK);
    ck_assert_int_eq(bytes, 64 * 1024 * 1024);
    ck_assert_int_eq(sl_config_get_bytes(cfg, "taskmanager.memory.network.buffer-size", &bytes),
                     SL_OK);
    ck_assert_int_eq(bytes, 32 * 1024);
    ck_assert_int_eq(get_int(cfg, "taskmanager.network.credits-per-channel"), 4);
    ck_assert_int_eq(get_ms(cfg, "jobmanager.restart.slot-wait-timeout"), 300000);
    ck_assert_str_eq(get_str(cfg, "log.level"), "INFO");
    sl_config_free(cfg);
}
END_TEST

START_TEST(test_local_state_default_follows_tmpdir)
{
    setenv("TMPDIR", "/var/tmp/", 1);
    sl_config *cfg = new_config();
    ck_assert_str_eq(get_str(cfg, "taskmanager.state.local.root-dirs"),
                     "/var/tmp/sluice-local-state");
    sl_config_free(cfg);
    setenv("TMPDIR", "relative/dir", 1);
    cfg = new_config();
    ck_assert_str_eq(get_str(cfg, "taskmanager.state.local.root-dirs"), "/tmp/sluice-local-state");
    sl_config_free(cfg);
}
END_TEST

/* Checkpointing works on one host with nothing configured: the folder
 * defaults to <temp dir>/sluice-checkpoints (several hosts set a shared one). */
START_TEST(test_checkpoint_dir_default_follows_tmpdir)
{
    sl_config *cfg = new_config();
    ck_assert_str_eq(get_str(cfg, "state.checkpoints.dir"), "/tmp/sluice-checkpoints");
    ck_assert_int_eq(sl_config_is_set(cfg, "state.checkpoints.dir"), 0);
    sl_config_free(cfg);
    setenv("TMPDIR", "/var/tmp/it//", 1);
    cfg = new_config();
    ck_assert_str_eq(get_str(cfg, "state.checkpoints.dir"), "/var/tmp/it/sluice-checkpoints");
    sl_config_free(cfg);
}
END_TEST

/* The shipped conf/sluice.yaml (unit tests run from the top of the
 * checkout) with a job that only sets an interval: checkpoints have a
 * folder. The quick start used to fail with "state.checkpoints.dir is not
 * set". */
START_TEST(test_shipped_conf_gives_a_checkpoint_dir)
{
    char err[512] = "";
    const char *dir = NULL;
    sl_config *cfg = new_config();
    ck_assert_msg(sl_config_load_default(cfg, "conf", NULL, 0, err, sizeof err) == SL_OK, "%s",
                  err);
    ck_assert_int_eq(sl_config_set_at(cfg, "execution.checkpointing.interval", "500 ms",
                                      "wordcount.yaml", 10, 37, err, sizeof err), SL_OK);
    ck_assert_int_eq(sl_config_get_string(cfg, "state.checkpoints.dir", &dir), SL_OK);
    ck_assert(dir[0] == '/');
    sl_config_free(cfg);
}
END_TEST

START_TEST(test_keys_without_default_are_not_found)
{
    static const char *keys[] = {"state.savepoints.dir", "restart-strategy.type"};
    sl_config *cfg = new_config();
    const char *s = NULL;
    int64_t ms = 0;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        ck_assert_int_eq(sl_config_get_string(cfg, keys[i], &s), SL_ENOTFOUND);
        ck_assert_int_eq(sl_config_is_set(cfg, keys[i]), 0);
    }
    ck_assert_int_eq(sl_config_get_ms(cfg, "execution.checkpointing.interval", &ms), SL_ENOTFOUND);
    sl_config_free(cfg);
}
END_TEST

START_TEST(test_getter_with_wrong_type_or_unknown_key_is_einval)
{
    sl_config *cfg = new_config();
    int64_t v = 0;
    const char *s = NULL;
    ck_assert_int_eq(sl_config_get_int(cfg, "heartbeat.interval", &v), SL_EINVAL);
    ck_assert_int_eq(sl_config_get_ms(cfg, "jobmanager.rpc.port", &v), SL_EINVAL);
    ck_assert_int_eq(sl_config_get_string(cfg, "jobmanager.rpc.port", &s), SL_EINVAL);
    ck_assert_int_eq(sl_config_get_int(cfg, "no.such.key", &v), SL_EINVAL);
    ck_assert_int_eq(sl_config_is_set(cfg, "no.such.key"), 0);
    sl_config_free(cfg);
}
END_TEST

START_TEST(test_nested_yaml_equals_flat_keys)
{
    sl_config *nested = load_text("jobmanager:\n"
                                  "  rpc:\n"
                                  "    address: 10.0.0.1\n"
                                  "    port: 7000\n"
                                  "heartbeat: {interval: 2 s, timeout: 9 s}\n"
                                  "restart-strategy:\n"
                                  "  type: fixed-delay\n"
                                  "  fixed-delay:\n"
                                  "    attempts: 5\n");
    sl_config *flat = load_text("jobmanager.rpc.address: 10.0.0.1\n"
                                "jobmanager.rpc.port: 7000\n"
                                "heartbeat.interval: 2 s\n"
                                "heartbeat.timeout: 9 s\n"
                                "restart-strategy.type: fixed-delay\n"
                                "restart-strategy.fixed-delay.attempts: 5\n");
    char *a = NULL, *b = NULL;
    ck_assert_int_eq(sl_config_serialize(nested, &a), SL_OK);
    ck_assert_int_eq(sl_config_serialize(flat, &b), SL_OK);
    ck_assert_str_eq(a, b);
    ck_assert_int_eq(get_int(nested, "jobmanager.rpc.port"), 7000);
    ck_assert_int_eq(get_ms(nested, "heartbeat.timeout"), 9000);
    ck_assert_int_eq(get_int(nested, "restart-strategy.fixed-delay.attempts"), 5);
    free(a);
    free(b);
    sl_config_free(nested);
    sl_config_free(flat);
}
END_TEST

START_TEST(test_mixed_nesting_and_dotted_keys_combine)
{
    sl_config *cfg = load_text("execution:\n"
                               "  checkpointing.interval: 3 s\n"
                               "  checkpointing:\n"
                               "    mode: AT_LEAST_ONCE\n");
    ck_assert_int_eq(get_ms(cfg, "execution.checkpointing.interval"), 3000);
    ck_assert_str_eq(get_str(cfg, "execution.checkpointing.mode"), "AT_LEAST_ONCE");
    sl_config_free(cfg);
}
END_TEST

START_TEST(test_duration_units)
{
    static const struct {
        const char *text;
        int64_t ms;
    } cases[] = {
        {"250", 250},       {"500 ms", 500},      {"500ms", 500},        {"7 milli", 7},
        {"7 millis", 7},    {"1 s", 1000},        {"1s", 1000},          {"2 sec", 2000},
        {"3 second", 3000}, {"3 seconds", 3000},  {"10 min", 600000},    {"10min", 600000},
        {"1 m", 60000},     {"2 minute", 120000}, {"2 minutes", 120000}, {"2 h", 7200000},
        {"1 hour", 3600000}, {"3 hours", 10800000}, {"1 d", 86400000},  {"2 days", 172800000},
        {"1 day", 86400000}, {" 5 S ", 5000},     {"1 MIN", 60000},      {"0", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ms = -1;
        ck_assert_msg(sl_parse_duration_ms(cases[i].text, &ms) == SL_OK, "%s", cases[i].text);
        ck_assert_msg(ms == cases[i].ms, "%s gave %lld", cases[i].text, (long long)ms);
    }
}
END_TEST

START_TEST(test_duration_rejects_malformed_text)
{
    static const char *bad[] = {"", "abc", "ms", "1 parsec", "-1 s", "1.5 s", "1 s 2",
                                "99999999999999999999", "9223372036854775807 d"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms;
        ck_assert_msg(sl_parse_duration_ms(bad[i], &ms) == SL_EINVAL, "'%s' accepted", bad[i]);
    }
}
END_TEST

START_TEST(test_size_units)
{
    static const struct {
        const char *text;
        int64_t bytes;
    } cases[] = {
        {"100", 100},        {"100 b", 100},       {"100 bytes", 100},     {"4 kb", 4096},
        {"4kb", 4096},       {"4 k", 4096},        {"4 KiB", 4096},        {"4 KB", 4096},
        {"2 mb", 2097152},   {"2m", 2097152},      {"2 MiB", 2097152},     {"1 gb", 1073741824},
        {"1G", 1073741824},  {"1 gib", 1073741824}, {"1 tb", 1099511627776LL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t n = -1;
        ck_assert_msg(sl_parse_size(cases[i].text, &n) == SL_OK, "%s", cases[i].text);
        ck_assert_msg(n == cases[i].bytes, "%s gave %lld", cases[i].text, (long long)n);
    }
}
END_TEST

START_TEST(test_size_rejects_malformed_text)
{
    static const char *bad[] = {"", "kb", "1 kilobyte", "1.5 mb", "-4 kb", "99999999999 tb"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t n;
        ck_assert_msg(sl_parse_size(bad[i], &n) == SL_EINVAL, "'%s' accepted", bad[i]);
    }
}
END_TEST

START_TEST(test_override_wins_over_file)
{
    char err[512] = "";
    char *overrides[] = {"jobmanager.rpc.port=7001", "heartbeat.interval = 250 ms"};
    write_file("sluice.yaml", "jobmanager.rpc.port: 7000\n"
                              "taskmanager.numberOfTaskSlots: 2\n"
                              "heartbeat.interval: 2 s\n");
    sl_config *cfg = new_config();
    ck_assert_int_eq(sl_config_load_default(cfg, tmpdir, overrides, 2, err, sizeof err), SL_OK);
    ck_assert_int_eq(get_int(cfg, "jobmanager.rpc.port"), 7001);
    ck_assert_int_eq(get_ms(cfg, "heartbeat.interval"), 250);
    ck_assert_int_eq(get_int(cfg, "taskmanager.numberOfTaskSlots"), 2);
    sl_config_free(cfg);
}
END_TEST

START_TEST(test_later_override_wins_over_earlier)
{
    char err[512] = "";
    char *overrides[] = {"parallelism.default=2", "parallelism.default=5"};
    sl_config *cfg = new_config();
    ck_assert_int_eq(sl_config_load_default(cfg, tmpdir, overrides, 2, err, sizeof err), SL_OK);
    ck_assert_int_eq(get_int(cfg, "parallelism.default"), 5);
    sl_config_free(cfg);
}
END_TEST

START_TEST(test_conf_dir_comes_from_environment)
{
    char err[512] = "";
    write_file("sluice.yaml", "parallelism.default: 4\n");
    setenv("SLUICE_CONF_DIR", tmpdir, 1);
    sl_config *cfg = new_config();
    ck_assert_int_eq(sl_config_load_default(cfg, NULL, NULL, 0, err, sizeof err), SL_OK);
    ck_assert_int_eq(get_int(cfg, "parallelism.default"), 4);
    sl_config_free(cfg);
}
END_TEST

START_TEST(test_conf_dir_accepts_file_uri)
{
    char err[512] = "", uri[600];
    write_file("sluice.yaml", "parallelism.default: 6\n");
    snprintf(uri, sizeof uri, "file://%s", tmpdir);
    sl_config *cfg = new_config();
    ck_assert_int_eq(sl_config_load_default(cfg, uri, NULL, 0, err, sizeof err), SL_OK);
    ck_assert_int_eq(get_int(cfg, "parallelism.default"), 6);
    sl_config_free(cfg);
}
END_TEST

START_TEST(test_missing_conf_file_gives_defaults)
{
    char err[512] = "";
    sl_config *cfg = new_config();
    ck_assert_int_eq(sl_config_load_default(cfg, tmpdir, NULL, 0, err, sizeof err), SL_OK);
    ck_assert_int_eq(get_int(cfg, "jobmanager.rpc.port"), 6123);
    ck_assert_int_eq(sl_config_is_set(cfg, "jobmanager.rpc.port"), 0);
    sl_config_free(cfg);
}
END_TEST

START_TEST(test_load_file_missing_is_notfound)
{
    char err[512] = "", path[600];
    snprintf(path, sizeof path, "%s/absent.yaml", tmpdir);
    sl_config *cfg = new_config();
    ck_assert_int_eq(sl_config_load_file(cfg, path, err, sizeof err), SL_ENOTFOUND);
    sl_config_free(cfg);
}
END_TEST

START_TEST(test_empty_and_comment_only_files_are_valid)
{
    sl_config *a = load_text("");
    sl_config *b = load_text("# nothing set\n---\n");
    sl_config *c = load_text("heartbeat:\n  # interval: 2 s\n");
    ck_assert_int_eq(get_ms(c, "heartbeat.interval"), 1000);
    sl_config_free(a);
    sl_config_free(b);
    sl_config_free(c);
}
END_TEST

START_TEST(test_unknown_key_error_names_its_position)
{
    expect_file_error("parallelism.default: 2\n"
                      "foo:\n"
                      "  bar: 1\n",
                      "3:3: unknown configuration key 'foo.bar'");
}
END_TEST

START_TEST(test_bad_value_error_names_its_position)
{
    expect_file_error("heartbeat:\n"
                      "  interval: abc\n",
                      "2:13: bad value 'abc' for heartbeat.interval: expected a duration such "
                      "as '500 ms', '1 s', '10 min'");
}
END_TEST

START_TEST(test_bad_enum_error_lists_the_choices)
{
    expect_file_error("state.backend.type: rocksdb\n",
                      "1:21: bad value 'rocksdb' for state.backend.type: expected one of "
                      "hashmap, leveldb");
}
END_TEST

START_TEST(test_out_of_range_error_names_the_bounds)
{
    expect_file_error("jobmanager.rpc.port: 70000\n",
                      "1:22: bad value '70000' for jobmanager.rpc.port: out of range 1..65535");
}
END_TEST

START_TEST(test_out_of_range_size_error_uses_units)
{
    expect_file_error("taskmanager.memory.network.buffer-size: 1 kb\n",
                      "1:41: bad value '1 kb' for taskmanager.memory.network.buffer-size: "
                      "out of range 4 kb..4 mb");
}
END_TEST

START_TEST(test_out_of_range_double_error_names_the_bounds)
{
    expect_file_error("restart-strategy.exponential-delay.jitter-factor: 1.5\n",
                      "1:51: bad value '1.5' for restart-strategy.exponential-delay.jitter-factor: "
                      "out of range 0..1");
}
END_TEST

START_TEST(test_yaml_syntax_error_names_its_position)
{
    expect_file_error("parallelism.default: 2\n"
                      "jobmanager.rpc.port: 1: 2\n",
                      "2:23: mapping values are not allowed in this context");
}
END_TEST

START_TEST(test_unterminated_quote_is_a_syntax_error)
{
    expect_file_error("jobmanager.rpc.address: \"abc\n",
                      "2:1: found unexpected end of stream (while scanning a quoted scalar)");
}
END_TEST

START_TEST(test_control_character_error_names_its_position)
{
    expect_file_error("parallelism.default: 2\n"
                      "taskmanager.host: a\x01\n",
                      "2:20: control characters are not allowed");
}
END_TEST

START_TEST(test_sequence_value_is_an_error)
{
    expect_file_error("parallelism.default: 2\n"
                      "heartbeat:\n"
                      "  interval: [1 s, 2 s]\n",
                      "3:13: bad value for heartbeat.interval: expected a single value, not a list");
}
END_TEST

START_TEST(test_sequence_document_is_an_error)
{
    expect_file_error("- parallelism.default: 2\n",
                      "1:1: expected a mapping of configuration keys, not a list");
}
END_TEST

START_TEST(test_failed_load_leaves_config_unchanged)
{
    char err[512] = "";
    static const char text[] = "parallelism.default: 9\nno.such.key: 1\n";
    sl_config *cfg = new_config();
    ck_assert_int_eq(sl_config_load_string(cfg, "t.yaml", text, strlen(text), err, sizeof err),
                     SL_EINVAL);
    ck_assert_int_eq(get_int(cfg, "parallelism.default"), 1);
    ck_assert_int_eq(sl_config_is_set(cfg, "parallelism.default"), 0);
    sl_config_free(cfg);
}
END_TEST

START_TEST(test_override_errors_name_the_override)
{
    char err[512] = "";
    sl_config *cfg = new_config();
    ck_assert_int_eq(sl_config_set_override(cfg, "foo.bar=1", err, sizeof err), SL_EINVAL);
    ck_assert_str_eq(err, "-D foo.bar=1: unknown configuration key 'foo.bar'");
    ck_assert_int_eq(sl_config_set_override(cfg, "jobmanager.rpc.port=x", err, sizeof err),
                     SL_EINVAL);
    ck_assert_str_eq(err, "-D jobmanager.rpc.port=x: bad value 'x' for jobmanager.rpc.port: "
                          "expected an integer");
    ck_assert_int_eq(sl_config_set_override(cfg, "parallelism.default", err, sizeof err),
                     SL_EINVAL);
    ck_assert_str_eq(err, "-D parallelism.default: expected key=value");
    ck_assert_int_eq(sl_config_set_override(cfg, "=3", err, sizeof err), SL_EINVAL);
    ck_assert_str_eq(err, "-D =3: expected key=value");
    sl_config_free(cfg);
}
END_TEST

START_TEST(test_override_error_stops_load_default)
{
    char err[512] = "";
    char *overrides[] = {"parallelism.default=2", "parallelism.default=0"};
    sl_config *cfg = new_config();
    ck_assert_int_eq(sl_config_load_default(cfg, tmpdir, overrides, 2, err, sizeof err),
                     SL_EINVAL);
    ck_assert_str_eq(err, "-D parallelism.default=0: bad value '0' for parallelism.default: "
                          "out of range 1..32768");
    ck_assert_int_eq(get_int(cfg, "parallelism.default"), 1);
    sl_config_free(cfg);
}
END_TEST

START_TEST(test_set_at_names_the_given_place)
{
    char err[512] = "";
    sl_config *cfg = new_config();
    ck_assert_int_eq(sl_config_set_at(cfg, "heartbeat.timeout", "soon", "job.yaml", 4, 7, err,
                                      sizeof err), SL_EINVAL);
    ck_assert_str_eq(err, "job.yaml:4:7: bad value 'soon' for heartbeat.timeout: expected a "
                          "duration such as '500 ms', '1 s', '10 min'");
    ck_assert_int_eq(sl_config_set_at(cfg, "heartbeat.timeout", "7 s", "job.yaml", 4, 7, err,
                                      sizeof err), SL_OK);
    ck_assert_int_eq(get_ms(cfg, "heartbeat.timeout"), 7000);
    sl_config_free(cfg);
}
END_TEST

START_TEST(test_path_from_uri)
{
    static const struct {
        const char *in, *out;
    } ok[] = {
        {"/abs/dir", "/abs/dir"},          {"file:///abs/dir", "/abs/dir"},
        {"file:/abs/dir", "/abs/dir"},     {"file://localhost/abs/dir", "/abs/dir"},
        {"file:///abs/dir/", "/abs/dir"},  {"file:///a%20b", "/a b"},
        {"/", "/"},                        {"file:///", "/"},
    };
    static const char *bad[] = {"rel/dir", "", "file://host/abs", "file:rel", "hdfs:///x",
                                "file:///a%2", "file:///a%00b", "file:///a%zz"};
    char out[64];
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ck_assert_msg(sl_path_from_uri(ok[i].in, out, sizeof out) == SL_OK, "%s", ok[i].in);
        ck_assert_str_eq(out, ok[i].out);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(sl_path_from_uri(bad[i], out, sizeof out) == SL_EINVAL, "'%s'", bad[i]);
    ck_assert_int_eq(sl_path_from_uri("/a/long/path", out, 5), SL_ENOSPC);
}
END_TEST

START_TEST(test_path_keys_store_plain_absolute_paths)
{
    sl_config *cfg = load_text("state.checkpoints.dir: file:///shared/ck\n"
                               "state.savepoints.dir: /shared/sp/\n");
    ck_assert_str_eq(get_str(cfg, "state.checkpoints.dir"), "/shared/ck");
    ck_assert_str_eq(get_str(cfg, "state.savepoints.dir"), "/shared/sp");
    sl_config_free(cfg);
    expect_file_error("state.checkpoints.dir: ck\n",
                      "1:24: bad value 'ck' for state.checkpoints.dir: expected an absolute "
                      "path or a file:// URI");
}
END_TEST

START_TEST(test_enum_values_are_case_insensitive_and_canonical)
{
    sl_config *cfg = load_text("restart-strategy.type: FixedDelay\n"
                               "execution.checkpointing.mode: at_least_once\n"
                               "state.backend.type: LevelDB\n"
                               "log.level: warning\n");
    ck_assert_str_eq(get_str(cfg, "restart-strategy.type"), "fixed-delay");
    ck_assert_str_eq(get_str(cfg, "execution.checkpointing.mode"), "AT_LEAST_ONCE");
    ck_assert_str_eq(get_str(cfg, "state.backend.type"), "leveldb");
    ck_assert_str_eq(get_str(cfg, "log.level"), "WARN");
    sl_config_free(cfg);
}
END_TEST

START_TEST(test_restart_strategy_accepts_flink_aliases)
{
    static const struct {
        const char *alias, *canonical;
    } cases[] = {{"fixeddelay", "fixed-delay"}, {"failurerate", "failure-rate"},
                 {"exponentialdelay", "exponential-delay"}, {"disable", "none"},
                 {"off", "none"}, {"NONE", "none"}};
    char kv[128], err[512] = "";
    sl_config *cfg = new_config();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(kv, sizeof kv, "restart-strategy.type=%s", cases[i].alias);
        ck_assert_int_eq(sl_config_set_override(cfg, kv, err, sizeof err), SL_OK);
        ck_assert_str_eq(get_str(cfg, "restart-strategy.type"), cases[i].canonical);
    }
    sl_config_free(cfg);
}
END_TEST

START_TEST(test_serialize_round_trip)
{
    char err[512] = "";
    static const char *overrides[] = {
        "jobmanager.rpc.address=a host: with \"quotes\" \\ and # hash",
        "taskmanager.host=",
        "state.checkpoints.dir=file:///shared/ck",
        "heartbeat.interval=2 min",
        "rpc.max-message-size=3 mb",
        "taskmanager.memory.network.buffer-size=4100",
        "restart-strategy.type=failurerate",
        "restart-strategy.exponential-delay.backoff-multiplier=1.3",
        "restart-strategy.exponential-delay.jitter-factor=0.123456789012345678",
        "parallelism.default=12",
        "log.level=debug",
    };
    sl_config *cfg = new_config();
    for (size_t i = 0; i < sizeof overrides / sizeof overrides[0]; i++)
        ck_assert_msg(sl_config_set_override(cfg, overrides[i], err, sizeof err) == SL_OK, "%s",
                      err);
    /* A string with a newline, a tab, a control character and non-ASCII text. */
    ck_assert_int_eq(sl_config_set_at(cfg, "taskmanager.host", "l1\nl2\tx\x02 \xc3\xa9\xe2\x82\xac",
                                      "t", 1, 1, err, sizeof err), SL_OK);
    char *text = NULL, *again = NULL;
    ck_assert_int_eq(sl_config_serialize(cfg, &text), SL_OK);
    sl_config *back = load_text(text);
    ck_assert_int_eq(sl_config_serialize(back, &again), SL_OK);
    ck_assert_str_eq(text, again);
    ck_assert_str_eq(get_str(back, "jobmanager.rpc.address"),
                     "a host: with \"quotes\" \\ and # hash");
    ck_assert_str_eq(get_str(back, "taskmanager.host"), "l1\nl2\tx\x02 \xc3\xa9\xe2\x82\xac");
    ck_assert_str_eq(get_str(back, "state.checkpoints.dir"), "/shared/ck");
    ck_assert_int_eq(get_ms(back, "heartbeat.interval"), 120000);
    double a = 0, b = 0;
    const char *jk = "restart-strategy.exponential-delay.jitter-factor";
    ck_assert_int_eq(sl_config_get_double(cfg, jk, &a), SL_OK);
    ck_assert_int_eq(sl_config_get_double(back, jk, &b), SL_OK);
    ck_assert(a == b);
    int64_t n = 0;
    ck_assert_int_eq(sl_config_get_bytes(back, "taskmanager.memory.network.buffer-size", &n), SL_OK);
    ck_assert_int_eq(n, 4100);
    ck_assert_str_eq(get_str(back, "restart-strategy.type"), "failure-rate");
    ck_assert_int_eq(sl_config_is_set(back, "jobmanager.rpc.port"), 0);
    free(text);
    free(again);
    sl_config_free(cfg);
    sl_config_free(back);
}
END_TEST

/* Explicit keys, and the default checkpoint folder: it comes from the
 * temp dir of the process, and a job's taskmanagers must write where its
 * jobmanager looks (their TMPDIR may differ). Other defaults stay out. */
START_TEST(test_serialize_writes_only_explicit_keys)
{
    char *text = NULL, err[512] = "";
    setenv("TMPDIR", "/jm/tmp", 1);
    sl_config *cfg = new_config();
    ck_assert_int_eq(sl_config_serialize(cfg, &text), SL_OK);
    ck_assert_str_eq(text, "state.checkpoints.dir: /jm/tmp/sluice-checkpoints\n");
    free(text);
    ck_assert_int_eq(sl_config_set_override(cfg, "execution.checkpointing.interval=10 s", err,
                                            sizeof err), SL_OK);
    ck_assert_int_eq(sl_config_set_override(cfg, "rpc.max-message-size=1 gb", err, sizeof err),
                     SL_OK);
    ck_assert_int_eq(sl_config_serialize(cfg, &text), SL_OK);
    ck_assert_str_eq(text, "rpc.max-message-size: 1 gb\n"
                           "state.checkpoints.dir: /jm/tmp/sluice-checkpoints\n"
                           "execution.checkpointing.interval: 10000 ms\n");
    /* A taskmanager with another TMPDIR reads the jobmanager's folder. */
    setenv("TMPDIR", "/tm/tmp", 1);
    sl_config *tm = load_text(text);
    ck_assert_str_eq(get_str(tm, "state.checkpoints.dir"), "/jm/tmp/sluice-checkpoints");
    ck_assert_str_eq(get_str(tm, "taskmanager.state.local.root-dirs"),
                     "/tm/tmp/sluice-local-state");
    free(text);
    sl_config_free(tm);
    ck_assert_int_eq(sl_config_set_override(cfg, "state.checkpoints.dir=/shared/ck", err,
                                            sizeof err), SL_OK);
    ck_assert_int_eq(sl_config_serialize(cfg, &text), SL_OK);
    ck_assert_str_eq(text, "rpc.max-message-size: 1 gb\n"
                           "state.checkpoints.dir: /shared/ck\n"
                           "execution.checkpointing.interval: 10000 ms\n");
    free(text);
    sl_config_free(cfg);
}
END_TEST

START_TEST(test_is_set_tracks_explicit_keys)
{
    char err[512] = "";
    sl_config *cfg = load_text("jobmanager.rpc.port: 6123\n");
    ck_assert_int_eq(sl_config_is_set(cfg, "jobmanager.rpc.port"), 1);
    ck_assert_int_eq(sl_config_is_set(cfg, "parallelism.default"), 0);
    ck_assert_int_eq(sl_config_set_override(cfg, "parallelism.default=1", err, sizeof err), SL_OK);
    ck_assert_int_eq(sl_config_is_set(cfg, "parallelism.default"), 1);
    sl_config_free(cfg);
}
END_TEST

START_TEST(test_last_duplicate_key_wins)
{
    sl_config *cfg = load_text("heartbeat.interval: 1 s\n"
                               "heartbeat:\n"
                               "  interval: 3 s\n");
    ck_assert_int_eq(get_ms(cfg, "heartbeat.interval"), 3000);
    sl_config_free(cfg);
}
END_TEST

START_TEST(test_dup_is_independent)
{
    char err[512] = "";
    sl_config *cfg = load_text("jobmanager.rpc.address: jm.example\n");
    sl_config *copy = NULL;
    ck_assert_int_eq(sl_config_dup(cfg, &copy), SL_OK);
    ck_assert_int_eq(sl_config_set_override(copy, "jobmanager.rpc.address=other", err, sizeof err),
                     SL_OK);
    ck_assert_str_eq(get_str(cfg, "jobmanager.rpc.address"), "jm.example");
    ck_assert_str_eq(get_str(copy, "jobmanager.rpc.address"), "other");
    ck_assert_int_eq(sl_config_is_set(copy, "jobmanager.rpc.address"), 1);
    sl_config_free(cfg);
    sl_config_free(copy);
}
END_TEST

START_TEST(test_small_error_buffer_is_truncated)
{
    char err[8];
    memset(err, 'x', sizeof err);
    sl_config *cfg = new_config();
    ck_assert_int_eq(sl_config_set_override(cfg, "foo=1", err, sizeof err), SL_EINVAL);
    ck_assert_str_eq(err, "-D foo=");
    ck_assert_int_eq(sl_config_set_override(cfg, "foo=1", NULL, 0), SL_EINVAL);
    sl_config_free(cfg);
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_defaults_hold_documented_values);
    tcase_add_test(tc, test_local_state_default_follows_tmpdir);
    tcase_add_test(tc, test_checkpoint_dir_default_follows_tmpdir);
    tcase_add_test(tc, test_shipped_conf_gives_a_checkpoint_dir);
    tcase_add_test(tc, test_keys_without_default_are_not_found);
    tcase_add_test(tc, test_getter_with_wrong_type_or_unknown_key_is_einval);
    tcase_add_test(tc, test_nested_yaml_equals_flat_keys);
    tcase_add_test(tc, test_mixed_nesting_and_dotted_keys_combine);
    tcase_add_test(tc, test_duration_units);
    tcase_add_test(tc, test_duration_rejects_malformed_text);
    tcase_add_test(tc, test_size_units);
    tcase_add_test(tc, test_size_rejects_malformed_text);
    tcase_add_test(tc, test_override_wins_over_file);
    tcase_add_test(tc, test_later_override_wins_over_earlier);
    tcase_add_test(tc, test_conf_dir_comes_from_environment);
    tcase_add_test(tc, test_conf_dir_accepts_file_uri);
    tcase_add_test(tc, test_missing_conf_file_gives_defaults);
    tcase_add_test(tc, test_load_file_missing_is_notfound);
    tcase_add_test(tc, test_empty_and_comment_only_files_are_valid);
    tcase_add_test(tc, test_unknown_key_error_names_its_position);
    tcase_add_test(tc, test_bad_value_error_names_its_position);
    tcase_add_test(tc, test_bad_enum_error_lists_the_choices);
    tcase_add_test(tc, test_out_of_range_error_names_the_bounds);
    tcase_add_test(tc, test_out_of_range_size_error_uses_units);
    tcase_add_test(tc, test_out_of_range_double_error_names_the_bounds);
    tcase_add_test(tc, test_yaml_syntax_error_names_its_position);
    tcase_add_test(tc, test_unterminated_quote_is_a_syntax_error);
    tcase_add_test(tc, test_control_character_error_names_its_position);
    tcase_add_test(tc, test_sequence_value_is_an_error);
    tcase_add_test(tc, test_sequence_document_is_an_error);
    tcase_add_test(tc, test_failed_load_leaves_config_unchanged);
    tcase_add_test(tc, test_override_errors_name_the_override);
    tcase_add_test(tc, test_override_error_stops_load_default);
    tcase_add_test(tc, test_set_at_names_the_given_place);
    tcase_add_test(tc, test_path_from_uri);
    tcase_add_test(tc, test_path_keys_store_plain_absolute_paths);
    tcase_add_test(tc, test_enum_values_are_case_insensitive_and_canonical);
    tcase_add_test(tc, test_restart_strategy_accepts_flink_aliases);
    tcase_add_test(tc, test_serialize_round_trip);
    tcase_add_test(tc, test_serialize_writes_only_explicit_keys);
    tcase_add_test(tc, test_is_set_tracks_explicit_keys);
    tcase_add_test(tc, test_last_duplicate_key_wins);
    tcase_add_test(tc, test_dup_is_independent);
    tcase_add_test(tc, test_small_error_buffer_is_truncated);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(config_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
