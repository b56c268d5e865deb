/* Frame headers and their wire form; see frame.h. */
#include "taskmanager/network/frame.h"

#include <string.h>

#include "common/bytes.h"
#include "common/status.h"
#include "common/util.h"

/* Offsets of the header's fields (frame.h gives the layout). */
#define FRAME_OFF_MAGIC 0
#define FRAME_OFF_KIND 4 /* then 3 bytes of 0 */
#define FRAME_OFF_JOB 8
#define FRAME_OFF_ATTEMPT (FRAME_OFF_JOB + SL_JOB_ID_LEN)
#define FRAME_OFF_TOKEN (FRAME_OFF_ATTEMPT + 4)
#define FRAME_OFF_PROD_STAGE (FRAME_OFF_TOKEN + SL_FRAME_TOKEN_LEN)
#define FRAME_OFF_CONS_STAGE (FRAME_OFF_PROD_STAGE + 2)
#define FRAME_OFF_SRC (FRAME_OFF_CONS_STAGE + 2)
#define FRAME_OFF_DST (FRAME_OFF_SRC + 2)
#define FRAME_OFF_SEQ (FRAME_OFF_DST + 2)
_Static_assert(FRAME_OFF_SEQ + 8 == SL_FRAME_HDR_LEN, "the header ends with seq");

int sl_frame_parse(const uint8_t *buf, size_t len, sl_frame_hdr *h, const uint8_t **payload,
                   size_t *plen)
{
    if (len < SL_FRAME_HDR_LEN || sl_get_le32(buf + FRAME_OFF_MAGIC) != SL_FRAME_MAGIC)
        return SL_EPROTO;
    h->kind = buf[FRAME_OFF_KIND];
    if (h->kind != SL_FRAME_DATA && h->kind != SL_FRAME_CREDIT)
        return SL_EPROTO;
    memcpy(h->job, buf + FRAME_OFF_JOB, SL_JOB_ID_LEN);
    h->job[SL_JOB_ID_LEN] = '\0';
    h->attempt = sl_get_le32(buf + FRAME_OFF_ATTEMPT);
    memcpy(h->token, buf + FRAME_OFF_TOKEN, SL_FRAME_TOKEN_LEN);
    h->prod_stage = sl_get_le16(buf + FRAME_OFF_PROD_STAGE);
    h->cons_stage = sl_get_le16(buf + FRAME_OFF_CONS_STAGE);
    h->src = sl_get_le16(buf + FRAME_OFF_SRC);
    h->dst = sl_get_le16(buf + FRAME_OFF_DST);
    h->seq = sl_get_le64(buf + FRAME_OFF_SEQ);
    *payload = buf + SL_FRAME_HDR_LEN;
    *plen = len - SL_FRAME_HDR_LEN;
    return SL_OK;
}

int sl_frame_build(const sl_frame_hdr *h, const uint8_t *payload, size_t plen, nng_msg **out)
{
    nng_msg *m;
    if (nng_msg_alloc(&m, SL_FRAME_HDR_LEN + plen) != 0)
        return SL_ENOMEM;
    uint8_t *b = nng_msg_body(m);
    memset(b, 0, SL_FRAME_HDR_LEN);
    sl_put_le32(b + FRAME_OFF_MAGIC, SL_FRAME_MAGIC);
    b[FRAME_OFF_KIND] = h->kind;
    memcpy(b + FRAME_OFF_JOB, h->job, SL_JOB_ID_LEN);
    sl_put_le32(b + FRAME_OFF_ATTEMPT, h->attempt);
    memcpy(b + FRAME_OFF_TOKEN, h->token, SL_FRAME_TOKEN_LEN);
    sl_put_le16(b + FRAME_OFF_PROD_STAGE, h->prod_stage);
    sl_put_le16(b + FRAME_OFF_CONS_STAGE, h->cons_stage);
    sl_put_le16(b + FRAME_OFF_SRC, h->src);
    sl_put_le16(b + FRAME_OFF_DST, h->dst);
    sl_put_le64(b + FRAME_OFF_SEQ, h->seq);
    if (plen > 0)
        memcpy(b + SL_FRAME_HDR_LEN, payload, plen);
    *out = m;
    return SL_OK;
}

int sl_frame_token_ok(const sl_frame_hdr *h, const uint8_t token[SL_FRAME_TOKEN_LEN])
{
    return sl_ct_equal(h->token, token, SL_FRAME_TOKEN_LEN);
}
