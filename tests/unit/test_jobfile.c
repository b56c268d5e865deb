/* Unit tests: job files (common/jobfile.c) and the stage catalog. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jobfile.h"
#include "common/stage_catalog.h"
#include "common/status.h"

/* The example of interface.md section 5. */
static const char *wordcount =
    "name: wordcount\n"                                   /* 1 */
    "parallelism: 2            # default parallelism.default\n"
    "max-parallelism: 128      # number of key groups\n"
    "config:                   # per-job overrides\n"
    "  execution.checkpointing.interval: 500 ms\n"        /* 5 */
    "pipeline:\n"
    "  - name: lines\n"
    "    source: file\n"
    "    path: /data/books\n"
    "  - name: words\n"                                   /* 10 */
    "    operator: tokenize\n"
    "  - name: counts\n"
    "    operator: count\n"
    "    key-by: word\n"
    "  - name: out\n"                                     /* 15 */
    "    sink: file\n"
    "    path: /data/wordcount-out\n";

static sl_job_spec *parse_ok(const char *text, int p)
{
    char err[512] = "";
    sl_job_spec *job = NULL;
    int rv = sl_job_parse("job.yaml", text, strlen(text), p, &job, err, sizeof(err));

    ck_assert_msg(rv == SL_OK, "parse failed: %s", err);
    ck_assert_ptr_nonnull(job);
    return job;
}

static void expect_err(const char *text, int p, const char *want)
{
    char err[512] = "";
    sl_job_spec *job = NULL;
    int rv = sl_job_parse("job.yaml", text, strlen(text), p, &job, err, sizeof(err));

    ck_assert_msg(rv == SL_EINVAL, "expected an error (%s), got %d", want, rv);
    ck_assert_ptr_null(job);
    ck_assert_str_eq(err, want);
}

/* Header (name + pipeline:) followed by the given stages. */
#define JOB(stages) "name: t\npipeline:\n" stages

/* Lines 3-5: a source, then the stages under test from line 6. */
#define SRC "  - name: lines\n    source: file\n    path: /in\n"
#define SINK(n, in) "  - name: " n "\n    sink: print\n    input: " in "\n"

START_TEST(test_wordcount)
{
    sl_job_spec *job = parse_ok(wordcount, 0);
    const sl_stage *st;

    ck_assert_str_eq(job->name, "wordcount");
    ck_assert_int_eq(job->parallelism, 2);
    ck_assert_int_eq(job->max_parallelism, 128);
    ck_assert_int_eq(job->nconfig, 1);
    ck_assert_str_eq(job->config[0].key, "execution.checkpointing.interval");
    ck_assert_str_eq(job->config[0].value, "500 ms");
    ck_assert_int_eq(job->config[0].line, 5);
    ck_assert_int_eq(job->config[0].col, 37);
    ck_assert_int_eq(job->nstages, 4);

    st = &job->stages[0];
    ck_assert_str_eq(st->name, "lines");
    ck_assert_int_eq(st->kind, SL_STAGE_SOURCE);
    ck_assert_str_eq(st->type, "file");
    ck_assert_int_eq(st->parallelism, 2);
    ck_assert_int_eq(st->ninputs, 0);
    ck_assert_int_eq(st->chained, 0);
    ck_assert_int_eq(st->line, 7);
    ck_assert_int_eq(st->col, 5);
    ck_assert_str_eq(sl_stage_param(st, "path"), "/data/books");
    ck_assert_str_eq(sl_stage_param(st, "format"), "text"); /* default */
    ck_assert_ptr_null(sl_stage_param(st, "rate"));
    ck_assert_int_eq(st->out_schema.nfields, 1);
    ck_assert_str_eq(st->out_schema.names[0], "line");
    ck_assert_int_eq(st->out_schema.types[0], SL_TYPE_STRING);

    st = &job->stages[1];
    ck_assert_str_eq(st->name, "words");
    ck_assert_int_eq(st->kind, SL_STAGE_OPERATOR);
    ck_assert_str_eq(st->type, "tokenize");
    ck_assert_int_eq(st->ninputs, 1);
    ck_assert_int_eq(st->inputs[0], 0);
    ck_assert_int_eq(st->chained, 1);
    ck_assert_str_eq(sl_stage_param(st, "field"), "line");
    ck_assert_int_eq(st->out_schema.nfields, 1);
    ck_assert_str_eq(st->out_schema.names[0], "word");
    ck_assert_int_eq(st->out_schema.types[0], SL_TYPE_STRING);

    st = &job->stages[2];
    ck_assert_str_eq(st->type, "count");
    ck_assert_int_eq(st->inputs[0], 1);
    ck_assert_int_eq(st->nkeys, 1);
    ck_assert_str_eq(st->key_by[0], "word");
    ck_assert_int_eq(st->key_idx[0], 0);
    ck_assert_int_eq(st->chained, 0);
    ck_assert_int_eq(st->nparams, 0);
    ck_assert_int_eq(st->out_schema.nfields, 2);
    ck_assert_str_eq(st->out_schema.names[0], "word");
    ck_assert_int_eq(st->out_schema.types[0], SL_TYPE_STRING);
    ck_assert_str_eq(st->out_schema.names[1], "count");
    ck_assert_int_eq(st->out_schema.types[1], SL_TYPE_INT);

    st = &job->stages[3];
    ck_assert_int_eq(st->kind, SL_STAGE_SINK);
    ck_assert_str_eq(st->type, "file");
    ck_assert_int_eq(st->inputs[0], 2);
    ck_assert_int_eq(st->chained, 1);
    ck_assert_str_eq(sl_stage_param(st, "path"), "/data/wordcount-out");
    ck_assert_str_eq(sl_stage_param(st, "format"), "csv");
    ck_assert_int_eq(st->out_schema.nfields, 0);

    ck_assert_int_eq(sl_job_find_stage(job, "counts"), 2);
    ck_assert_int_eq(sl_job_find_stage(job, "nope"), -1);
    sl_job_free(job);
}
END_TEST

START_TEST(test_not_nul_terminated)
{
    size_t len = strlen(wordcount);
    char *copy = malloc(len + 8);
    char err[256] = "";
    sl_job_spec *job = NULL;

    ck_assert_ptr_nonnull(copy);
    memcpy(copy, wordcount, len);
    memcpy(copy + len, "garbage", 8); /* beyond len: must be ignored */
    ck_assert_int_eq(sl_job_parse("job.yaml", copy, len, 0, &job, err, sizeof(err)), SL_OK);
    ck_assert_int_eq(job->nstages, 4);
    sl_job_free(job);
    free(copy);
}
END_TEST

START_TEST(test_parallelism_override)
{
    sl_job_spec *job = parse_ok(wordcount, 4);

    ck_assert_int_eq(job->parallelism, 4);
    for (int i = 0; i < job->nstages; i++)
        ck_assert_int_eq(job->stages[i].parallelism, 4);
    ck_assert_int_eq(job->stages[1].chained, 1);
    ck_assert_int_eq(job->stages[3].chained, 1);
    sl_job_free(job);

    /* No parallelism in the file: 1, unless overridden. */
    job = parse_ok(JOB(SRC SINK("out", "lines")), 0);
    ck_assert_int_eq(job->parallelism, 1);
    ck_assert_int_eq(job->max_parallelism, 128);
    ck_assert_int_eq(job->stages[1].parallelism, 1);
    sl_job_free(job);
    job = parse_ok(JOB(SRC SINK("out", "lines")), 3);
    ck_assert_int_eq(job->parallelism, 3);
    sl_job_free(job);

    /* A stage's own parallelism wins over -p. */
    job = parse_ok(JOB(SRC "  - name: out\n    sink: print\n    parallelism: 5\n"), 3);
    ck_assert_int_eq(job->stages[0].parallelism, 3);
    ck_assert_int_eq(job->stages[1].parallelism, 5);
    ck_assert_int_eq(job->stages[1].chained, 0);
    sl_job_free(job);
}
END_TEST

START_TEST(test_stage_parallelism_breaks_chain)
{
    static const char *text = "name: t\n"
                              "parallelism: 2\n"
                              "pipeline:\n"
                              "  - {name: lines, source: file, path: /in}\n"
                              "  - {name: words, operator: tokenize, parallelism: 3}\n"
                              "  - {name: counts, operator: count, key-by: [word]}\n"
                              "  - {name: out, sink: file, path: /out, parallelism: 1}\n";
    sl_job_spec *job = parse_ok(text, 0);

    ck_assert_int_eq(job->stages[1].parallelism, 3);
    ck_assert_int_eq(job->stages[1].chained, 0);
    ck_assert_int_eq(job->stages[2].parallelism, 2);
    ck_assert_int_eq(job->stages[2].chained, 0);
    ck_assert_int_eq(job->stages[3].parallelism, 1);
    ck_assert_int_eq(job->stages[3].chained, 0);
    ck_assert_int_eq(job->stages[3].line, 7);
    ck_assert_int_eq(job->stages[3].col, 5);
    sl_job_free(job);
}
END_TEST

START_TEST(test_fan_out_breaks_chain)
{
    sl_job_spec *job = parse_ok(JOB(SRC
                                    "  - name: words\n"
                                    "    operator: tokenize\n"
                                    "  - name: counts\n"
                                    "    operator: count\n"
                                    "    key-by: [word]\n"
                                    "  - name: out\n"
                                    "    sink: blackhole\n" SINK("raw", "lines")),
                                0);

    ck_assert_int_eq(job->nstages, 5);
    ck_assert_int_eq(job->stages[1].inputs[0], 0);
    ck_assert_int_eq(job->stages[1].chained, 0); /* lines feeds words and raw */
    ck_assert_int_eq(job->stages[3].chained, 1);
    ck_assert_int_eq(job->stages[4].inputs[0], 0);
    ck_assert_int_eq(job->stages[4].chained, 0);
    sl_job_free(job);
}
END_TEST

START_TEST(test_uris_and_params)
{
    sl_job_spec *job = parse_ok(JOB("  - name: lines\n"
                                    "    source: file\n"
                                    "    path: file:///data/books/\n"
                                    "    format: text\n"
                                    "    rate: 1000\n"
                                    "  - name: out\n"
                                    "    sink: file\n"
                                    "    path: \"file:///tmp/out\"\n"
                                    "    format: csv\n"),
                                0);
    const sl_stage *st = &job->stages[0];

    ck_assert_str_eq(sl_stage_param(st, "path"), "/data/books");
    ck_assert_str_eq(sl_stage_param(st, "rate"), "1000");
    ck_assert_int_eq(st->nparams, 3);
    ck_assert_int_eq(st->params[0].line, 5);
    ck_assert_int_eq(st->params[0].col, 11);
    ck_assert_str_eq(sl_stage_param(&job->stages[1], "path"), "/tmp/out");
    ck_assert_int_eq(job->stages[1].chained, 1);
    sl_job_free(job);
}
END_TEST

START_TEST(test_config_nested_and_flat)
{
    sl_job_spec *job = parse_ok("name: t\n"
                                "config:\n"
                                "  execution:\n"
                                "    checkpointing:\n"
                                "      interval: 1 s\n"
                                "      mode: AT_LEAST_ONCE\n"
                                "  restart-strategy.type: none\n"
                                "pipeline:\n" SRC SINK("out", "lines"),
                                0);

    ck_assert_int_eq(job->nconfig, 3);
    ck_assert_str_eq(job->config[0].key, "execution.checkpointing.interval");
    ck_assert_str_eq(job->config[0].value, "1 s");
    ck_assert_int_eq(job->config[0].line, 5);
    ck_assert_int_eq(job->config[0].col, 17);
    ck_assert_str_eq(job->config[1].key, "execution.checkpointing.mode");
    ck_assert_str_eq(job->config[2].key, "restart-strategy.type");
    ck_assert_str_eq(job->config[2].value, "none");
    sl_job_free(job);
}
END_TEST

START_TEST(test_multi_key_count)
{
    /* key-by spelt as a list; the key fields lead the output. */
    sl_job_spec *job = parse_ok(JOB(SRC
                                    "  - name: c\n"
                                    "    operator: count\n"
                                    "    key-by: [line]\n"
                                    "  - name: out\n"
                                    "    sink: print\n"),
                                0);
    const sl_stage *st = &job->stages[1];

    ck_assert_int_eq(st->nkeys, 1);
    ck_assert_int_eq(st->key_idx[0], 0);
    ck_assert_str_eq(st->out_schema.names[0], "line");
    ck_assert_str_eq(st->out_schema.names[1], "count");
    sl_job_free(job);

    /* A second count keyed by the first one's `count` would emit it twice. */
    expect_err(JOB(SRC "  - name: c\n    operator: count\n    key-by: line\n"
                       "  - name: d\n    operator: count\n    key-by: [line, count]\n"
                   SINK("o", "d")),
               0, "job.yaml:9:5: key field 'count' clashes with the output field 'count'");
}
END_TEST

/* ---- errors ---- */

START_TEST(test_err_yaml_syntax)
{
    expect_err("name: t\npipeline:\n  - name: lines\n   source: file\n", 0,
               "job.yaml:4:4: YAML syntax error: did not find expected '-' indicator while "
               "parsing a block collection");
    expect_err("name: t\npipeline: [a, b\n", 0,
               "job.yaml:3:1: YAML syntax error: did not find expected ',' or ']' while "
               "parsing a flow sequence");
    expect_err("", 0, "job.yaml:1:1: empty job file");
    expect_err("# only a comment\n", 0, "job.yaml:1:1: empty job file");
    expect_err("- a\n- b\n", 0,
               "job.yaml:1:1: a job file must be a mapping (name:, pipeline:, ...)");
    expect_err(JOB(SRC SINK("out", "lines")) "---\nname: x\n", 0,
               "job.yaml:10:1: a job file holds one YAML document");
}
END_TEST

START_TEST(test_err_top_level)
{
    expect_err("pipeline:\n" SRC SINK("out", "lines"), 0, "job.yaml:1:1: job has no 'name'");
    expect_err("name: t\n", 0, "job.yaml:1:1: job has no 'pipeline'");
    expect_err("name: t\nparalelism: 2\npipeline:\n" SRC SINK("out", "lines"), 0,
               "job.yaml:2:1: unknown key 'paralelism' (a job has name, parallelism, "
               "max-parallelism, config and pipeline)");
    expect_err("name: t\nname: u\npipeline: []\n", 0,
               "job.yaml:2:1: duplicate key 'name' (first at line 1)");
    expect_err("name: [a, b]\npipeline: []\n", 0,
               "job.yaml:1:7: name must be a single value, not a list");
    expect_err("name:\npipeline: []\n", 0, "job.yaml:1:6: name has no value");
    expect_err("name: t\nparallelism: 0\npipeline: []\n", 0,
               "job.yaml:2:14: parallelism must be an integer between 1 and 32768, not '0'");
    expect_err("name: t\nparallelism: two\npipeline: []\n", 0,
               "job.yaml:2:14: parallelism must be an integer between 1 and 32768, not 'two'");
    expect_err("name: t\nmax-parallelism: 40000\npipeline: []\n", 0,
               "job.yaml:2:18: max-parallelism must be an integer between 1 and 32768, not "
               "'40000'");
    expect_err("name: t\npipeline: []\n", 0, "job.yaml:2:11: pipeline has no stages");
    expect_err("name: t\npipeline: lines\n", 0,
               "job.yaml:2:11: pipeline must be a list of stages");
}
END_TEST

START_TEST(test_err_parallelism_exceeds_max)
{
    expect_err("name: t\nparallelism: 200\npipeline:\n" SRC SINK("out", "lines"), 0,
               "job.yaml:2:14: parallelism 200 exceeds max-parallelism 128");
    expect_err("name: t\nmax-parallelism: 4\nparallelism: 2\npipeline:\n" SRC
               SINK("out", "lines"),
               8, "job.yaml:2:18: parallelism 8 (-p) exceeds max-parallelism 4");
    expect_err(JOB(SRC SINK("out", "lines")), 129,
               "job.yaml:1:1: parallelism 129 (-p) exceeds max-parallelism 128");
    /* -p below the maximum is fine even if the file's value is not. */
    sl_job_free(parse_ok("name: t\nmax-parallelism: 4\nparallelism: 8\npipeline:\n" SRC
                         SINK("out", "lines"),
                         2));
    expect_err("name: t\nmax-parallelism: 4\npipeline:\n" SRC
               "  - name: out\n    sink: print\n    parallelism: 5\n",
               0, "job.yaml:9:18: parallelism 5 exceeds max-parallelism 4");
}
END_TEST

START_TEST(test_err_stage_structure)
{
    /* missing stage name: at the stage's mapping */
    expect_err(JOB("  - source: file\n    path: /in\n"), 0, "job.yaml:3:5: stage has no 'name'");
    /* duplicate stage name: at the second name's value */
    expect_err(JOB(SRC "  - name: lines\n    sink: print\n"), 0,
               "job.yaml:6:11: duplicate stage name 'lines' (first at line 3)");
    /* two of source/operator/sink: at the second key */
    expect_err(JOB(SRC "  - name: out\n    operator: tokenize\n    sink: print\n"), 0,
               "job.yaml:8:5: a stage is exactly one of source, operator or sink (it already "
               "has 'operator')");
    expect_err(JOB(SRC "  - name: out\n    input: lines\n"), 0,
               "job.yaml:6:5: stage 'out' needs one of source, operator or sink");
    expect_err(JOB(SRC "  - just a string\n"), 0,
               "job.yaml:6:5: a stage must be a mapping (name:, source|operator|sink:, ...)");
    expect_err(JOB(SRC "  - name: a/b\n    sink: print\n"), 0,
               "job.yaml:6:11: stage name 'a/b' may only use letters, digits, '_', '-' and "
               "'.' (and starts with a letter, digit or '_')");
    expect_err(JOB(SRC "  - name: out\n    sink: print\n    sink: print\n"), 0,
               "job.yaml:8:5: duplicate key 'sink' (first at line 7)");
}
END_TEST

/* Stage names become state file names (op-<stage>-<subtask>.state): a name
 * the checkpoint store would refuse is refused here, at its place. */
START_TEST(test_err_stage_name_not_a_file_name)
{
    expect_err(JOB(SRC "  - name: cnt..v2\n    sink: print\n"), 0,
               "job.yaml:6:11: stage name 'cnt..v2' may not contain '..'");
    expect_err(JOB(SRC "  - name: out..\n    sink: print\n"), 0,
               "job.yaml:6:11: stage name 'out..' may not contain '..'");
    expect_err(JOB(SRC "  - name: .out\n    sink: print\n"), 0,
               "job.yaml:6:11: stage name '.out' may only use letters, digits, '_', '-' and "
               "'.' (and starts with a letter, digit or '_')");
    expect_err(JOB(SRC "  - name: \"\"\n    sink: print\n"), 0,
               "job.yaml:6:11: stage name '' is empty");
    /* One dot at a time is fine, anywhere but first. */
    sl_job_spec *job = parse_ok(JOB(SRC "  - name: out.v2.final.\n    sink: print\n"), 0);
    ck_assert_str_eq(job->stages[1].name, "out.v2.final.");
    sl_job_free(job);
}
END_TEST

START_TEST(test_err_types_and_params)
{
    expect_err(JOB(SRC "  - name: w\n    operator: tokenise\n"), 0,
               "job.yaml:7:15: unknown operator 'tokenise'");
    expect_err(JOB("  - name: s\n    source: kafka\n"), 0, "job.yaml:4:13: unknown source 'kafka'");
    expect_err(JOB(SRC "  - name: o\n    sink: stdout\n"), 0, "job.yaml:7:11: unknown sink 'stdout'");
    /* unknown parameter: at its key */
    expect_err(JOB(SRC "  - name: w\n    operator: tokenize\n    feild: line\n"), 0,
               "job.yaml:8:5: unknown parameter 'feild' for operator 'tokenize'");
    expect_err(JOB(SRC "  - name: o\n    sink: print\n    path: /x\n"), 0,
               "job.yaml:8:5: unknown parameter 'path' for sink 'print'");
    /* required parameter */
    expect_err(JOB("  - name: lines\n    source: file\n" SINK("o", "lines")), 0,
               "job.yaml:3:5: source 'file' requires 'path'");
    /* relative path: at the value */
    expect_err(JOB("  - name: lines\n    source: file\n    path: data/books\n" SINK("o", "lines")),
               0,
               "job.yaml:5:11: path must be an absolute path or a file:// URI: 'data/books'");
    expect_err(JOB(SRC "  - name: o\n    sink: file\n    path: file://out\n"), 0,
               "job.yaml:8:11: path must be an absolute path or a file:// URI: 'file://out'");
    expect_err(JOB(SRC "  - name: o\n    sink: file\n    path:\n"), 0,
               "job.yaml:8:10: parameter 'path' has no value");
    expect_err(JOB("  - name: lines\n    source: file\n    path: /in\n    format: csv\n"
                   SINK("o", "lines")),
               0, "job.yaml:3:5: format csv requires 'schema' (e.g. \"ts:int, user:string, "
                  "amount:double\")");
    expect_err(JOB(SRC "  - name: o\n    sink: file\n    path: /out\n    format: parquet\n"), 0,
               "job.yaml:9:13: unknown format 'parquet' (expected csv or json)");
    expect_err(JOB(SRC "  - name: o\n    sink: file\n    path: /out\n    format: xml\n"), 0,
               "job.yaml:9:13: unknown format 'xml' (expected csv or json)");
    expect_err(JOB("  - name: lines\n    source: file\n    path: /in\n    rate: -5\n"
                   SINK("o", "lines")),
               0, "job.yaml:6:11: rate must be a positive integer (records/s): '-5'");
    expect_err(JOB(SRC "  - name: w\n    operator: tokenize\n    field: text\n" SINK("o", "w")),
               0, "job.yaml:8:12: field 'text' does not exist in the input (line:string)");
    expect_err(JOB(SRC "  - name: c\n    operator: count\n    key-by: line\n"
                       "  - name: w\n    operator: tokenize\n    field: count\n" SINK("o", "w")),
               0, "job.yaml:11:12: field 'count' is int, expected string");
}
END_TEST

START_TEST(test_err_key_by)
{
    /* field not in the input's schema: at the field */
    expect_err(JOB(SRC "  - name: w\n    operator: tokenize\n"
                       "  - name: c\n    operator: count\n    key-by: [word, line]\n"
                       SINK("o", "c")),
               0, "job.yaml:10:20: key-by field 'line' is not in the output of 'w'");
    expect_err(JOB(SRC "  - name: c\n    operator: count\n" SINK("o", "c")), 0,
               "job.yaml:6:5: operator 'count' requires key-by");
    expect_err(JOB(SRC "  - name: w\n    operator: tokenize\n    key-by: line\n" SINK("o", "w")),
               0, "job.yaml:8:5: key-by is not allowed for operator 'tokenize'");
    expect_err(JOB(SRC "  - name: c\n    operator: count\n    key-by: [line, line]\n"
                   SINK("o", "c")),
               0, "job.yaml:8:20: key-by field 'line' is listed twice");
    expect_err(JOB(SRC "  - name: c\n    operator: count\n    key-by: []\n" SINK("o", "c")), 0,
               "job.yaml:8:13: key-by must name at least one field");
    expect_err(JOB(SRC "  - name: c\n    operator: count\n"
                       "    key-by: [a, b, c, d, e, f, g, h, i]\n" SINK("o", "c")),
               0, "job.yaml:8:38: key-by takes at most 8 fields");
}
END_TEST

START_TEST(test_err_inputs)
{
    /* input naming a later stage */
    expect_err(JOB(SRC "  - name: w\n    operator: tokenize\n    input: c\n"
                       "  - name: c\n    operator: count\n    key-by: word\n" SINK("o", "c")),
               0, "job.yaml:8:12: input 'c' must name a stage defined earlier in the pipeline");
    /* unknown stage */
    expect_err(JOB(SRC "  - name: w\n    operator: tokenize\n    input: nope\n" SINK("o", "w")),
               0, "job.yaml:8:12: unknown stage 'nope'");
    expect_err(JOB(SRC "  - name: w\n    operator: tokenize\n    input: w\n" SINK("o", "w")), 0,
               "job.yaml:8:12: stage 'w' cannot read its own output");
    expect_err(JOB(SRC SINK("o", "lines") SINK("p", "o")), 0,
               "job.yaml:11:12: stage 'o' is a sink and has no output");
    expect_err(JOB(SRC "  - name: o\n    sink: print\n  - name: p\n    sink: print\n"), 0,
               "job.yaml:8:5: stage 'p' has no input: the previous stage 'o' is a sink (name "
               "one with 'input:')");
    expect_err(JOB("  - name: w\n    operator: tokenize\n" SRC SINK("o", "w")), 0,
               "job.yaml:3:5: stage 'w' has no input: the first stage must be a source");
    expect_err(JOB("  - name: lines\n    source: file\n    path: /in\n    input: x\n"
                   SINK("o", "lines")),
               0, "job.yaml:6:5: a source takes no input");
    expect_err(JOB(SRC "  - name: w\n    operator: tokenize\n    inputs: [lines, lines]\n"
                   SINK("o", "w")),
               0, "job.yaml:8:13: operator 'tokenize' takes 1 input");
    expect_err(JOB(SRC "  - name: w\n    operator: tokenize\n    inputs: [lines, lines, lines]\n"
                   SINK("o", "w")),
               0, "job.yaml:8:28: a stage takes at most 2 inputs");
    expect_err(JOB(SRC "  - name: o\n    sink: print\n    input: lines\n    inputs: [lines]\n"),
               0, "job.yaml:9:5: use either 'input' or 'inputs', not both");
    /* `inputs:` with one name is the same as `input:` */
    sl_job_free(parse_ok(JOB(SRC "  - name: o\n    sink: print\n    inputs: [lines]\n"), 0));
}
END_TEST

START_TEST(test_err_config)
{
    expect_err("name: t\nconfig:\n  jobmanager.rpc.port: 7000\npipeline:\n" SRC
               SINK("o", "lines"),
               0,
               "job.yaml:3:3: config key 'jobmanager.rpc.port' cannot be set per job (only "
               "execution.*, restart-strategy.* and state.* keys)");
    expect_err("name: t\nconfig:\n  taskmanager:\n    numberOfTaskSlots: 3\npipeline:\n" SRC
               SINK("o", "lines"),
               0,
               "job.yaml:4:5: config key 'taskmanager.numberOfTaskSlots' cannot be set per job "
               "(only execution.*, restart-strategy.* and state.* keys)");
    expect_err("name: t\nconfig:\n  execution.checkpointing.interval: soon\npipeline:\n" SRC
               SINK("o", "lines"),
               0,
               "job.yaml:3:37: bad value 'soon' for execution.checkpointing.interval: expected "
               "a duration such as '500 ms', '1 s', '10 min'");
    expect_err("name: t\nconfig:\n  execution.checkpointing.intervall: 1 s\npipeline:\n" SRC
               SINK("o", "lines"),
               0, "job.yaml:3:38: unknown configuration key 'execution.checkpointing.intervall'");
    expect_err("name: t\nconfig:\n  execution.checkpointing.interval: 1 s\n"
               "  execution:\n    checkpointing.interval: 2 s\npipeline:\n" SRC
               SINK("o", "lines"),
               0,
               "job.yaml:5:5: duplicate config key 'execution.checkpointing.interval' (first at "
               "line 3)");
    expect_err("name: t\nconfig: [a]\npipeline:\n" SRC SINK("o", "lines"), 0,
               "job.yaml:2:9: config must be a mapping of configuration keys to values");
}
END_TEST

START_TEST(test_err_dangling)
{
    expect_err(JOB(SRC "  - name: w\n    operator: tokenize\n" SINK("o", "lines")), 0,
               "job.yaml:6:5: stage 'w' has no consumer");
    expect_err(JOB(SRC "  - name: w\n    operator: tokenize\n"), 0,
               "job.yaml:3:3: pipeline has no sink");
}
END_TEST

START_TEST(test_catalog)
{
    const sl_stage_type *t = sl_stage_type_find(SL_STAGE_OPERATOR, "count");

    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->key_by, SL_KEYBY_REQUIRED);
    ck_assert_ptr_null(sl_stage_type_find(SL_STAGE_SOURCE, "count"));
    ck_assert_ptr_nonnull(sl_stage_type_find(SL_STAGE_SINK, "blackhole"));
    t = sl_stage_type_find(SL_STAGE_SOURCE, "file");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(sl_stage_type_param(t, "path")->required, 1);
    ck_assert_str_eq(sl_stage_type_param(t, "format")->dflt, "text");
    ck_assert_ptr_null(sl_stage_type_param(t, "field"));
    ck_assert_str_eq(sl_stage_kind_name(SL_STAGE_SINK), "sink");
}
END_TEST

/* ---- filter and map (common/stage_catalog_expr.c) ---- */

/* Lines 6-15: filter, map with set and keep, a print sink. */
static const char *filter_map =
    JOB(SRC "  - name: f\n"
            "    operator: filter\n"
            "    where: length(line) > 3 and line != \"x\"\n"
            "  - name: m\n"
            "    operator: map\n"                          /* 10 */
            "    set:\n"
            "      n: length(line)\n"
            "      line: upper(line)\n"
            "      half: 'length(line) / 2.0'\n"
            "    keep: [half, line, n]\n"                  /* 15 */
            "  - name: o\n"
            "    sink: print\n");

static const sl_param *param_at(const sl_stage *st, int i, const char *key, int line, int col)
{
    const sl_param *p = &st->params[i];

    ck_assert_int_lt(i, st->nparams);
    ck_assert_str_eq(p->key, key);
    ck_assert_int_eq(p->line, line);
    ck_assert_int_eq(p->col, col);
    return p;
}

static void schema_is(const sl_schema *s, const char *want)
{
    char got[256] = "";

    for (int i = 0; i < s->nfields; i++) {
        size_t n = strlen(got);
        snprintf(got + n, sizeof(got) - n, "%s%s:%s", i ? "," : "", s->names[i],
                 sl_type_name(s->types[i]));
    }
    ck_assert_str_eq(got, want);
}

START_TEST(test_filter_map)
{
    sl_job_spec *job = parse_ok(filter_map, 0);
    const sl_stage *f = &job->stages[1], *m = &job->stages[2];

    ck_assert_str_eq(f->type, "filter");
    ck_assert_int_eq(f->nparams, 1);
    ck_assert_str_eq(param_at(f, 0, "where", 8, 12)->value, "length(line) > 3 and line != \"x\"");
    schema_is(&f->out_schema, "line:string");
    ck_assert_int_eq(f->chained, 1);

    ck_assert_str_eq(m->type, "map");
    ck_assert_int_eq(m->nparams, 4);
    ck_assert_str_eq(param_at(m, 0, "set.n", 12, 10)->value, "length(line)");
    ck_assert_str_eq(param_at(m, 1, "set.line", 13, 13)->value, "upper(line)");
    /* quoted: the column of the expression's first character */
    ck_assert_str_eq(param_at(m, 2, "set.half", 14, 14)->value, "length(line) / 2.0");
    ck_assert_str_eq(param_at(m, 3, "keep", 15, 11)->value, "half,line,n");
    schema_is(&m->out_schema, "half:double,line:string,n:int");
    ck_assert_int_eq(m->chained, 1);
    sl_job_free(job);
}
END_TEST

START_TEST(test_map_schema)
{
    sl_job_spec *job;

    /* no keep: replaced fields stay in place (with their new type), new ones follow */
    job = parse_ok(JOB(SRC "  - name: m\n    operator: map\n"
                           "    set: {b: '\"x\"', line: length(line), a: 1.5}\n"
                           "  - name: c\n    operator: count\n    key-by: [b, line]\n"
                           SINK("o", "c")),
                   0);
    schema_is(&job->stages[1].out_schema, "line:int,b:string,a:double");
    ck_assert_int_eq(job->stages[1].params[0].col, 15);
    schema_is(&job->stages[2].out_schema, "b:string,line:int,count:int");
    sl_job_free(job);
    /* keep alone, as a single value; block-style list */
    job = parse_ok(JOB(SRC "  - name: m\n    operator: map\n    keep: line\n" SINK("o", "m")), 0);
    schema_is(&job->stages[1].out_schema, "line:string");
    sl_job_free(job);
    job = parse_ok(JOB(SRC "  - name: m\n    operator: map\n    set:\n      k: 1\n"
                           "    keep:\n      - k\n      - line\n" SINK("o", "m")),
                   0);
    schema_is(&job->stages[1].out_schema, "k:int,line:string");
    ck_assert_str_eq(sl_stage_param(&job->stages[1], "keep"), "k,line");
    sl_job_free(job);
    /* a later expression sees the input, not an earlier result */
    job = parse_ok(JOB(SRC "  - name: m\n    operator: map\n"
                           "    set:\n      line: length(line)\n      up: upper(line)\n"
                           SINK("o", "m")),
                   0);
    schema_is(&job->stages[1].out_schema, "line:int,up:string");
    sl_job_free(job);
}
END_TEST

#define FILTER(where) JOB(SRC "  - name: f\n    operator: filter\n    where: " where "\n" SINK("o", "f"))
#define MAP(body) JOB(SRC "  - name: m\n    operator: map\n" body SINK("o", "m"))

START_TEST(test_err_filter)
{
    /* the value starts at column 12 of line 8 */
    expect_err(FILTER("amout > 100"), 0, "job.yaml:8:12: unknown field 'amout'");
    expect_err(FILTER("length(line) > 3 and amout < 2"), 0,
               "job.yaml:8:33: unknown field 'amout'");
    expect_err(FILTER("line > 1"), 0, "job.yaml:8:17: cannot compare string with int");
    /* quoted scalars: after the quote */
    expect_err(FILTER("'line = \"a\" or amout'"), 0, "job.yaml:8:27: unknown field 'amout'");
    expect_err(FILTER("\"length(line) > x\""), 0, "job.yaml:8:28: unknown field 'x'");
    /* columns count characters, not bytes */
    expect_err(FILTER("line = \"\xc3\xa9t\xc3\xa9\" or amout"), 0,
               "job.yaml:8:28: unknown field 'amout'");
    expect_err(FILTER("lower(line, 1)"), 0, "job.yaml:8:12: lower takes 1 argument, got 2");
    expect_err(FILTER("trim(line) = \"\""), 0,
               "job.yaml:8:12: unknown function 'trim' (functions: lower, upper, length, "
               "substr, concat, abs, floor, if)");
    expect_err(FILTER("length(line) >"), 0,
               "job.yaml:8:26: expected a value, found the end of the expression");
    expect_err(FILTER("length(line)"), 0,
               "job.yaml:8:12: where must be a condition (a comparison, and, or, not), not int");
    expect_err(FILTER("'  '"), 0, "job.yaml:8:15: empty expression");
    expect_err(FILTER(""), 0, "job.yaml:8:11: parameter 'where' has no value");
    expect_err(FILTER("{a: 1}"), 0,
               "job.yaml:8:12: parameter 'where' must be a single value, not a mapping");
    expect_err(FILTER("[a, b]"), 0,
               "job.yaml:8:12: parameter 'where' must be a single value, not a list");
    expect_err(JOB(SRC "  - name: f\n    operator: filter\n" SINK("o", "f")), 0,
               "job.yaml:6:5: operator 'filter' requires 'where'");
    expect_err(JOB(SRC "  - name: f\n    operator: filter\n    where: true\n    key-by: line\n"
                       SINK("o", "f")),
               0, "job.yaml:9:5: key-by is not allowed for operator 'filter'");
    expect_err(JOB(SRC "  - name: f\n    operator: filter\n    where: true\n    set: {a: 1}\n"
                       SINK("o", "f")),
               0, "job.yaml:9:5: unknown parameter 'set' for operator 'filter'");
}
END_TEST

START_TEST(test_err_map)
{
    expect_err(MAP("    set:\n      n: length(lin)\n"), 0, "job.yaml:9:17: unknown field 'lin'");
    expect_err(MAP("    set:\n      n: 1\n      s: concat(line, n)\n"), 0,
               "job.yaml:10:23: unknown field 'n'"); /* the input has no n */
    expect_err(MAP("    set: {n: 'line + 1'}\n"), 0,
               "job.yaml:8:20: operator '+' needs numbers, not string and int");
    expect_err(MAP("    set:\n      b: line = \"x\"\n"), 0,
               "job.yaml:9:10: field 'b' cannot hold a boolean (a field is int, double or "
               "string: use if(condition, 1, 0))");
    expect_err(MAP("    set:\n      \"a b\": 1\n"), 0,
               "job.yaml:9:14: 'a b' is not a field name (letters, digits, '_', '-' and '.', "
               "starting with a letter or '_')");
    expect_err(MAP("    set:\n      n: 1\n      n: 2\n"), 0,
               "job.yaml:10:7: duplicate key 'n' (first at line 9)");
    expect_err(MAP("    set: n\n"), 0,
               "job.yaml:8:10: parameter 'set' must be a mapping (name: value, ...), not a "
               "single value");
    expect_err(MAP("    set: [n]\n"), 0,
               "job.yaml:8:10: parameter 'set' must be a mapping (name: value, ...), not a list");
    expect_err(MAP("    set:\n"), 0, "job.yaml:8:9: parameter 'set' has no value");
    expect_err(MAP("    set: {}\n"), 0, "job.yaml:8:10: parameter 'set' is an empty mapping");
    expect_err(MAP("    set:\n      n:\n"), 0, "job.yaml:9:9: 'n' under 'set' has no value");
    expect_err(MAP("    set:\n      n: {a: 1}\n"), 0,
               "job.yaml:9:10: 'n' under 'set' must be a single value, not a mapping");
    expect_err(MAP("    keep: [line, nope]\n"), 0,
               "job.yaml:8:11: keep: no field 'nope' (the fields are line:string)");
    expect_err(MAP("    set: {n: 1}\n    keep: [n, line, n]\n"), 0,
               "job.yaml:9:11: keep: field 'n' is listed twice");
    expect_err(MAP("    keep: []\n"), 0, "job.yaml:8:11: parameter 'keep' is an empty list");
    expect_err(MAP("    keep: [line, {a: 1}]\n"), 0,
               "job.yaml:8:18: an item of 'keep' must be a single value, not a mapping");
    expect_err(MAP("    keep: [\"a,b\"]\n"), 0, "job.yaml:8:12: an item of 'keep' cannot contain ','");
    expect_err(MAP("    keep: {a: 1}\n"), 0,
               "job.yaml:8:11: parameter 'keep' must be a single value, not a mapping");
    expect_err(MAP(""), 0, "job.yaml:6:5: operator 'map' requires 'set' or 'keep'");
    /* a field map dropped is gone downstream */
    expect_err(JOB(SRC "  - name: m\n    operator: map\n    set: {n: 1}\n    keep: [n]\n"
                       "  - name: w\n    operator: tokenize\n" SINK("o", "w")),
               0, "job.yaml:10:5: field 'line' does not exist in the input (n:int)");
    /* other parameters still take single values only */
    expect_err(JOB("  - name: lines\n    source: file\n    path: [/a, /b]\n" SINK("o", "lines")),
               0, "job.yaml:5:11: parameter 'path' must be a single value, not a list");
}
END_TEST

START_TEST(test_catalog_expr)
{
    const sl_stage_type *t = sl_stage_type_find(SL_STAGE_OPERATOR, "map");

    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->key_by, SL_KEYBY_FORBIDDEN);
    ck_assert_int_eq(sl_stage_type_param(t, "set")->required, SL_PARAM_MAPPING | SL_PARAM_EXPR);
    ck_assert_int_eq(sl_stage_type_param(t, "keep")->required, SL_PARAM_LIST);
    t = sl_stage_type_find(SL_STAGE_OPERATOR, "filter");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(sl_stage_type_param(t, "where")->required,
                     SL_PARAM_REQUIRED | SL_PARAM_EXPR);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jobfile");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_wordcount);
    tcase_add_test(tc, test_not_nul_terminated);
    tcase_add_test(tc, test_parallelism_override);
    tcase_add_test(tc, test_stage_parallelism_breaks_chain);
    tcase_add_test(tc, test_fan_out_breaks_chain);
    tcase_add_test(tc, test_uris_and_params);
    tcase_add_test(tc, test_config_nested_and_flat);
    tcase_add_test(tc, test_multi_key_count);
    tcase_add_test(tc, test_err_yaml_syntax);
    tcase_add_test(tc, test_err_top_level);
    tcase_add_test(tc, test_err_parallelism_exceeds_max);
    tcase_add_test(tc, test_err_stage_structure);
    tcase_add_test(tc, test_err_stage_name_not_a_file_name);
    tcase_add_test(tc, test_err_types_and_params);
    tcase_add_test(tc, test_err_key_by);
    tcase_add_test(tc, test_err_inputs);
    tcase_add_test(tc, test_err_config);
    tcase_add_test(tc, test_err_dangling);
    tcase_add_test(tc, test_catalog);
    tcase_add_test(tc, test_filter_map);
    tcase_add_test(tc, test_map_schema);
    tcase_add_test(tc, test_err_filter);
    tcase_add_test(tc, test_err_map);
    tcase_add_test(tc, test_catalog_expr);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
