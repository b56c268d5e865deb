/* Unit tests: expressions (common/expr*.c): parsing, precedence, types,
 * every operator and function, errors with their offsets, evaluation
 * edge cases, and random input that must never crash. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/expr.h"
#include "common/status.h"

/* amount:int, price:double, user:string, neg:int, city:string, user-id:int, and:int */
static sl_schema schema;
static sl_row row;
static sl_expr *cur;
static char sbuf[4096];

static void set_str(int i, const char *s)
{
    row.v[i].type = SL_TYPE_STRING;
    row.v[i].u.s.ptr = s;
    row.v[i].u.s.len = (uint32_t)strlen(s);
}

static void setup(void)
{
    memset(&schema, 0, sizeof(schema));
    memset(&row, 0, sizeof(row));
    ck_assert_int_eq(sl_schema_add(&schema, "amount", SL_TYPE_INT), SL_OK);
    ck_assert_int_eq(sl_schema_add(&schema, "price", SL_TYPE_DOUBLE), SL_OK);
    ck_assert_int_eq(sl_schema_add(&schema, "user", SL_TYPE_STRING), SL_OK);
    ck_assert_int_eq(sl_schema_add(&schema, "neg", SL_TYPE_INT), SL_OK);
    ck_assert_int_eq(sl_schema_add(&schema, "city", SL_TYPE_STRING), SL_OK);
    ck_assert_int_eq(sl_schema_add(&schema, "user-id", SL_TYPE_INT), SL_OK);
    ck_assert_int_eq(sl_schema_add(&schema, "and", SL_TYPE_INT), SL_OK);
    row.nfields = 7;
    row.v[0].type = SL_TYPE_INT;
    row.v[0].u.i = 120;
    row.v[1].type = SL_TYPE_DOUBLE;
    row.v[1].u.d = 3.5;
    set_str(2, "Alice");
    row.v[3].type = SL_TYPE_INT;
    row.v[3].u.i = -7;
    set_str(4, "Z\xc3\xbcrich"); /* Zürich: 6 characters, 7 bytes */
    row.v[5].type = SL_TYPE_INT;
    row.v[5].u.i = 42;
    row.v[6].type = SL_TYPE_INT;
    row.v[6].u.i = 1;
    cur = NULL;
}

static void teardown(void)
{
    sl_expr_free(cur);
    cur = NULL;
    sl_schema_clear(&schema);
}

/* Compiles text (must succeed) into cur and checks its type. */
static void compile(const char *text, int type)
{
    sl_expr_error err;
    int rv;

    sl_expr_free(cur);
    cur = NULL;
    rv = sl_expr_compile(text, &schema, &cur, &err);
    ck_assert_msg(rv == SL_OK, "'%s' does not compile: %zu: %s", text, err.offset, err.msg);
    ck_assert_msg(sl_expr_type(cur) == type, "'%s' is %s, expected %s", text,
                  sl_expr_type_name(sl_expr_type(cur)), sl_expr_type_name(type));
}

static void expect_err(const char *text, size_t offset, const char *msg);

static sl_value eval(const char *text, int type)
{
    sl_value v;

    compile(text, type);
    ck_assert_int_eq(sl_expr_eval(cur, &row, &v), SL_OK);
    ck_assert_int_eq(v.type, type);
    return v;
}

static int64_t I(const char *text)
{
    return eval(text, SL_TYPE_INT).u.i;
}

static double D(const char *text)
{
    return eval(text, SL_TYPE_DOUBLE).u.d;
}

static const char *S(const char *text)
{
    sl_value v = eval(text, SL_TYPE_STRING);

    ck_assert_uint_lt(v.u.s.len, sizeof(sbuf));
    memcpy(sbuf, v.u.s.ptr, v.u.s.len);
    sbuf[v.u.s.len] = '\0';
    return sbuf;
}

static int B(const char *text)
{
    int b = -1;

    compile(text, SL_EXPR_BOOL);
    ck_assert_int_eq(sl_expr_eval_bool(cur, &row, &b), SL_OK);
    return b;
}

static void expect_err(const char *text, size_t offset, const char *msg)
{
    sl_expr_error err;
    sl_expr *e = NULL;
    int rv = sl_expr_compile(text, &schema, &e, &err);

    ck_assert_msg(rv == SL_EINVAL, "'%s' compiled, expected: %s", text, msg);
    ck_assert_ptr_null(e);
    ck_assert_msg(strcmp(err.msg, msg) == 0, "'%s': message '%s', expected '%s'", text, err.msg,
                  msg);
    ck_assert_msg(err.offset == offset, "'%s' (%s): offset %zu, expected %zu", text, msg,
                  err.offset, offset);
}

START_TEST(test_literals)
{
    ck_assert_int_eq(I("42"), 42);
    ck_assert_int_eq(I("-42"), -42);
    ck_assert_int_eq(I("9223372036854775807"), INT64_MAX);
    ck_assert_int_eq(I("-9223372036854775808"), INT64_MIN);
    ck_assert_double_eq(D("3.5"), 3.5);
    ck_assert_double_eq(D(".5"), 0.5);
    ck_assert_double_eq(D("1e3"), 1000.0);
    ck_assert_double_eq(D("2.5E-1"), 0.25);
    ck_assert_double_eq(D("-0.25"), -0.25);
    ck_assert_str_eq(S("\"plain\""), "plain");
    ck_assert_str_eq(S("\"say \\\"hi\\\"\""), "say \"hi\"");
    ck_assert_str_eq(S("\"back\\\\slash\""), "back\\slash");
    ck_assert_str_eq(S("\"tab\\there\\n\""), "tab\there\n");
    ck_assert_str_eq(S("\"\""), "");
    ck_assert_int_eq(B("true"), 1);
    ck_assert_int_eq(B("FALSE"), 0);
    ck_assert_int_eq(B(" \t\n true \r\n"), 1);
}
END_TEST

START_TEST(test_fields)
{
    ck_assert_int_eq(I("amount"), 120);
    ck_assert_double_eq(D("price"), 3.5);
    ck_assert_str_eq(S("user"), "Alice");
    ck_assert_int_eq(I("`user-id`"), 42);
    ck_assert_int_eq(I("`and` + 1"), 2);   /* a keyword as a field name */
    expect_err("user-id", 5, "unknown field 'id'"); /* '-' is minus outside backquotes */
}
END_TEST

START_TEST(test_arithmetic)
{
    ck_assert_int_eq(I("7 + 3"), 10);
    ck_assert_int_eq(I("7 - 10"), -3);
    ck_assert_int_eq(I("7 * 3"), 21);
    ck_assert_int_eq(I("7 / 2"), 3);
    ck_assert_int_eq(I("-7 / 2"), -3);    /* toward zero */
    ck_assert_int_eq(I("7 % 3"), 1);
    ck_assert_int_eq(I("-7 % 3"), -1);    /* sign of the dividend */
    ck_assert_int_eq(I("7 % -3"), 1);
    ck_assert_int_eq(I("-amount"), -120);
    ck_assert_int_eq(I("- -amount"), 120);
    ck_assert_int_eq(I("amount * neg"), -840);
    /* wrap around */
    ck_assert_int_eq(I("9223372036854775807 + 1"), INT64_MIN);
    ck_assert_int_eq(I("-9223372036854775808 - 1"), INT64_MAX);
    ck_assert_int_eq(I("9223372036854775807 * 2"), -2);
    ck_assert_int_eq(I("-(-9223372036854775808)"), INT64_MIN);
    /* doubles and promotion */
    ck_assert_double_eq(D("price * 2"), 7.0);
    ck_assert_double_eq(D("2 * price"), 7.0);
    ck_assert_double_eq(D("amount / 8.0"), 15.0);
    ck_assert_double_eq(D("7 / 2.0"), 3.5);
    ck_assert_double_eq(D("1 + 0.5"), 1.5);
    ck_assert_double_eq(D("price - 4"), -0.5);
    ck_assert_double_eq(D("7.5 % 2"), 1.5);
    ck_assert_double_eq(D("-price"), -3.5);
    ck_assert_double_eq(D("amount + price + 1"), 124.5);
}
END_TEST

START_TEST(test_division_by_zero)
{
    sl_expr_stats st;

    ck_assert_int_eq(I("amount / 0"), 0);
    sl_expr_get_stats(cur, &st);
    ck_assert_uint_eq(st.zero_divisions, 1);
    ck_assert_int_eq(I("amount % (neg + 7)"), 0);
    ck_assert_int_eq(sl_expr_eval(cur, &row, &(sl_value){0}), SL_OK);
    sl_expr_get_stats(cur, &st);
    ck_assert_uint_eq(st.zero_divisions, 2); /* counted per evaluation */
    ck_assert_int_eq(I("-9223372036854775808 / -1"), INT64_MIN);
    ck_assert_int_eq(I("-9223372036854775808 % -1"), 0);
    ck_assert(isinf(D("1.0 / 0")) && D("1.0 / 0") > 0);
    ck_assert(isinf(D("-1 / 0.0")) && D("-1 / 0.0") < 0);
    ck_assert(isnan(D("0.0 / 0")));
    ck_assert(isnan(D("5 % 0.0")));
    sl_expr_get_stats(cur, &st);
    ck_assert_uint_eq(st.zero_divisions, 0); /* doubles are not counted */
    /* NaN compares unequal to everything */
    ck_assert_int_eq(B("0.0 / 0 = 0.0 / 0"), 0);
    ck_assert_int_eq(B("0.0 / 0 != 0.0 / 0"), 1);
    ck_assert_int_eq(B("0.0 / 0 < 1"), 0);
    ck_assert_int_eq(B("0.0 / 0 >= 1"), 0);
}
END_TEST

START_TEST(test_comparisons)
{
    ck_assert_int_eq(B("amount = 120"), 1);
    ck_assert_int_eq(B("amount == 120"), 1);
    ck_assert_int_eq(B("amount != 120"), 0);
    ck_assert_int_eq(B("amount <> 121"), 1);
    ck_assert_int_eq(B("amount < 120"), 0);
    ck_assert_int_eq(B("amount <= 120"), 1);
    ck_assert_int_eq(B("amount > 119"), 1);
    ck_assert_int_eq(B("amount >= 121"), 0);
    ck_assert_int_eq(B("price = 3.5"), 1);
    ck_assert_int_eq(B("price > 3"), 1);      /* int promoted */
    ck_assert_int_eq(B("3 < price"), 1);
    ck_assert_int_eq(B("120 = 120.0"), 1);
    ck_assert_int_eq(B("user = \"Alice\""), 1);
    ck_assert_int_eq(B("user != \"alice\""), 1);
    ck_assert_int_eq(B("user < \"Bob\""), 1);
    ck_assert_int_eq(B("user < \"Alicea\""), 1); /* a prefix sorts first */
    ck_assert_int_eq(B("user > \"Alic\""), 1);
    ck_assert_int_eq(B("user >= \"Alice\""), 1);
    ck_assert_int_eq(B("\"a\" < \"B\""), 0);     /* bytewise */
    ck_assert_int_eq(B("\"\" < \"a\""), 1);
    ck_assert_int_eq(B("\"\" = \"\""), 1);
    ck_assert_int_eq(B("city > \"Zz\""), 1);     /* 0xc3 > 'z' */
    ck_assert_int_eq(B("(amount > 1) = true"), 1);
    ck_assert_int_eq(B("(amount > 1) != (price > 100)"), 1);
}
END_TEST

START_TEST(test_logic)
{
    sl_expr_stats st;

    ck_assert_int_eq(B("true and true"), 1);
    ck_assert_int_eq(B("true and false"), 0);
    ck_assert_int_eq(B("false or true"), 1);
    ck_assert_int_eq(B("false or false"), 0);
    ck_assert_int_eq(B("not false"), 1);
    ck_assert_int_eq(B("not not true"), 1);
    ck_assert_int_eq(B("amount > 100 and user != \"bot\""), 1);
    ck_assert_int_eq(B("amount > 100 AND NOT user = \"bot\" Or False"), 1);
    /* short-circuit: the right side does not run */
    ck_assert_int_eq(B("false and amount / 0 = 0"), 0);
    sl_expr_get_stats(cur, &st);
    ck_assert_uint_eq(st.zero_divisions, 0);
    ck_assert_int_eq(B("true or amount / 0 = 0"), 1);
    sl_expr_get_stats(cur, &st);
    ck_assert_uint_eq(st.zero_divisions, 0);
    ck_assert_int_eq(B("true and amount / 0 = 0"), 1);
    sl_expr_get_stats(cur, &st);
    ck_assert_uint_eq(st.zero_divisions, 1);
}
END_TEST

START_TEST(test_precedence)
{
    ck_assert_int_eq(I("1 + 2 * 3"), 7);
    ck_assert_int_eq(I("(1 + 2) * 3"), 9);
    ck_assert_int_eq(I("2 * 3 + 1"), 7);
    ck_assert_int_eq(I("10 - 4 - 3"), 3);      /* left to right */
    ck_assert_int_eq(I("100 / 10 / 5"), 2);
    ck_assert_int_eq(I("7 - 2 % 3"), 5);
    ck_assert_int_eq(I("-2 * 3"), -6);
    ck_assert_int_eq(I("-(2 + 3) * 2"), -10);
    ck_assert_int_eq(I("2 * -3"), -6);
    ck_assert_int_eq(I("1 - -1"), 2);
    ck_assert_int_eq(B("1 + 2 = 3"), 1);      /* + before = */
    ck_assert_int_eq(B("2 * 3 > 5 and 1 < 2"), 1);
    ck_assert_int_eq(B("true or false and false"), 1); /* and before or */
    ck_assert_int_eq(B("(true or false) and false"), 0);
    ck_assert_int_eq(B("not 1 = 2"), 1);      /* not (1 = 2) */
    ck_assert_int_eq(B("not true and false"), 0);   /* (not true) and false */
    ck_assert_int_eq(B("not false or true"), 1);
    ck_assert_int_eq(B("not (false or true)"), 0);
    ck_assert_int_eq(B("((((amount))) = (((120))))"), 1);
}
END_TEST

START_TEST(test_functions)
{
    ck_assert_str_eq(S("lower(user)"), "alice");
    ck_assert_str_eq(S("upper(user)"), "ALICE");
    ck_assert_str_eq(S("upper(city)"), "Z\xc3\xbcRICH"); /* ASCII only */
    ck_assert_str_eq(S("LOWER(\"MiXeD 42!\")"), "mixed 42!");
    ck_assert_str_eq(S("lower(upper(user))"), "alice");
    ck_assert_int_eq(I("length(user)"), 5);
    ck_assert_int_eq(I("length(city)"), 6);   /* characters, not bytes */
    ck_assert_int_eq(I("length(\"\")"), 0);
    ck_assert_str_eq(S("substr(user, 1, 3)"), "lic");
    ck_assert_str_eq(S("substr(user, 0, 100)"), "Alice");
    ck_assert_str_eq(S("substr(user, 3)"), "ce");
    ck_assert_str_eq(S("substr(user, 5, 1)"), "");
    ck_assert_str_eq(S("substr(user, 99, 1)"), "");
    ck_assert_str_eq(S("substr(user, -2, 3)"), "A");    /* window [-2, 1) */
    ck_assert_str_eq(S("substr(user, -2)"), "Alice");
    ck_assert_str_eq(S("substr(user, 2, 0)"), "");
    ck_assert_str_eq(S("substr(user, 2, -1)"), "");
    ck_assert_str_eq(S("substr(user, 1, 9223372036854775807)"), "lice");
    ck_assert_str_eq(S("substr(user, -9223372036854775808, 9223372036854775807)"), "");
    ck_assert_str_eq(S("substr(city, 1, 2)"), "\xc3\xbcr"); /* characters */
    ck_assert_str_eq(S("substr(upper(user), 1, 2)"), "LI");
    ck_assert_str_eq(S("concat(user, \"@\", city)"), "Alice@Z\xc3\xbcrich");
    ck_assert_str_eq(S("concat(\"\", \"\")"), "");
    ck_assert_str_eq(S("concat(lower(user), upper(user))"), "aliceALICE");
    ck_assert_int_eq(I("abs(neg)"), 7);
    ck_assert_int_eq(I("abs(amount)"), 120);
    ck_assert_int_eq(I("abs(-9223372036854775808)"), INT64_MIN);
    ck_assert_double_eq(D("abs(-price)"), 3.5);
    ck_assert_double_eq(D("floor(price)"), 3.0);
    ck_assert_double_eq(D("floor(-price)"), -4.0);
    ck_assert_int_eq(I("floor(neg)"), -7);      /* int stays int */
    ck_assert_int_eq(I("if(amount > 100, 1, 2)"), 1);
    ck_assert_int_eq(I("if(amount > 200, 1, 2)"), 2);
    ck_assert_double_eq(D("if(amount > 100, 1, 2.5)"), 1.0);  /* int with double */
    ck_assert_double_eq(D("if(amount > 200, 1, 2.5)"), 2.5);
    ck_assert_double_eq(D("if(false, price, amount)"), 120.0);
    ck_assert_str_eq(S("if(user = \"Alice\", upper(user), lower(user))"), "ALICE");
    ck_assert_int_eq(B("if(true, false, true)"), 0);
    ck_assert_int_eq(I("If(true, if(false, 1, 2), 3) * 10"), 20);
    ck_assert_int_eq(I("length(concat(user, user)) + abs(-1)"), 11);
}
END_TEST

START_TEST(test_type_errors)
{
    /* positions are byte offsets into the text */
    expect_err("amout > 100", 0, "unknown field 'amout'");
    expect_err("amount > 100 and usr = \"x\"", 17, "unknown field 'usr'");
    expect_err("AMOUNT > 1", 0, "unknown field 'AMOUNT'");
    expect_err("`nope` = 1", 0, "unknown field 'nope'");
    expect_err("user > 1", 5, "cannot compare string with int");
    expect_err("price = user", 6, "cannot compare double with string");
    expect_err("(amount > 1) = 1", 13, "cannot compare boolean with int");
    expect_err("true < false", 5, "booleans cannot be ordered with '<' (only = and !=)");
    expect_err("user + \"x\"", 5, "'+' does not join strings (use concat(a, b))");
    expect_err("amount + user", 7, "operator '+' needs numbers, not int and string");
    expect_err("amount * (1 > 0)", 7, "operator '*' needs numbers, not int and boolean");
    expect_err("amount % user", 7, "operator '%' needs numbers, not int and string");
    expect_err("-user", 0, "cannot negate string");
    expect_err("1 + -true", 4, "cannot negate boolean");
    expect_err("amount and true", 0, "'and' needs a boolean, not int");
    expect_err("true or user", 8, "'or' needs a boolean, not string");
    expect_err("not amount", 4, "'not' needs a boolean, not int");
    expect_err("1 < 2 < 3", 6, "comparisons do not chain (write a < b and b < c)");
    expect_err("lower(amount)", 6, "lower: argument 1 is int, expected string");
    expect_err("length(1.5)", 7, "length: argument 1 is double, expected string");
    expect_err("substr(user, 1.0, 2)", 13, "substr: argument 2 is double, expected int");
    expect_err("substr(user, 1, \"2\")", 16, "substr: argument 3 is string, expected int");
    expect_err("concat(user, amount)", 13, "concat: argument 2 is int, expected string");
    expect_err("abs(user)", 4, "abs: argument 1 is string, expected a number");
    expect_err("floor(true)", 6, "floor: argument 1 is boolean, expected a number");
    expect_err("if(amount, 1, 2)", 3, "if: argument 1 is int, expected boolean");
    expect_err("if(true, 1, user)", 12, "if: the branches have different types (int and string)");
    expect_err("if(true, user, false)", 15,
               "if: the branches have different types (string and boolean)");
}
END_TEST

START_TEST(test_call_errors)
{
    expect_err("lowr(user)", 0,
               "unknown function 'lowr' (functions: lower, upper, length, substr, concat, abs, "
               "floor, if)");
    expect_err("amount + sqrt(4)", 9,
               "unknown function 'sqrt' (functions: lower, upper, length, substr, concat, abs, "
               "floor, if)");
    expect_err("lower(user, user)", 0, "lower takes 1 argument, got 2");
    expect_err("lower()", 0, "lower takes 1 argument, got 0");
    expect_err("1 + substr(user)", 4, "substr takes 2 or 3 arguments, got 1");
    expect_err("substr(user, 1, 2, 3)", 0, "substr takes 2 or 3 arguments, got 4");
    expect_err("concat(user)", 0, "concat takes at least 2 arguments, got 1");
    expect_err("if(true, 1)", 0, "if takes 3 arguments, got 2");
    expect_err("abs(1, 2)", 0, "abs takes 1 argument, got 2");
    expect_err("lower(user user)", 11, "expected ',' or ')', found 'user'");
    expect_err("lower(user,)", 11, "expected a value, found ')'");
    expect_err("`lower`(user)", 0, "unknown field 'lower'"); /* quoted: never a function */
    expect_err("user(1)", 0,
               "unknown function 'user' (functions: lower, upper, length, substr, concat, abs, "
               "floor, if)");
}
END_TEST

START_TEST(test_syntax_errors)
{
    char deep[256], *p = deep;

    expect_err("", 0, "empty expression");
    expect_err("   ", 3, "empty expression");
    expect_err("(1 + 2", 6, "expected ')', found the end of the expression");
    expect_err("1 +", 3, "expected a value, found the end of the expression");
    expect_err("1 2", 2, "expected an operator or the end of the expression, found '2'");
    expect_err("amount > 1)", 10, "expected an operator or the end of the expression, found ')'");
    expect_err("* 2", 0, "expected a value, found '*'");
    expect_err("\"abc", 0, "unterminated string");
    expect_err("user = \"abc\\", 7, "unterminated string");
    expect_err("\"a\\qb\"", 2, "unknown escape '\\q' in a string (use \\\", \\\\, \\n or \\t)");
    expect_err("9223372036854775808", 0, "integer 9223372036854775808 is out of range");
    expect_err("99999999999999999999", 0, "integer 99999999999999999999 is out of range");
    expect_err("1e999", 0, "number 1e999 is out of range");
    expect_err("12abc", 0, "malformed number '12a'");
    expect_err("1.2.3", 0, "malformed number '1.2.'");
    expect_err("amount > 1 && true", 11, "unexpected '&' (use 'and')");
    expect_err("true || false", 5, "unexpected '|' (use 'or')");
    expect_err("!true", 0, "unexpected '!' (use 'not' or '!=')");
    expect_err("user == 'bob'", 8, "strings are written in double quotes (\"...\")");
    expect_err("amount ^ 2", 7, "unexpected '^'");
    expect_err("amount > \x01", 9, "unexpected byte 0x01");
    expect_err("`unterminated", 0, "unterminated name: '`' has no closing '`'");
    expect_err("`` = 1", 0, "empty name ``");
    for (int i = 0; i < 100; i++)
        *p++ = '(';
    snprintf(p, 8, "1");
    expect_err(deep, 64, "expression is nested too deeply (more than 64 levels)");
}
END_TEST

START_TEST(test_limits)
{
    size_t n = 700 * 2 + 1;
    char *text = malloc(SL_EXPR_MAX_TEXT + 2);
    sl_expr *e = NULL;
    sl_expr_error err;

    /* 700 terms are 1399 nodes */
    for (size_t i = 0; i < n; i++)
        text[i] = i % 2 ? '+' : '1';
    text[n] = '\0';
    ck_assert_int_eq(sl_expr_compile(text, &schema, &e, &err), SL_EINVAL);
    ck_assert_str_eq(err.msg, "expression is too long (more than 1024 terms)");
    /* 500 terms fit */
    text[999] = '\0';
    ck_assert_int_eq(I(text), 500);
    memset(text, ' ', SL_EXPR_MAX_TEXT + 1);
    text[SL_EXPR_MAX_TEXT + 1] = '\0';
    ck_assert_int_eq(sl_expr_compile(text, &schema, &e, &err), SL_EINVAL);
    ck_assert_str_eq(err.msg, "expression is longer than 65536 bytes");
    /* a deep right-nested expression (near the nesting limit) evaluates */
    text[0] = '\0';
    for (int i = 0; i < 60; i++)
        strcat(text, "1 + (");
    strcat(text, "amount");
    for (int i = 0; i < 60; i++)
        strcat(text, ")");
    ck_assert_int_eq(I(text), 180);
    free(text);
}
END_TEST

START_TEST(test_row_mismatch)
{
    sl_value v;
    int b;

    compile("amount + 1", SL_TYPE_INT);
    row.v[0].type = SL_TYPE_DOUBLE;
    ck_assert_int_eq(sl_expr_eval(cur, &row, &v), SL_EINVAL);
    row.v[0].type = SL_TYPE_INT;
    row.nfields = 0;
    ck_assert_int_eq(sl_expr_eval(cur, &row, &v), SL_EINVAL);
    ck_assert_int_eq(sl_expr_eval_bool(cur, &row, &b), SL_EINVAL); /* not boolean */
    compile("true", SL_EXPR_BOOL);
    ck_assert_int_eq(sl_expr_eval(cur, &row, &v), SL_EINVAL);      /* boolean */
}
END_TEST

START_TEST(test_scratch_bounds)
{
    char *big = malloc(SL_MAX_STRING);
    sl_expr_stats st;
    sl_value v;

    memset(big, 'x', SL_MAX_STRING);
    row.v[2].u.s.ptr = big;
    row.v[2].u.s.len = SL_MAX_STRING;
    compile("concat(user, \"!\")", SL_TYPE_STRING);
    ck_assert_int_eq(sl_expr_eval(cur, &row, &v), SL_OK);
    ck_assert_uint_eq(v.u.s.len, SL_MAX_STRING);    /* cut to what a row holds */
    sl_expr_get_stats(cur, &st);
    ck_assert_uint_eq(st.truncated, 1);
    /* 3 MiB of results in one evaluation: the scratch (2 MiB) runs out */
    compile("concat(upper(user), lower(user), upper(user))", SL_TYPE_STRING);
    for (int i = 0; i < 3; i++) /* the scratch is reused by every evaluation */
        ck_assert_int_eq(sl_expr_eval(cur, &row, &v), SL_OK);
    ck_assert_uint_eq(v.u.s.len, 0);
    sl_expr_get_stats(cur, &st);
    ck_assert_uint_eq(st.truncated, 6); /* the third upper and the concat, each time */
    compile("length(substr(upper(user), 10))", SL_TYPE_INT);
    ck_assert_int_eq(sl_expr_eval(cur, &row, &v), SL_OK);
    ck_assert_int_eq(v.u.i, SL_MAX_STRING - 10);
    free(big);
}
END_TEST

/* ---- fuzz: random text never crashes; what compiles evaluates ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static void fuzz_one(const char *text, int *ok)
{
    sl_expr *e = NULL;
    sl_expr_error err;
    sl_value v;
    int b;

    if (sl_expr_compile(text, &schema, &e, &err) != SL_OK) {
        ck_assert_ptr_null(e);
        ck_assert_uint_le(err.offset, strlen(text));
        ck_assert(err.msg[0] != '\0');
        return;
    }
    (*ok)++;
    for (int i = 0; i < 2; i++) {
        if (sl_expr_type(e) == SL_EXPR_BOOL)
            ck_assert_int_eq(sl_expr_eval_bool(e, &row, &b), SL_OK);
        else
            ck_assert_int_eq(sl_expr_eval(e, &row, &v), SL_OK);
    }
    sl_expr_free(e);
}

START_TEST(test_fuzz)
{
    static const char *const toks[] = {
        "amount", "price", "user", "neg", "city", "`user-id`", "1", "0", "-1", "2.5", "0.0",
        "9223372036854775807", "\"ab\\\"c\"", "\"\"", "true", "false", "and", "or", "not",
        "+", "-", "*", "/", "%", "=", "!=", "<", "<=", ">", ">=", "(", ")", ",", "lower(",
        "upper(", "length(", "substr(", "concat(", "abs(", "floor(", "if(", " ", "\"",
        "\\", "`", "1e", ".", "x"};
    size_t ntoks = sizeof(toks) / sizeof(toks[0]);
    char text[512];
    int ok = 0;

    for (int iter = 0; iter < 200000; iter++) {
        size_t n = 0;
        int len = 1 + (int)rnd(24);
        if (iter % 2 == 0) { /* random bytes */
            for (int i = 0; i < len * 2; i++)
                text[n++] = (char)(1 + rnd(255));
        } else { /* random tokens */
            for (int i = 0; i < len; i++) {
                const char *t = toks[rnd((uint32_t)ntoks)];
                size_t k = strlen(t);
                if (n + k + 2 >= sizeof(text))
                    break;
                memcpy(text + n, t, k);
                n += k;
                if (rnd(2))
                    text[n++] = ' ';
            }
        }
        text[n] = '\0';
        fuzz_one(text, &ok);
    }
    ck_assert_int_gt(ok, 1000); /* the token fuzz reaches the evaluator often */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("expr");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_literals);
    tcase_add_test(tc, test_fields);
    tcase_add_test(tc, test_arithmetic);
    tcase_add_test(tc, test_division_by_zero);
    tcase_add_test(tc, test_comparisons);
    tcase_add_test(tc, test_logic);
    tcase_add_test(tc, test_precedence);
    tcase_add_test(tc, test_functions);
    tcase_add_test(tc, test_type_errors);
    tcase_add_test(tc, test_call_errors);
    tcase_add_test(tc, test_syntax_errors);
    tcase_add_test(tc, test_limits);
    tcase_add_test(tc, test_row_mismatch);
    tcase_add_test(tc, test_scratch_bounds);
    tcase_add_test(tc, test_fuzz);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
