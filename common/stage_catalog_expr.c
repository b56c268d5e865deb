/* Stage catalog rows for the expression operators: `operator: filter`
 * (where:) and `operator: map` (set:, keep:). Their expressions are
 * compiled against the input schema here, so a job with a wrong one is
 * refused at submission, with the file position of the offending
 * character: the parameter's position (its first character, see
 * SL_PARAM_EXPR) plus the characters before the error. That is exact for
 * an expression written on one line without YAML escapes before the error;
 * otherwise it points at the expression's first line. */
#include "common/stage_catalog.h"

#include <stdio.h>
#include <string.h>

#include "common/expr.h"
#include "common/status.h"

const sl_stage_param_def sl_stage_params_filter[] = {
    {"where", NULL, SL_PARAM_REQUIRED | SL_PARAM_EXPR},
    {NULL, NULL, 0},
};

const sl_stage_param_def sl_stage_params_map[] = {
    {"set", NULL, SL_PARAM_MAPPING | SL_PARAM_EXPR},
    {"keep", NULL, SL_PARAM_LIST},
    {NULL, NULL, 0},
};

#define SET_PREFIX "set."

/* ---- expressions ---- */

/* Columns count characters (libyaml's marks do): UTF-8 lead bytes. */
static int chars_before(const char *s, size_t off)
{
    int n = 0;

    for (size_t i = 0; i < off && s[i] != '\0'; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

/* Compiles parameter p against the input; an error is reported at its
 * character. *type is the expression's type. */
static int check_expr(sl_stage_check *chk, const sl_param *p, int *type)
{
    sl_expr_error err;
    sl_expr *e = NULL;
    sl_param at = *p;
    int rv = sl_expr_compile(p->value, chk->in[0], &e, &err);

    if (rv == SL_EINVAL) {
        if (at.line > 0)
            at.col += chars_before(p->value, err.offset);
        return sl_stage_check_fail(chk, &at, "%s", err.msg);
    }
    if (rv != SL_OK)
        return rv;
    *type = sl_expr_type(e);
    sl_expr_free(e);
    return SL_OK;
}

/* "line:string, n:int" (cut with "..." when long). */
static void describe(const sl_schema *s, char *out, size_t cap)
{
    size_t used = 0;

    snprintf(out, cap, "%s", s->nfields == 0 ? "none" : "");
    for (int i = 0; i < s->nfields; i++) {
        int n = snprintf(out + used, cap - used, "%s%s:%s", i > 0 ? ", " : "", s->names[i],
                         sl_type_name(s->types[i]));
        if (n < 0 || (size_t)n >= cap - used) {
            snprintf(out + (cap > 4 ? cap - 4 : 0), cap > 4 ? 4 : cap, "...");
            return;
        }
        used += (size_t)n;
    }
}

/* ---- filter ---- */

int sl_stage_validate_filter(sl_stage_check *chk)
{
    sl_param *p = sl_stage_param_ref(chk->st, "where");
    int type, rv;

    if (p == NULL)
        return sl_stage_check_fail(chk, NULL, "operator 'filter' requires 'where'");
    if ((rv = check_expr(chk, p, &type)) != SL_OK)
        return rv;
    if (type != SL_EXPR_BOOL)
        return sl_stage_check_fail(chk, p,
                                   "where must be a condition (a comparison, and, or, not), "
                                   "not %s",
                                   sl_expr_type_name(type));
    return sl_schema_copy(chk->in[0], &chk->st->out_schema);
}

/* ---- map ---- */

/* Letters, digits, '_', '-' and '.', starting with a letter or '_' (as in
 * csv/json schemas). */
static int field_name_ok(const char *s)
{
    for (size_t i = 0; s[i] != '\0'; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                 (i > 0 && ((c >= '0' && c <= '9') || c == '-' || c == '.'));
        if (!ok)
            return 0;
    }
    return s[0] != '\0' && strlen(s) < 256;
}

/* set.<field>: expression. Replaces the field in place or appends it. */
static int map_set(sl_stage_check *chk, const sl_param *p, const char *name)
{
    sl_schema *out = &chk->st->out_schema;
    int type, i, rv;

    if (!field_name_ok(name))
        return sl_stage_check_fail(chk, p,
                                   "'%s' is not a field name (letters, digits, '_', '-' and "
                                   "'.', starting with a letter or '_')",
                                   name);
    if ((rv = check_expr(chk, p, &type)) != SL_OK)
        return rv;
    if (type == SL_EXPR_BOOL)
        return sl_stage_check_fail(chk, p,
                                   "field '%s' cannot hold a boolean (a field is int, double "
                                   "or string: use if(condition, 1, 0))",
                                   name);
    if ((i = sl_schema_find(out, name)) >= 0) {
        out->types[i] = (sl_type)type;
        return SL_OK;
    }
    rv = sl_schema_add(out, name, (sl_type)type);
    if (rv == SL_ENOSPC)
        return sl_stage_check_fail(chk, p, "map emits more than %d fields", SL_MAX_FIELDS);
    return rv;
}

/* keep: the fields, in order, of the schema after set. */
static int map_keep(sl_stage_check *chk, const sl_param *p)
{
    sl_schema *out = &chk->st->out_schema, kept;
    const char *s = p->value;
    char name[256], desc[256];
    int rv = SL_OK;

    memset(&kept, 0, sizeof(kept));
    while (rv == SL_OK) {
        size_t n = strcspn(s, ",");
        snprintf(name, sizeof(name), "%.*s", (int)(n < sizeof(name) ? n : sizeof(name) - 1), s);
        if (sl_schema_find(out, name) < 0) {
            describe(out, desc, sizeof(desc));
            rv = sl_stage_check_fail(chk, p, "keep: no field '%s' (the fields are %s)", name,
                                     desc);
        } else if ((rv = sl_schema_add(&kept, name, out->types[sl_schema_find(out, name)])) ==
                   SL_EEXIST) {
            rv = sl_stage_check_fail(chk, p, "keep: field '%s' is listed twice", name);
        }
        if (s[n] == '\0')
            break;
        s += n + 1;
    }
    if (rv != SL_OK) {
        sl_schema_clear(&kept);
        return rv;
    }
    sl_schema_clear(out);
    *out = kept;
    return SL_OK;
}

int sl_stage_validate_map(sl_stage_check *chk)
{
    sl_stage *st = chk->st;
    const sl_param *keep = sl_stage_param_ref(st, "keep");
    size_t plen = strlen(SET_PREFIX);
    int nset = 0, rv;

    if ((rv = sl_schema_copy(chk->in[0], &st->out_schema)) != SL_OK)
        return rv;
    for (int i = 0; i < st->nparams; i++) {
        const sl_param *p = &st->params[i];
        if (strncmp(p->key, SET_PREFIX, plen) != 0)
            continue;
        if ((rv = map_set(chk, p, p->key + plen)) != SL_OK)
            return rv;
        nset++;
    }
    if (nset == 0 && keep == NULL)
        return sl_stage_check_fail(chk, NULL, "operator 'map' requires 'set' or 'keep'");
    return keep != NULL ? map_keep(chk, keep) : SL_OK;
}
