/* Rows as JSON lines, for the file source and sink.
 * JSON lines: one object per line (RFC 8259). The schema's
 * fields are looked up by name: an absent field is an error, fields not in
 * the schema are checked for syntax and ignored. An int field takes a JSON
 * number without fraction or exponent that fits 64 bits, a double field any
 * number, a string field a string (escapes decoded, \u surrogate pairs to
 * UTF-8). true, false and null are not supported as field values (they fail
 * the record). A field named twice is an error. */
#ifndef SL_ROW_JSON_H
#define SL_ROW_JSON_H

#include <stddef.h>

#include "common/row.h"

/* Parses one JSON object (p[0..n), without its line end) into row, like
 * sl_csv_parse_record. */
int sl_json_parse_line(const char *p, size_t n, const sl_schema *schema, sl_row *row,
                       char *scratch, char *err, size_t errlen);

/* Writes row as one JSON object {"name":value,...} with the schema's names
 * (no line end): strings escaped per RFC 8259 (", \ and control characters;
 * other bytes as they are), ints plain, doubles shortest round-trip
 * (sl_format_double), NaN and infinities as null. Returns the length (out
 * NUL-terminated) or -1 if it does not fit in cap or row and schema differ
 * in length. */
int sl_row_format_json(const sl_row *row, const sl_schema *schema, char *out, size_t cap);

#endif
