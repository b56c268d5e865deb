/* Rows as text: schemas written as "ts:int, user:string", CSV records
 * (RFC 4180), parsed into rows (JSON lines: taskmanager/operators/row_json.h).
 * Pure functions (no I/O), shared by the job-file checks, the file source
 * and the file sink.
 *
 * CSV (row_text.c): fields separated by ',', a field may be quoted ("..."),
 * a quote inside a quoted field is doubled (""), and a quoted field may hold
 * commas, CR and LF. A record ends at the first LF outside a quoted field;
 * a CR right before it is dropped. There is no header line. Numbers may carry spaces or
 * tabs around them; strings are taken as they are. */
#ifndef SL_ROW_TEXT_H
#define SL_ROW_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "common/row.h"

/* Parses "name:type, name:type, ..." (types int, double, string; blanks
 * around names, types and commas allowed) into out, which must be empty. On
 * error returns SL_EINVAL, leaves out empty, writes a message to err and
 * the byte offset in text where the problem is to *err_off. */
int sl_schema_parse(const char *text, sl_schema *out, size_t *err_off, char *err,
                    size_t errlen);

/* Numbers as text, exactly n bytes (no blanks; s[n] is never read, s need
 * not be terminated): an optional sign and decimal
 * digits that fit 64 bits; a decimal double (sign, digits, '.', exponent;
 * no hex, inf or nan) that does not overflow. SL_EINVAL otherwise. */
int sl_text_parse_int(const char *s, size_t n, int64_t *out);
int sl_text_parse_double(const char *s, size_t n, double *out);

/* Scans p[0..n) for the LF that ends a CSV record. *state is the scanner's
 * state at p[0] (0 at a record start) and is updated as bytes are scanned.
 * Returns 1 and sets *end to the index of that LF (*state is then 0 again),
 * or 0 if p[0..n) holds none (*state is the state at p[n], so a scan can go
 * on in the next piece, or run over a file's prefix to learn whether an
 * offset lies inside a quoted field). Only a quote at the start of a field
 * opens a quoted field; a stray quote elsewhere ends up in a malformed
 * record but does not change where records end. */
int sl_csv_record_end(const char *p, size_t n, int *state, size_t *end);

/* Parses one record (p[0..n), without its line end) into row with the
 * schema's fields and types. Strings are unquoted into scratch (at least n
 * bytes) and row points into scratch and p. Reads only p[0..n) (p need not
 * be terminated). SL_EINVAL with a message in err for a malformed record. */
int sl_csv_parse_record(const char *p, size_t n, const sl_schema *schema, sl_row *row,
                        char *scratch, char *err, size_t errlen);

#endif
