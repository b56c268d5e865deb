/* Restart strategies (Flink's): decide whether a failed job restarts and
 * after which delay.
 *
 *   none               never restart: the job goes FAILED
 *   fixed-delay        up to .attempts restarts, each after .delay
 *   failure-rate       restart after .delay unless more than
 *                      .max-failures-per-interval failures happened within
 *                      the last .failure-rate-interval
 *   exponential-delay  delay starts at .initial-backoff and is multiplied by
 *                      .backoff-multiplier after each failure up to
 *                      .max-backoff, +- .jitter-factor; it resets to the
 *                      initial backoff after .reset-backoff-threshold without
 *                      failure; unlimited attempts
 *
 * Default when restart-strategy.type is not set: fixed-delay with unlimited
 * attempts and 1 s delay if checkpointing is on
 * (execution.checkpointing.interval set), else none.
 *
 * Not thread-safe: owned by one job, used by the jobmanager loop thread. */
#ifndef SL_RESTART_STRATEGY_H
#define SL_RESTART_STRATEGY_H

#include <stdint.h>

#include "common/config.h"

#define SL_RESTART_FAILURE_HISTORY 1024

typedef struct sl_restart_strategy {
    enum { SL_RESTART_NONE, SL_RESTART_FIXED_DELAY, SL_RESTART_FAILURE_RATE,
           SL_RESTART_EXPONENTIAL_DELAY } type;
    int64_t attempts;       /* fixed-delay; -1 = unlimited */
    int64_t delay_ms;       /* fixed-delay, failure-rate */
    int64_t max_failures;   /* failure-rate */
    int64_t interval_ms;    /* failure-rate */
    int64_t initial_ms, max_ms, reset_ms; /* exponential-delay */
    double multiplier, jitter;
    /* running state */
    int64_t restarts;       /* restarts granted so far */
    int64_t current_ms;     /* exponential-delay: next backoff */
    int64_t last_failure_ms;
    int64_t failures[SL_RESTART_FAILURE_HISTORY]; /* failure-rate: recent failure times */
    int nfailures;
} sl_restart_strategy;

/* Reads the strategy from a job's effective configuration. */
int sl_restart_strategy_init(sl_restart_strategy *rs, const sl_config *cfg);

/* A failure happened at now_ms (monotonic). Returns 1 and sets *delay_ms if
 * the job may restart, 0 if it must fail; *why (static text) says which
 * limit was hit when it returns 0. */
int sl_restart_strategy_on_failure(sl_restart_strategy *rs, int64_t now_ms, int64_t *delay_ms,
                                   const char **why);

/* "fixed-delay (3 attempts, 1000 ms)" etc., for logs and `sluice info`. */
void sl_restart_strategy_describe(const sl_restart_strategy *rs, char *out, size_t outlen);

#endif
