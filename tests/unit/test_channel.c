/* Data-plane invariants: frames parse back and malformed ones are refused;
 * an input gate detects sequence gaps (lost frames) and credit overflow,
 * skips blocked channels (barrier alignment), ends when every channel
 * ended, and returns at once when interrupted; a producer refuses credit
 * grants beyond the consumer's window. Runs in check's forked
 * child: nng message and inproc socket calls only there. */
#include <check.h>
#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <stdlib.h>
#include <string.h>

#include "common/status.h"
#include "taskmanager/network/frame.h"
#include "taskmanager/network/input_gate.h"
#include "taskmanager/network/output.h"
#include "taskmanager/network/peer.h"

static sl_frame_hdr hdr(uint16_t src, uint64_t seq)
{
    sl_frame_hdr h;
    memset(&h, 0, sizeof(h));
    h.kind = SL_FRAME_DATA;
    memcpy(h.job, "0123456789abcdef0123456789abcdef", 32);
    h.attempt = 3;
    h.prod_stage = 1;
    h.cons_stage = 2;
    h.src = src;
    h.dst = 0;
    h.seq = seq;
    return h;
}

static nng_msg *frame(uint16_t src, uint64_t seq)
{
    sl_frame_hdr h = hdr(src, seq);
    nng_msg *m = NULL;
    ck_assert_int_eq(sl_frame_build(&h, (const uint8_t *)"E", 1, &m), SL_OK);
    return m;
}

/* A gate of n channels whose credits go to an inproc pull socket. */
typedef struct fixture {
    nng_socket pull;
    sl_peer *peer;
    sl_in_gate gate;
} fixture;

static void setup_gate(fixture *f, int n, uint32_t cap)
{
    ck_assert_int_eq(nng_pull0_open(&f->pull), 0);
    ck_assert_int_eq(nng_listen(f->pull, "inproc://test-credits", NULL, 0), 0);
    ck_assert_int_eq(sl_peer_open("inproc://test-credits", 1 << 20, &f->peer), SL_OK);
    ck_assert_int_eq(sl_in_gate_init(&f->gate, n), SL_OK);
    for (int i = 0; i < n; i++) {
        sl_in_channel *ch = calloc(1, sizeof(*ch));
        ch->gate = &f->gate;
        ch->peer = f->peer;
        ch->cap = cap;
        ch->id = hdr((uint16_t)i, 0);
        f->gate.ch[i] = ch;
    }
}

static void teardown_gate(fixture *f)
{
    sl_in_gate_destroy(&f->gate);
    sl_peer_close(f->peer);
    nng_close(f->pull);
}

START_TEST(test_frame_round_trip)
{
    nng_msg *m = frame(7, 42);
    sl_frame_hdr h;
    const uint8_t *p;
    size_t n;
    ck_assert_int_eq(sl_frame_parse(nng_msg_body(m), nng_msg_len(m), &h, &p, &n), SL_OK);
    ck_assert_int_eq(h.kind, SL_FRAME_DATA);
    ck_assert_str_eq(h.job, "0123456789abcdef0123456789abcdef");
    ck_assert_uint_eq(h.attempt, 3);
    ck_assert_uint_eq(h.src, 7);
    ck_assert_uint_eq(h.seq, 42);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(p[0], 'E');
    nng_msg_free(m);
}
END_TEST

START_TEST(test_malformed_frames_are_refused)
{
    nng_msg *m = frame(0, 0);
    uint8_t *b = nng_msg_body(m);
    sl_frame_hdr h;
    const uint8_t *p;
    size_t n;
    for (size_t len = 0; len < SL_FRAME_HDR_LEN; len++)
        ck_assert_int_eq(sl_frame_parse(b, len, &h, &p, &n), SL_EPROTO);
    b[0] ^= 0xff; /* magic */
    ck_assert_int_eq(sl_frame_parse(b, nng_msg_len(m), &h, &p, &n), SL_EPROTO);
    b[0] ^= 0xff;
    b[4] = 9; /* kind */
    ck_assert_int_eq(sl_frame_parse(b, nng_msg_len(m), &h, &p, &n), SL_EPROTO);
    nng_msg_free(m);
}
END_TEST

START_TEST(test_frames_come_out_in_order_round_robin)
{
    fixture f;
    setup_gate(&f, 2, 4);
    sl_in_channel_push(f.gate.ch[0], 0, frame(0, 0));
    sl_in_channel_push(f.gate.ch[0], 1, frame(0, 1));
    sl_in_channel_push(f.gate.ch[1], 0, frame(1, 0));
    sl_in_channel *ch;
    nng_msg *m;
    uint16_t order[3];
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(sl_in_gate_next(&f.gate, 100, &ch, &m), SL_OK);
        sl_frame_hdr h;
        const uint8_t *p;
        size_t n;
        sl_frame_parse(nng_msg_body(m), nng_msg_len(m), &h, &p, &n);
        order[i] = h.src;
        nng_msg_free(m);
    }
    ck_assert_uint_eq(order[0], 0);
    ck_assert_uint_eq(order[1], 1);
    ck_assert_uint_eq(order[2], 0);
    ck_assert_int_eq(sl_in_gate_next(&f.gate, 10, &ch, &m), SL_ETIMEDOUT);
    teardown_gate(&f);
}
END_TEST

START_TEST(test_sequence_gap_fails_the_gate)
{
    fixture f;
    setup_gate(&f, 1, 4);
    sl_in_channel_push(f.gate.ch[0], 0, frame(0, 0));
    sl_in_channel_push(f.gate.ch[0], 2, frame(0, 2)); /* frame 1 was lost */
    sl_in_channel *ch;
    nng_msg *m;
    ck_assert_int_eq(sl_in_gate_next(&f.gate, 100, &ch, &m), SL_EPROTO);
    ck_assert_ptr_nonnull(strstr(f.gate.error, "sequence gap"));
    teardown_gate(&f);
}
END_TEST

START_TEST(test_credit_overflow_fails_the_gate)
{
    fixture f;
    setup_gate(&f, 1, 2);
    for (uint64_t i = 0; i < 3; i++)
        sl_in_channel_push(f.gate.ch[0], i, frame(0, i));
    sl_in_channel *ch;
    nng_msg *m;
    ck_assert_int_eq(sl_in_gate_next(&f.gate, 100, &ch, &m), SL_EPROTO);
    ck_assert_ptr_nonnull(strstr(f.gate.error, "credit overflow"));
    teardown_gate(&f);
}
END_TEST

START_TEST(test_blocked_channel_is_skipped_until_released)
{
    fixture f;
    setup_gate(&f, 2, 4);
    f.gate.ch[0]->blocked = 1;
    sl_in_channel_push(f.gate.ch[0], 0, frame(0, 0));
    sl_in_channel *ch;
    nng_msg *m;
    ck_assert_int_eq(sl_in_gate_next(&f.gate, 20, &ch, &m), SL_ETIMEDOUT);
    sl_in_channel_push(f.gate.ch[1], 0, frame(1, 0));
    ck_assert_int_eq(sl_in_gate_next(&f.gate, 100, &ch, &m), SL_OK);
    ck_assert_ptr_eq(ch, f.gate.ch[1]);
    nng_msg_free(m);
    f.gate.ch[0]->blocked = 0;
    ck_assert_int_eq(sl_in_gate_next(&f.gate, 100, &ch, &m), SL_OK);
    ck_assert_ptr_eq(ch, f.gate.ch[0]);
    nng_msg_free(m);
    teardown_gate(&f);
}
END_TEST

START_TEST(test_gate_ends_when_every_channel_ended)
{
    fixture f;
    setup_gate(&f, 2, 4);
    f.gate.ch[0]->finished = 1;
    sl_in_channel *ch;
    nng_msg *m;
    ck_assert_int_eq(sl_in_gate_next(&f.gate, 20, &ch, &m), SL_ETIMEDOUT);
    f.gate.ch[1]->finished = 1;
    ck_assert_int_eq(sl_in_gate_next(&f.gate, 20, &ch, &m), SL_ECLOSED);
    teardown_gate(&f);
}
END_TEST

START_TEST(test_interrupt_returns_at_once)
{
    fixture f;
    setup_gate(&f, 1, 4);
    atomic_int flag = 1;
    f.gate.interrupt = &flag;
    sl_in_channel *ch;
    nng_msg *m;
    ck_assert_int_eq(sl_in_gate_next(&f.gate, 60000, &ch, &m), SL_ETIMEDOUT);
    teardown_gate(&f);
}
END_TEST

START_TEST(test_released_frames_grant_credit_back)
{
    fixture f;
    setup_gate(&f, 1, 4);
    ck_assert_int_eq(sl_in_gate_open(&f.gate, NULL), SL_OK);
    nng_msg *c = NULL;
    ck_assert_int_eq(nng_recvmsg(f.pull, &c, 0), 0);
    sl_frame_hdr h;
    const uint8_t *p;
    size_t n;
    ck_assert_int_eq(sl_frame_parse(nng_msg_body(c), nng_msg_len(c), &h, &p, &n), SL_OK);
    ck_assert_int_eq(h.kind, SL_FRAME_CREDIT);
    ck_assert_uint_eq(h.seq, 4); /* the initial credits */
    nng_msg_free(c);
    for (uint64_t i = 0; i < 2; i++) {
        sl_in_channel_push(f.gate.ch[0], i, frame(0, i));
        sl_in_channel *ch;
        nng_msg *m;
        ck_assert_int_eq(sl_in_gate_next(&f.gate, 100, &ch, &m), SL_OK);
        ck_assert_int_eq(sl_in_gate_release(&f.gate, ch, m, NULL), SL_OK);
    }
    ck_assert_int_eq(nng_recvmsg(f.pull, &c, 0), 0);
    sl_frame_parse(nng_msg_body(c), nng_msg_len(c), &h, &p, &n);
    ck_assert_uint_eq(h.seq, 2); /* granted back after half the window */
    nng_msg_free(c);
    teardown_gate(&f);
}
END_TEST

/* A producer end of window `cap` whose frames go to an inproc pull socket. */
typedef struct out_fixture {
    nng_socket pull;
    sl_peer *peer;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sl_out_channel ch;
    atomic_int cancel;
} out_fixture;

static void setup_out(out_fixture *f, uint32_t cap)
{
    memset(f, 0, sizeof(*f));
    ck_assert_int_eq(nng_pull0_open(&f->pull), 0);
    ck_assert_int_eq(nng_listen(f->pull, "inproc://test-out", NULL, 0), 0);
    ck_assert_int_eq(sl_peer_open("inproc://test-out", 1 << 20, &f->peer), SL_OK);
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    ck_assert_int_eq(sl_out_channel_init(&f->ch, 64, cap), SL_OK);
    f->ch.peer = f->peer;
    f->ch.mu = &f->mu;
    f->ch.cv = &f->cv;
    f->ch.id = hdr(0, 0);
}

static void teardown_out(out_fixture *f)
{
    sl_out_channel_destroy(&f->ch);
    sl_peer_close(f->peer);
    nng_close(f->pull);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
}

/* Sends k frames (each spends a credit) and receives them. */
static void send_frames(out_fixture *f, int k)
{
    for (int i = 0; i < k; i++) {
        nng_msg *m = NULL;
        ck_assert_int_eq(sl_out_channel_flush(&f->ch, &f->cancel), SL_OK);
        ck_assert_int_eq(nng_recvmsg(f->pull, &m, 0), 0);
        nng_msg_free(m);
    }
}

START_TEST(test_credit_grants_within_the_window)
{
    out_fixture f;
    setup_out(&f, 4);
    ck_assert_int_eq(sl_out_channel_grant(&f.ch, 4), SL_OK); /* the initial window */
    send_frames(&f, 3);
    ck_assert_int_eq(sl_out_channel_grant(&f.ch, 3), SL_OK); /* back to 4 held */
    ck_assert_uint_eq(f.ch.credits, 4);
    ck_assert_int_eq(sl_out_channel_grant(&f.ch, 0), SL_OK);
    send_frames(&f, 4);
    ck_assert_uint_eq(f.ch.credits, 0);
    ck_assert_int_eq(f.ch.failed, 0);
    teardown_out(&f);
}
END_TEST

/* Grants that would wrap the credit count, or just exceed the window. */
static void bad_grant(uint32_t cap, uint64_t first, int spend, uint64_t n)
{
    out_fixture f;
    setup_out(&f, cap);
    ck_assert_int_eq(sl_out_channel_grant(&f.ch, first), SL_OK);
    send_frames(&f, spend);
    uint32_t held = f.ch.credits;
    ck_assert_int_eq(sl_out_channel_grant(&f.ch, n), SL_EPROTO);
    ck_assert_uint_eq(f.ch.credits, held); /* never added, never wrapped */
    ck_assert_msg(strstr(f.ch.error, "more than credits-per-channel") != NULL, "%s", f.ch.error);
    ck_assert_ptr_nonnull(strstr(f.ch.error, "inproc://test-out"));
    /* the channel stays failed: the next flush says so, even with credits */
    ck_assert_int_eq(sl_out_channel_flush(&f.ch, &f.cancel), SL_EPROTO);
    ck_assert_int_eq(sl_out_channel_grant(&f.ch, 1), SL_EPROTO);
    teardown_out(&f);
}

START_TEST(test_bad_credit_grant_fails_the_channel)
{
    bad_grant(4, 4, 0, UINT64_MAX);                 /* 4 + n wraps to 3 */
    bad_grant(4, 4, 1, UINT64_MAX - 2);             /* 3 + n wraps to 0 */
    bad_grant(4, 4, 0, (uint64_t)UINT32_MAX + 1);   /* truncates to 0 */
    bad_grant(4, 4, 2, 3);                          /* 2 held, 5 > 4 */
    bad_grant(4, 2, 0, 3);                          /* 2 held, 5 > 4 */
    bad_grant(1024, 1024, 0, 1);                    /* past SL_FRAME_MAX_CREDITS */
    bad_grant(4, 4, 0, (uint64_t)SL_FRAME_MAX_CREDITS - 4); /* within the ring, past the window */
}
END_TEST

START_TEST(test_out_channel_window_is_checked)
{
    sl_out_channel ch;
    memset(&ch, 0, sizeof(ch));
    ck_assert_int_eq(sl_out_channel_init(&ch, 64, 0), SL_EINVAL);
    ck_assert_int_eq(sl_out_channel_init(&ch, 64, SL_FRAME_MAX_CREDITS + 1), SL_EINVAL);
    ck_assert_int_eq(sl_out_channel_init(&ch, 64, SL_FRAME_MAX_CREDITS), SL_OK);
    sl_out_channel_destroy(&ch);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("channel");
    TCase *tc = tcase_create("gate");
    tcase_add_test(tc, test_frame_round_trip);
    tcase_add_test(tc, test_malformed_frames_are_refused);
    tcase_add_test(tc, test_frames_come_out_in_order_round_robin);
    tcase_add_test(tc, test_sequence_gap_fails_the_gate);
    tcase_add_test(tc, test_credit_overflow_fails_the_gate);
    tcase_add_test(tc, test_blocked_channel_is_skipped_until_released);
    tcase_add_test(tc, test_gate_ends_when_every_channel_ended);
    tcase_add_test(tc, test_interrupt_returns_at_once);
    tcase_add_test(tc, test_released_frames_grant_credit_back);
    tcase_add_test(tc, test_credit_grants_within_the_window);
    tcase_add_test(tc, test_bad_credit_grant_fails_the_channel);
    tcase_add_test(tc, test_out_channel_window_is_checked);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
