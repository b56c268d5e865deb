/* Fuzz target: rows as text against a schema (common/row_text.c,
 * taskmanager/operators/row_json.c), as the file source reads them.
 *
 * Input: a schema text up to the first NUL ("id:int, name:string, x:double"),
 * then byte f: f % 2 == 0 csv, else json lines, then the data: for csv it
 * is cut into records by sl_csv_record_end as the source cuts a file, for
 * json at every LF; each record is parsed with sl_csv_parse_record /
 * sl_json_parse_line. Oracles: a parsed row has the schema's fields and
 * types; it formats (csv: sl_value_format_csv per field; json:
 * sl_row_format_json) into text that parses back to the same row. The
 * schema text alone also goes to sl_schema_parse's error path. */
#include "fuzz/fuzz.h"

#include "common/row.h"
#include "common/row_text.h"
#include "common/status.h"
#include "taskmanager/operators/row_json.h"

#define OUT_CAP (1u << 16)

static int same_value(const sl_value *a, const sl_value *b)
{
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case SL_TYPE_INT: return a->u.i == b->u.i;
    case SL_TYPE_DOUBLE: return memcmp(&a->u.d, &b->u.d, sizeof(double)) == 0 ||
                                (a->u.d != a->u.d && b->u.d != b->u.d);
    default:
        return a->u.s.len == b->u.s.len && memcmp(a->u.s.ptr, b->u.s.ptr, a->u.s.len) == 0;
    }
}

static int finite_row(const sl_row *r)
{
    for (int i = 0; i < r->nfields; i++)
        if (r->v[i].type == SL_TYPE_DOUBLE && (r->v[i].u.d != r->v[i].u.d ||
                                               r->v[i].u.d - r->v[i].u.d != 0))
            return 0;
    return 1;
}

static void check_row(const sl_row *row, const sl_schema *sc, int json)
{
    static char out[OUT_CAP], scratch[OUT_CAP], err[512];
    static sl_row back;
    FUZZ_CHECK(row->nfields == sc->nfields);
    for (int i = 0; i < row->nfields; i++)
        FUZZ_CHECK(row->v[i].type == sc->types[i]);
    int n = 0;
    if (json) {
        n = sl_row_format_json(row, sc, out, sizeof(out));
    } else {
        for (int i = 0; i < row->nfields && n >= 0; i++) {
            if (i > 0)
                out[n++] = ',';
            int k = sl_value_format_csv(&row->v[i], out + n, sizeof(out) - (size_t)n - 1);
            n = k < 0 ? -1 : n + k;
        }
    }
    if (n < 0 || (json && !finite_row(row)))
        return; /* too long for the check, or NaN/Infinity (json writes null) */
    int rv = json ? sl_json_parse_line(out, (size_t)n, sc, &back, scratch, err, sizeof(err))
                  : sl_csv_parse_record(out, (size_t)n, sc, &back, scratch, err, sizeof(err));
    if (rv != SL_OK)
        fprintf(stderr, "formatted row does not parse back: %s\n%.*s\n", err, n, out);
    FUZZ_CHECK(rv == SL_OK);
    for (int i = 0; i < row->nfields; i++)
        FUZZ_CHECK(same_value(&row->v[i], &back.v[i]));
}

static void parse_one(const char *p, size_t n, const sl_schema *sc, int json)
{
    static sl_row row;
    char err[512];
    char *scratch = malloc(n + 1);
    if (scratch == NULL)
        abort();
    int rv = json ? sl_json_parse_line(p, n, sc, &row, scratch, err, sizeof(err))
                  : sl_csv_parse_record(p, n, sc, &row, scratch, err, sizeof(err));
    if (rv == SL_OK)
        check_row(&row, sc, json);
    free(scratch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, '\0', size);
    if (nul == NULL || (size_t)(nul - data) + 1 >= size)
        return 0;
    sl_schema sc = {0};
    size_t off;
    char err[256];
    char *stext = fuzz_strndup(data, (size_t)(nul - data));
    int rv = sl_schema_parse(stext, &sc, &off, err, sizeof(err));
    free(stext);
    if (rv != SL_OK) {
        FUZZ_CHECK(sc.nfields == 0);
        return 0;
    }
    int json = nul[1] % 2;
    /* the records in a buffer of their own: a read past it is caught */
    size_t n = size - (size_t)(nul - data) - 2;
    char *text = malloc(n > 0 ? n : 1);
    if (text == NULL)
        abort();
    memcpy(text, nul + 2, n);
    size_t at = 0;
    while (at < n) {
        size_t end;
        int state = 0, found;
        if (json) {
            const char *lf = memchr(text + at, '\n', n - at);
            found = lf != NULL;
            end = found ? (size_t)(lf - (text + at)) : n - at;
        } else {
            found = sl_csv_record_end(text + at, n - at, &state, &end);
            if (!found)
                end = n - at;
        }
        FUZZ_CHECK(end <= n - at);
        parse_one(text + at, end, &sc, json);
        at += end + (found ? 1 : 0);
    }
    free(text);
    sl_schema_clear(&sc);
    return 0;
}
