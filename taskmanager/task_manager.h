/* The taskmanager: registers with the jobmanager and heartbeats, serves
 * deploy/start/cancel over RPC, owns the data plane and the job runs, and
 * reports every task state change to the jobmanager. */
#ifndef SL_TASK_MANAGER_H
#define SL_TASK_MANAGER_H

#include "common/config.h"

typedef struct sl_tm sl_tm;

/* Starts everything (cfg borrowed, must outlive the tm). */
int sl_tm_start(const sl_config *cfg, sl_tm **out);
/* Cancels all tasks, waits for them (bounded), stops, frees. */
void sl_tm_stop(sl_tm *tm);

#endif
