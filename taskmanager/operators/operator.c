#include "taskmanager/operators/operator.h"

#include <stdlib.h>
#include <string.h>

#include "common/status.h"
#include "taskmanager/task.h"

static const struct {
    enum sl_stage_kind kind;
    const char *type;
    const sl_operator_ops *ops;
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

int sl_operator_create(const sl_stage *stage, struct sl_task *task, sl_operator **out)
{
    for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++) {
        if (registry[i].kind != stage->kind || strcmp(registry[i].type, stage->type) != 0)
            continue;
        sl_operator *op = calloc(1, sizeof(*op));
        if (op == NULL)
            return SL_ENOMEM;
        op->ops = registry[i].ops;
        op->stage = stage;
        op->task = task;
        *out = op;
        return SL_OK;
    }
    return SL_ENOTFOUND;
}

void sl_operator_destroy(sl_operator *op)
{
    free(op);
}

int sl_operator_emit(sl_operator *op, const sl_row *row)
{
    if (op->next != NULL)
        return op->next->ops->process(op->next, row);
    return sl_task_emit(op->task, row);
}
