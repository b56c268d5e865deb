/* Rows: records of named, typed fields, and their compact binary form.
 *
 * A row holds up to SL_MAX_FIELDS values. String values point at bytes the
 * row does not own (a network buffer, an operator's scratch space): the
 * owner of those bytes must outlive the row.
 *
 * Wire form of one row (self-describing, checked field by field on decode):
 *   u8 nfields, then per field: u8 type, payload
 *     INT    zigzag varint (1..10 bytes)
 *     DOUBLE 8 bytes little-endian IEEE-754
 *     STRING varint length (<= SL_MAX_STRING) + bytes */
#ifndef SL_ROW_H
#define SL_ROW_H

#include <stddef.h>
#include <stdint.h>

#define SL_MAX_FIELDS 64
#define SL_MAX_STRING (1u << 20)

typedef enum { SL_TYPE_INT = 1, SL_TYPE_DOUBLE = 2, SL_TYPE_STRING = 3 } sl_type;

typedef struct sl_value {
    sl_type type;
    union {
        int64_t i;
        double d;
        struct {
            const char *ptr;
            uint32_t len;
        } s;
    } u;
} sl_value;

typedef struct sl_row {
    int nfields;
    sl_value v[SL_MAX_FIELDS];
} sl_row;

/* A schema: field names and types. Names are owned by the schema. */
typedef struct sl_schema {
    int nfields;
    char *names[SL_MAX_FIELDS];
    sl_type types[SL_MAX_FIELDS];
} sl_schema;

/* Appends a field (name copied). SL_ENOSPC beyond SL_MAX_FIELDS, SL_EEXIST
 * if the name is already there. */
int sl_schema_add(sl_schema *s, const char *name, sl_type type);
/* Index of a field by name, or -1. */
int sl_schema_find(const sl_schema *s, const char *name);
void sl_schema_clear(sl_schema *s);
/* dst must be empty (zeroed or cleared); it is left empty on error. */
int sl_schema_copy(const sl_schema *src, sl_schema *dst);
const char *sl_type_name(sl_type t);

/* Encodes row into buf[0..cap). On success *used = bytes written. SL_ENOSPC
 * if it does not fit (buf contents then undefined), SL_EINVAL on a bad row. */
int sl_row_encode(const sl_row *row, uint8_t *buf, size_t cap, size_t *used);

/* Decodes one row from buf[0..len). Strings point into buf. *used = bytes
 * consumed. SL_EINVAL on any malformed or truncated input (never reads past
 * len). */
int sl_row_decode(const uint8_t *buf, size_t len, sl_row *row, size_t *used);

/* Varint helpers shared by the data plane and state files (LEB128, 7 bits a
 * byte, low first). sl_varint_get: SL_EINVAL if truncated, longer than 10
 * bytes, above 2^64-1, or not minimal (a last byte of 0 after the first). */
size_t sl_varint_put(uint8_t *buf, uint64_t v); /* buf needs 10 bytes */
int sl_varint_get(const uint8_t *buf, size_t len, uint64_t *v, size_t *used);

/* Writes a value as CSV text (RFC 4180 quoting only when needed, doubles
 * shortest round-trip) into out; returns bytes written or -1 if it does
 * not fit. Like sl_format_double, out is NUL-terminated, so cap must be at
 * least the length + 1. */
int sl_value_format_csv(const sl_value *v, char *out, size_t cap);

/* Formats a double as the shortest text that reads back to the same value
 * ("%.17g" shortened), laid out like JavaScript's Number toString: plain for
 * 1e-6 <= |d| < 1e21 ("100", "0.1", "0.000001"), else "1e+21", "5e-324",
 * "1.5e-7"; "-0", "NaN", "Infinity", "-Infinity". Returns the length (out
 * NUL-terminated), or -1 if cap is too small (cap 26 always suffices). */
int sl_format_double(double d, char *out, size_t cap);

#endif
