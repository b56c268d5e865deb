/* rpc_flood: hostile control-plane traffic for the integration tests.
 *
 *   rpc_flood PORT bomb BYTES [TM_ID]
 *       one Heartbeat of BYTES made of empty repeated TaskMetrics, from
 *       taskmanager TM_ID (default "bomb", unknown); prints
 *       "status=S ms=T error=E" (status -1: no reply)
 *   rpc_flood PORT flood CONNS SECONDS BYTES
 *       CONNS connections each sending such heartbeats back to back for
 *       SECONDS while a probe heartbeat (an unknown taskmanager id) is sent
 *       every PROBE_EVERY_MS; prints "probes=N max_ms=M bombs=B"
 *   rpc_flood PORT deploy
 *       one (empty) DeployTasks request, as only a jobmanager sends it;
 *       prints "status=S error=E"
 *   rpc_flood PORT probe
 *       one small heartbeat; prints "ms=T"
 *   rpc_flood PORT junk N
 *       N malformed 8-byte frames, one after the other; prints "answered=A"
 *   rpc_flood PORT datajunk N
 *       N malformed 8-byte frames pushed to a taskmanager's data port
 *       (push0, no replies); prints "sent=S"
 *
 * Exit status 0 when every probe got an answer, 1 otherwise, 2 on usage. */
#include <nng/nng.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "proto/sluice.pb-c.h"

#define PROBE_EVERY_MS 100
#define PROBE_TIMEOUT_MS 30000
#define BOMB_TIMEOUT_MS 120000

#define TM_ID_MAX 64

/* Request{heartbeat: Heartbeat{tm_id: tm, tasks: [{}, {}, ...]}}. */
static unsigned char *bomb_frame(size_t bytes, const char *tm, size_t *len)
{
    unsigned char head[2 + TM_ID_MAX];
    size_t idlen = strlen(tm) < TM_ID_MAX ? strlen(tm) : TM_ID_MAX;
    head[0] = 0x0a; /* Heartbeat field 1 (tm_id) */
    head[1] = (unsigned char)idlen;
    memcpy(head + 2, tm, idlen);
    size_t hlen = 2 + idlen;
    size_t k = bytes > 32 + hlen ? (bytes - 16 - hlen) / 2 : 1; /* empty elements */
    size_t body = hlen + 2 * k;
    unsigned char *f = malloc(body + 16);
    if (f == NULL)
        return NULL;
    size_t n = 0;
    f[n++] = 0x12; /* Request field 2 (heartbeat), length-delimited */
    for (size_t v = body; ; v >>= 7) {
        f[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        if (v <= 0x7f)
            break;
    }
    memcpy(f + n, head, hlen);
    n += hlen;
    for (size_t i = 0; i < k; i++) {
        f[n++] = 0x12; /* Heartbeat field 2 (tasks), empty message */
        f[n++] = 0x00;
    }
    *len = n;
    return f;
}

static int dial(nng_socket *s, int port, int timeout_ms)
{
    char url[64];
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
    if (nng_req0_open(s) != 0)
        return -1;
    nng_socket_set_size(*s, NNG_OPT_RECVMAXSZ, 0);
    nng_socket_set_ms(*s, NNG_OPT_RECVTIMEO, timeout_ms);
    nng_socket_set_ms(*s, NNG_OPT_SENDTIMEO, timeout_ms);
    nng_socket_set_ms(*s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    if (nng_dial(*s, url, NULL, 0) != 0) {
        nng_close(*s);
        return -1;
    }
    return 0;
}

/* Sends one frame and waits for the reply; *status = -1 if none. */
static void request(nng_socket s, const void *frame, size_t len, int *status, char *err,
                    size_t errlen)
{
    void *buf = NULL;
    size_t n = 0;
    *status = -1;
    snprintf(err, errlen, "no reply");
    if (nng_send(s, (void *)frame, len, 0) != 0 || nng_recv(s, &buf, &n, NNG_FLAG_ALLOC) != 0)
        return;
    Sluice__Reply *r = sluice__reply__unpack(NULL, n, buf);
    nng_free(buf, n);
    if (r == NULL)
        return;
    *status = r->status;
    snprintf(err, errlen, "%s", r->error);
    sluice__reply__free_unpacked(r, NULL);
}

static int cmd_bomb(int port, size_t bytes, const char *tm)
{
    size_t len;
    unsigned char *f = bomb_frame(bytes, tm, &len);
    nng_socket s;
    if (f == NULL || dial(&s, port, BOMB_TIMEOUT_MS) != 0)
        return 1;
    char err[512];
    int status;
    int64_t t0 = sl_now_ms();
    request(s, f, len, &status, err, sizeof(err));
    printf("status=%d ms=%lld error=%s\n", status, (long long)(sl_now_ms() - t0), err);
    nng_close(s);
    free(f);
    return status < 0;
}

/* ms to answer one small heartbeat on s, -1 if unanswered. */
static int64_t probe_once(nng_socket s)
{
    Sluice__Heartbeat hb = SLUICE__HEARTBEAT__INIT;
    hb.tm_id = "probe";
    Sluice__Request req = SLUICE__REQUEST__INIT;
    req.body_case = SLUICE__REQUEST__BODY_HEARTBEAT;
    req.heartbeat = &hb;
    unsigned char buf[64];
    size_t len = sluice__request__pack(&req, buf);
    char err[256];
    int status;
    int64_t t0 = sl_now_ms();
    request(s, buf, len, &status, err, sizeof(err));
    return status == 0 ? sl_now_ms() - t0 : -1;
}

static int cmd_probe(int port)
{
    nng_socket s;
    if (dial(&s, port, PROBE_TIMEOUT_MS) != 0)
        return 1;
    int64_t ms = probe_once(s);
    printf("ms=%lld\n", (long long)ms);
    nng_close(s);
    return ms < 0;
}

static int cmd_deploy(int port)
{
    Sluice__DeployTasks d = SLUICE__DEPLOY_TASKS__INIT;
    Sluice__Request req = SLUICE__REQUEST__INIT;
    req.body_case = SLUICE__REQUEST__BODY_DEPLOY_TASKS;
    req.deploy_tasks = &d;
    unsigned char buf[64];
    size_t len = sluice__request__pack(&req, buf);
    nng_socket s;
    if (dial(&s, port, PROBE_TIMEOUT_MS) != 0)
        return 1;
    char err[512];
    int status;
    request(s, buf, len, &status, err, sizeof(err));
    printf("status=%d error=%s\n", status, err);
    nng_close(s);
    return status < 0;
}

struct flooder {
    pthread_t th;
    int port;
    const unsigned char *frame;
    size_t len;
    int64_t until;
    atomic_long *bombs;
};

static void *flood_main(void *p)
{
    struct flooder *fl = p;
    nng_socket s;
    if (dial(&s, fl->port, BOMB_TIMEOUT_MS) != 0)
        return NULL;
    while (sl_now_ms() < fl->until) {
        char err[256];
        int status;
        request(s, fl->frame, fl->len, &status, err, sizeof(err));
        atomic_fetch_add(fl->bombs, 1);
    }
    nng_close(s);
    return NULL;
}

static int cmd_flood(int port, int conns, int seconds, size_t bytes)
{
    size_t len;
    unsigned char *f = bomb_frame(bytes, "bomb", &len);
    struct flooder *fl = calloc((size_t)conns, sizeof(*fl));
    atomic_long bombs = 0;
    nng_socket ps;
    if (f == NULL || fl == NULL || dial(&ps, port, PROBE_TIMEOUT_MS) != 0)
        return 1;
    int64_t until = sl_now_ms() + (int64_t)seconds * 1000;
    for (int i = 0; i < conns; i++) {
        fl[i] = (struct flooder){.port = port, .frame = f, .len = len, .until = until,
                                 .bombs = &bombs};
        pthread_create(&fl[i].th, NULL, flood_main, &fl[i]);
    }
    int probes = 0, lost = 0;
    int64_t max_ms = 0;
    while (sl_now_ms() < until) {
        int64_t ms = probe_once(ps);
        probes++;
        if (ms < 0)
            lost++;
        else if (ms > max_ms)
            max_ms = ms;
        sl_sleep_ms(PROBE_EVERY_MS);
    }
    for (int i = 0; i < conns; i++)
        pthread_join(fl[i].th, NULL);
    printf("probes=%d unanswered=%d max_ms=%lld bombs=%ld\n", probes, lost, (long long)max_ms,
           (long)atomic_load(&bombs));
    nng_close(ps);
    free(fl);
    free(f);
    return lost > 0;
}

static int cmd_junk(int port, int n)
{
    static const unsigned char junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x99, 0x00};
    nng_socket s;
    if (dial(&s, port, PROBE_TIMEOUT_MS) != 0)
        return 1;
    int answered = 0;
    for (int i = 0; i < n; i++) {
        char err[256];
        int status;
        request(s, junk, sizeof(junk), &status, err, sizeof(err));
        answered += status >= 0;
    }
    printf("answered=%d\n", answered);
    nng_close(s);
    return answered != n;
}

static int cmd_datajunk(int port, int n)
{
    static const unsigned char junk[] = {'j', 'u', 'n', 'k', 0xff, 0xff, 0xff, 0xff};
    nng_socket s;
    char url[64];
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
    if (nng_push0_open(&s) != 0)
        return 1;
    nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, PROBE_TIMEOUT_MS);
    if (nng_dial(s, url, NULL, 0) != 0) {
        nng_close(s);
        return 1;
    }
    int sent = 0;
    for (int i = 0; i < n; i++)
        sent += nng_send(s, (void *)junk, sizeof(junk), 0) == 0;
    sl_sleep_ms(200); /* nng_close drops what is still queued: let it go out */
    printf("sent=%d\n", sent);
    nng_close(s);
    return sent != n;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[2], "bomb") == 0)
        return cmd_bomb(atoi(argv[1]), strtoull(argv[3], NULL, 10), argc > 4 ? argv[4] : "bomb");
    if (argc >= 3 && strcmp(argv[2], "deploy") == 0)
        return cmd_deploy(atoi(argv[1]));
    if (argc >= 3 && strcmp(argv[2], "probe") == 0)
        return cmd_probe(atoi(argv[1]));
    if (argc >= 4 && strcmp(argv[2], "datajunk") == 0)
        return cmd_datajunk(atoi(argv[1]), atoi(argv[3]));
    if (argc >= 4 && strcmp(argv[2], "junk") == 0)
        return cmd_junk(atoi(argv[1]), atoi(argv[3]));
    if (argc >= 6 && strcmp(argv[2], "flood") == 0)
        return cmd_flood(atoi(argv[1]), atoi(argv[3]), atoi(argv[4]),
                         strtoull(argv[5], NULL, 10));
    fprintf(stderr, "usage: rpc_flood PORT bomb BYTES [TM_ID] | flood CONNS SECONDS BYTES | "
                    "deploy | probe | junk N | datajunk N\n");
    return 2;
}
