/* Expressions over a row's fields, for `filter: where:` and `map: set:`.
 *
 * Compiled once against the input schema (type-checked, every error with
 * the byte offset in the text where it is), then evaluated per record by a
 * small typed stack machine: no parsing, no allocation, no failure modes
 * that depend on the data (the only evaluation error is a row that does
 * not match the schema it was compiled for).
 *
 * Syntax, loosest binding first:
 *   a or b                       boolean
 *   a and b                      boolean
 *   not a                        boolean
 *   a = b, a == b, a != b, a <> b, a < b, a <= b, a > b, a >= b
 *                                numbers with numbers, strings with strings
 *                                (bytewise), booleans with booleans (= and !=
 *                                only); comparisons do not chain
 *   a + b, a - b                 numbers
 *   a * b, a / b, a % b          numbers
 *   -a                           numbers
 *   literals, fields, f(...), (a)
 * Keywords (and, or, not, true, false) and function names are
 * case-insensitive; field names are not. A field is a name of letters,
 * digits and '_' not starting with a digit, or any name in backquotes
 * (`user-id`). Literals: 42 (int), 3.5, .5, 1e3 (double), "text" with the
 * escapes \" \\ \n \t, true, false.
 *
 * Types: int (64-bit), double, string, boolean. int op int is int; a mix of
 * int and double is double (the int converted). A boolean cannot be a
 * field value: `where:` must be boolean, a `set:` expression must not be.
 *
 * Arithmetic on ints wraps around (two's complement); int / int truncates
 * toward zero and int % int takes the sign of the dividend. Integer
 * division or remainder by zero yields 0 and is counted (sl_expr_stats:
 * the operators log the count); INT64_MIN / -1 is INT64_MIN. Doubles follow
 * IEEE 754 (1.0 / 0 is Infinity, 0.0 / 0 and x % 0.0 are NaN; NaN compares
 * unequal to everything, itself included).
 *
 * Functions:
 *   lower(s), upper(s)      ASCII letters only; other bytes unchanged
 *   length(s)               characters (UTF-8: a character starts at the first
 *                           byte and at every byte outside 0x80-0xBF)
 *   substr(s, start[, len]) characters [start, start+len) of s, 0-based, the
 *                           window cut to the string (negative start or len
 *                           just cut more: substr("hello", -2, 3) = "h")
 *   concat(a, b, ...)       strings, 2 or more
 *   abs(x)                  int -> int (abs(INT64_MIN) wraps to INT64_MIN),
 *                           double -> double
 *   floor(x)                double -> double (as SQL's FLOOR), int -> int
 *   if(cond, a, b)          a or b; both the same type, int with double is
 *                           double
 *
 * Strings made by lower, upper and concat live in scratch space owned by
 * the compiled expression (SL_EXPR_SCRATCH bytes, reused by every
 * evaluation). A result longer than SL_MAX_STRING, or more than the scratch
 * holds in one evaluation, is cut to what fits and counted as truncated.
 * substr and if return views of their argument without copying. */
#ifndef SL_EXPR_H
#define SL_EXPR_H

#include <stddef.h>
#include <stdint.h>

#include "common/row.h"

/* Result type of comparisons, and, or, not, true and false (next to
 * SL_TYPE_INT, SL_TYPE_DOUBLE, SL_TYPE_STRING). */
#define SL_EXPR_BOOL 4

#define SL_EXPR_MAX_TEXT 65536   /* bytes of expression text */
#define SL_EXPR_MAX_NODES 1024   /* literals, fields, operators and calls */
#define SL_EXPR_MAX_DEPTH 64     /* nesting of parentheses, calls, unary operators */
#define SL_EXPR_SCRATCH (2 * SL_MAX_STRING)

typedef struct sl_expr sl_expr;

typedef struct sl_expr_error {
    size_t offset; /* byte offset in the text where the problem is */
    char msg[256];
} sl_expr_error;

typedef struct sl_expr_stats {
    uint64_t zero_divisions; /* integer / or % by zero (each yielded 0) */
    uint64_t truncated;      /* string results cut to fit */
} sl_expr_stats;

/* Parses and type-checks text (NUL-terminated) against schema. On success
 * *out is the compiled expression (sl_expr_free). SL_EINVAL with err filled
 * on any error in the text; SL_ENOMEM. */
int sl_expr_compile(const char *text, const sl_schema *schema, sl_expr **out,
                    sl_expr_error *err);
void sl_expr_free(sl_expr *e);

/* SL_TYPE_INT, SL_TYPE_DOUBLE, SL_TYPE_STRING or SL_EXPR_BOOL. */
int sl_expr_type(const sl_expr *e);
/* "int", "double", "string", "boolean". */
const char *sl_expr_type_name(int type);

/* Evaluates a non-boolean expression on row (which must have the schema
 * the expression was compiled for). A string result points into the row,
 * the expression's literals or its scratch: valid until the next
 * evaluation of e and as long as the row's bytes. SL_EINVAL if the row
 * does not match the schema (or e is boolean). */
int sl_expr_eval(sl_expr *e, const sl_row *row, sl_value *out);
/* Evaluates a boolean expression: *out is 0 or 1. */
int sl_expr_eval_bool(sl_expr *e, const sl_row *row, int *out);

/* Counts since compilation. */
void sl_expr_get_stats(const sl_expr *e, sl_expr_stats *out);

#endif
