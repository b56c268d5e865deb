#!/usr/bin/env bash
# Submit-time errors of the operator library, one job file each: `sluice
# run` exits 2 with `file:line:column: message` naming the place and the
# reason, and the jobmanager creates no job. Covered: an unknown operator,
# an unknown field in an expression, a type error, bad window specs (size
# and gap together, no size, a zero size, an unknown aggregate), a udf
# library that is missing, and one without the symbol.
. "$(dirname "$0")/lib.sh"

sl_new_cluster
sl_start_cluster 1
printf '1,a,2\n' >"$SL_DATA/in.csv"

# job NAME STAGE-LINES...: a csv source, the given stage, a print sink.
job() {
    local f="$SL_DATA/$1.yaml"
    shift
    {
        echo "name: errors"
        echo "pipeline:"
        echo "  - name: events"
        echo "    source: file"
        echo "    path: $SL_DATA/in.csv"
        echo "    format: csv"
        echo "    schema: \"ts:int, user:string, amount:int\""
        echo "  - name: step"
        printf '    %s\n' "$@"
        echo "  - name: out"
        echo "    sink: print"
    } >"$f"
}

# refused NAME EXPECTED: `sluice run` of job NAME exits 2 with EXPECTED
# (a file:line:column prefix and message) on stderr.
refused() {
    sl_run sl_cli run "$SL_DATA/$1.yaml"
    assert_eq 2 "$SL_RC" "exit code of 'sluice run $1.yaml' (stdout: $SL_OUT, stderr: $SL_ERR)"
    assert_contains "$SL_ERR" "$SL_DATA/$1.yaml:$2" "stderr of 'sluice run $1.yaml'"
    assert_eq "" "$(sl_jobid_of "$SL_OUT")" "JobID printed for the refused $1.yaml"
    echo "$1: $SL_ERR"
}

job unknown_op "operator: frobnicate"
refused unknown_op "9:15: unknown operator 'frobnicate'"
job unknown_field "operator: filter" "where: amout > 1"
refused unknown_field "10:12: unknown field 'amout'"
job type_error "operator: filter" "where: user + 1 > 2"
refused type_error "10:17: operator '+' needs numbers, not string and int"
job size_and_gap "operator: window" "key-by: user" "time-field: ts" "size: 1 s" "gap: 1 s"
refused size_and_gap "13:10: window takes 'size' or 'gap', not both"
job no_size "operator: window" "key-by: user" "time-field: ts"
refused no_size "8:5: window needs 'size'"
job zero_size "operator: window" "key-by: user" "time-field: ts" "size: 0 ms"
refused zero_size "12:11: size must be a duration of at least"
job bad_agg "operator: window" "key-by: user" "time-field: ts" "size: 1 s" "aggregate: median"
refused bad_agg "13:16: unknown aggregate 'median'"
job no_lib "operator: udf" "library: $SL_DATA/missing.so" "symbol: op" "key-by: user" \
    'schema: "user:string, n:int"'
refused no_lib "10:14: cannot read library '$SL_DATA/missing.so'"
lib="$(dirname "$SL_BIN")/examples/libsession_counter.so"
[ -f "$lib" ] || fail "example udf library $lib not built"
job no_sym "operator: udf" "library: $lib" "symbol: no_such_operator" "key-by: user" \
    'schema: "user:string, n:int"'
refused no_sym "11:13: library '$lib' has no symbol 'no_such_operator'"
assert_eq 0 "$(sl_cli list -a | wc -l)" "jobs listed after the refused submits"
echo "ok"
