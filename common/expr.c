/* Expressions: compilation. The parser (expr_parse.c) builds a typed tree;
 * this file turns it into a flat program for the stack machine of
 * expr_eval.c: operands in postfix order, an I2D right after an int operand
 * that its parent uses as a double, jumps for and, or and if. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/expr_internal.h"
#include "common/status.h"

typedef struct gen {
    const sl_expr_parser *p;
    sl_instr *code;
    int n, cap;
    int depth, max_depth;
    int needs_scratch;
} gen;

const char *sl_expr_type_name(int type)
{
    if (type == SL_EXPR_BOOL)
        return "boolean";
    return sl_type_name((sl_type)type);
}

/* Appends an instruction that changes the stack depth by effect. */
static int emit(gen *g, int op, int a, int effect)
{
    if (g->n >= g->cap)
        return SL_ENOSPC;
    memset(&g->code[g->n], 0, sizeof(g->code[0]));
    g->code[g->n].op = op;
    g->code[g->n].a = a;
    g->depth += effect;
    if (g->depth > g->max_depth)
        g->max_depth = g->depth;
    g->n++;
    return SL_OK;
}

static int gen_node(gen *g, int idx, int want);

static int gen_const(gen *g, const sl_node *n)
{
    int rv = emit(g, OP_CONST, 0, 1);
    sl_slot *k = &g->code[g->n - 1].k;

    if (rv != SL_OK)
        return rv;
    if (n->kind == ND_DOUBLE)
        k->d = n->d;
    else if (n->kind == ND_STRING) {
        k->s.p = n->str;
        k->s.n = n->slen;
    } else
        k->i = n->i;
    return SL_OK;
}

static int arith_op(int tok, int type)
{
    static const int ops_i[] = {OP_ADD_I, OP_SUB_I, OP_MUL_I, OP_DIV_I, OP_MOD_I};
    static const int ops_d[] = {OP_ADD_D, OP_SUB_D, OP_MUL_D, OP_DIV_D, OP_MOD_D};
    int k = tok - TK_PLUS; /* TK_PLUS, TK_MINUS, TK_STAR, TK_SLASH, TK_PERCENT */

    return type == SL_TYPE_INT ? ops_i[k] : ops_d[k];
}

/* and, or: the right operand runs only when the left does not decide. */
static int gen_logic(gen *g, const sl_node *n)
{
    const sl_node *l = &g->p->nodes[n->first];
    int at, rv;

    if ((rv = gen_node(g, n->first, -1)) != SL_OK)
        return rv;
    at = g->n;
    if ((rv = emit(g, n->op == TK_AND ? OP_AND : OP_OR, 0, -1)) != SL_OK ||
        (rv = gen_node(g, l->next, -1)) != SL_OK)
        return rv;
    g->code[at].a = g->n;
    return SL_OK;
}

static int gen_binary(gen *g, const sl_node *n)
{
    const sl_node *l = &g->p->nodes[n->first];
    int rv, op;

    if (n->op == TK_AND || n->op == TK_OR)
        return gen_logic(g, n);
    if ((rv = gen_node(g, n->first, n->optype)) != SL_OK ||
        (rv = gen_node(g, l->next, n->optype)) != SL_OK)
        return rv;
    if (n->op >= TK_EQ && n->op <= TK_GE) {
        op = n->optype == SL_TYPE_DOUBLE ? OP_CMP_D : n->optype == SL_TYPE_STRING ? OP_CMP_S
                                                                                  : OP_CMP_I;
        return emit(g, op, n->op, -1);
    }
    return emit(g, arith_op(n->op, n->optype), 0, -1);
}

static int gen_if(gen *g, const sl_node *n)
{
    const sl_node *c = &g->p->nodes[n->first];
    const sl_node *a = &g->p->nodes[c->next];
    int jfalse, jump, depth, rv;

    if ((rv = gen_node(g, n->first, -1)) != SL_OK)
        return rv;
    jfalse = g->n;
    if ((rv = emit(g, OP_JFALSE, 0, -1)) != SL_OK)
        return rv;
    depth = g->depth;
    if ((rv = gen_node(g, c->next, n->type)) != SL_OK)
        return rv;
    jump = g->n;
    if ((rv = emit(g, OP_JUMP, 0, 0)) != SL_OK)
        return rv;
    g->code[jfalse].a = g->n;
    g->depth = depth;
    if ((rv = gen_node(g, a->next, n->type)) != SL_OK)
        return rv;
    g->code[jump].a = g->n;
    return SL_OK;
}

static int gen_call(gen *g, const sl_node *n)
{
    const sl_node *a0 = &g->p->nodes[n->first];
    int rv;

    if (n->op == FN_IF)
        return gen_if(g, n);
    for (int k = n->first; k >= 0; k = g->p->nodes[k].next) {
        if ((rv = gen_node(g, k, -1)) != SL_OK)
            return rv;
    }
    switch ((enum sl_func)n->op) {
    case FN_LOWER: g->needs_scratch = 1; return emit(g, OP_LOWER, 0, 0);
    case FN_UPPER: g->needs_scratch = 1; return emit(g, OP_UPPER, 0, 0);
    case FN_LENGTH: return emit(g, OP_LENGTH, 0, 0);
    case FN_SUBSTR:
        return n->nargs == 2 ? emit(g, OP_SUBSTR2, 0, -1) : emit(g, OP_SUBSTR3, 0, -2);
    case FN_CONCAT: g->needs_scratch = 1; return emit(g, OP_CONCAT, n->nargs, 1 - n->nargs);
    case FN_ABS: return emit(g, a0->type == SL_TYPE_INT ? OP_ABS_I : OP_ABS_D, 0, 0);
    case FN_FLOOR: return a0->type == SL_TYPE_INT ? SL_OK : emit(g, OP_FLOOR_D, 0, 0);
    case FN_IF: break;
    }
    return SL_OK;
}

static int gen_field(gen *g, const sl_node *n)
{
    int op = n->type == SL_TYPE_INT      ? OP_FIELD_I
             : n->type == SL_TYPE_DOUBLE ? OP_FIELD_D
                                         : OP_FIELD_S;
    return emit(g, op, n->field, 1);
}

/* Code that leaves node idx's value on the stack, as a double if want is
 * SL_TYPE_DOUBLE and the node is an int. */
static int gen_node(gen *g, int idx, int want)
{
    const sl_node *n = &g->p->nodes[idx];
    int rv;

    switch (n->kind) {
    case ND_FIELD: rv = gen_field(g, n); break;
    case ND_INT:
    case ND_DOUBLE:
    case ND_STRING:
    case ND_BOOL: rv = gen_const(g, n); break;
    case ND_UNARY:
        if ((rv = gen_node(g, n->first, -1)) != SL_OK)
            break;
        rv = emit(g, n->op == TK_NOT ? OP_NOT : n->type == SL_TYPE_INT ? OP_NEG_I : OP_NEG_D, 0,
                  0);
        break;
    case ND_BINARY: rv = gen_binary(g, n); break;
    case ND_CALL: rv = gen_call(g, n); break;
    default: rv = SL_EINVAL; break;
    }
    if (rv == SL_OK && want == SL_TYPE_DOUBLE && n->type == SL_TYPE_INT)
        rv = emit(g, OP_I2D, 0, 0);
    return rv;
}

/* The program of the parsed tree; takes the parser's string pool. */
static int build(sl_expr_parser *p, int root, sl_expr **out)
{
    sl_expr *e = calloc(1, sizeof(*e));
    gen g;
    int rv;

    memset(&g, 0, sizeof(g));
    g.p = p;
    g.cap = 3 * p->nnodes + 1; /* at most: the node, an I2D, a jump */
    if (e == NULL || (g.code = calloc((size_t)g.cap, sizeof(*g.code))) == NULL) {
        rv = SL_ENOMEM;
        goto fail;
    }
    if ((rv = gen_node(&g, root, -1)) != SL_OK)
        goto fail;
    e->type = p->nodes[root].type;
    e->code = g.code;
    e->ncode = g.n;
    g.code = NULL;
    e->depth = g.max_depth;
    e->stack = calloc((size_t)e->depth + 1, sizeof(*e->stack));
    if (g.needs_scratch)
        e->scratch = malloc(SL_EXPR_SCRATCH);
    if (e->stack == NULL || (g.needs_scratch && e->scratch == NULL)) {
        rv = SL_ENOMEM;
        goto fail;
    }
    e->pool = p->pool;
    p->pool = NULL;
    *out = e;
    return SL_OK;
fail:
    free(g.code);
    sl_expr_free(e);
    return rv;
}

int sl_expr_compile(const char *text, const sl_schema *schema, sl_expr **out,
                    sl_expr_error *err)
{
    sl_expr_parser p;
    sl_expr_error dummy;
    int root = -1, rv;

    *out = NULL;
    if (err == NULL)
        err = &dummy;
    memset(err, 0, sizeof(*err));
    memset(&p, 0, sizeof(p));
    p.text = text != NULL ? text : "";
    p.len = strlen(p.text);
    p.schema = schema;
    p.err = err;
    if (p.len > SL_EXPR_MAX_TEXT)
        return sl_expr_fail(&p, SL_EXPR_MAX_TEXT, "expression is longer than %d bytes",
                            SL_EXPR_MAX_TEXT);
    p.pool = malloc(p.len + 1);
    /* every node has a token of its own, so len + 1 nodes is enough */
    p.maxnodes = p.len < SL_EXPR_MAX_NODES ? (int)p.len + 1 : SL_EXPR_MAX_NODES;
    p.nodes = calloc((size_t)p.maxnodes, sizeof(*p.nodes));
    if (p.pool == NULL || p.nodes == NULL) {
        rv = SL_ENOMEM;
        goto cleanup;
    }
    if ((rv = sl_expr_parse(&p, &root)) != SL_OK)
        goto cleanup;
    rv = build(&p, root, out);
cleanup:
    if (rv == SL_ENOMEM)
        snprintf(err->msg, sizeof(err->msg), "out of memory");
    free(p.nodes);
    free(p.pool);
    return rv;
}

void sl_expr_free(sl_expr *e)
{
    if (e == NULL)
        return;
    free(e->code);
    free(e->stack);
    free(e->pool);
    free(e->scratch);
    free(e);
}

int sl_expr_type(const sl_expr *e)
{
    return e->type;
}

void sl_expr_get_stats(const sl_expr *e, sl_expr_stats *out)
{
    *out = e->stats;
}
