#!/usr/bin/env bash
# csv and json sources and the json sink end to end:
#  1. csv (RFC 4180: quoted fields with commas, doubled quotes, CR/LF inside
#     quotes, a 100 KB multi-line record that every split boundary of
#     parallelism 3 falls into, CRLF line ends) -> json sink: exactly the
#     expected objects (RFC 8259 escaping, shortest doubles);
#  2. that json output -> json source -> json sink: the same objects again;
#  3. json lines (fields in any order, extra and nested fields, \u escapes)
#     -> csv sink: the expected csv rows;
#  4. malformed csv records and json lines with on-error: skip: the job
#     finishes, every good record comes out, the logs count the skipped ones;
#  5. one malformed csv record with on-error: fail (the default): the job
#     FAILED, its failure names file:line (byte offset).
. "$(dirname "$0")/lib.sh"

sl_new_cluster
sl_start_cluster 2

# run_job FILE: `sluice run` (attached), must end FINISHED.
run_job() {
    sl_run sl_cli run "$1"
    assert_eq 0 "$SL_RC" "exit code of 'sluice run $1'; stdout: $SL_OUT; stderr: $SL_ERR"
    assert_contains "$SL_OUT" "finished with state FINISHED" "output of 'sluice run $1'"
}

# job FILE NAME SOURCE-PATH SOURCE-FORMAT SCHEMA SINK-PATH SINK-FORMAT P [SOURCE-EXTRA]
job() {
    cat >"$1" <<EOF
name: $2
parallelism: $8
config:
  restart-strategy.type: none
pipeline:
  - name: src
    source: file
    path: $3
    format: $4
    schema: "$5"
${9:-}
  - name: out
    sink: file
    path: $6
    format: $7
EOF
}

# parts DIR: the part files of a sink folder, checked: no hidden file left.
parts() {
    local hidden
    hidden="$(find "$1" -mindepth 1 -name '.*' | head -n 3)"
    [ -z "$hidden" ] || fail "hidden files left in $1: $hidden"
    find "$1" -type f -name 'part-*' | LC_ALL=C sort
}

# same_lines EXPECTED DIR WHAT: the part files of DIR hold exactly the lines
# of EXPECTED (in any order).
same_lines() {
    local -a p=()
    mapfile -t p < <(parts "$2")
    [ "${#p[@]}" -ge 1 ] || fail "$3: no part files in $2"
    cat "${p[@]}" | LC_ALL=C sort >"$2.sorted"
    LC_ALL=C sort "$1" >"$1.sorted"
    if ! diff -u "$1.sorted" "$2.sorted" >"$2.diff"; then
        fail "$3: output differs (- expected, + emitted):"$'\n'"$(head -n 20 "$2.diff")"
    fi
    echo "$3: $(wc -l <"$2.sorted") lines as expected"
}

# ------------------------------------------------------------ 1. csv -> json
csv="$SL_DATA/people.csv"
LC_ALL=C awk -v out="$csv" -v xp="$SL_DATA/people.expected" '
function jesc(s,    r, i, c) {
    r = ""
    for (i = 1; i <= length(s); i++) {
        c = substr(s, i, 1)
        if (c == "\"") r = r "\\\""
        else if (c == "\\") r = r "\\\\"
        else if (c == "\n") r = r "\\n"
        else if (c == "\r") r = r "\\r"
        else if (c == "\t") r = r "\\t"
        else if (c == "\001") r = r "\\u0001"
        else r = r c
    }
    return "\"" r "\""
}
function cenc(s, force,    t) {
    if (force || s ~ /[,"\r\n]/) { t = s; gsub(/"/, "\"\"", t); return "\"" t "\"" }
    return s
}
# one record: csv text of amount, its json text
function rec(id, name, note, amt, jamt, eol) {
    x = (x * 16807) % 2147483647
    line = id "," cenc(name, x % 3 == 0) "," cenc(note, x % 5 == 0) "," amt eol
    printf "%s", line > out
    bytes += length(line)
    printf "{\"id\":%d,\"name\":%s,\"note\":%s,\"amount\":%s}\n", id, jesc(name), jesc(note), jamt > xp
}
function small(k,    name, note, a) {
    x = (x * 16807) % 2147483647; name = N[1 + x % nn]
    x = (x * 16807) % 2147483647
    note = (x % 7 == 0) ? "two\nlines " k : (x % 11 == 0) ? "crlf\r\ninside" : "n" k
    x = (x * 16807) % 2147483647
    a = ((x % 4 == 0) ? "-" : "") (x % 1000) "." (1 + x % 9)
    if (x % 10 == 1) a = x % 1000
    rec(id++, name, note, a, a, (x % 6 == 0) ? "\r\n" : "\n")
}
BEGIN {
    nn = split("alice|bob smith|comma, inside|quote \"q\" here| leading space|trailing space ||caf\303\251|back\\slash|tab\there|a\"\"b|ctl\001x|\"quoted\"", N, "|")
    x = 4711; id = 0; bytes = 0
    # doubles in other spellings
    rec(id++, "d1", "", "1e21", "1e+21", "\n")
    rec(id++, "d2", "", "0.000001", "0.000001", "\n")
    rec(id++, "d3", "", "1.5E-7", "1.5e-7", "\n")
    rec(id++, "d4", "", "2.50", "2.5", "\n")
    rec(id++, "d5", "", " 3.5 ", "3.5", "\n")
    rec(id++, "d6", "", "-0", "-0", "\n")
    rec(id++, "d7", "", "\"7.25\"", "7.25", "\n")
    for (k = 0; k < 1500; k++) small(k)
    big = "big line 0, \"with\" a comma"
    for (k = 1; k < 3000; k++) big = big "\nbig line " k ", \"with\" a comma"
    start = bytes
    rec(id++, "big", big, "1.5", "1.5", "\n")
    printf "%d %d\n", start, bytes > "/dev/stderr"
    for (k = 0; k < 1500; k++) small(k)
}' 2>"$SL_DATA/big.range"
read -r big_start big_end <"$SL_DATA/big.range"
size="$(stat -c %s "$csv")"
for s in 1 2; do
    b=$((size * s / 3))
    [ "$b" -gt "$big_start" ] && [ "$b" -lt "$big_end" ] ||
        fail "split boundary $b of parallelism 3 is not inside the multi-line record [$big_start, $big_end)"
done
echo "csv input: $size bytes, $(wc -l <"$SL_DATA/people.expected") records; the split boundaries fall inside the record at [$big_start, $big_end)"

schema="id:int, name:string, note:string, amount:double"
job "$SL_DATA/j1.yaml" csv-to-json "$csv" csv "$schema" "$SL_DATA/out1" json 3
run_job "$SL_DATA/j1.yaml"
same_lines "$SL_DATA/people.expected" "$SL_DATA/out1" "csv -> json"

# ------------------------------------------------------------ 2. json -> json
job "$SL_DATA/j2.yaml" json-to-json "$SL_DATA/out1" json "$schema" "$SL_DATA/out2" json 2
run_job "$SL_DATA/j2.yaml"
same_lines "$SL_DATA/people.expected" "$SL_DATA/out2" "json -> json"

# ------------------------------------------------------------ 3. json -> csv
LC_ALL=C awk -v out="$SL_DATA/items.json" -v xp="$SL_DATA/items.expected" '
function cenc(s,    t) {
    if (s ~ /[,"\r\n]/ || s ~ /^ / || s ~ / $/) { t = s; gsub(/"/, "\"\"", t); return "\"" t "\"" }
    return s
}
BEGIN {
    # json text of a name | its value
    n = split("plain|plain;" \
              "caf\\u00e9|caf\303\251;" \
              "caf\303\251|caf\303\251;" \
              "\\ud83d\\ude42 ok|\360\237\231\202 ok;" \
              "a\\/b|a/b;" \
              "say \\\"hi\\\"|say \"hi\";" \
              "back\\\\slash|back\\slash;" \
              "tab\\there|tab\there;" \
              "one, two|one, two;" \
              " edge |" " edge ;" \
              "|", NAMES, ";")
    m = split("12.5|12.5;-3|-3;1e2|100;2.50|2.5;0.1|0.1;1E-7|1e-7;123456789012|123456789012;-0.0|-0", AMTS, ";")
    x = 99
    for (i = 0; i < 4000; i++) {
        x = (x * 16807) % 2147483647; split(NAMES[1 + x % n], nm, "|")
        x = (x * 16807) % 2147483647; split(AMTS[1 + x % m], am, "|")
        id = "\"id\": " i; name = "\"name\":\"" nm[1] "\""; amount = "\"amount\" : " am[1]
        x = (x * 16807) % 2147483647; o = x % 4
        extra = "\"extra\": {\"a\": [1, 2.5e3, {\"b\": null}], \"s\": \"}]\\\"\"}, \"flag\": true"
        if (o == 0) line = "{" id ", " name ", " amount "}"
        else if (o == 1) line = "{ " amount ", " extra ", " name ", " id " }"
        else if (o == 2) line = "  {" name "," id "," extra "," amount "}  "
        else line = "{\"id\":" i ",\"name\":\"" nm[1] "\",\"amount\":" am[1] ",\"z\":[]}"
        printf "%s%s", line, (x % 9 == 0) ? "\r\n" : "\n" > out
        printf "%d,%s,%s\n", i, cenc(nm[2]), am[2] > xp
    }
}'
job "$SL_DATA/j3.yaml" json-to-csv "$SL_DATA/items.json" json "id:int, name:string, amount:double" \
    "$SL_DATA/out3" csv 2
run_job "$SL_DATA/j3.yaml"
same_lines "$SL_DATA/items.expected" "$SL_DATA/out3" "json -> csv"

# ------------------------------------------------------------ 4. on-error: skip
# Good records i,n<i>,<a>.<b> (their csv form is the input line); malformed
# ones every 500 records, one blank line (skipped without counting).
LC_ALL=C awk -v csv="$SL_DATA/bad.csv" -v json="$SL_DATA/bad.json" -v xp="$SL_DATA/bad.expected" '
BEGIN {
    nc = split("abc,x,1.5|1,x|1,x,2,3|1,x,zz|1,a\"b,2.5|2,\"a\"b,1.5|3,x,1.5,|9223372036854775808,x,1", BC, "|")
    nj = split("{\"id\":1}|{\"id\":\"x\",\"name\":\"a\",\"amount\":1}|not json|{\"id\":1,\"name\":true,\"amount\":1}|{\"id\":1.5,\"name\":\"a\",\"amount\":1}|{\"id\":1,\"name\":\"a\",\"amount\":1} x|{\"id\":1,\"name\":\"a\",\"amount\":1,}", BJ, "|")
    ci = 0; ji = 0
    for (i = 0; i < 5000; i++) {
        if (i % 500 == 250 && ci < nc) print BC[++ci] > csv
        if (i % 500 == 250 && ji < nj) print BJ[++ji] > json
        if (i == 2500) print "" > csv
        a = (i % 777) "." (1 + i % 9)
        print i ",n" i "," a > csv
        printf "{\"id\":%d,\"name\":\"n%d\",\"amount\":%s}\n", i, i, a > json
        print i ",n" i "," a > xp
    }
    printf "%d %d\n", ci, ji > "/dev/stderr"
}' 2>"$SL_DATA/bad.counts"
read -r bad_csv bad_json <"$SL_DATA/bad.counts"
for f in csv json; do
    job "$SL_DATA/j4$f.yaml" "skip-$f" "$SL_DATA/bad.$f" "$f" "id:int, name:string, amount:double" \
        "$SL_DATA/out4$f" csv 2 "    on-error: skip"
    sed -i "s/^  - name: src$/  - name: src$f/" "$SL_DATA/j4$f.yaml"
    run_job "$SL_DATA/j4$f.yaml"
    same_lines "$SL_DATA/bad.expected" "$SL_DATA/out4$f" "$f with on-error: skip"
done
for f in csv json; do
    want=$([ "$f" = csv ] && echo "$bad_csv" || echo "$bad_json")
    got="$(cat "$SL_LOG"/*.log | sed -n -E "s/.*file source src$f [0-9]+\/2: skipped ([0-9]+) malformed records.*/\1/p" |
        awk '{ t += $1 } END { print t + 0 }')"
    assert_eq "$want" "$got" "malformed $f records counted in the taskmanager logs"
    assert_match "$(cat "$SL_LOG"/*.log)" "skipping malformed $([ "$f" = csv ] && echo 'csv record' || echo 'json line') at $SL_DATA/bad.$f:[0-9]+ \(byte [0-9]+\)" "taskmanager logs"
done
echo "on-error skip: $bad_csv csv and $bad_json json records skipped and counted"

# ------------------------------------------------------------ 5. on-error: fail
LC_ALL=C awk '{ print } NR == 3999 { print "4000,bad,\"unterminated" ; print "x,y,z\"" }' \
    "$SL_DATA/bad.expected" >"$SL_DATA/fail.csv"
byte="$(head -n 3999 "$SL_DATA/fail.csv" | wc -c)"
job "$SL_DATA/j5.yaml" fail-csv "$SL_DATA/fail.csv" csv "id:int, name:string, amount:double" \
    "$SL_DATA/out5" csv 2
sl_submit_detached "$SL_DATA/j5.yaml"
sl_wait_job_end "$SL_JOBID" FAILED 120
failure="$(sl_field "$SL_INFO" failure)"
assert_contains "$failure" "$SL_DATA/fail.csv:4000 (byte $byte): malformed csv record: field 3 (amount): 'unterminated?x,y,z' is not a double" "failure of the job"
echo "on-error fail: $failure"
echo "ok"
