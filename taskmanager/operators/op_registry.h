/* The operator registry: which implementation runs a stage (kind and type
 * -> vtable), and the vtables of the implementations, one file each.
 *
 * Place: above the operators (op_registry.c references every op_*.c's
 * vtable); called by the task where it creates its chain
 * (taskmanager/job_run.c). The operators themselves call only operator.h. */
#ifndef SL_OP_REGISTRY_H
#define SL_OP_REGISTRY_H

#include "common/jobfile.h"
#include "taskmanager/operators/operator.h"

/* Creates the operator of stage (not yet opened) with a copy of ctx; the
 * input schemas are those of stage's inputs in spec. The caller owns
 * *out (sl_op_destroy); spec and what ctx points to must outlive it.
 * SL_ENOTFOUND: no operator for the stage's type. */
int sl_op_create(const sl_job_spec *spec, const sl_stage *stage, const sl_op_ctx *ctx,
                 sl_op **out);
/* Frees op (closed before, if it was opened). NULL is a no-op. */
void sl_op_destroy(sl_op *op);

/* Implementations (one file each). */
extern const sl_op_ops sl_op_file_source;
extern const sl_op_ops sl_op_datagen_source;
extern const sl_op_ops sl_op_tokenize;
extern const sl_op_ops sl_op_filter; /* op_filter.c */
extern const sl_op_ops sl_op_map;    /* op_map.c */
extern const sl_op_ops sl_op_count; /* count, sum, min, max, avg: op_aggregate.c */
extern const sl_op_ops sl_op_sum;
extern const sl_op_ops sl_op_min;
extern const sl_op_ops sl_op_max;
extern const sl_op_ops sl_op_avg;
extern const sl_op_ops sl_op_window; /* op_window.c */
extern const sl_op_ops sl_op_argmax; /* op_argmax.c */
extern const sl_op_ops sl_op_nexmark_source; /* op_nexmark.c */
extern const sl_op_ops sl_op_udf;    /* op_udf.c */
extern const sl_op_ops sl_op_file_sink;
extern const sl_op_ops sl_op_print_sink;
extern const sl_op_ops sl_op_blackhole_sink;

#endif
