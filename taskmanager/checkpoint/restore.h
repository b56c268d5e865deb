/* The restore path of one task: loads the state files of its chain's
 * operators from the checkpoint (or savepoint) the job run restores.
 *
 * Keyed state: every file whose key-group range overlaps the subtask's.
 * Non-keyed state of a `redistribute` operator: every old subtask's file
 * (the operator keeps its share in restore_end). Other non-keyed state only
 * at its old parallelism (else the restore fails). Each file's checksum is
 * verified again on load.
 *
 * Place: called by the checkpointer (sl_ckpt_restore) on the task thread
 * after the chain opened; calls the operators' restore functions and the
 * state files (common/). It reports by its return value and err. */
#ifndef SL_RESTORE_H
#define SL_RESTORE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/sluice.pb-c.h"
#include "taskmanager/operators/operator.h"

/* What a restore reads (all borrowed). */
typedef struct sl_restore_chain {
    sl_op *const *ops;    /* the chain, head first */
    int nops;
    int subtask, parallelism, max_parallelism;
    const Sluice__CheckpointMetadata *md; /* the checkpoint */
    const char *dir;            /* its folder */
    const char *failure;        /* the task's failure text (an operator that fails sets
                                   it): quoted in err, "" if none */
} sl_restore_chain;

/* Restores every operator of c that has state. On success *bytes and
 * *files say how much was read. On error writes the reason to err. */
int sl_restore_run(const sl_restore_chain *c, uint64_t *bytes, int *files, char *err,
                   size_t errlen);

#endif
