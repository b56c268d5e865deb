/* Leveled, timestamped logging to stderr (the scripts send stderr to the
 * daemon's log file). Thread-safe: one line is one write(2). */
#ifndef SL_LOG_H
#define SL_LOG_H

enum sl_log_level { SL_LOG_DEBUG, SL_LOG_INFO, SL_LOG_WARN, SL_LOG_ERROR };

/* Sets the lowest level written (default SL_LOG_INFO) and the name shown
 * in every line ("jobmanager", "taskmanager"); name is not copied. */
void sl_log_init(const char *name, int level);
void sl_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define sl_debug(...) sl_log(SL_LOG_DEBUG, __VA_ARGS__)
#define sl_info(...)  sl_log(SL_LOG_INFO, __VA_ARGS__)
#define sl_warn(...)  sl_log(SL_LOG_WARN, __VA_ARGS__)
#define sl_error(...) sl_log(SL_LOG_ERROR, __VA_ARGS__)

#endif
