/* Expressions: the stack machine. Types were checked at compilation, so
 * every instruction knows the types of its operands; the only run-time
 * check is that a field of the row has the type the schema promised. */
#include <math.h>
#include <string.h>

#include "common/expr_internal.h"
#include "common/status.h"

/* ---- numbers ---- */

static int64_t wrap(uint64_t v)
{
    return (int64_t)v; /* two's complement: gcc and clang define the conversion */
}

static int64_t int_div(sl_expr *e, int64_t a, int64_t b, int mod)
{
    if (b == 0) {
        e->stats.zero_divisions++;
        return 0;
    }
    if (b == -1) /* INT64_MIN / -1 overflows */
        return mod ? 0 : wrap(0 - (uint64_t)a);
    return mod ? a % b : a / b;
}

static int64_t arith_i(sl_expr *e, int op, int64_t a, int64_t b)
{
    switch (op) {
    case OP_ADD_I: return wrap((uint64_t)a + (uint64_t)b);
    case OP_SUB_I: return wrap((uint64_t)a - (uint64_t)b);
    case OP_MUL_I: return wrap((uint64_t)a * (uint64_t)b);
    case OP_DIV_I: return int_div(e, a, b, 0);
    default: return int_div(e, a, b, 1);
    }
}

static double arith_d(int op, double a, double b)
{
    switch (op) {
    case OP_ADD_D: return a + b;
    case OP_SUB_D: return a - b;
    case OP_MUL_D: return a * b;
    case OP_DIV_D: return a / b;
    default: return fmod(a, b);
    }
}

static int cmp_i(int rel, int64_t a, int64_t b)
{
    switch (rel) {
    case TK_EQ: return a == b;
    case TK_NE: return a != b;
    case TK_LT: return a < b;
    case TK_LE: return a <= b;
    case TK_GT: return a > b;
    default: return a >= b;
    }
}

/* NaN: every relation but != is false. */
static int cmp_d(int rel, double a, double b)
{
    switch (rel) {
    case TK_EQ: return a == b;
    case TK_NE: return a != b;
    case TK_LT: return a < b;
    case TK_LE: return a <= b;
    case TK_GT: return a > b;
    default: return a >= b;
    }
}

static int cmp_s(int rel, const sl_slot *a, const sl_slot *b)
{
    uint32_t n = a->s.n < b->s.n ? a->s.n : b->s.n;
    int c = n > 0 ? memcmp(a->s.p, b->s.p, n) : 0;

    if (c == 0)
        c = a->s.n < b->s.n ? -1 : a->s.n > b->s.n;
    return cmp_i(rel, c, 0);
}

/* ---- strings ---- */

/* Space for a result of want bytes: cut to SL_MAX_STRING and to what the
 * scratch has left (counted). */
static char *scratch_take(sl_expr *e, size_t want, uint32_t *got)
{
    size_t room = SL_EXPR_SCRATCH - e->scratch_used, n = want;
    char *p = e->scratch + e->scratch_used;

    if (n > SL_MAX_STRING)
        n = SL_MAX_STRING;
    if (n > room)
        n = room;
    if (n < want)
        e->stats.truncated++;
    e->scratch_used += n;
    *got = (uint32_t)n;
    return p;
}

static void change_case(sl_expr *e, sl_slot *v, int upper)
{
    uint32_t n;
    char *out = scratch_take(e, v->s.n, &n);

    for (uint32_t i = 0; i < n; i++) {
        char c = v->s.p[i];
        if (upper && c >= 'a' && c <= 'z')
            c = (char)(c - 32);
        else if (!upper && c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        out[i] = c;
    }
    v->s.p = out;
    v->s.n = n;
}

/* args[0..n) joined into args[0]. */
static void concat(sl_expr *e, sl_slot *args, int n)
{
    size_t total = 0, used = 0;
    uint32_t got;
    char *out;

    for (int i = 0; i < n; i++)
        total += args[i].s.n;
    out = scratch_take(e, total, &got);
    for (int i = 0; i < n && used < got; i++) {
        size_t k = args[i].s.n < got - used ? args[i].s.n : got - used;
        if (k > 0)
            memcpy(out + used, args[i].s.p, k);
        used += k;
    }
    args[0].s.p = out;
    args[0].s.n = got;
}

/* A character starts at the first byte and at every byte outside 0x80-0xBF. */
static int char_start(const char *s, uint32_t i)
{
    return i == 0 || ((unsigned char)s[i] & 0xC0) != 0x80;
}

static int64_t char_count(const char *s, uint32_t n)
{
    int64_t c = 0;

    for (uint32_t i = 0; i < n; i++)
        c += char_start(s, i);
    return c;
}

/* Byte offset of character k (0 <= k), or n past the end. */
static uint32_t char_offset(const char *s, uint32_t n, int64_t k)
{
    int64_t c = -1;

    for (uint32_t i = 0; i < n; i++) {
        if (char_start(s, i) && ++c == k)
            return i;
    }
    return n;
}

/* Characters [start, start + len) of v cut to the string; len < 0: to the end. */
static void substr(sl_slot *v, int64_t start, int64_t len, int has_len)
{
    int64_t from = start < 0 ? 0 : start, to = INT64_MAX;
    uint32_t b0, b1;

    if (has_len)
        to = len <= 0 ? start : (start > 0 && len > INT64_MAX - start) ? INT64_MAX : start + len;
    if (to <= from) {
        v->s.n = 0;
        return;
    }
    b0 = char_offset(v->s.p, v->s.n, from);
    b1 = to == INT64_MAX ? v->s.n : b0 + char_offset(v->s.p + b0, v->s.n - b0, to - from);
    if (b0 > 0)
        v->s.p += b0;
    v->s.n = b1 - b0;
}

/* ---- the machine ---- */

static int field_ok(const sl_row *row, int f, sl_type t)
{
    return f < row->nfields && row->v[f].type == t;
}

/* Instructions other than loads, jumps and numbers; top is the stack top. */
static void run_func(sl_expr *e, const sl_instr *in, sl_slot *st, int *top)
{
    int t = *top;

    switch (in->op) {
    case OP_LOWER: change_case(e, &st[t], 0); break;
    case OP_UPPER: change_case(e, &st[t], 1); break;
    case OP_LENGTH: st[t].i = char_count(st[t].s.p, st[t].s.n); break;
    case OP_SUBSTR2: substr(&st[t - 1], st[t].i, 0, 0); t -= 1; break;
    case OP_SUBSTR3: substr(&st[t - 2], st[t - 1].i, st[t].i, 1); t -= 2; break;
    case OP_CONCAT: t -= in->a - 1; concat(e, &st[t], in->a); break;
    case OP_ABS_I: st[t].i = st[t].i < 0 ? wrap(0 - (uint64_t)st[t].i) : st[t].i; break;
    case OP_ABS_D: st[t].d = fabs(st[t].d); break;
    case OP_FLOOR_D: st[t].d = floor(st[t].d); break;
    case OP_NEG_I: st[t].i = wrap(0 - (uint64_t)st[t].i); break;
    case OP_NEG_D: st[t].d = -st[t].d; break;
    case OP_NOT: st[t].i = !st[t].i; break;
    case OP_I2D: st[t].d = (double)st[t].i; break;
    }
    *top = t;
}

int sl_expr_run(sl_expr *e, const sl_row *row)
{
    sl_slot *st = e->stack;
    int t = -1;

    e->scratch_used = 0;
    for (int pc = 0; pc < e->ncode; pc++) {
        const sl_instr *in = &e->code[pc];
        switch (in->op) {
        case OP_FIELD_I:
            if (!field_ok(row, in->a, SL_TYPE_INT))
                return SL_EINVAL;
            st[++t].i = row->v[in->a].u.i;
            break;
        case OP_FIELD_D:
            if (!field_ok(row, in->a, SL_TYPE_DOUBLE))
                return SL_EINVAL;
            st[++t].d = row->v[in->a].u.d;
            break;
        case OP_FIELD_S:
            if (!field_ok(row, in->a, SL_TYPE_STRING))
                return SL_EINVAL;
            st[++t].s.p = row->v[in->a].u.s.ptr;
            st[t].s.n = row->v[in->a].u.s.len;
            break;
        case OP_CONST: st[++t] = in->k; break;
        case OP_ADD_I: case OP_SUB_I: case OP_MUL_I: case OP_DIV_I: case OP_MOD_I:
            st[t - 1].i = arith_i(e, in->op, st[t - 1].i, st[t].i);
            t--;
            break;
        case OP_ADD_D: case OP_SUB_D: case OP_MUL_D: case OP_DIV_D: case OP_MOD_D:
            st[t - 1].d = arith_d(in->op, st[t - 1].d, st[t].d);
            t--;
            break;
        case OP_CMP_I: st[t - 1].i = cmp_i(in->a, st[t - 1].i, st[t].i); t--; break;
        case OP_CMP_D: st[t - 1].i = cmp_d(in->a, st[t - 1].d, st[t].d); t--; break;
        case OP_CMP_S: st[t - 1].i = cmp_s(in->a, &st[t - 1], &st[t]); t--; break;
        case OP_AND:
            if (!st[t].i)
                pc = in->a - 1;
            else
                t--;
            break;
        case OP_OR:
            if (st[t].i)
                pc = in->a - 1;
            else
                t--;
            break;
        case OP_JFALSE:
            if (!st[t--].i)
                pc = in->a - 1;
            break;
        case OP_JUMP: pc = in->a - 1; break;
        default: run_func(e, in, st, &t); break;
        }
    }
    return SL_OK;
}

int sl_expr_eval(sl_expr *e, const sl_row *row, sl_value *out)
{
    int rv;

    if (e->type == SL_EXPR_BOOL)
        return SL_EINVAL;
    if ((rv = sl_expr_run(e, row)) != SL_OK)
        return rv;
    out->type = (sl_type)e->type;
    if (e->type == SL_TYPE_INT)
        out->u.i = e->stack[0].i;
    else if (e->type == SL_TYPE_DOUBLE)
        out->u.d = e->stack[0].d;
    else {
        out->u.s.ptr = e->stack[0].s.p;
        out->u.s.len = e->stack[0].s.n;
    }
    return SL_OK;
}

int sl_expr_eval_bool(sl_expr *e, const sl_row *row, int *out)
{
    int rv;

    if (e->type != SL_EXPR_BOOL)
        return SL_EINVAL;
    if ((rv = sl_expr_run(e, row)) != SL_OK)
        return rv;
    *out = e->stack[0].i != 0;
    return SL_OK;
}
