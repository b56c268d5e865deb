/* The Nexmark queries of bench/nexmark/q*.yaml as plain single-threaded C:
 * one loop generates the same events (common/nexmark.c) and computes the
 * same result, no engine. The baseline of bench/nexmark.sh, and the
 * reference output of tests/integration/test_nexmark.sh.
 *
 * Usage: nexmark-loop QUERY COUNT [SEED [EVENTS_PER_SECOND]] [--print]
 *   QUERY  q0 | q1 | q2 | q5 | q7
 *   --print  writes the result rows as csv (as `sink: file` would) to
 *            standard output
 * Always prints one line to standard error:
 *   <query> events=<n> seconds=<cpu s> events_per_s=<n/s> rows=<result rows>
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/nexmark.h"
#include "common/row.h"

#define SLIDE_MS 2000  /* q5 */
#define SIZE_MS 10000  /* q5 and q7 */
#define PANES (SIZE_MS / SLIDE_MS)

typedef struct run {
    sl_nexmark_config cfg;
    uint64_t count;
    int print;
    uint64_t rows, sink; /* result rows; a checksum so nothing is optimized away */
} run;

/* ---- a small int64 -> int64 hash map (open addressing) ---- */

typedef struct map {
    int64_t *k, *v;
    uint8_t *used;
    size_t cap, n;
} map;

static size_t slot(const map *m, int64_t k)
{
    uint64_t h = (uint64_t)k * UINT64_C(0x9e3779b97f4a7c15);
    size_t i = (size_t)(h >> 20) & (m->cap - 1);

    while (m->used[i] && m->k[i] != k)
        i = (i + 1) & (m->cap - 1);
    return i;
}

static void map_init(map *m, size_t cap)
{
    m->cap = cap;
    m->n = 0;
    m->k = calloc(cap, sizeof(int64_t));
    m->v = calloc(cap, sizeof(int64_t));
    m->used = calloc(cap, 1);
    if (m->k == NULL || m->v == NULL || m->used == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
}

static void map_free(map *m)
{
    free(m->k);
    free(m->v);
    free(m->used);
    memset(m, 0, sizeof(*m));
}

static void map_add(map *m, int64_t k, int64_t d);

static void map_grow(map *m)
{
    map old = *m;

    map_init(m, old.cap * 2);
    for (size_t i = 0; i < old.cap; i++) {
        if (old.used[i])
            map_add(m, old.k[i], old.v[i]);
    }
    map_free(&old);
}

static void map_add(map *m, int64_t k, int64_t d)
{
    if ((m->n + 1) * 2 > m->cap)
        map_grow(m);
    size_t i = slot(m, k);
    if (!m->used[i]) {
        m->used[i] = 1;
        m->k[i] = k;
        m->v[i] = 0;
        m->n++;
    }
    m->v[i] += d;
}

static void map_clear(map *m)
{
    memset(m->used, 0, m->cap);
    m->n = 0;
}

/* ---- q0, q1, q2: one bid at a time ---- */

static void stateless(run *r, int q)
{
    sl_nexmark_event ev;
    char d[32];

    for (uint64_t i = 0; i < r->count; i++) {
        if (sl_nexmark_type_of(i) != SL_NEXMARK_BID)
            continue;
        sl_nexmark_generate(&r->cfg, i, &ev);
        if (q == 2 && ev.auction % 123 != 0)
            continue;
        r->rows++;
        if (q == 1) {
            double p = (double)ev.price * 0.908;
            r->sink += (uint64_t)ev.auction + (uint64_t)ev.bidder + (uint64_t)p;
            if (r->print && sl_format_double(p, d, sizeof(d)) > 0)
                printf("%lld,%lld,%s,%lld\n", (long long)ev.auction, (long long)ev.bidder, d,
                       (long long)ev.date_time);
        } else if (q == 2) {
            r->sink += (uint64_t)ev.auction + (uint64_t)ev.price;
            if (r->print)
                printf("%lld,%lld\n", (long long)ev.auction, (long long)ev.price);
        } else {
            r->sink += (uint64_t)ev.auction + (uint64_t)ev.bidder + (uint64_t)ev.price;
            if (r->print)
                printf("%lld,%lld,%lld,%lld\n", (long long)ev.auction, (long long)ev.bidder,
                       (long long)ev.price, (long long)ev.date_time);
        }
    }
}

/* ---- q5: bids per auction in 10 s windows every 2 s, the top auction(s) ---- */

static int64_t floor_to(int64_t t, int64_t step)
{
    int64_t m = t % step;

    return t - (m < 0 ? m + step : m);
}

/* Window [start, start + SIZE): sums the panes (one per slide, pane p
 * covering [p*SLIDE, (p+1)*SLIDE) at panes[p % PANES]) and reports the
 * auctions with the highest count. Panes outside [first, last] hold no bids. */
static void q5_fire(run *r, map *panes, int64_t start, int64_t first, int64_t last, map *sum)
{
    int64_t best = 0;

    map_clear(sum);
    for (int64_t p = start / SLIDE_MS; p < start / SLIDE_MS + PANES; p++) {
        if (p < first || p > last)
            continue;
        map *m = &panes[p % PANES];
        for (size_t i = 0; i < m->cap; i++) {
            if (m->used[i])
                map_add(sum, m->k[i], m->v[i]);
        }
    }
    for (size_t i = 0; i < sum->cap; i++) {
        if (sum->used[i] && sum->v[i] > best)
            best = sum->v[i];
    }
    for (size_t i = 0; i < sum->cap && best > 0; i++) {
        if (!sum->used[i] || sum->v[i] != best)
            continue;
        r->rows++;
        r->sink += (uint64_t)sum->k[i] + (uint64_t)best;
        if (r->print)
            printf("%lld,%lld,%lld,%lld\n", (long long)sum->k[i], (long long)start,
                   (long long)(start + SIZE_MS), (long long)best);
    }
}

static void q5(run *r)
{
    map panes[PANES], sum;
    sl_nexmark_event ev;
    int64_t first = INT64_MIN, cur = INT64_MIN; /* first and current pane index */

    for (int p = 0; p < PANES; p++)
        map_init(&panes[p], 1024);
    map_init(&sum, 1024);
    for (uint64_t i = 0; i < r->count; i++) {
        if (sl_nexmark_type_of(i) != SL_NEXMARK_BID)
            continue;
        sl_nexmark_generate(&r->cfg, i, &ev);
        int64_t pane = floor_to(ev.date_time, SLIDE_MS) / SLIDE_MS;
        if (first == INT64_MIN)
            first = cur = pane;
        /* panes are in time order: every window ending by this pane is complete */
        for (; cur < pane; cur++) {
            q5_fire(r, panes, (cur + 1) * SLIDE_MS - SIZE_MS, first, cur, &sum);
            map_clear(&panes[(cur + 1) % PANES]);
        }
        map_add(&panes[pane % PANES], ev.auction, 1);
    }
    /* end of input: every open window fires */
    for (int64_t p = cur; first != INT64_MIN && p < cur + PANES; p++)
        q5_fire(r, panes, (p + 1) * SLIDE_MS - SIZE_MS, first, cur, &sum);
    for (int p = 0; p < PANES; p++)
        map_free(&panes[p]);
    map_free(&sum);
}

/* ---- q7: the highest bid(s) of every 10 s tumbling window ---- */

typedef struct bid {
    int64_t auction, bidder, price, date_time;
} bid;

static void q7_fire(run *r, const bid *b, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        r->rows++;
        r->sink += (uint64_t)b[k].auction + (uint64_t)b[k].price;
        if (r->print)
            printf("%lld,%lld,%lld,%lld\n", (long long)b[k].auction, (long long)b[k].bidder,
                   (long long)b[k].price, (long long)b[k].date_time);
    }
}

static void q7(run *r)
{
    sl_nexmark_event ev;
    bid *top = NULL;
    size_t n = 0, cap = 0;
    int64_t win = INT64_MIN;

    for (uint64_t i = 0; i < r->count; i++) {
        if (sl_nexmark_type_of(i) != SL_NEXMARK_BID)
            continue;
        sl_nexmark_generate(&r->cfg, i, &ev);
        int64_t w = floor_to(ev.date_time, SIZE_MS);
        if (w != win) {
            q7_fire(r, top, n);
            n = 0;
            win = w;
        }
        if (n > 0 && ev.price < top[0].price)
            continue;
        if (n > 0 && ev.price > top[0].price)
            n = 0;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            if ((top = realloc(top, cap * sizeof(*top))) == NULL) {
                fprintf(stderr, "out of memory\n");
                exit(1);
            }
        }
        top[n++] = (bid){ev.auction, ev.bidder, ev.price, ev.date_time};
    }
    q7_fire(r, top, n);
    free(top);
}

static double cpu_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    run r = {.cfg = {0, SL_NEXMARK_DEFAULT_RATE, 0}};
    const char *q;
    int nargs = 0;
    char *args[4];

    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--print") == 0)
            r.print = 1;
        else if (nargs < 4)
            args[nargs++] = argv[a];
    }
    if (nargs < 2) {
        fprintf(stderr, "usage: %s q0|q1|q2|q5|q7 COUNT [SEED [EVENTS_PER_SECOND]] [--print]\n",
                argv[0]);
        return 2;
    }
    q = args[0];
    r.count = strtoull(args[1], NULL, 10);
    if (nargs > 2)
        r.cfg.seed = strtoull(args[2], NULL, 10);
    if (nargs > 3 && strtoull(args[3], NULL, 10) > 0)
        r.cfg.events_per_second = strtoull(args[3], NULL, 10);
    double t0 = cpu_seconds();
    if (strcmp(q, "q0") == 0 || strcmp(q, "q1") == 0 || strcmp(q, "q2") == 0)
        stateless(&r, q[1] - '0');
    else if (strcmp(q, "q5") == 0)
        q5(&r);
    else if (strcmp(q, "q7") == 0)
        q7(&r);
    else {
        fprintf(stderr, "unknown query '%s' (q0, q1, q2, q5, q7)\n", q);
        return 2;
    }
    double s = cpu_seconds() - t0;
    fflush(stdout);
    fprintf(stderr, "%s events=%llu seconds=%.3f events_per_s=%.0f rows=%llu checksum=%llu\n", q,
            (unsigned long long)r.count, s, s > 0 ? (double)r.count / s : 0.0,
            (unsigned long long)r.rows, (unsigned long long)r.sink);
    return 0;
}
