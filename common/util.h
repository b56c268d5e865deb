/* Small shared helpers: clocks, random ids, an arena for RPC replies. */
#ifndef SL_UTIL_H
#define SL_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Milliseconds on the monotonic clock (for timeouts and durations). */
int64_t sl_now_ms(void);
/* Monotonic milliseconds at the kernel tick's resolution (a few ms), for
 * checks on the per-record path: much cheaper than sl_now_ms. */
int64_t sl_now_coarse_ms(void);
/* Milliseconds since the epoch (for timestamps shown to users). */
int64_t sl_wall_ms(void);
/* Sleeps ms milliseconds (restarts after signals). */
void sl_sleep_ms(int64_t ms);
/* *until = now on clock (CLOCK_REALTIME, CLOCK_MONOTONIC) + ms: an absolute
 * deadline for pthread_cond_timedwait on a condition of that clock. */
struct timespec;
void sl_deadline_in(int clock, int64_t ms, struct timespec *until);

/* Writes 2*nbytes lowercase hex digits of fresh randomness and a NUL into
 * out (which must hold 2*nbytes+1 chars). */
int sl_random_hex(char *out, size_t nbytes);
/* Fills out with n bytes of fresh randomness (getrandom, retried after a
 * signal or a short read). SL_EIO if the kernel refuses. */
int sl_random_bytes(void *out, size_t n);
/* 1 if the n bytes at a and b are equal, in time independent of where they
 * differ (secrets: session and data tokens). */
int sl_ct_equal(const void *a, const void *b, size_t n);
/* 1 if s is exactly n lowercase hex digits. */
int sl_is_hex(const char *s, size_t n);

/* snprintf into err (if err is non-NULL and errlen > 0). */
void sl_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Reads a whole file into a malloc'd, NUL-terminated buffer (*out, caller
 * frees) of *len bytes; files larger than max are SL_ENOSPC. */
int sl_read_file(const char *path, size_t max, char **out, size_t *len);

/* A bump allocator whose memory is released at once by sl_arena_free.
 * Not thread-safe; for building one reply. */
typedef struct sl_arena {
    void **blocks;
    size_t n, cap;
} sl_arena;

void *sl_arena_alloc(sl_arena *a, size_t size);     /* zeroed; NULL if out of memory */
char *sl_arena_strdup(sl_arena *a, const char *s);
char *sl_arena_printf(sl_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sl_arena_free(sl_arena *a);

#endif
