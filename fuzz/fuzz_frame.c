/* Fuzz target: a data-plane frame as a task reads it: the header
 * (sl_frame_parse, taskmanager/network/frame.c), then for DATA every event
 * of the payload in the task loop's order (taskmanager/task.c
 * process_frame): 'R' rows (sl_row_decode, common/row.c), 'W' watermarks
 * (8 bytes), 'B' a barrier with its options (sl_barrier_decode,
 * taskmanager/network/barrier.c; the last event of a frame), 'E' end of
 * input; any other byte ends the frame as malformed.
 *
 * Oracles: a decoded row encodes back to the very bytes it came from (the
 * wire form is canonical), and so does a decoded barrier. */
#include "fuzz/fuzz.h"

#include "common/bytes.h"
#include "common/row.h"
#include "common/status.h"
#include "taskmanager/network/barrier.h"
#include "taskmanager/network/frame.h"

static void check_row(const uint8_t *p, size_t used, const sl_row *row)
{
    static uint8_t back[(size_t)SL_MAX_FIELDS * (SL_MAX_STRING + 16) / 16];
    size_t n;
    int rv = sl_row_encode(row, back, sizeof(back), &n);
    if (rv == SL_ENOSPC)
        return; /* strings longer than the check's buffer */
    FUZZ_CHECK(rv == SL_OK && n == used && memcmp(back, p, n) == 0);
}

static void check_barrier(const uint8_t *p, size_t used, const sl_barrier *b)
{
    static uint8_t back[SL_BARRIER_MAX_LEN];
    size_t n;
    FUZZ_CHECK(sl_barrier_encode(b, back, sizeof(back), &n) == SL_OK);
    FUZZ_CHECK(n == used && memcmp(back, p, n) == 0);
}

/* The events of a DATA payload, as process_frame walks them. */
static void walk_events(const uint8_t *p, size_t len)
{
    static sl_row row;
    static sl_barrier b;
    size_t off = 0;
    while (off < len) {
        uint8_t tag = p[off++];
        size_t used;
        if (tag == SL_FRAME_EV_END)
            return;
        if (tag == SL_FRAME_EV_BARRIER) {
            if (sl_barrier_decode(p + off, len - off, &b, &used) == SL_OK) {
                FUZZ_CHECK(used <= len - off);
                check_barrier(p + off, used, &b);
            }
            return;
        }
        if (tag == SL_FRAME_EV_WATERMARK) {
            if (len - off < SL_FRAME_WATERMARK_LEN)
                return;
            (void)sl_get_le64(p + off);
            off += SL_FRAME_WATERMARK_LEN;
            continue;
        }
        if (tag != SL_FRAME_EV_ROW || sl_row_decode(p + off, len - off, &row, &used) != SL_OK)
            return;
        FUZZ_CHECK(used >= 1 && used <= len - off);
        check_row(p + off, used, &row);
        off += used;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sl_frame_hdr h;
    const uint8_t *payload;
    size_t plen;
    if (sl_frame_parse(data, size, &h, &payload, &plen) != SL_OK)
        return 0;
    FUZZ_CHECK(payload == data + SL_FRAME_HDR_LEN && plen == size - SL_FRAME_HDR_LEN);
    FUZZ_CHECK(strlen(h.job) <= SL_JOB_ID_LEN);
    if (h.kind == SL_FRAME_DATA)
        walk_events(payload, plen);
    return 0;
}
