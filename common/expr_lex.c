/* Expressions: the lexer (tokens of expr_internal.h) and error messages. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/expr_internal.h"
#include "common/status.h"

#define NUMBER_MAX 256 /* bytes of one number literal */

int sl_expr_fail(sl_expr_parser *p, size_t offset, const char *fmt, ...)
{
    va_list ap;

    if (p->err != NULL) {
        p->err->offset = offset;
        va_start(ap, fmt);
        vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
        va_end(ap);
    }
    return SL_EINVAL;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_name_char(char c, int first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           (!first && is_digit(c));
}

/* Keywords, any case. */
static enum sl_tok keyword(const char *s, size_t n)
{
    static const struct {
        const char *word;
        enum sl_tok t;
    } words[] = {{"and", TK_AND}, {"or", TK_OR}, {"not", TK_NOT}, {"true", TK_TRUE},
                 {"false", TK_FALSE}};

    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strlen(words[i].word) == n && strncasecmp(words[i].word, s, n) == 0)
            return words[i].t;
    }
    return TK_NAME;
}

static int lex_name(sl_expr_parser *p, sl_token *t)
{
    const char *s = p->text;
    size_t i = p->at;

    while (is_name_char(s[i], 0))
        i++;
    t->name = s + p->at;
    t->nlen = i - p->at;
    t->t = keyword(t->name, t->nlen);
    p->at = i;
    return SL_OK;
}

/* `any name` */
static int lex_quoted_name(sl_expr_parser *p, sl_token *t)
{
    const char *s = p->text;
    size_t i = p->at + 1;

    while (s[i] != '\0' && s[i] != '`')
        i++;
    if (s[i] != '`')
        return sl_expr_fail(p, p->at, "unterminated name: '`' has no closing '`'");
    if (i == p->at + 1)
        return sl_expr_fail(p, p->at, "empty name ``");
    t->t = TK_NAME;
    t->name = s + p->at + 1;
    t->nlen = i - p->at - 1;
    t->quoted = 1;
    p->at = i + 1;
    return SL_OK;
}

/* Digits with an optional fraction and exponent, or '.' and digits. */
static int lex_number(sl_expr_parser *p, sl_token *t)
{
    const char *s = p->text;
    size_t i = p->at, start = p->at;
    char buf[NUMBER_MAX];
    int dbl = 0;

    while (is_digit(s[i]))
        i++;
    if (s[i] == '.') {
        dbl = 1;
        i++;
        while (is_digit(s[i]))
            i++;
    }
    if ((s[i] == 'e' || s[i] == 'E') &&
        (is_digit(s[i + 1]) || ((s[i + 1] == '+' || s[i + 1] == '-') && is_digit(s[i + 2])))) {
        dbl = 1;
        i += 2;
        while (is_digit(s[i]))
            i++;
    }
    if (is_name_char(s[i], 0) || s[i] == '.')
        return sl_expr_fail(p, start, "malformed number '%.*s'", (int)(i + 1 - start),
                            s + start);
    p->at = i;
    if (!dbl) {
        uint64_t v = 0;
        for (size_t j = start; j < i; j++) {
            unsigned d = (unsigned)(s[j] - '0');
            if (v > ((uint64_t)INT64_MAX + 1 - d) / 10)
                return sl_expr_fail(p, start, "integer %.*s is out of range", (int)(i - start),
                                    s + start);
            v = v * 10 + d;
        }
        t->t = TK_INT;
        t->u = v;
        return SL_OK;
    }
    if (i - start >= sizeof(buf))
        return sl_expr_fail(p, start, "number is longer than %d characters", NUMBER_MAX - 1);
    memcpy(buf, s + start, i - start);
    buf[i - start] = '\0';
    errno = 0;
    t->d = strtod(buf, NULL);
    if (errno == ERANGE && isinf(t->d))
        return sl_expr_fail(p, start, "number %s is out of range", buf);
    t->t = TK_DOUBLE;
    return SL_OK;
}

/* "..." with \" \\ \n \t, unescaped into the pool. */
static int lex_string(sl_expr_parser *p, sl_token *t)
{
    const char *s = p->text;
    size_t i = p->at + 1;
    char *out = p->pool + p->pool_used;
    uint32_t n = 0;

    for (;; i++) {
        char c = s[i];
        if (c == '\0')
            return sl_expr_fail(p, p->at, "unterminated string");
        if (c == '"')
            break;
        if (c == '\\') {
            char e = s[++i];
            if (e == '"' || e == '\\')
                c = e;
            else if (e == 'n')
                c = '\n';
            else if (e == 't')
                c = '\t';
            else if (e == '\0')
                return sl_expr_fail(p, p->at, "unterminated string");
            else
                return sl_expr_fail(p, i - 1,
                                    "unknown escape '\\%c' in a string (use \\\", \\\\, \\n "
                                    "or \\t)",
                                    e);
        }
        out[n++] = c;
    }
    t->t = TK_STRING;
    t->str = out;
    t->slen = n;
    p->pool_used += n;
    p->at = i + 1;
    return SL_OK;
}

static int bad_char(sl_expr_parser *p)
{
    unsigned char c = (unsigned char)p->text[p->at];

    switch (c) {
    case '!': return sl_expr_fail(p, p->at, "unexpected '!' (use 'not' or '!=')");
    case '&': return sl_expr_fail(p, p->at, "unexpected '&' (use 'and')");
    case '|': return sl_expr_fail(p, p->at, "unexpected '|' (use 'or')");
    case '\'': return sl_expr_fail(p, p->at, "strings are written in double quotes (\"...\")");
    }
    if (c < 0x20 || c >= 0x7f)
        return sl_expr_fail(p, p->at, "unexpected byte 0x%02x", c);
    return sl_expr_fail(p, p->at, "unexpected '%c'", c);
}

/* Operators and punctuation; 0 if s[0] starts none. */
static size_t lex_punct(const char *s, enum sl_tok *t)
{
    static const struct {
        const char *text;
        enum sl_tok t;
    } ops[] = {{"==", TK_EQ}, {"!=", TK_NE}, {"<>", TK_NE}, {"<=", TK_LE}, {">=", TK_GE},
               {"(", TK_LPAREN}, {")", TK_RPAREN}, {",", TK_COMMA}, {"+", TK_PLUS},
               {"-", TK_MINUS}, {"*", TK_STAR}, {"/", TK_SLASH}, {"%", TK_PERCENT},
               {"=", TK_EQ}, {"<", TK_LT}, {">", TK_GT}};

    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        size_t n = strlen(ops[i].text);
        if (strncmp(s, ops[i].text, n) == 0) {
            *t = ops[i].t;
            return n;
        }
    }
    return 0;
}

int sl_expr_lex(sl_expr_parser *p)
{
    sl_token *t = &p->tok;
    const char *s = p->text;
    char c;
    size_t n;
    int rv;

    while (s[p->at] == ' ' || s[p->at] == '\t' || s[p->at] == '\n' || s[p->at] == '\r')
        p->at++;
    memset(t, 0, sizeof(*t));
    t->pos = p->at;
    c = s[p->at];
    if (c == '\0')
        rv = SL_OK; /* TK_END */
    else if (is_name_char(c, 1))
        rv = lex_name(p, t);
    else if (c == '`')
        rv = lex_quoted_name(p, t);
    else if (is_digit(c) || (c == '.' && is_digit(s[p->at + 1])))
        rv = lex_number(p, t);
    else if (c == '"')
        rv = lex_string(p, t);
    else if ((n = lex_punct(s + p->at, &t->t)) > 0) {
        p->at += n;
        rv = SL_OK;
    } else
        rv = bad_char(p);
    t->len = p->at - t->pos;
    return rv;
}
