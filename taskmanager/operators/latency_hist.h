/* A fixed-size histogram of non-negative integer values (latencies, in
 * whatever unit the caller uses), for percentiles over any number of
 * samples in constant memory.
 *
 * Values below 1024 have a bucket each (exact); above, every power of two
 * is split into 512 buckets, so a bucket's width is below 0.2% of its
 * values. Values of 2^40 and more are counted in the last bucket (the
 * maximum stays exact). sl_hist_percentile answers the upper bound of the
 * bucket that holds the rank, capped at the maximum seen: never below the
 * true percentile, at most 0.2% above it. */
#ifndef SL_LATENCY_HIST_H
#define SL_LATENCY_HIST_H

#include <stdint.h>

#define SL_HIST_SUB_BITS 10 /* exact below 2^10; 2^9 buckets per power of two */
#define SL_HIST_MAX_BITS 40 /* values >= 2^40 share the last bucket */
#define SL_HIST_BUCKETS \
    ((SL_HIST_MAX_BITS - SL_HIST_SUB_BITS + 2) << (SL_HIST_SUB_BITS - 1))

typedef struct sl_hist {
    uint64_t count;    /* samples added */
    uint64_t negative; /* samples below 0 (counted as 0) */
    uint64_t max;      /* largest sample (0 when empty) */
    uint64_t buckets[SL_HIST_BUCKETS];
} sl_hist;

void sl_hist_reset(sl_hist *h);
void sl_hist_add(sl_hist *h, int64_t v);
/* The q-th percentile (q in [0, 100]: 50 = median, 100 = maximum); 0 when
 * empty. SL_EINVAL for q outside [0, 100]. */
int sl_hist_percentile(const sl_hist *h, double q, uint64_t *out);

/* Wall-clock time since the epoch (CLOCK_REALTIME) in microseconds if us,
 * else in milliseconds: creation times and their latencies
 * (`source: datagen` `ts: wall|wall-us`, `sink: blackhole`
 * `latency-field`). */
int64_t sl_latency_clock(int us);

#endif
