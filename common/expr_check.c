/* Expressions: the type rules. The parser (expr_parse.c) calls these as it
 * makes each operator and call node, so the first error in the text is the
 * one reported, at the operator, operand or argument it is about. */
#include <string.h>
#include <strings.h>

#include "common/expr_internal.h"
#include "common/status.h"

static const struct {
    const char *name;
    int min, max;
} funcs[] = {
    [FN_LOWER] = {"lower", 1, 1},   [FN_UPPER] = {"upper", 1, 1},
    [FN_LENGTH] = {"length", 1, 1}, [FN_SUBSTR] = {"substr", 2, 3},
    [FN_CONCAT] = {"concat", 2, SL_EXPR_MAX_NODES}, [FN_ABS] = {"abs", 1, 1},
    [FN_FLOOR] = {"floor", 1, 1},   [FN_IF] = {"if", 3, 3},
};

#define NFUNCS ((int)(sizeof(funcs) / sizeof(funcs[0])))
#define FUNC_LIST "lower, upper, length, substr, concat, abs, floor, if"

static const char *op_text(int op)
{
    switch (op) {
    case TK_PLUS: return "+";
    case TK_MINUS: return "-";
    case TK_STAR: return "*";
    case TK_SLASH: return "/";
    case TK_PERCENT: return "%";
    case TK_EQ: return "=";
    case TK_NE: return "!=";
    case TK_LT: return "<";
    case TK_LE: return "<=";
    case TK_GT: return ">";
    case TK_GE: return ">=";
    case TK_AND: return "and";
    case TK_OR: return "or";
    }
    return "?";
}

static int is_num(int t)
{
    return t == SL_TYPE_INT || t == SL_TYPE_DOUBLE;
}

/* ---- operators ---- */

static int check_arith(sl_expr_parser *p, int op, size_t opos, int lt, int rt, sl_node *n)
{
    if (op == TK_PLUS && lt == SL_TYPE_STRING && rt == SL_TYPE_STRING)
        return sl_expr_fail(p, opos, "'+' does not join strings (use concat(a, b))");
    if (!is_num(lt) || !is_num(rt))
        return sl_expr_fail(p, opos, "operator '%s' needs numbers, not %s and %s", op_text(op),
                            sl_expr_type_name(lt), sl_expr_type_name(rt));
    n->optype = lt == SL_TYPE_INT && rt == SL_TYPE_INT ? SL_TYPE_INT : SL_TYPE_DOUBLE;
    n->type = n->optype;
    return SL_OK;
}

static int check_cmp(sl_expr_parser *p, int op, size_t opos, int lt, int rt, sl_node *n)
{
    if (is_num(lt) && is_num(rt))
        n->optype = lt == SL_TYPE_INT && rt == SL_TYPE_INT ? SL_TYPE_INT : SL_TYPE_DOUBLE;
    else if (lt != rt)
        return sl_expr_fail(p, opos, "cannot compare %s with %s", sl_expr_type_name(lt),
                            sl_expr_type_name(rt));
    else if (lt == SL_EXPR_BOOL && op != TK_EQ && op != TK_NE)
        return sl_expr_fail(p, opos, "booleans cannot be ordered with '%s' (only = and !=)",
                            op_text(op));
    else
        n->optype = lt;
    n->type = SL_EXPR_BOOL;
    return SL_OK;
}

int sl_expr_check_bool(sl_expr_parser *p, const char *what, const sl_node *operand)
{
    if (operand->type != SL_EXPR_BOOL)
        return sl_expr_fail(p, operand->pos, "'%s' needs a boolean, not %s", what,
                            sl_expr_type_name(operand->type));
    return SL_OK;
}

int sl_expr_binary(sl_expr_parser *p, int op, size_t opos, int l, int r, int *out)
{
    sl_node *ln = &p->nodes[l], *rn = &p->nodes[r], *n;
    int idx, rv;

    if ((rv = sl_expr_node_new(p, ND_BINARY, 0, ln->pos, &idx)) != SL_OK)
        return rv;
    n = &p->nodes[idx];
    n->op = op;
    n->first = l;
    ln->next = r;
    n->nargs = 2;
    if (op == TK_AND || op == TK_OR) {
        if ((rv = sl_expr_check_bool(p, op_text(op), ln)) != SL_OK ||
            (rv = sl_expr_check_bool(p, op_text(op), rn)) != SL_OK)
            return rv;
        n->type = n->optype = SL_EXPR_BOOL;
    } else if (op >= TK_EQ && op <= TK_GE) {
        rv = check_cmp(p, op, opos, ln->type, rn->type, n);
    } else {
        rv = check_arith(p, op, opos, ln->type, rn->type, n);
    }
    *out = idx;
    return rv;
}

/* ---- functions ---- */

int sl_expr_func_find(sl_expr_parser *p, const sl_token *name, int *fn)
{
    for (int i = 0; i < NFUNCS; i++) {
        if (strlen(funcs[i].name) == name->nlen &&
            strncasecmp(funcs[i].name, name->name, name->nlen) == 0) {
            *fn = i;
            return SL_OK;
        }
    }
    return sl_expr_fail(p, name->pos, "unknown function '%.*s' (functions: " FUNC_LIST ")",
                        (int)name->nlen, name->name);
}

static int check_arity(sl_expr_parser *p, const sl_node *n)
{
    const char *name = funcs[n->op].name;
    int min = funcs[n->op].min, max = funcs[n->op].max;

    if (n->nargs >= min && n->nargs <= max)
        return SL_OK;
    if (min == max)
        return sl_expr_fail(p, n->pos, "%s takes %d argument%s, got %d", name, min,
                            min == 1 ? "" : "s", n->nargs);
    if (max >= SL_EXPR_MAX_NODES)
        return sl_expr_fail(p, n->pos, "%s takes at least %d arguments, got %d", name, min,
                            n->nargs);
    return sl_expr_fail(p, n->pos, "%s takes %d or %d arguments, got %d", name, min, max,
                        n->nargs);
}

/* Argument i of fn must be of type (SL_TYPE_DOUBLE: any number). */
static int want_arg(sl_expr_parser *p, int fn, int i, const sl_node *a, int type)
{
    if (type == SL_TYPE_DOUBLE ? is_num(a->type) : a->type == type)
        return SL_OK;
    return sl_expr_fail(p, a->pos, "%s: argument %d is %s, expected %s", funcs[fn].name, i + 1,
                        sl_expr_type_name(a->type),
                        type == SL_TYPE_DOUBLE ? "a number" : sl_expr_type_name(type));
}

/* if(c, a, b): a and b the same type, int with double is double. */
static int check_if(sl_expr_parser *p, sl_node *n, sl_node **a)
{
    int t1 = a[1]->type, t2 = a[2]->type;
    int rv;

    if ((rv = want_arg(p, FN_IF, 0, a[0], SL_EXPR_BOOL)) != SL_OK)
        return rv;
    if (t1 == t2)
        n->type = t1;
    else if (is_num(t1) && is_num(t2))
        n->type = SL_TYPE_DOUBLE;
    else
        return sl_expr_fail(p, a[2]->pos, "if: the branches have different types (%s and %s)",
                            sl_expr_type_name(t1), sl_expr_type_name(t2));
    n->optype = n->type;
    return SL_OK;
}

/* Every argument must be of type (concat: string). */
static int all_args(sl_expr_parser *p, const sl_node *n, int type)
{
    int i = 0, rv = SL_OK;

    for (int k = n->first; k >= 0 && rv == SL_OK; k = p->nodes[k].next)
        rv = want_arg(p, n->op, i++, &p->nodes[k], type);
    return rv;
}

int sl_expr_call_check(sl_expr_parser *p, sl_node *n)
{
    sl_node *a[3] = {NULL, NULL, NULL};
    int i = 0, rv;

    if ((rv = check_arity(p, n)) != SL_OK)
        return rv;
    for (int k = n->first; k >= 0 && i < 3; k = p->nodes[k].next)
        a[i++] = &p->nodes[k];
    switch ((enum sl_func)n->op) {
    case FN_LOWER:
    case FN_UPPER:
    case FN_CONCAT:
        n->type = SL_TYPE_STRING;
        return all_args(p, n, SL_TYPE_STRING);
    case FN_LENGTH:
        n->type = SL_TYPE_INT;
        return want_arg(p, n->op, 0, a[0], SL_TYPE_STRING);
    case FN_SUBSTR:
        n->type = SL_TYPE_STRING;
        for (int k = 0; k < n->nargs && rv == SL_OK; k++)
            rv = want_arg(p, n->op, k, a[k], k == 0 ? SL_TYPE_STRING : SL_TYPE_INT);
        return rv;
    case FN_ABS:
    case FN_FLOOR:
        n->type = a[0]->type;
        return want_arg(p, n->op, 0, a[0], SL_TYPE_DOUBLE);
    case FN_IF:
        return check_if(p, n, a);
    }
    return SL_OK;
}
