/* Expressions, inside: tokens and the syntax tree (expr_lex.c,
 * expr_parse.c, type rules in expr_check.c), the program and its
 * instructions (expr.c compiles the tree into a program, expr_eval.c runs
 * it). Not for use outside common/expr*.c. */
#ifndef SL_EXPR_INTERNAL_H
#define SL_EXPR_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/expr.h"

/* ---- tokens (expr_lex.c) ---- */

enum sl_tok {
    TK_END = 0,
    TK_INT,     /* u: value (up to 2^63, the parser checks the sign) */
    TK_DOUBLE,  /* d */
    TK_STRING,  /* str, slen: unescaped, in the pool */
    TK_NAME,    /* name, nlen: a field or function name (backquotes removed) */
    TK_TRUE,
    TK_FALSE,
    TK_AND,
    TK_OR,
    TK_NOT,
    TK_LPAREN,
    TK_RPAREN,
    TK_COMMA,
    TK_PLUS,
    TK_MINUS,
    TK_STAR,
    TK_SLASH,
    TK_PERCENT,
    TK_EQ,
    TK_NE,
    TK_LT,
    TK_LE,
    TK_GT,
    TK_GE,
};

typedef struct sl_token {
    enum sl_tok t;
    size_t pos, len;    /* where it stands in the text */
    uint64_t u;
    double d;
    const char *str;    /* TK_STRING: in the pool */
    uint32_t slen;
    const char *name;   /* TK_NAME: in the text */
    size_t nlen;
    int quoted;         /* TK_NAME in backquotes (never a keyword or function) */
} sl_token;

/* ---- the syntax tree (expr_parse.c) ---- */

enum sl_node_kind { ND_FIELD, ND_INT, ND_DOUBLE, ND_STRING, ND_BOOL, ND_UNARY, ND_BINARY, ND_CALL };

enum sl_func { FN_LOWER, FN_UPPER, FN_LENGTH, FN_SUBSTR, FN_CONCAT, FN_ABS, FN_FLOOR, FN_IF };

typedef struct sl_node {
    enum sl_node_kind kind;
    int op;          /* ND_UNARY, ND_BINARY: an enum sl_tok; ND_CALL: an enum sl_func */
    int type;        /* result type */
    int optype;      /* ND_BINARY: type the operands are brought to (int, double,
                        string or boolean) */
    int first;       /* first operand or argument, -1 if none */
    int next;        /* next sibling, -1 if last */
    int nargs;
    int field;       /* ND_FIELD: index in the schema */
    int64_t i;       /* ND_INT, ND_BOOL */
    double d;        /* ND_DOUBLE */
    const char *str; /* ND_STRING: in the pool */
    uint32_t slen;
    size_t pos;      /* first byte of the node in the text */
} sl_node;

/* One compilation: the lexer's position, the tree, the string pool. */
typedef struct sl_expr_parser {
    const char *text;
    size_t len;
    size_t at;          /* lexer position */
    sl_token tok;       /* current token */
    const sl_schema *schema;
    sl_node *nodes;
    int nnodes, maxnodes;
    char *pool;         /* string literals, unescaped; len + 1 bytes */
    size_t pool_used;
    int depth;
    sl_expr_error *err;
} sl_expr_parser;

/* Writes the message at offset into the parser's error; returns SL_EINVAL. */
int sl_expr_fail(sl_expr_parser *p, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Reads the next token into p->tok. */
int sl_expr_lex(sl_expr_parser *p);
/* Parses the whole text; *root is the tree's root node. */
int sl_expr_parse(sl_expr_parser *p, int *root);
/* Appends a node; *out is its index. */
int sl_expr_node_new(sl_expr_parser *p, enum sl_node_kind kind, int type, size_t pos, int *out);

/* ---- type rules (expr_check.c) ---- */

/* The node of l op r (op an enum sl_tok), checked; opos: where op stands. */
int sl_expr_binary(sl_expr_parser *p, int op, size_t opos, int l, int r, int *out);
/* The operand of `what` (and, or, not) must be boolean. */
int sl_expr_check_bool(sl_expr_parser *p, const char *what, const sl_node *operand);
/* *fn = the enum sl_func named by token name (any case), or an error. */
int sl_expr_func_find(sl_expr_parser *p, const sl_token *name, int *fn);
/* Checks a call's argument count and types and sets its type. */
int sl_expr_call_check(sl_expr_parser *p, sl_node *n);

/* ---- the program (expr.c, expr_eval.c) ---- */

typedef union sl_slot {
    int64_t i; /* ints and booleans */
    double d;
    struct {
        const char *p;
        uint32_t n;
    } s;
} sl_slot;

enum sl_opcode {
    OP_FIELD_I, OP_FIELD_D, OP_FIELD_S, /* a: field index */
    OP_CONST,                           /* k */
    OP_I2D,                             /* top int -> double */
    OP_NEG_I, OP_NEG_D, OP_NOT,
    OP_ADD_I, OP_SUB_I, OP_MUL_I, OP_DIV_I, OP_MOD_I,
    OP_ADD_D, OP_SUB_D, OP_MUL_D, OP_DIV_D, OP_MOD_D,
    OP_CMP_I, OP_CMP_D, OP_CMP_S,       /* a: TK_EQ .. TK_GE; pushes a boolean */
    OP_AND, OP_OR,                      /* a: target when the top decides (kept), else pop */
    OP_JFALSE,                          /* a: target; pops the condition */
    OP_JUMP,                            /* a: target */
    OP_LOWER, OP_UPPER, OP_LENGTH,
    OP_SUBSTR2, OP_SUBSTR3,
    OP_CONCAT,                          /* a: number of arguments */
    OP_ABS_I, OP_ABS_D, OP_FLOOR_D,
};

typedef struct sl_instr {
    int op;
    int a;
    sl_slot k;
} sl_instr;

struct sl_expr {
    int type;
    int ncode;
    sl_instr *code;
    sl_slot *stack;       /* depth slots */
    int depth;
    char *pool;           /* string literals the program points into */
    char *scratch;        /* SL_EXPR_SCRATCH bytes, NULL when no op needs it */
    size_t scratch_used;
    sl_expr_stats stats;
};

/* Runs the program on row; the result is stack[0]. */
int sl_expr_run(sl_expr *e, const sl_row *row);

#endif
