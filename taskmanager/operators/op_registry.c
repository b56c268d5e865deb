/* The operator registry (op_registry.h). */
#include "taskmanager/operators/op_registry.h"

#include <stdlib.h>
#include <string.h>

#include "common/status.h"

static const struct {
    enum sl_stage_kind kind;
    const char *type;
    const sl_op_ops *ops;
} registry[] = {
    {SL_STAGE_SOURCE, "file", &sl_op_file_source},
    {SL_STAGE_SOURCE, "datagen", &sl_op_datagen_source},
    {SL_STAGE_SOURCE, "nexmark", &sl_op_nexmark_source},
    {SL_STAGE_OPERATOR, "tokenize", &sl_op_tokenize},
    {SL_STAGE_OPERATOR, "filter", &sl_op_filter},
    {SL_STAGE_OPERATOR, "map", &sl_op_map},
    {SL_STAGE_OPERATOR, "count", &sl_op_count},
    {SL_STAGE_OPERATOR, "sum", &sl_op_sum},
    {SL_STAGE_OPERATOR, "min", &sl_op_min},
    {SL_STAGE_OPERATOR, "max", &sl_op_max},
    {SL_STAGE_OPERATOR, "avg", &sl_op_avg},
    {SL_STAGE_OPERATOR, "window", &sl_op_window},
    {SL_STAGE_OPERATOR, "argmax", &sl_op_argmax},
    {SL_STAGE_OPERATOR, "udf", &sl_op_udf},
    {SL_STAGE_SINK, "file", &sl_op_file_sink},
    {SL_STAGE_SINK, "print", &sl_op_print_sink},
    {SL_STAGE_SINK, "blackhole", &sl_op_blackhole_sink},
};

static const sl_op_ops *find(const sl_stage *stage)
{
    for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++) {
        if (registry[i].kind == stage->kind && strcmp(registry[i].type, stage->type) == 0)
            return registry[i].ops;
    }
    return NULL;
}

int sl_op_create(const sl_job_spec *spec, const sl_stage *stage, const sl_op_ctx *ctx,
                 sl_op **out)
{
    const sl_op_ops *ops = find(stage);
    sl_op *op;

    if (ops == NULL)
        return SL_ENOTFOUND;
    if (stage->ninputs < 0 || stage->ninputs > SL_OP_MAX_INPUTS)
        return SL_EINVAL;
    if ((op = calloc(1, sizeof(*op))) == NULL)
        return SL_ENOMEM;
    op->ops = ops;
    op->stage = stage;
    op->nin = stage->ninputs;
    for (int i = 0; i < op->nin; i++)
        op->in[i] = &spec->stages[stage->inputs[i]].out_schema;
    op->ctx = *ctx;
    *out = op;
    return SL_OK;
}

void sl_op_destroy(sl_op *op)
{
    free(op);
}
