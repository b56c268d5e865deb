/* frame_inject: crafted data frames with a wrong data token for a running
 * job's channels (tests/integration/test_data_token.sh).
 *
 *   frame_inject URL JOBID ATTEMPT PROD CONS ROUNDS
 *       dials URL (tcp://host:port, a taskmanager's data port) with nng
 *       push0 and sends ROUNDS rounds; each round, for every channel of the
 *       edge PROD -> CONS between subtasks 0-1: a DATA frame (sequence
 *       number = the round, payload: an end-of-input event) and a CREDIT
 *       frame granting SL_FRAME_MAX_CREDITS + 1 credits, both of JOBID and
 *       ATTEMPT, with a random token. Accepted, either would fail a channel
 *       or end it early; the receiver must drop them all.
 *
 * Prints "sent=N failed=N"; exit 0 if every frame went out. */
#include <nng/nng.h>
#include <nng/protocol/pipeline0/push.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/bytes.h"
#include "common/util.h"
#include "taskmanager/network/frame.h"

#define SEND_TIMEOUT_MS 2000
#define DIAL_TIMEOUT_MS 10000
#define SUBTASKS 2
#define MAX_ROUNDS 100000
/* Header offsets (frame.h gives the layout; test_frame_wire.c pins it). */
#define OFF_KIND 4
#define OFF_JOB 8
#define OFF_ATTEMPT (OFF_JOB + SL_JOB_ID_LEN)
#define OFF_TOKEN (OFF_ATTEMPT + 4)
#define OFF_PROD (OFF_TOKEN + SL_FRAME_TOKEN_LEN)
#define OFF_CONS (OFF_PROD + 2)
#define OFF_SRC (OFF_CONS + 2)
#define OFF_DST (OFF_SRC + 2)
#define OFF_SEQ (OFF_DST + 2)
_Static_assert(OFF_SEQ + 8 == SL_FRAME_HDR_LEN, "the header ends with seq");

typedef struct target {
    const char *job;
    uint32_t attempt;
    uint16_t prod, cons;
} target;

/* A frame of t's channel src -> dst in b (SL_FRAME_HDR_LEN + 1 bytes). */
static size_t craft(uint8_t *b, const target *t, uint8_t kind, uint16_t src, uint16_t dst,
                    uint64_t seq)
{
    memset(b, 0, SL_FRAME_HDR_LEN);
    sl_put_le32(b, SL_FRAME_MAGIC);
    b[OFF_KIND] = kind;
    memcpy(b + OFF_JOB, t->job, SL_JOB_ID_LEN);
    sl_put_le32(b + OFF_ATTEMPT, t->attempt);
    if (getrandom(b + OFF_TOKEN, SL_FRAME_TOKEN_LEN, 0) != SL_FRAME_TOKEN_LEN)
        memset(b + OFF_TOKEN, 0x5a, SL_FRAME_TOKEN_LEN);
    sl_put_le16(b + OFF_PROD, t->prod);
    sl_put_le16(b + OFF_CONS, t->cons);
    sl_put_le16(b + OFF_SRC, src);
    sl_put_le16(b + OFF_DST, dst);
    sl_put_le64(b + OFF_SEQ, seq);
    if (kind == SL_FRAME_CREDIT)
        return SL_FRAME_HDR_LEN;
    b[SL_FRAME_HDR_LEN] = SL_FRAME_EV_END;
    return SL_FRAME_HDR_LEN + 1;
}

static int parse_u32(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    *out = strtoul(s, &end, 10);
    return *s != '\0' && *end == '\0' && *out <= max ? 0 : -1;
}

int main(int argc, char **argv)
{
    unsigned long attempt, prod, cons, rounds;
    if (argc != 7 || strlen(argv[2]) != SL_JOB_ID_LEN || parse_u32(argv[3], UINT32_MAX, &attempt) ||
        parse_u32(argv[4], UINT16_MAX, &prod) || parse_u32(argv[5], UINT16_MAX, &cons) ||
        parse_u32(argv[6], MAX_ROUNDS, &rounds)) {
        fprintf(stderr, "usage: frame_inject URL JOBID ATTEMPT PROD CONS ROUNDS\n");
        return 2;
    }
    target t = {argv[2], (uint32_t)attempt, (uint16_t)prod, (uint16_t)cons};
    nng_socket s;
    if (nng_push0_open(&s) != 0)
        return 1;
    nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, SEND_TIMEOUT_MS);
    int64_t until = sl_now_ms() + DIAL_TIMEOUT_MS;
    int rv;
    while ((rv = nng_dial(s, argv[1], NULL, 0)) != 0 && sl_now_ms() < until)
        sl_sleep_ms(100);
    if (rv != 0) {
        fprintf(stderr, "frame_inject: cannot dial %s: %s\n", argv[1], nng_strerror(rv));
        return 1;
    }
    uint8_t b[SL_FRAME_HDR_LEN + 1];
    long sent = 0, failed = 0;
    for (unsigned long r = 0; r < rounds; r++)
        for (uint16_t src = 0; src < SUBTASKS; src++)
            for (uint16_t dst = 0; dst < SUBTASKS; dst++) {
                size_t n = craft(b, &t, SL_FRAME_DATA, src, dst, r);
                *(nng_send(s, b, n, 0) == 0 ? &sent : &failed) += 1;
                n = craft(b, &t, SL_FRAME_CREDIT, src, dst, SL_FRAME_MAX_CREDITS + 1);
                *(nng_send(s, b, n, 0) == 0 ? &sent : &failed) += 1;
            }
    sl_sleep_ms(500); /* let what is queued go out */
    printf("sent=%ld failed=%ld\n", sent, failed);
    nng_close(s);
    return failed != 0;
}
