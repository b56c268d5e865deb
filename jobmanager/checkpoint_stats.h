/* Checkpoint statistics for the CLI (`sluice checkpoints`, `sluice info`).
 *
 * Place: called by rpc_handlers.c; calls checkpoint_record.c and
 * checkpoint_retention.c. jm->mu held; replies in the request's arena. */
#ifndef SL_CHECKPOINT_STATS_H
#define SL_CHECKPOINT_STATS_H

#include "common/util.h"
#include "jobmanager/checkpoint_coordinator.h"

/* Fills the checkpoint statistics of v's job. SL_ENOMEM. */
int sl_ckstats_reply(const sl_coord *cc, const sl_coord_view *v, sl_arena *a,
                     Sluice__CheckpointStatsReply **out);

#endif
