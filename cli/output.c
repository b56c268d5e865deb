/* Output helpers shared by the commands (see output.h). */
#include "cli/output.h"

#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "cli/commands.h"
#include "common/status.h"

const char *sl_cli_or_dash(const char *s)
{
    return (s != NULL && *s != '\0') ? s : "-";
}

/* Local time "YYYY-MM-DDTHH:MM:SS.mmm" of ms since the epoch; "-" if unset. */
void sl_cli_format_time(int64_t ms, char *buf, size_t len)
{
    struct tm tm;
    time_t secs = (time_t)(ms / 1000);
    size_t n = 0;
    if (ms > 0 && localtime_r(&secs, &tm) != NULL)
        n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    if (n == 0)
        snprintf(buf, len, "-");
    else
        snprintf(buf + n, len - n, ".%03d", (int)(ms % 1000));
}

/* Times are ms since the epoch; -1 for "not yet" (as Flink's REST API). */
int64_t sl_cli_json_time(int64_t ms)
{
    return ms > 0 ? ms : -1;
}

/* An empty string is written as null. */
void sl_cli_json_kv_opt_string(sl_json *j, const char *key, const char *s)
{
    sl_json_kv_string(j, key, (s != NULL && *s != '\0') ? s : NULL);
}

/* "<label>: <id> <uri>", or "<label>: none" when id is 0. */
void sl_cli_print_checkpoint_ref(const char *label, uint64_t id, const char *path)
{
    if (id == 0)
        printf("%s: none\n", label);
    else
        printf("%s: %" PRIu64 " %s\n", label, id, sl_cli_or_dash(path));
}

/* "key": {"id": id, "path": path}, or null when id is 0. */
void sl_cli_json_checkpoint_ref(sl_json *j, const char *key, uint64_t id, const char *path)
{
    sl_json_key(j, key);
    if (id == 0) {
        sl_json_null(j);
        return;
    }
    sl_json_begin_object(j);
    sl_json_kv_uint(j, "id", id);
    sl_cli_json_kv_opt_string(j, "path", path);
    sl_json_end_object(j);
}

int sl_cli_json_done(sl_json *j)
{
    int rv = sl_json_finish(j);
    if (rv != SL_OK)
        return sl_cli_failed("cannot write the JSON output: %s", sl_strerror(rv));
    return SL_EXIT_OK;
}
