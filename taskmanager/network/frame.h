/* Data frames: the header every message of the data plane starts with,
 * and its wire form. Prefix sl_frame_ / SL_FRAME_.
 *
 * Place: the bottom of network/; it calls nothing of the taskmanager.
 * Called by the output channels (output.c), the input gate's credit
 * grants (input_gate.c), the taskmanager's dispatch of received frames
 * (task_manager.c, job_run.c) and the task loop, which decodes a DATA
 * payload's events (task.c).
 *
 * Frame (little-endian), SL_FRAME_HDR_LEN bytes of header:
 *   u32 magic "SLD2" (2: with the data token) | u8 kind | u8[3] 0 | char job[SL_JOB_ID_LEN] |
 *   u32 attempt | u8 token[SL_FRAME_TOKEN_LEN] | u16 prod_stage |
 *   u16 cons_stage | u16 src | u16 dst | u64 seq (DATA) or credits (CREDIT)
 * The token is the attempt's data token (DeployTasks.data_token, random,
 * chosen by the jobmanager): a run drops any frame, DATA or CREDIT, whose
 * token is not its own (job_run.c), so a peer that can connect to the data
 * port but was not told the token cannot inject records or credits.
 * then for DATA the payload: events 'R' row | 'E' end of input |
 * 'B' barrier (barrier.h) | 'W' watermark (i64 ms, in order with the
 * rows). A barrier is always the last event of its frame (the producer
 * flushes right after it), so a blocked channel never holds a
 * half-processed frame.
 *
 * Credits: a consumer grants each input channel at most
 * SL_FRAME_MAX_CREDITS credits (the window of both channel ends). */
#ifndef SL_FRAME_H
#define SL_FRAME_H

#include <nng/nng.h>
#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"

#define SL_FRAME_MAGIC 0x32444c53u /* "SLD2" */
#define SL_FRAME_TOKEN_LEN 16      /* the attempt's data token */
#define SL_FRAME_HDR_LEN 76        /* header bytes, payload after them */
#define SL_FRAME_MAX_CREDITS 1024

/* Frame kinds (the header's kind byte). */
enum { SL_FRAME_DATA = 1, SL_FRAME_CREDIT = 2 };

/* Events of a DATA payload (their first byte). */
enum {
    SL_FRAME_EV_ROW = 'R',
    SL_FRAME_EV_END = 'E',
    SL_FRAME_EV_BARRIER = 'B',
    SL_FRAME_EV_WATERMARK = 'W'
};
#define SL_FRAME_WATERMARK_LEN 8 /* a watermark event's i64 event time (ms) */

/* A frame's header; it also names a channel (job, attempt, stages, src,
 * dst). job is NUL-terminated. */
typedef struct sl_frame_hdr {
    uint8_t kind;
    char job[SL_JOB_ID_LEN + 1];
    uint32_t attempt;
    uint8_t token[SL_FRAME_TOKEN_LEN];
    uint16_t prod_stage, cons_stage, src, dst;
    uint64_t seq;
} sl_frame_hdr;

/* Parses the header of a frame of len bytes; payload and plen give the
 * rest (pointing into buf). SL_EPROTO when short, of another magic or of
 * an unknown kind. */
int sl_frame_parse(const uint8_t *buf, size_t len, sl_frame_hdr *h, const uint8_t **payload,
                   size_t *plen);
/* Builds a frame in a new nng message (*out owned by caller). */
int sl_frame_build(const sl_frame_hdr *h, const uint8_t *payload, size_t plen, nng_msg **out);
/* 1 if h carries token (constant time in the token's bytes). */
int sl_frame_token_ok(const sl_frame_hdr *h, const uint8_t token[SL_FRAME_TOKEN_LEN]);

#endif
