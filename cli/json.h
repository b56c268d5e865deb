/* A tiny streaming JSON writer for the CLI's --json output.
 *
 * Values are written straight to a FILE as they are added; the writer only
 * tracks nesting so it can place commas and colons. Strings are escaped per
 * RFC 8259 and invalid UTF-8 becomes U+FFFD, so the output is always valid
 * JSON text. Misuse (a value where a key is due, too deep nesting, unbalanced
 * ends) is recorded and reported by sl_json_finish. Output is compact, one
 * document per line. */
#ifndef SL_CLI_JSON_H
#define SL_CLI_JSON_H

#include <stdint.h>
#include <stdio.h>

#define SL_JSON_MAX_DEPTH 32

typedef struct sl_json {
    FILE *out;
    int depth;
    int misuse;                              /* set on any wrong call sequence */
    int after_key;                           /* a key was written, its value is due */
    unsigned char is_object[SL_JSON_MAX_DEPTH];
    unsigned char has_items[SL_JSON_MAX_DEPTH];
} sl_json;

void sl_json_init(sl_json *j, FILE *out);

void sl_json_begin_object(sl_json *j);
void sl_json_end_object(sl_json *j);
void sl_json_begin_array(sl_json *j);
void sl_json_end_array(sl_json *j);

/* Inside an object: the key of the next value. */
void sl_json_key(sl_json *j, const char *key);

void sl_json_string(sl_json *j, const char *s); /* NULL writes null */
void sl_json_int(sl_json *j, int64_t v);
void sl_json_uint(sl_json *j, uint64_t v);
void sl_json_bool(sl_json *j, int v);
void sl_json_null(sl_json *j);

/* key + value shorthands for objects. */
void sl_json_kv_string(sl_json *j, const char *key, const char *s);
void sl_json_kv_int(sl_json *j, const char *key, int64_t v);
void sl_json_kv_uint(sl_json *j, const char *key, uint64_t v);

/* Ends the document with a newline. SL_EINVAL if the calls did not form one
 * complete value, SL_EIO if writing failed. */
int sl_json_finish(sl_json *j);

#endif
