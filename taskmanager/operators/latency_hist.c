/* Fixed-size log-linear histogram (latency_hist.h). */
#include "taskmanager/operators/latency_hist.h"

#include <math.h>
#include <string.h>
#include <time.h>

#include "common/status.h"

#define HALF (UINT64_C(1) << (SL_HIST_SUB_BITS - 1))
#define EXACT (UINT64_C(1) << SL_HIST_SUB_BITS)
#define LIMIT (UINT64_C(1) << SL_HIST_MAX_BITS)

/* Bucket of v: v itself below 2^SUB_BITS; else with s = (highest set bit
 * of v) - (SUB_BITS - 1) >= 1, s * HALF + (v >> s), where v >> s is in
 * [HALF, 2 * HALF). */
static uint32_t bucket_of(uint64_t v)
{
    if (v < EXACT)
        return (uint32_t)v;
    if (v >= LIMIT)
        return SL_HIST_BUCKETS - 1;
    int s = 63 - __builtin_clzll(v) - (SL_HIST_SUB_BITS - 1);
    return (uint32_t)((uint64_t)s * HALF + (v >> s));
}

/* Largest value that falls into bucket b (the last one: any). */
static uint64_t bucket_high(uint32_t b)
{
    if (b == SL_HIST_BUCKETS - 1)
        return UINT64_MAX;
    if (b < EXACT)
        return b;
    uint64_t s = b / HALF - 1, m = b % HALF + HALF;
    return ((m + 1) << s) - 1;
}

void sl_hist_reset(sl_hist *h)
{
    memset(h, 0, sizeof(*h));
}

void sl_hist_add(sl_hist *h, int64_t v)
{
    uint64_t u = 0;

    if (v < 0)
        h->negative++;
    else
        u = (uint64_t)v;
    h->buckets[bucket_of(u)]++;
    h->count++;
    if (u > h->max)
        h->max = u;
}

int sl_hist_percentile(const sl_hist *h, double q, uint64_t *out)
{
    uint64_t rank, seen = 0;

    if (!(q >= 0.0 && q <= 100.0))
        return SL_EINVAL;
    *out = 0;
    if (h->count == 0)
        return SL_OK;
    rank = (uint64_t)ceil(q * (double)h->count / 100.0);
    if (rank == 0)
        rank = 1;
    if (rank > h->count)
        rank = h->count;
    for (uint32_t b = 0; b < SL_HIST_BUCKETS; b++) {
        seen += h->buckets[b];
        if (seen >= rank) {
            uint64_t hi = bucket_high(b);
            *out = hi < h->max ? hi : h->max;
            return SL_OK;
        }
    }
    *out = h->max;
    return SL_OK;
}

int64_t sl_latency_clock(int us)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    if (us)
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
