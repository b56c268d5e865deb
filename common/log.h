/* Leveled, timestamped logging to stderr (the scripts send stderr to the
 * daemon's log file). Thread-safe: one line is one write(2). */
#ifndef SL_LOG_H
#define SL_LOG_H

#include <stdint.h>

enum sl_log_level { SL_LOG_DEBUG, SL_LOG_INFO, SL_LOG_WARN, SL_LOG_ERROR };

/* Sets the lowest level written (default SL_LOG_INFO) and the name shown
 * in every line ("jobmanager", "taskmanager"); name is not copied. */
void sl_log_init(const char *name, int level);
void sl_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define sl_debug(...) sl_log(SL_LOG_DEBUG, __VA_ARGS__)
#define sl_info(...)  sl_log(SL_LOG_INFO, __VA_ARGS__)
#define sl_warn(...)  sl_log(SL_LOG_WARN, __VA_ARGS__)
#define sl_error(...) sl_log(SL_LOG_ERROR, __VA_ARGS__)

/* Rate-limited logging, for lines that input from the network can repeat
 * (malformed frames): a call site writes at most max_lines lines per window
 * of window_ms; the rest are counted, and the first line written after the
 * window is preceded by one "suppressed N similar messages from FILE:LINE in
 * the last S s" line. (A count still pending when the messages stop is
 * written with the next message of that site.) */
#define SL_LOG_LIMIT_LINES 10
#define SL_LOG_LIMIT_WINDOW_MS 5000

/* One call site's budget; its state is guarded by log.c. */
typedef struct sl_log_limit {
    int max_lines;
    int64_t window_ms;
    int64_t window_start_ms; /* 0 = no window yet */
    int lines;               /* written in this window */
    long suppressed;         /* dropped in this window */
} sl_log_limit;

#define SL_LOG_LIMIT_INIT {SL_LOG_LIMIT_LINES, SL_LOG_LIMIT_WINDOW_MS, 0, 0, 0}

/* Logs like sl_log within lim's budget; file and line name the call site
 * in the "suppressed" line. */
void sl_log_limited(sl_log_limit *lim, const char *file, int line, int level, const char *fmt,
                    ...) __attribute__((format(printf, 5, 6)));

#define sl_log_every(level, ...)                                                                \
    do {                                                                                        \
        static sl_log_limit sl_log_lim_ = SL_LOG_LIMIT_INIT;                                    \
        sl_log_limited(&sl_log_lim_, __FILE__, __LINE__, (level), __VA_ARGS__);                 \
    } while (0)
#define sl_warn_limited(...) sl_log_every(SL_LOG_WARN, __VA_ARGS__)

#endif
