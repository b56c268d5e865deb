#include "common/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048

static const char *log_name = "sluice";
static int log_level = SL_LOG_INFO;
static pthread_mutex_t limit_mu = PTHREAD_MUTEX_INITIALIZER;

void sl_log_init(const char *name, int level)
{
    log_name = name;
    log_level = level;
}

static const char *level_name(int level)
{
    static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    return (level >= 0 && level <= SL_LOG_ERROR) ? names[level] : "?";
}

static void log_line(int level, const char *fmt, va_list ap)
{
    char line[LOG_LINE_MAX];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02d %02d:%02d:%02d.%03d %-5s %s[%d]: ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (int)(tv.tv_usec / 1000), level_name(level), log_name,
                     (int)getpid());
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void sl_log(int level, const char *fmt, ...)
{
    if (level < log_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_line(level, fmt, ap);
    va_end(ap);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void log_fmt(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_fmt(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line(level, fmt, ap);
    va_end(ap);
}

/* Decides under limit_mu whether this message is written; *flushed gets the
 * count of the window that just ended (0 if none) and *span_ms its length. */
static int limit_admit(sl_log_limit *lim, long *flushed, int64_t *span_ms)
{
    int64_t now = mono_ms();
    int admit;
    *flushed = 0;
    pthread_mutex_lock(&limit_mu);
    if (lim->window_start_ms == 0 || now - lim->window_start_ms >= lim->window_ms) {
        *flushed = lim->suppressed;
        *span_ms = now - lim->window_start_ms;
        lim->window_start_ms = now;
        lim->lines = 0;
        lim->suppressed = 0;
    }
    admit = lim->lines < lim->max_lines;
    if (admit)
        lim->lines++;
    else
        lim->suppressed++;
    pthread_mutex_unlock(&limit_mu);
    return admit;
}

void sl_log_limited(sl_log_limit *lim, const char *file, int line, int level, const char *fmt,
                    ...)
{
    long flushed;
    int64_t span_ms = 0;
    if (level < log_level || !limit_admit(lim, &flushed, &span_ms))
        return;
    if (flushed > 0)
        log_fmt(level, "suppressed %ld similar messages from %s:%d in the last %.1f s", flushed,
                file, line, (double)span_ms / 1000.0);
    va_list ap;
    va_start(ap, fmt);
    log_line(level, fmt, ap);
    va_end(ap);
}
