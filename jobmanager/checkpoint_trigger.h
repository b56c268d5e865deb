/* When a periodic or final checkpoint is due, and the coordinator's calls
 * to taskmanagers: TriggerCheckpoint to the taskmanagers hosting a source
 * task of the current attempt, NotifyCheckpoint{complete|aborted} to the
 * job's deployed ones. The calls go through the view's send hook; they are
 * asynchronous and their outcomes come back through sl_trigger_outcome on
 * a later round, judged against the record as it is then.
 *
 * Place: called by checkpoint_coordinator.c; calls checkpoint_record.c. Loop thread,
 * jm->mu held (released around mkdir through the view's hooks) unless
 * noted. */
#ifndef SL_CHECKPOINT_TRIGGER_H
#define SL_CHECKPOINT_TRIGGER_H

#include <stdint.h>

#include "jobmanager/checkpoint_coordinator.h"

/* Creates the periodic or final checkpoint when one is due. */
void sl_trigger_maybe(sl_coord *cc, const sl_coord_view *v);
/* 1 while a savepoint is pending, or a stop-with-savepoint of attempt
 * completed: no other checkpoint starts then. A source keeps only the
 * newest trigger in its mailbox, so a checkpoint right behind a savepoint
 * could hide the savepoint's trigger; after a stop the sources end (and
 * decline anything newer). Any thread. */
int sl_trigger_savepoint_blocks(const sl_coord *cc, uint32_t attempt);
/* Sends every PENDING checkpoint not sent yet, oldest first: creates its
 * folder and triggers the sources' taskmanagers; failures abort it. */
void sl_trigger_send_unsent(sl_coord *cc, sl_coord_view *v);
/* NotifyCheckpoint (complete, else aborted) to the job's deployed
 * taskmanagers while the job runs attempt; returns how many could not be
 * told. */
int sl_trigger_notify(sl_coord *cc, const sl_coord_view *v, uint64_t id, uint32_t attempt,
                      int complete);
/* An ended trigger or notify call that failed or was refused. */
void sl_trigger_outcome(sl_coord *cc, const sl_coord_view *v, const sl_tmcall_outcome *o);

#endif
