/* The data plane's wire form, byte by byte: a frame header and a barrier
 * as taskmanagers of an earlier build wrote them. The offsets are written
 * out as numbers on purpose: renaming or regrouping the constants of
 * frame.h and barrier.h must not move a byte. */
#include <check.h>
#include <nng/nng.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "common/status.h"
#include "taskmanager/network/barrier.h"
#include "taskmanager/network/frame.h"

#define JOB "0123456789abcdef0123456789abcdef"

START_TEST(test_frame_header_layout)
{
    sl_frame_hdr h = {.kind = SL_FRAME_DATA, .attempt = 0x01020304u, .prod_stage = 0x0506,
                      .cons_stage = 0x0708, .src = 0x090a, .dst = 0x0b0c,
                      .seq = 0x1112131415161718ull};
    for (int i = 0; i < SL_FRAME_TOKEN_LEN; i++)
        h.token[i] = (uint8_t)(0xc0 + i);
    const uint8_t payload[3] = {'E', 0xaa, 0xbb};
    nng_msg *m;

    memcpy(h.job, JOB, 33);
    ck_assert_int_eq(sl_frame_build(&h, payload, sizeof(payload), &m), SL_OK);
    const uint8_t *b = nng_msg_body(m);
    ck_assert_uint_eq(nng_msg_len(m), 76 + sizeof(payload));
    ck_assert_uint_eq(SL_FRAME_HDR_LEN, 76);
    ck_assert_uint_eq(SL_FRAME_TOKEN_LEN, 16);
    ck_assert_mem_eq(b, "SLD2", 4);
    ck_assert_uint_eq(b[4], 1);
    ck_assert_uint_eq(b[5] | b[6] | b[7], 0);
    ck_assert_mem_eq(b + 8, JOB, 32);
    ck_assert_uint_eq(sl_get_le32(b + 40), 0x01020304u);
    for (int i = 0; i < 16; i++)
        ck_assert_uint_eq(b[44 + i], 0xc0 + i);
    ck_assert_uint_eq(sl_get_le16(b + 60), 0x0506);
    ck_assert_uint_eq(sl_get_le16(b + 62), 0x0708);
    ck_assert_uint_eq(sl_get_le16(b + 64), 0x090a);
    ck_assert_uint_eq(sl_get_le16(b + 66), 0x0b0c);
    ck_assert_uint_eq(sl_get_le64(b + 68), 0x1112131415161718ull);
    ck_assert_mem_eq(b + 76, payload, sizeof(payload));

    sl_frame_hdr back;
    const uint8_t *p;
    size_t plen;
    ck_assert_int_eq(sl_frame_parse(b, nng_msg_len(m), &back, &p, &plen), SL_OK);
    ck_assert_str_eq(back.job, JOB);
    ck_assert_uint_eq(back.seq, h.seq);
    ck_assert_mem_eq(back.token, h.token, SL_FRAME_TOKEN_LEN);
    ck_assert(sl_frame_token_ok(&back, h.token));
    for (int i = 0; i < SL_FRAME_TOKEN_LEN; i++) {
        uint8_t other[SL_FRAME_TOKEN_LEN];
        memcpy(other, h.token, sizeof(other));
        other[i] ^= 0x01;
        ck_assert(!sl_frame_token_ok(&back, other));
    }
    ck_assert_uint_eq(plen, sizeof(payload));
    ck_assert_ptr_eq(p, b + 76);
    nng_msg_free(m);
}
END_TEST

START_TEST(test_frame_kinds_and_events)
{
    ck_assert_int_eq(SL_FRAME_DATA, 1);
    ck_assert_int_eq(SL_FRAME_CREDIT, 2);
    ck_assert_int_eq(SL_FRAME_EV_ROW, 'R');
    ck_assert_int_eq(SL_FRAME_EV_END, 'E');
    ck_assert_int_eq(SL_FRAME_EV_BARRIER, 'B');
    ck_assert_int_eq(SL_FRAME_EV_WATERMARK, 'W');
    ck_assert_int_eq(SL_FRAME_WATERMARK_LEN, 8);
    ck_assert_int_eq(SL_FRAME_MAX_CREDITS, 1024);
}
END_TEST

START_TEST(test_barrier_layout)
{
    sl_barrier b = {.id = 0x0102030405060708ull, .ts = 0x1112131415161718ll, .final = 1,
                    .kind = SL_BARRIER_KIND_SAVEPOINT_STOP};
    uint8_t out[SL_BARRIER_MAX_LEN];
    size_t len;

    strcpy(b.dir, "/sp");
    ck_assert_int_eq(sl_barrier_encode(&b, out, sizeof(out), &len), SL_OK);
    ck_assert_uint_eq(len, 17 + 2 + 3);
    ck_assert_uint_eq(sl_get_le64(out), 0x0102030405060708ull);
    ck_assert_uint_eq(sl_get_le64(out + 8), 0x1112131415161718ull);
    ck_assert_uint_eq(out[16], 1 | 2 | 4);
    ck_assert_uint_eq(sl_get_le16(out + 17), 3);
    ck_assert_mem_eq(out + 19, "/sp", 3);

    b.final = 0;
    b.kind = SL_BARRIER_KIND_SAVEPOINT;
    ck_assert_int_eq(sl_barrier_encode(&b, out, sizeof(out), &len), SL_OK);
    ck_assert_uint_eq(out[16], 2);

    b.kind = SL_BARRIER_KIND_CHECKPOINT;
    ck_assert_int_eq(sl_barrier_encode(&b, out, sizeof(out), &len), SL_OK);
    ck_assert_uint_eq(len, 17);
    ck_assert_uint_eq(out[16], 0);

    ck_assert_int_eq(SL_BARRIER_KIND_CHECKPOINT, 0);
    ck_assert_int_eq(SL_BARRIER_KIND_SAVEPOINT, 1);
    ck_assert_int_eq(SL_BARRIER_KIND_SAVEPOINT_STOP, 2);
    ck_assert_int_eq(SL_BARRIER_MAX_LEN, 17 + 2 + 4095);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("frame_wire");
    TCase *tc = tcase_create("layout");
    tcase_add_test(tc, test_frame_header_layout);
    tcase_add_test(tc, test_frame_kinds_and_events);
    tcase_add_test(tc, test_barrier_layout);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
