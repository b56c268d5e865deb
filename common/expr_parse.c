/* Expressions: the parser (recursive descent, one function per precedence
 * level, loosest first: or, and, not, comparison, + -, * / %, unary minus).
 * Each node is type-checked as it is made (expr_check.c), so the first
 * error in the text is the one reported. */
#include <string.h>

#include "common/expr_internal.h"
#include "common/status.h"

static int parse_or(sl_expr_parser *p, int *out);

static int is_num(int t)
{
    return t == SL_TYPE_INT || t == SL_TYPE_DOUBLE;
}

static int is_cmp(enum sl_tok t)
{
    return t >= TK_EQ && t <= TK_GE;
}

/* The current token as the error messages show it. */
static int found(sl_expr_parser *p, const char *expected)
{
    const sl_token *t = &p->tok;

    if (t->t == TK_END)
        return sl_expr_fail(p, t->pos, "expected %s, found the end of the expression", expected);
    if (t->len > 24)
        return sl_expr_fail(p, t->pos, "expected %s, found '%.20s...'", expected,
                            p->text + t->pos);
    return sl_expr_fail(p, t->pos, "expected %s, found '%.*s'", expected, (int)t->len,
                        p->text + t->pos);
}

int sl_expr_node_new(sl_expr_parser *p, enum sl_node_kind kind, int type, size_t pos, int *out)
{
    sl_node *n;

    if (p->nnodes >= p->maxnodes)
        return sl_expr_fail(p, pos, "expression is too long (more than %d terms)",
                            SL_EXPR_MAX_NODES);
    n = &p->nodes[p->nnodes];
    memset(n, 0, sizeof(*n));
    n->kind = kind;
    n->type = type;
    n->pos = pos;
    n->first = n->next = -1;
    *out = p->nnodes++;
    return SL_OK;
}

static int enter(sl_expr_parser *p)
{
    if (++p->depth > SL_EXPR_MAX_DEPTH)
        return sl_expr_fail(p, p->tok.pos, "expression is nested too deeply (more than %d levels)",
                            SL_EXPR_MAX_DEPTH);
    return SL_OK;
}

/* ---- primaries ---- */

static int find_field(const sl_schema *s, const char *name, size_t n)
{
    for (int i = 0; s != NULL && i < s->nfields; i++) {
        if (strlen(s->names[i]) == n && memcmp(s->names[i], name, n) == 0)
            return i;
    }
    return -1;
}

/* name( args ): the current token is '('. */
static int parse_call(sl_expr_parser *p, const sl_token *name, int *out)
{
    int fn, idx, last = -1, arg, rv;

    if ((rv = sl_expr_func_find(p, name, &fn)) != SL_OK ||
        (rv = sl_expr_node_new(p, ND_CALL, 0, name->pos, &idx)) != SL_OK)
        return rv;
    p->nodes[idx].op = fn;
    if ((rv = sl_expr_lex(p)) != SL_OK)
        return rv;
    while (p->tok.t != TK_RPAREN) {
        if (p->nodes[idx].nargs > 0) {
            if (p->tok.t != TK_COMMA)
                return found(p, "',' or ')'");
            if ((rv = sl_expr_lex(p)) != SL_OK)
                return rv;
        }
        if ((rv = parse_or(p, &arg)) != SL_OK)
            return rv;
        if (last < 0)
            p->nodes[idx].first = arg;
        else
            p->nodes[last].next = arg;
        last = arg;
        p->nodes[idx].nargs++;
    }
    if ((rv = sl_expr_lex(p)) != SL_OK)
        return rv;
    *out = idx;
    return sl_expr_call_check(p, &p->nodes[idx]);
}

static int parse_name(sl_expr_parser *p, int *out)
{
    sl_token name = p->tok;
    int field, rv;

    if ((rv = sl_expr_lex(p)) != SL_OK)
        return rv;
    if (p->tok.t == TK_LPAREN && !name.quoted)
        return parse_call(p, &name, out);
    field = find_field(p->schema, name.name, name.nlen);
    if (field < 0)
        return sl_expr_fail(p, name.pos, "unknown field '%.*s'", (int)name.nlen, name.name);
    if ((rv = sl_expr_node_new(p, ND_FIELD, p->schema->types[field], name.pos, out)) != SL_OK)
        return rv;
    p->nodes[*out].field = field;
    return SL_OK;
}

static int parse_paren(sl_expr_parser *p, int *out)
{
    int rv;

    if ((rv = sl_expr_lex(p)) != SL_OK || (rv = parse_or(p, out)) != SL_OK)
        return rv;
    if (p->tok.t != TK_RPAREN)
        return found(p, "')'");
    return sl_expr_lex(p);
}

static int parse_literal(sl_expr_parser *p, int *out)
{
    const sl_token *t = &p->tok;
    sl_node *n;
    int rv;

    switch (t->t) {
    case TK_INT:
        if (t->u > (uint64_t)INT64_MAX)
            return sl_expr_fail(p, t->pos, "integer %.*s is out of range", (int)t->len,
                                p->text + t->pos);
        rv = sl_expr_node_new(p, ND_INT, SL_TYPE_INT, t->pos, out);
        break;
    case TK_DOUBLE: rv = sl_expr_node_new(p, ND_DOUBLE, SL_TYPE_DOUBLE, t->pos, out); break;
    case TK_STRING: rv = sl_expr_node_new(p, ND_STRING, SL_TYPE_STRING, t->pos, out); break;
    case TK_TRUE:
    case TK_FALSE: rv = sl_expr_node_new(p, ND_BOOL, SL_EXPR_BOOL, t->pos, out); break;
    default: return found(p, "a value");
    }
    if (rv != SL_OK)
        return rv;
    n = &p->nodes[*out];
    n->i = t->t == TK_TRUE ? 1 : (int64_t)t->u;
    n->d = t->d;
    n->str = t->str;
    n->slen = t->slen;
    return sl_expr_lex(p);
}

static int parse_primary(sl_expr_parser *p, int *out)
{
    if (p->tok.t == TK_NAME)
        return parse_name(p, out);
    if (p->tok.t == TK_LPAREN)
        return parse_paren(p, out);
    return parse_literal(p, out);
}

/* ---- operators, tightest first ---- */

/* -x; a literal is negated in place (so -9223372036854775808 is an int). */
static int parse_unary(sl_expr_parser *p, int *out)
{
    size_t pos = p->tok.pos;
    sl_node *n;
    int operand, rv;

    if (p->tok.t != TK_MINUS)
        return parse_primary(p, out);
    if ((rv = sl_expr_lex(p)) != SL_OK || (rv = enter(p)) != SL_OK)
        return rv;
    if (p->tok.t == TK_INT && p->tok.u == (uint64_t)INT64_MAX + 1) {
        if ((rv = sl_expr_node_new(p, ND_INT, SL_TYPE_INT, pos, out)) != SL_OK)
            return rv;
        p->nodes[*out].i = INT64_MIN;
        p->depth--;
        return sl_expr_lex(p);
    }
    if ((rv = parse_unary(p, &operand)) != SL_OK)
        return rv;
    p->depth--;
    n = &p->nodes[operand];
    if (!is_num(n->type))
        return sl_expr_fail(p, pos, "cannot negate %s", sl_expr_type_name(n->type));
    if (n->kind == ND_INT || n->kind == ND_DOUBLE) {
        n->i = (int64_t)(0 - (uint64_t)n->i);
        n->d = -n->d;
        n->pos = pos;
        *out = operand;
        return SL_OK;
    }
    if ((rv = sl_expr_node_new(p, ND_UNARY, n->type, pos, out)) != SL_OK)
        return rv;
    p->nodes[*out].op = TK_MINUS;
    p->nodes[*out].first = operand;
    return SL_OK;
}

static int parse_mul(sl_expr_parser *p, int *out)
{
    int rv, r;

    if ((rv = parse_unary(p, out)) != SL_OK)
        return rv;
    while (p->tok.t == TK_STAR || p->tok.t == TK_SLASH || p->tok.t == TK_PERCENT) {
        int op = p->tok.t;
        size_t opos = p->tok.pos;
        if ((rv = sl_expr_lex(p)) != SL_OK || (rv = parse_unary(p, &r)) != SL_OK ||
            (rv = sl_expr_binary(p, op, opos, *out, r, out)) != SL_OK)
            return rv;
    }
    return SL_OK;
}

static int parse_add(sl_expr_parser *p, int *out)
{
    int rv, r;

    if ((rv = parse_mul(p, out)) != SL_OK)
        return rv;
    while (p->tok.t == TK_PLUS || p->tok.t == TK_MINUS) {
        int op = p->tok.t;
        size_t opos = p->tok.pos;
        if ((rv = sl_expr_lex(p)) != SL_OK || (rv = parse_mul(p, &r)) != SL_OK ||
            (rv = sl_expr_binary(p, op, opos, *out, r, out)) != SL_OK)
            return rv;
    }
    return SL_OK;
}

static int parse_cmp(sl_expr_parser *p, int *out)
{
    int rv, r, op;
    size_t opos;

    if ((rv = parse_add(p, out)) != SL_OK)
        return rv;
    if (!is_cmp(p->tok.t))
        return SL_OK;
    op = p->tok.t;
    opos = p->tok.pos;
    if ((rv = sl_expr_lex(p)) != SL_OK || (rv = parse_add(p, &r)) != SL_OK ||
        (rv = sl_expr_binary(p, op, opos, *out, r, out)) != SL_OK)
        return rv;
    if (is_cmp(p->tok.t))
        return sl_expr_fail(p, p->tok.pos,
                            "comparisons do not chain (write a < b and b < c)");
    return SL_OK;
}

static int parse_not(sl_expr_parser *p, int *out)
{
    size_t pos = p->tok.pos;
    int operand, rv;

    if (p->tok.t != TK_NOT)
        return parse_cmp(p, out);
    if ((rv = sl_expr_lex(p)) != SL_OK || (rv = enter(p)) != SL_OK ||
        (rv = parse_not(p, &operand)) != SL_OK)
        return rv;
    p->depth--;
    if ((rv = sl_expr_check_bool(p, "not", &p->nodes[operand])) != SL_OK)
        return rv;
    if ((rv = sl_expr_node_new(p, ND_UNARY, SL_EXPR_BOOL, pos, out)) != SL_OK)
        return rv;
    p->nodes[*out].op = TK_NOT;
    p->nodes[*out].first = operand;
    return SL_OK;
}

static int parse_and(sl_expr_parser *p, int *out)
{
    int rv, r;

    if ((rv = parse_not(p, out)) != SL_OK)
        return rv;
    while (p->tok.t == TK_AND) {
        size_t opos = p->tok.pos;
        if ((rv = sl_expr_lex(p)) != SL_OK || (rv = parse_not(p, &r)) != SL_OK ||
            (rv = sl_expr_binary(p, TK_AND, opos, *out, r, out)) != SL_OK)
            return rv;
    }
    return SL_OK;
}

static int parse_or(sl_expr_parser *p, int *out)
{
    int rv, r;

    if ((rv = enter(p)) != SL_OK || (rv = parse_and(p, out)) != SL_OK)
        return rv;
    while (p->tok.t == TK_OR) {
        size_t opos = p->tok.pos;
        if ((rv = sl_expr_lex(p)) != SL_OK || (rv = parse_and(p, &r)) != SL_OK ||
            (rv = sl_expr_binary(p, TK_OR, opos, *out, r, out)) != SL_OK)
            return rv;
    }
    p->depth--;
    return SL_OK;
}

int sl_expr_parse(sl_expr_parser *p, int *root)
{
    int rv;

    if ((rv = sl_expr_lex(p)) != SL_OK)
        return rv;
    if (p->tok.t == TK_END)
        return sl_expr_fail(p, p->tok.pos, "empty expression");
    if ((rv = parse_or(p, root)) != SL_OK)
        return rv;
    if (p->tok.t != TK_END)
        return found(p, "an operator or the end of the expression");
    return SL_OK;
}
