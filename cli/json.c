#include "cli/json.h"

#include <inttypes.h>
#include <string.h>

#include "common/status.h"

void sl_json_init(sl_json *j, FILE *out)
{
    memset(j, 0, sizeof(*j));
    j->out = out;
}

/* Writes the separator due before a value and checks a value is allowed. */
static void before_value(sl_json *j)
{
    if (j->after_key) {
        j->after_key = 0;
        return;
    }
    if (j->depth == 0) {
        if (j->has_items[0])
            j->misuse = 1; /* a second top-level value */
        j->has_items[0] = 1;
        return;
    }
    if (j->is_object[j->depth]) {
        j->misuse = 1; /* a value without a key */
        return;
    }
    if (j->has_items[j->depth])
        fputc(',', j->out);
    j->has_items[j->depth] = 1;
}

static void begin(sl_json *j, int is_object)
{
    before_value(j);
    if (j->depth + 1 >= SL_JSON_MAX_DEPTH) {
        j->misuse = 1;
        return;
    }
    j->depth++;
    j->is_object[j->depth] = (unsigned char)is_object;
    j->has_items[j->depth] = 0;
    fputc(is_object ? '{' : '[', j->out);
}

static void end(sl_json *j, int is_object)
{
    if (j->depth == 0 || j->after_key || j->is_object[j->depth] != is_object) {
        j->misuse = 1;
        return;
    }
    j->depth--;
    fputc(is_object ? '}' : ']', j->out);
}

void sl_json_begin_object(sl_json *j) { begin(j, 1); }
void sl_json_end_object(sl_json *j) { end(j, 1); }
void sl_json_begin_array(sl_json *j) { begin(j, 0); }
void sl_json_end_array(sl_json *j) { end(j, 0); }

/* Length of the well-formed UTF-8 sequence at s (n bytes left), 0 if the
 * bytes there are not one (bad lead or continuation, overlong, surrogate,
 * beyond U+10FFFF). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len;
    uint32_t cp, min;
    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xE0) == 0xC0) {
        len = 2, cp = s[0] & 0x1Fu, min = 0x80;
    } else if ((s[0] & 0xF0) == 0xE0) {
        len = 3, cp = s[0] & 0x0Fu, min = 0x800;
    } else if ((s[0] & 0xF8) == 0xF0) {
        len = 4, cp = s[0] & 0x07u, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* Writes one ASCII byte, escaped if JSON requires it. */
static void put_ascii(FILE *out, unsigned char c)
{
    switch (c) {
    case '"': fputs("\\\"", out); return;
    case '\\': fputs("\\\\", out); return;
    case '\b': fputs("\\b", out); return;
    case '\f': fputs("\\f", out); return;
    case '\n': fputs("\\n", out); return;
    case '\r': fputs("\\r", out); return;
    case '\t': fputs("\\t", out); return;
    }
    if (c < 0x20)
        fprintf(out, "\\u%04x", c);
    else
        fputc(c, out);
}

static void put_string(FILE *out, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str);
    fputc('"', out);
    while (n > 0) {
        size_t len = utf8_len(s, n);
        if (len == 0) {
            fputs("\\ufffd", out);
            len = 1;
        } else if (len == 1) {
            put_ascii(out, s[0]);
        } else {
            fwrite(s, 1, len, out);
        }
        s += len;
        n -= len;
    }
    fputc('"', out);
}

void sl_json_key(sl_json *j, const char *key)
{
    if (j->depth == 0 || !j->is_object[j->depth] || j->after_key) {
        j->misuse = 1;
        return;
    }
    if (j->has_items[j->depth])
        fputc(',', j->out);
    j->has_items[j->depth] = 1;
    put_string(j->out, key);
    fputc(':', j->out);
    j->after_key = 1;
}

void sl_json_string(sl_json *j, const char *s)
{
    if (s == NULL) {
        sl_json_null(j);
        return;
    }
    before_value(j);
    put_string(j->out, s);
}

void sl_json_int(sl_json *j, int64_t v)
{
    before_value(j);
    fprintf(j->out, "%" PRId64, v);
}

void sl_json_uint(sl_json *j, uint64_t v)
{
    before_value(j);
    fprintf(j->out, "%" PRIu64, v);
}

void sl_json_bool(sl_json *j, int v)
{
    before_value(j);
    fputs(v ? "true" : "false", j->out);
}

void sl_json_null(sl_json *j)
{
    before_value(j);
    fputs("null", j->out);
}

void sl_json_kv_string(sl_json *j, const char *key, const char *s)
{
    sl_json_key(j, key);
    sl_json_string(j, s);
}

void sl_json_kv_int(sl_json *j, const char *key, int64_t v)
{
    sl_json_key(j, key);
    sl_json_int(j, v);
}

void sl_json_kv_uint(sl_json *j, const char *key, uint64_t v)
{
    sl_json_key(j, key);
    sl_json_uint(j, v);
}

int sl_json_finish(sl_json *j)
{
    if (j->depth != 0 || j->after_key || !j->has_items[0])
        j->misuse = 1;
    fputc('\n', j->out);
    if (j->misuse)
        return SL_EINVAL;
    return ferror(j->out) ? SL_EIO : SL_OK;
}
