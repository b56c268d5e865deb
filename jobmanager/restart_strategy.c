/* Restart strategies: see restart_strategy.h. */
#include "jobmanager/restart_strategy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/status.h"

#define KEY_PREFIX "restart-strategy."

/* ------------------------------------------------------------ config */

static int read_ms(const sl_config *cfg, const char *key, int64_t *out)
{
    int rc = sl_config_get_ms(cfg, key, out);
    if (rc != SL_OK)
        sl_error("restart strategy: cannot read %s: %s", key, sl_strerror(rc));
    return rc;
}

static int read_int(const sl_config *cfg, const char *key, int64_t *out)
{
    int rc = sl_config_get_int(cfg, key, out);
    if (rc != SL_OK)
        sl_error("restart strategy: cannot read %s: %s", key, sl_strerror(rc));
    return rc;
}

static int read_double(const sl_config *cfg, const char *key, double *out)
{
    int rc = sl_config_get_double(cfg, key, out);
    if (rc != SL_OK)
        sl_error("restart strategy: cannot read %s: %s", key, sl_strerror(rc));
    return rc;
}

/* No restart-strategy.type: fixed-delay, unlimited, 1 s when checkpointing
 * is on, else none. */
static int init_default(sl_restart_strategy *rs, const sl_config *cfg)
{
    if (!sl_config_is_set(cfg, "execution.checkpointing.interval")) {
        rs->type = SL_RESTART_NONE;
        return SL_OK;
    }
    rs->type = SL_RESTART_FIXED_DELAY;
    rs->attempts = -1;
    rs->delay_ms = 1000;
    return SL_OK;
}

static int init_fixed_delay(sl_restart_strategy *rs, const sl_config *cfg)
{
    int rc;
    rs->type = SL_RESTART_FIXED_DELAY;
    if ((rc = read_int(cfg, KEY_PREFIX "fixed-delay.attempts", &rs->attempts)) != SL_OK)
        return rc;
    return read_ms(cfg, KEY_PREFIX "fixed-delay.delay", &rs->delay_ms);
}

static int init_failure_rate(sl_restart_strategy *rs, const sl_config *cfg)
{
    int rc;
    rs->type = SL_RESTART_FAILURE_RATE;
    if ((rc = read_int(cfg, KEY_PREFIX "failure-rate.max-failures-per-interval",
                       &rs->max_failures)) != SL_OK ||
        (rc = read_ms(cfg, KEY_PREFIX "failure-rate.failure-rate-interval",
                      &rs->interval_ms)) != SL_OK ||
        (rc = read_ms(cfg, KEY_PREFIX "failure-rate.delay", &rs->delay_ms)) != SL_OK)
        return rc;
    if (rs->max_failures >= SL_RESTART_FAILURE_HISTORY)
        sl_warn("restart strategy: failure-rate.max-failures-per-interval %lld exceeds the "
                "%d failures it can remember; this job never fails for its failure rate",
                (long long)rs->max_failures, SL_RESTART_FAILURE_HISTORY - 1);
    return SL_OK;
}

static int init_exponential(sl_restart_strategy *rs, const sl_config *cfg)
{
    int rc;
    rs->type = SL_RESTART_EXPONENTIAL_DELAY;
    if ((rc = read_ms(cfg, KEY_PREFIX "exponential-delay.initial-backoff",
                      &rs->initial_ms)) != SL_OK ||
        (rc = read_ms(cfg, KEY_PREFIX "exponential-delay.max-backoff", &rs->max_ms)) != SL_OK ||
        (rc = read_double(cfg, KEY_PREFIX "exponential-delay.backoff-multiplier",
                          &rs->multiplier)) != SL_OK ||
        (rc = read_ms(cfg, KEY_PREFIX "exponential-delay.reset-backoff-threshold",
                      &rs->reset_ms)) != SL_OK ||
        (rc = read_double(cfg, KEY_PREFIX "exponential-delay.jitter-factor",
                          &rs->jitter)) != SL_OK)
        return rc;
    rs->attempts = -1;
    rs->current_ms = rs->initial_ms;
    return SL_OK;
}

int sl_restart_strategy_init(sl_restart_strategy *rs, const sl_config *cfg)
{
    const char *type = NULL;
    int rc;

    if (rs == NULL || cfg == NULL)
        return SL_EINVAL;
    memset(rs, 0, sizeof(*rs));
    rs->last_failure_ms = -1;

    rc = sl_config_get_string(cfg, KEY_PREFIX "type", &type);
    if (rc == SL_ENOTFOUND)
        return init_default(rs, cfg);
    if (rc != SL_OK)
        return rc;
    if (strcmp(type, "none") == 0) {
        rs->type = SL_RESTART_NONE;
        return SL_OK;
    }
    if (strcmp(type, "fixed-delay") == 0)
        return init_fixed_delay(rs, cfg);
    if (strcmp(type, "failure-rate") == 0)
        return init_failure_rate(rs, cfg);
    if (strcmp(type, "exponential-delay") == 0)
        return init_exponential(rs, cfg);
    sl_error("restart strategy: unknown restart-strategy.type '%s'", type);
    return SL_EINVAL;
}

/* ------------------------------------------------------------ failures */

static int fixed_delay_failure(sl_restart_strategy *rs, int64_t *delay_ms, const char **why)
{
    if (rs->attempts >= 0 && rs->restarts >= rs->attempts) {
        *why = "fixed-delay restart strategy: all restart attempts used";
        return 0;
    }
    *delay_ms = rs->delay_ms;
    return 1;
}

/* Drops remembered failures more than interval_ms before now_ms. The array
 * is oldest first. */
static void forget_old_failures(sl_restart_strategy *rs, int64_t now_ms)
{
    int keep = 0;
    while (keep < rs->nfailures && now_ms - rs->failures[keep] > rs->interval_ms)
        keep++;
    if (keep == 0)
        return;
    rs->nfailures -= keep;
    memmove(rs->failures, rs->failures + keep, (size_t)rs->nfailures * sizeof(rs->failures[0]));
}

static void remember_failure(sl_restart_strategy *rs, int64_t now_ms)
{
    if (rs->nfailures == SL_RESTART_FAILURE_HISTORY) {
        rs->nfailures--;
        memmove(rs->failures, rs->failures + 1, (size_t)rs->nfailures * sizeof(rs->failures[0]));
    }
    rs->failures[rs->nfailures++] = now_ms;
}

static int failure_rate_failure(sl_restart_strategy *rs, int64_t now_ms, int64_t *delay_ms,
                                const char **why)
{
    forget_old_failures(rs, now_ms);
    remember_failure(rs, now_ms);
    if (rs->nfailures > rs->max_failures) {
        *why = "failure-rate restart strategy: more than max-failures-per-interval "
               "failures within failure-rate-interval";
        return 0;
    }
    *delay_ms = rs->delay_ms;
    return 1;
}

/* 62 random bits from rand_r, seeded from the clock and the call. */
static uint64_t jitter_random(const sl_restart_strategy *rs, int64_t now_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    unsigned int seed = (unsigned int)ts.tv_nsec ^ (unsigned int)ts.tv_sec ^
                        (unsigned int)now_ms ^ (unsigned int)((uint64_t)rs->restarts * 2654435761u) ^
                        (unsigned int)(uintptr_t)rs;
    uint64_t r = (uint64_t)(rand_r(&seed) & 0x7fffffff);
    r = (r << 31) | (uint64_t)(rand_r(&seed) & 0x7fffffff);
    return r;
}

/* base +- jitter * base, never negative. */
static int64_t apply_jitter(const sl_restart_strategy *rs, int64_t base, int64_t now_ms)
{
    int64_t offset = (int64_t)((double)base * rs->jitter);
    if (offset <= 0)
        return base;
    uint64_t span = (uint64_t)offset * 2 + 1;
    int64_t d = (int64_t)(jitter_random(rs, now_ms) % span) - offset;
    if (d > 0 && base > INT64_MAX - d)
        return INT64_MAX;
    return base + d < 0 ? 0 : base + d;
}

static int64_t next_backoff(const sl_restart_strategy *rs, int64_t base)
{
    double next = (double)base * rs->multiplier;
    if (next >= (double)rs->max_ms)
        return rs->max_ms;
    return (int64_t)next;
}

static int exponential_failure(sl_restart_strategy *rs, int64_t now_ms, int64_t *delay_ms)
{
    if (rs->restarts > 0 && now_ms - rs->last_failure_ms > rs->reset_ms)
        rs->current_ms = rs->initial_ms;
    int64_t base = rs->current_ms < rs->max_ms ? rs->current_ms : rs->max_ms;
    *delay_ms = apply_jitter(rs, base, now_ms);
    rs->current_ms = next_backoff(rs, base);
    return 1;
}

int sl_restart_strategy_on_failure(sl_restart_strategy *rs, int64_t now_ms, int64_t *delay_ms,
                                   const char **why)
{
    const char *dummy_why;
    int64_t dummy_delay;
    int ok;

    if (rs == NULL)
        return 0;
    if (why == NULL)
        why = &dummy_why;
    if (delay_ms == NULL)
        delay_ms = &dummy_delay;
    *why = NULL;

    switch (rs->type) {
    case SL_RESTART_FIXED_DELAY:
        ok = fixed_delay_failure(rs, delay_ms, why);
        break;
    case SL_RESTART_FAILURE_RATE:
        ok = failure_rate_failure(rs, now_ms, delay_ms, why);
        break;
    case SL_RESTART_EXPONENTIAL_DELAY:
        ok = exponential_failure(rs, now_ms, delay_ms);
        break;
    default:
        *why = "restart strategy is none";
        ok = 0;
        break;
    }
    rs->last_failure_ms = now_ms;
    if (ok)
        rs->restarts++;
    return ok;
}

/* ------------------------------------------------------------ describe */

static void describe_fixed_delay(const sl_restart_strategy *rs, char *out, size_t outlen)
{
    if (rs->attempts < 0)
        snprintf(out, outlen, "fixed-delay (unlimited attempts, %lld ms)",
                 (long long)rs->delay_ms);
    else
        snprintf(out, outlen, "fixed-delay (%lld attempt%s, %lld ms)", (long long)rs->attempts,
                 rs->attempts == 1 ? "" : "s", (long long)rs->delay_ms);
}

static void describe_failure_rate(const sl_restart_strategy *rs, char *out, size_t outlen)
{
    snprintf(out, outlen, "failure-rate (%lld failure%s per %lld ms, %lld ms)",
             (long long)rs->max_failures, rs->max_failures == 1 ? "" : "s",
             (long long)rs->interval_ms, (long long)rs->delay_ms);
}

static void describe_exponential(const sl_restart_strategy *rs, char *out, size_t outlen)
{
    snprintf(out, outlen,
             "exponential-delay (%lld ms to %lld ms, x%g, jitter %g, reset after %lld ms)",
             (long long)rs->initial_ms, (long long)rs->max_ms, rs->multiplier, rs->jitter,
             (long long)rs->reset_ms);
}

void sl_restart_strategy_describe(const sl_restart_strategy *rs, char *out, size_t outlen)
{
    if (out == NULL || outlen == 0)
        return;
    if (rs == NULL) {
        snprintf(out, outlen, "none");
        return;
    }
    switch (rs->type) {
    case SL_RESTART_FIXED_DELAY:
        describe_fixed_delay(rs, out, outlen);
        break;
    case SL_RESTART_FAILURE_RATE:
        describe_failure_rate(rs, out, outlen);
        break;
    case SL_RESTART_EXPONENTIAL_DELAY:
        describe_exponential(rs, out, outlen);
        break;
    default:
        snprintf(out, outlen, "none");
        break;
    }
}
