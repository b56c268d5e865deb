/* Output helpers the CLI commands share: how values that several commands
 * print look as text and in --json. Text goes to stdout. */
#ifndef SL_CLI_OUTPUT_H
#define SL_CLI_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "cli/json.h"

/* s, or "-" if it is NULL or empty. */
const char *sl_cli_or_dash(const char *s);
/* Local time "YYYY-MM-DDTHH:MM:SS.mmm" of ms since the epoch into buf
 * (SL_CLI_TIME_MAX bytes suffice); "-" if ms is not positive. */
#define SL_CLI_TIME_MAX 32
void sl_cli_format_time(int64_t ms, char *buf, size_t len);
/* Times are ms since the epoch; -1 for "not yet" (as Flink's REST API). */
int64_t sl_cli_json_time(int64_t ms);
/* "key": s, or null if s is NULL or empty. */
void sl_cli_json_kv_opt_string(sl_json *j, const char *key, const char *s);
/* "<label>: <id> <uri>", or "<label>: none" when id is 0. */
void sl_cli_print_checkpoint_ref(const char *label, uint64_t id, const char *path);
/* "key": {"id": id, "path": path}, or null when id is 0. */
void sl_cli_json_checkpoint_ref(sl_json *j, const char *key, uint64_t id, const char *path);
/* Finishes the document: SL_EXIT_OK, else SL_EXIT_FAILED after saying why. */
int sl_cli_json_done(sl_json *j);

#endif
