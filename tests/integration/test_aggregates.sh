#!/usr/bin/env bash
# Keyed running aggregates end to end: a csv input built by awk (ints,
# doubles, negative values, a few quoted fields) read by one source subtask
# (so each key's records arrive in file order) fans out to count, sum, min,
# max and avg with one and with two key fields at parallelism 2, each into a
# csv file sink. For every aggregate, the sequence of values emitted per key
# must be exactly what an awk reference computes in file order (values
# compared as doubles), and so the final value per key too.
. "$(dirname "$0")/lib.sh"

sl_new_cluster
sl_start_cluster 2

input="$SL_DATA/sales.csv"
job="$SL_DATA/aggregates.yaml"

# ------------------------------------------------------------ the input
# ts,user,region,amount,price: 37 users, 4 regions, amount an int in
# [-500, 1500), price a double with up to 2 decimals. Park-Miller with a
# fixed seed (exact in double arithmetic: mawk and gawk print the same).
LC_ALL=C awk -v seed=777 -v n=30000 '
BEGIN {
    split("north south east west", R, " ")
    x = seed
    for (i = 0; i < n; i++) {
        x = (x * 16807) % 2147483647; u = "u" (x % 37)
        x = (x * 16807) % 2147483647; r = R[1 + x % 4]
        x = (x * 16807) % 2147483647; a = x % 2000 - 500
        x = (x * 16807) % 2147483647; c = x % 100
        x = (x * 16807) % 2147483647; p = sprintf("%d.%02d", x % 300, c)
        if (c % 10 == 0) p = (x % 300) "." int(c / 10)
        if (x % 97 == 0) p = "-" p
        # some fields quoted although they need not be
        if (x % 13 == 0) u = "\"" u "\""
        if (x % 17 == 0) a = "\"" a "\""
        printf "%d,%s,%s,%s,%s%s", i, u, r, a, p, (x % 29 == 0) ? "\r\n" : "\n"
    }
}' >"$input"
echo "input: $(wc -l <"$input") records, $(stat -c %s "$input") bytes"

# name op field key-fields (comma-separated); fields by column:
# ts=1 user=2 region=3 amount=4 price=5
specs=(
    "c_user count - user"
    "s_user sum amount user"
    "s_user_region sum price user,region"
    "mn_user min price user"
    "mn_region_user min amount region,user"
    "mx_user max amount user"
    "mx_user_region max price user,region"
    "a_user avg amount user"
    "a_region_user avg price region,user"
)
declare -A col=([ts]=1 [user]=2 [region]=3 [amount]=4 [price]=5)

# ------------------------------------------------------------ the job
{
    echo "name: aggregates-it"
    echo "parallelism: 2"
    echo "pipeline:"
    echo "  - name: sales"
    echo "    source: file"
    echo "    path: $input"
    echo "    format: csv"
    echo "    schema: \"ts:int, user:string, region:string, amount:int, price:double\""
    echo "    parallelism: 1"
    for s in "${specs[@]}"; do
        read -r name op field keys <<<"$s"
        echo "  - name: $name"
        echo "    input: sales"
        echo "    operator: $op"
        echo "    key-by: [${keys//,/, }]"
        [ "$field" = - ] || echo "    field: $field"
        echo "  - name: out_$name"
        echo "    input: $name"
        echo "    sink: file"
        echo "    path: $SL_DATA/out/$name"
    done
} >"$job"
sl_run sl_cli run "$job"
assert_eq 0 "$SL_RC" "exit code of 'sluice run'; stdout: $SL_OUT; stderr: $SL_ERR"
jobid="$(sl_jobid_of "$SL_OUT")"
assert_contains "$SL_OUT" "Job $jobid finished with state FINISHED" "output of 'sluice run'"

# ------------------------------------------------------------ the check
# ref OP FIELDCOL KEYCOLS: "key<TAB>i<TAB>value" for the i-th value emitted
# for key, in input order, values as %.17g. Quotes are dropped from the
# input (no field of it holds a comma or a quote).
ref() {
    LC_ALL=C awk -F, -v op="$1" -v f="$2" -v keys="$3" '
    BEGIN { nk = split(keys, K, " ") }
    {
        gsub(/\r$/, ""); gsub(/"/, "")
        k = $K[1]; for (j = 2; j <= nk; j++) k = k "," $K[j]
        x = (op == "count") ? 0 : $f + 0
        n[k]++
        if (op == "count") v[k] = n[k]
        else if (op == "sum") v[k] += x
        else if (op == "min") { if (n[k] == 1 || x < v[k]) v[k] = x }
        else if (op == "max") { if (n[k] == 1 || x > v[k]) v[k] = x }
        else { s[k] += x; v[k] = s[k] / n[k] }
        printf "%s\t%d\t%.17g\n", k, n[k], v[k]
    }' "$input"
}

# emitted NKEYS FILES...: the same form from the sink's part files (each key
# is in one subtask's files; within them rows keep their order).
emitted() {
    local nk="$1"
    shift
    LC_ALL=C awk -F, -v nk="$nk" '
    {
        if (NF != nk + 1) { print "bad row: " $0 > "/dev/stderr"; exit 1 }
        k = $1; for (j = 2; j <= nk; j++) k = k "," $j
        printf "%s\t%d\t%.17g\n", k, ++n[k], $(nk + 1) + 0
    }' "$@"
}

for s in "${specs[@]}"; do
    read -r name op field keys <<<"$s"
    dir="$SL_DATA/out/$name"
    hidden="$(find "$dir" -mindepth 1 -name '.*' | head -n 3)"
    [ -z "$hidden" ] || fail "$name: hidden files left after FINISHED: $hidden"
    mapfile -t parts < <(find "$dir" -type f -name 'part-*' | LC_ALL=C sort)
    [ "${#parts[@]}" -ge 1 ] || fail "$name: no part files in $dir"
    keycols=""
    IFS=, read -r -a ks <<<"$keys"
    for k in "${ks[@]}"; do keycols+="${col[$k]} "; done
    fcol=0
    [ "$field" = - ] || fcol="${col[$field]}"
    ref "$op" "$fcol" "$keycols" | LC_ALL=C sort >"$SL_DATA/$name.ref"
    emitted "${#ks[@]}" "${parts[@]}" | LC_ALL=C sort >"$SL_DATA/$name.out" ||
        fail "$name: the sink's rows are not '${keys},value'"
    if ! diff -u "$SL_DATA/$name.ref" "$SL_DATA/$name.out" >"$SL_DATA/$name.diff"; then
        fail "$name ($op of $field by $keys): emitted values differ from the reference (- reference, + emitted; key, i-th value, value):"$'\n'"$(head -n 20 "$SL_DATA/$name.diff")"
    fi
    # final value per key: the last of each key's sequence
    final_ref="$(LC_ALL=C sort -t$'\t' -k1,1 -k2,2n "$SL_DATA/$name.ref" | awk -F'\t' '{ v[$1] = $3 } END { for (k in v) print k, v[k] }' | LC_ALL=C sort)"
    final_out="$(LC_ALL=C sort -t$'\t' -k1,1 -k2,2n "$SL_DATA/$name.out" | awk -F'\t' '{ v[$1] = $3 } END { for (k in v) print k, v[k] }' | LC_ALL=C sort)"
    assert_eq "$final_ref" "$final_out" "$name: final value per key"
    echo "$name: $op of $field by [$keys]: $(wc -l <"$SL_DATA/$name.out") rows, $(wc -l <<<"$final_out") keys, sequences match"
done
echo "ok"
