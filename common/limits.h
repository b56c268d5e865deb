/* Sizes and bounds shared by more than one part or carried on the wire: one
 * definition each. A module that needs one of these includes this header
 * rather than writing the number. Constants of a single module stay in that
 * module. */
#ifndef SL_LIMITS_H
#define SL_LIMITS_H

/* ---- identifiers */
#define SL_JOB_ID_LEN 32      /* hex digits of a job id (Flink's JobID) */
#define SL_REQUEST_ID_BYTES 16 /* random bytes of a request id the CLI makes */
#define SL_REQUEST_ID_MAX 128 /* longest request id a daemon accepts */
#define SL_TM_ID_MAX 64       /* longest taskmanager id a daemon accepts */

/* ---- a job */
#define SL_MAX_STAGES 64               /* stages of one job file */
#define SL_MAX_PARALLELISM 32768       /* of a stage, and of max-parallelism */
#define SL_DEFAULT_MAX_PARALLELISM 128 /* key groups when the job file says none */

/* ---- a cluster */
#define SL_MAX_TM_SLOTS 1024 /* the maximum of taskmanager.numberOfTaskSlots */

#endif
