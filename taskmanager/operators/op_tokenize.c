/* `operator: tokenize`: splits a string field into lowercase words.
 * ASCII letters are lowercased; every byte that is not a-z or 0-9 after
 * that (bytes >= 0x80 too) separates words; emits {word} per word. */
#include <stdlib.h>

#include "common/status.h"
#include "taskmanager/operators/operator.h"

typedef struct tokenize {
    int field;
    char *word; /* scratch, SL_MAX_STRING bytes */
} tokenize;

static int tok_open(sl_op *op)
{
    tokenize *tk = calloc(1, sizeof(*tk));
    if (tk == NULL)
        return SL_ENOMEM;
    op->impl = tk;
    const sl_schema *in = op->in[0];
    const char *field = sl_stage_param(op->stage, "field");
    tk->field = sl_schema_find(in, field ? field : "line");
    if (tk->field < 0)
        return sl_op_fail(op, "tokenize: no field %s", field ? field : "line");
    tk->word = malloc(SL_MAX_STRING);
    return tk->word ? SL_OK : SL_ENOMEM;
}

static int emit_word(sl_op *op, const char *w, size_t n)
{
    sl_row row;
    row.nfields = 1;
    row.v[0].type = SL_TYPE_STRING;
    row.v[0].u.s.ptr = w;
    row.v[0].u.s.len = (uint32_t)n;
    return sl_op_emit(op, &row);
}

static int tok_process(sl_op *op, const sl_row *row)
{
    tokenize *tk = op->impl;
    if (tk->field >= row->nfields || row->v[tk->field].type != SL_TYPE_STRING)
        return sl_op_fail(op, "tokenize: field %d is not a string", tk->field);
    const unsigned char *s = (const unsigned char *)row->v[tk->field].u.s.ptr;
    uint32_t len = row->v[tk->field].u.s.len;
    size_t n = 0;
    for (uint32_t i = 0; i <= len; i++) {
        unsigned char c = i < len ? s[i] : ' ';
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c + 32);
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            tk->word[n++] = (char)c;
            continue;
        }
        if (n > 0) {
            int rv = emit_word(op, tk->word, n);
            if (rv != SL_OK)
                return rv;
            n = 0;
        }
    }
    return SL_OK;
}

static void tok_close(sl_op *op, int committed)
{
    (void)committed;
    tokenize *tk = op->impl;
    if (tk != NULL)
        free(tk->word);
    free(tk);
    op->impl = NULL;
}

const sl_op_ops sl_op_tokenize = {
    .open = tok_open, .process = tok_process, .close = tok_close,
};
