/* The taskmanager: registers with the jobmanager and heartbeats, serves
 * deploy/start/cancel over RPC, owns the data plane and the job runs, and
 * reports every task state change to the jobmanager. */
#ifndef SL_TASK_MANAGER_H
#define SL_TASK_MANAGER_H

#include "common/config.h"
#include "proto/sluice.pb-c.h"
#include "taskmanager/network/barrier.h"

typedef struct sl_tm sl_tm;

/* Starts everything (cfg borrowed, must outlive the tm). */
int sl_tm_start(const sl_config *cfg, sl_tm **out);
/* The barrier a TriggerCheckpoint asks for, checked as the handler checks
 * it before acting: SL_EINVAL for a savepoint without an absolute folder of
 * 1 .. SL_BARRIER_DIR_MAX bytes (b is then partly filled). Also called by
 * the fuzz target fuzz/fuzz_rpc.c. */
int sl_tm_trigger_barrier(const Sluice__TriggerCheckpoint *tc, sl_barrier *b);
/* Cancels all tasks, waits for them (bounded), stops, frees. */
void sl_tm_stop(sl_tm *tm);

#endif
