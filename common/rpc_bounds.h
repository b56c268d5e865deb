/* Bounds of control-plane requests, checked on the wire before unpacking.
 *
 * protobuf-c's unpack allocates a struct for every element of a repeated
 * field, and a scan record for every field on the wire, before anyone can
 * look at the message: a 60 MB Heartbeat of empty TaskMetrics cost the
 * jobmanager 3.7 GB and 6 s. sl_rpc_check_request walks the frame's wire
 * format first (every tag, varint and length checked; nesting follows the
 * generated descriptors, depth-bounded) and rejects it, with a reason, when
 *   - the Request envelope has no body, more than one, or a body of a kind
 *     this daemon does not serve;
 *   - the frame is larger than its kind allows: taskmanager messages and
 *     client queries have limits far below rpc.max-message-size, which only
 *     submits and deploys (job file, UDF libraries) need;
 *   - a repeated field holds more elements than the message can hold in a
 *     real cluster (tasks per taskmanager, tasks per job, stages per job:
 *     the constants below);
 *   - a singular field appears twice, there are more than
 *     SL_RPC_MAX_UNKNOWN_FIELDS unknown fields, or the wire format is broken.
 * A frame that passes unpacks into memory linear in its size. */
#ifndef SL_RPC_BOUNDS_H
#define SL_RPC_BOUNDS_H

#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"
#include "common/jobfile.h"

/* ---- real bounds of a cluster */
#define SL_RPC_MAX_CHAINS SL_MAX_STAGES /* a slot runs one subtask of each chain of its job */
/* Attempts of one job a taskmanager may run at once: the next attempt can be
 * deployed while tasks of the previous one are still being cancelled. */
#define SL_RPC_TM_ATTEMPTS 2
/* Tasks of one attempt on one taskmanager, and tasks it runs at all. */
#define SL_RPC_MAX_TM_ATTEMPT_TASKS (SL_MAX_TM_SLOTS * SL_RPC_MAX_CHAINS)
#define SL_RPC_MAX_TM_TASKS (SL_RPC_MAX_TM_ATTEMPT_TASKS * SL_RPC_TM_ATTEMPTS)
#define SL_RPC_MAX_JOB_TASKS (SL_RPC_MAX_CHAINS * SL_MAX_PARALLELISM)
#define SL_RPC_MAX_STATE_HANDLES SL_MAX_STAGES /* one ack: a file per stage of the chain */
#define SL_RPC_MAX_UDF_LIBRARIES SL_MAX_STAGES /* a job: one library per stage at most */
#define SL_RPC_MAX_UNKNOWN_FIELDS 16 /* per frame: room for fields of a newer peer */
#define SL_RPC_SCAN_MAX_DEPTH 8      /* messages inside messages (sluice.proto needs 3) */

/* ---- frame size per kind of request */
/* Client queries and commands that carry ids and paths, not a job file. */
#define SL_RPC_QUERY_MAX_MSG ((size_t)64 << 10)
/* Taskmanager messages but the heartbeat: registration, task state (a
 * failure cause of at most 1 KiB), checkpoint acks (64 state handles of a
 * few hundred bytes). */
#define SL_RPC_TM_MAX_MSG ((size_t)1 << 20)
/* One TaskMetrics element on the wire with a 32-digit job id is 81 bytes. */
#define SL_RPC_TASK_METRICS_MAX_WIRE 96
/* A heartbeat with the metrics of SL_RPC_MAX_TM_TASKS tasks: 12 MiB + 64 KiB. */
#define SL_RPC_HEARTBEAT_MAX_MSG                                                                \
    ((size_t)SL_RPC_MAX_TM_TASKS * SL_RPC_TASK_METRICS_MAX_WIRE + SL_RPC_QUERY_MAX_MSG)

/* Which requests a server answers: anything else is rejected unread. */
enum sl_rpc_role {
    SL_RPC_SERVE_ALL = 0,
    SL_RPC_SERVE_JOBMANAGER = 1,  /* taskmanager and CLI requests */
    SL_RPC_SERVE_TASKMANAGER = 2, /* deploy, start, cancel, checkpoints */
};

/* The body case (Request field number) of the frame's first body field,
 * read from its envelope without unpacking; 0 if none can be found. O(1)
 * in the frame's size: fit for an nng callback. */
int sl_rpc_peek_kind(const uint8_t *buf, size_t len);

/* 1 if requests of this kind may take long to serve (job files, UDF
 * libraries, disk work): servers keep them away from the worker that
 * answers heartbeats. Unknown kinds are cheap (they are rejected at once). */
int sl_rpc_kind_heavy(int kind);

/* Name of a request kind as in sluice.proto ("heartbeat"), or "unknown". */
const char *sl_rpc_kind_name(int kind);

/* Largest frame accepted for a kind: max_msg (rpc.max-message-size) for
 * submits and deploys, the limits above for the others. */
size_t sl_rpc_kind_max_bytes(int kind, size_t max_msg);

/* Checks a whole request frame (see the top of this file) for a server of
 * role with frames up to max_msg. SL_OK, or SL_EINVAL with the reason in
 * err. *kind (may be NULL) receives the body case found (0 if none). */
int sl_rpc_check_request(int role, size_t max_msg, const uint8_t *buf, size_t len, int *kind,
                         char *err, size_t errlen);

/* Most elements a repeated field of a request may hold, 0 if the field is
 * not listed (tests use it to prove every repeated field has a bound). */
uint32_t sl_rpc_repeated_limit(const char *message_name, uint32_t field);

#endif
