/* Fuzz target: a control-plane request as a server gets it (common/rpc_server.c
 * serve_one): the wire check of common/rpc_bounds.c, protobuf-c's unpack,
 * then the checks the handlers make before they act: the jobmanager's
 * sl_jm_rpc_body_present (jobmanager/rpc_handlers.c) and the taskmanager's
 * sl_tm_trigger_barrier (taskmanager/task_manager.c), whose barrier must
 * survive the data plane's codec.
 *
 * Input: byte 0 picks the server's role (0 all, 1 jobmanager, 2
 * taskmanager), the rest is the request frame. Oracles: a frame that
 * passes the check has exactly the body case the check found, and
 * unpacks into memory linear in its size (at most FUZZ_UNPACK_PER_BYTE
 * bytes a byte, counted by an allocator); a valid trigger's barrier
 * encodes and decodes to itself. */
#include "fuzz/fuzz.h"

#include "common/rpc_bounds.h"
#include "common/status.h"
#include "jobmanager/jobmanager.h"
#include "proto/sluice.pb-c.h"
#include "taskmanager/network/barrier.h"
#include "taskmanager/task_manager.h"

#define FUZZ_MAX_MSG ((size_t)4 << 20) /* rpc.max-message-size for submits and deploys */
#define FUZZ_ROLES 3
/* "A frame that passes unpacks into memory linear in its size"
 * (rpc_bounds.h): unpack may take at most this many bytes per frame byte,
 * plus FUZZ_UNPACK_BASE (the Request struct and its body). */
#define FUZZ_UNPACK_PER_BYTE 64
#define FUZZ_UNPACK_BASE 4096

/* protobuf-c's allocations, counted (a size header before each block). */
static size_t unpacked_bytes;

static void *count_alloc(void *data, size_t size)
{
    (void)data;
    size_t *p = malloc(size + sizeof(size_t));
    if (p == NULL)
        return NULL;
    *p = size;
    unpacked_bytes += size;
    return p + 1;
}

static void count_free(void *data, void *ptr)
{
    (void)data;
    if (ptr != NULL)
        free((size_t *)ptr - 1);
}

static ProtobufCAllocator counting = {.alloc = count_alloc, .free = count_free};

static void check_trigger(const Sluice__TriggerCheckpoint *tc)
{
    static sl_barrier b, back;
    static uint8_t wire[SL_BARRIER_MAX_LEN];
    size_t len, used;
    if (sl_tm_trigger_barrier(tc, &b) != SL_OK)
        return;
    FUZZ_CHECK(sl_barrier_encode(&b, wire, sizeof(wire), &len) == SL_OK);
    FUZZ_CHECK(sl_barrier_decode(wire, len, &back, &used) == SL_OK && used == len);
    FUZZ_CHECK(back.id == b.id && back.ts == b.ts && back.final == (b.final != 0) &&
               back.kind == b.kind && strcmp(back.dir, b.dir) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int role = data[0] % FUZZ_ROLES;
    const uint8_t *buf = data + 1;
    size_t len = size - 1;
    char why[256];
    int kind = 0;
    int peek = sl_rpc_peek_kind(buf, len);
    (void)sl_rpc_kind_name(peek);
    (void)sl_rpc_kind_heavy(peek);
    if (sl_rpc_check_request(role, FUZZ_MAX_MSG, buf, len, &kind, why, sizeof(why)) != SL_OK)
        return 0;
    FUZZ_CHECK(len <= sl_rpc_kind_max_bytes(kind, FUZZ_MAX_MSG));
    unpacked_bytes = 0;
    Sluice__Request *req = sluice__request__unpack(&counting, len, buf);
    if (unpacked_bytes > FUZZ_UNPACK_BASE + FUZZ_UNPACK_PER_BYTE * len)
        fprintf(stderr, "unpack of %zu bytes took %zu bytes\n", len, unpacked_bytes);
    FUZZ_CHECK(unpacked_bytes <= FUZZ_UNPACK_BASE + FUZZ_UNPACK_PER_BYTE * len);
    if (req == NULL)
        return 0;
    FUZZ_CHECK((int)req->body_case == kind);
    if (role != SL_RPC_SERVE_TASKMANAGER)
        (void)sl_jm_rpc_body_present(req);
    if (role != SL_RPC_SERVE_JOBMANAGER &&
        req->body_case == SLUICE__REQUEST__BODY_TRIGGER_CHECKPOINT)
        check_trigger(req->trigger_checkpoint);
    sluice__request__free_unpacked(req, &counting);
    return 0;
}
