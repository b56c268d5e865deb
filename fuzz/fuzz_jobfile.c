/* Fuzz target: job files and sluice.yaml.
 *
 * Byte 0 picks (modulo 2):
 *   0 a job file: the rest is given to sl_job_parse (common/jobfile*.c,
 *     stage catalog, expressions), with a -p override from byte 1 (0: none);
 *     a job that parses is built into its graph (common/job_graph.c: every
 *     task maps back to a chain and subtask) and its `config:` block is
 *     applied as the jobmanager applies it at submit (sl_config_set_at,
 *     serialize and load back, the coordinator's and restart strategy's
 *     reading of it: jobmanager/job_submit.c job_config);
 *   1 sluice.yaml with -D overrides: the rest is split at the first NUL;
 *     the part before it is YAML for sl_config_load_string (common/config*.c),
 *     the part after it holds -D "key=value" overrides, one a line, for
 *     sl_config_set_override; a config that loads must serialize and load
 *     back to the same text. */
#include "fuzz/fuzz.h"

#include "common/config.h"
#include "common/job_graph.h"
#include "common/jobfile.h"
#include "common/status.h"
#include "jobmanager/checkpoint_coordinator.h"
#include "jobmanager/restart_strategy.h"

#define FUZZ_MAX_D 16 /* -D overrides at most */

static void round_trip(const sl_config *cfg);

static void graph(const sl_job_spec *spec)
{
    static sl_job_graph g;
    if (sl_job_graph_build(spec, &g) != SL_OK)
        return;
    int sum = 0;
    for (int c = 0; c < g.nchains; c++)
        sum += g.chains[c].parallelism;
    FUZZ_CHECK(sum == g.ntasks);
    for (int t = 0; t < g.ntasks; t++) {
        int chain, sub;
        FUZZ_CHECK(sl_job_graph_task(&g, t, &chain, &sub) == SL_OK);
        FUZZ_CHECK(chain >= 0 && chain < g.nchains && sub >= 0 &&
                   sub < g.chains[chain].parallelism);
    }
    int chain, sub;
    FUZZ_CHECK(sl_job_graph_task(&g, g.ntasks, &chain, &sub) != SL_OK);
}

static void job_config(const sl_job_spec *spec)
{
    char err[1024];
    sl_config *cfg = NULL;
    if (sl_config_new(&cfg) != SL_OK)
        abort();
    int rv = SL_OK;
    for (int i = 0; i < spec->nconfig && rv == SL_OK; i++)
        rv = sl_config_set_at(cfg, spec->config[i].key, spec->config[i].value, "job.yaml",
                              spec->config[i].line, spec->config[i].col, err, sizeof(err));
    if (rv == SL_OK) {
        round_trip(cfg);
        static sl_coord cc;
        sl_restart_strategy rs;
        memset(&cc, 0, sizeof(cc));
        (void)sl_coord_init(&cc, cfg, err, sizeof(err));
        sl_coord_free(&cc);
        (void)sl_restart_strategy_init(&rs, cfg);
    }
    sl_config_free(cfg);
}

static void job(const uint8_t *p, size_t n)
{
    if (n < 1)
        return;
    char err[2048];
    sl_job_spec *spec = NULL;
    if (sl_job_parse("job.yaml", (const char *)p + 1, n - 1, p[0] % 5, &spec, err,
                     sizeof(err)) == SL_OK) {
        FUZZ_CHECK(spec != NULL && spec->nstages > 0);
        graph(spec);
        job_config(spec);
        sl_job_free(spec);
    }
}

/* cfg serializes to text that loads into a config serializing the same. */
static void round_trip(const sl_config *cfg)
{
    char *text = NULL, *again = NULL, err[1024];
    sl_config *back = NULL;
    FUZZ_CHECK(sl_config_serialize(cfg, &text) == SL_OK);
    FUZZ_CHECK(sl_config_new(&back) == SL_OK);
    int rv = sl_config_load_string(back, "serialized", text, strlen(text), err, sizeof(err));
    if (rv != SL_OK)
        fprintf(stderr, "serialized config does not load: %s\n%s\n", err, text);
    FUZZ_CHECK(rv == SL_OK);
    FUZZ_CHECK(sl_config_serialize(back, &again) == SL_OK && strcmp(text, again) == 0);
    free(text);
    free(again);
    sl_config_free(back);
}

static void config(const uint8_t *p, size_t n)
{
    const uint8_t *nul = memchr(p, '\0', n);
    size_t ylen = nul != NULL ? (size_t)(nul - p) : n;
    char err[1024];
    sl_config *cfg = NULL;
    if (sl_config_new(&cfg) != SL_OK)
        abort();
    int rv = sl_config_load_string(cfg, "sluice.yaml", (const char *)p, ylen, err, sizeof(err));
    if (nul != NULL && rv == SL_OK) {
        char *d = fuzz_strndup(nul + 1, n - ylen - 1);
        char *save = NULL, *line = strtok_r(d, "\n", &save);
        for (int k = 0; line != NULL && k < FUZZ_MAX_D && rv == SL_OK; k++) {
            rv = sl_config_set_override(cfg, line, err, sizeof(err));
            line = strtok_r(NULL, "\n", &save);
        }
        free(d);
    }
    if (rv == SL_OK)
        round_trip(cfg);
    sl_config_free(cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] % 2 == 0)
        job(data + 1, size - 1);
    else
        config(data + 1, size - 1);
    return 0;
}
