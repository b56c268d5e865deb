#!/usr/bin/env bash
# filter and map end to end: deterministic text lines ("<name> <payload>")
# through file source -> map (fields derived with substr, lower, upper,
# length, concat, if, arithmetic including an integer division by zero;
# keep: picks and orders them) -> filter (and, or, not, string and number
# comparisons) -> file sink (csv) at parallelism 2. The committed rows must
# equal a reference computed independently with awk. Then a job whose
# where: names an unknown field is refused by `sluice run` with exit 2 and
# the exact file:line:column of the field.
. "$(dirname "$0")/lib.sh"

sl_new_cluster
sl_start_cluster 2

text="$SL_DATA/people.txt"
out="$SL_DATA/out"
job="$SL_DATA/filter-map.yaml"
mkdir -p "$out"

# ------------------------------------------------------------ the input
# 5-character names, a space, a payload of 0-60 characters (the first three
# never a space, so no csv field starts or ends with one), plus a few short
# and empty lines. ASCII only: awk's length and substr count bytes.
LC_ALL=C awk -v seed=77 -v nlines=20000 '
BEGIN {
    n = split("alice Bobby carol DAVE1 erin2 frank Grace heidi ivan_ judy9 " \
              "mallo oscar peggy trent xavie Yanni zoe00 bob00", N, " ")
    head = "abcdefghijklmnopqrstuvwxyzXYZ0123456789.-_"
    body = head "     "
    x = seed
    for (l = 0; l < nlines; l++) {
        x = (x * 16807) % 2147483647
        if (x % 97 == 0) { print substr("abZed.", 1 + x % 6); continue }
        line = N[1 + x % n] " "
        x = (x * 16807) % 2147483647; len = x % 61
        for (i = 0; i < len; i++) {
            x = (x * 16807) % 2147483647
            a = i < 3 ? head : body
            line = line substr(a, 1 + x % length(a), 1)
        }
        print line
    }
    printf "Grace no line end here"
}' >"$text"
echo "input: $(wc -l <"$text") lines, $(stat -c %s "$text") bytes"

# ------------------------------------------------------------ the reference
# The same fields, computed by awk (0-based substr(s, i, n) is awk's
# substr(s, i + 1, n); integer division by zero is 0).
LC_ALL=C awk '
{
    line = $0
    len = length(line)
    user = tolower(substr(line, 1, 5))
    score = (len * 3) % 7 - 2
    ratio = len / 4
    size = len > 40 ? "long" : "short"
    tag = toupper(substr(line, 7, 3)) "\\" tolower(substr(line, 1, 5))
    d = len % 5
    per = d == 0 ? 0 : int(100 / d)
    if (score >= 0 && (user < "m" || size == "long") && !(substr(tag, 1, 1) == "X") &&
        user != "bob00")
        print tag "," user "," len "," score "," ratio "," size "," per
}' "$text" | LC_ALL=C sort >"$SL_DATA/reference.csv"
rows="$(wc -l <"$SL_DATA/reference.csv")"
echo "reference: $rows rows"
[ "$rows" -ge 1000 ] || fail "reference has only $rows rows"

# ------------------------------------------------------------ the job
cat >"$job" <<EOF
name: filter-map-it
parallelism: 2
pipeline:
  - name: lines
    source: file
    path: $text
  - name: fields
    operator: map
    set:
      user: lower(substr(line, 0, 5))
      len: length(line)
      score: length(line) * 3 % 7 - 2
      ratio: length(line) / 4.0
      size: 'if(length(line) > 40, "long", "short")'
      tag: concat(upper(substr(line, 6, 3)), "\\\\", lower(substr(line, 0, 5)))
      per: 100 / (length(line) % 5)
    keep: [tag, user, len, score, ratio, size, per]
  - name: picked
    operator: filter
    where: score >= 0 and (user < "m" or size = "long") and not substr(tag, 0, 1) = "X" and user <> "bob00"
  - name: out
    sink: file
    path: $out
    format: csv
EOF
sl_run sl_cli run "$job"
assert_eq 0 "$SL_RC" "exit code of 'sluice run'; stdout: $SL_OUT; stderr: $SL_ERR"
jobid="$(sl_jobid_of "$SL_OUT")"
[ -n "$jobid" ] || fail "no 'Job has been submitted with JobID <32 hex>' line in:"$'\n'"$SL_OUT"
assert_contains "$SL_OUT" "Job $jobid finished with state FINISHED" "output of 'sluice run'"

# ------------------------------------------------------------ the output
mapfile -t parts < <(find "$out" -type f -name 'part-*' | LC_ALL=C sort)
[ "${#parts[@]}" -ge 1 ] || fail "no part-* files in $out: $(ls -la "$out")"
cat "${parts[@]}" | LC_ALL=C sort >"$SL_DATA/emitted.csv"
if ! diff -u "$SL_DATA/reference.csv" "$SL_DATA/emitted.csv" >"$SL_DATA/diff.txt"; then
    fail "output differs from the awk reference (- reference, + emitted):"$'\n'"$(head -n 30 "$SL_DATA/diff.txt")"
fi
echo "output: $(wc -l <"$SL_DATA/emitted.csv") rows, equal to the reference"
# Integer divisions by zero are counted and logged when the map ends.
grep -q "map 'fields' subtask [01]: [1-9][0-9]* integer divisions by zero" "$SL_LOG"/*.log ||
    fail "no taskmanager log line counts the map's integer divisions by zero"

# ------------------------------------------------------------ submit-time errors
bad="$SL_DATA/bad.yaml"
cat >"$bad" <<EOF
name: bad-filter
pipeline:
  - name: lines
    source: file
    path: $text
  - name: picked
    operator: filter
    where: length(line) > 100 and amout < 5
  - name: out
    sink: print
EOF
sl_run sl_cli run "$bad"
assert_eq 2 "$SL_RC" "exit code of 'sluice run' with an unknown field; stderr: $SL_ERR"
assert_contains "$SL_ERR" "bad.yaml:8:35: unknown field 'amout'" "stderr of 'sluice run'"

cat >"$bad" <<EOF
name: bad-map
pipeline:
  - name: lines
    source: file
    path: $text
  - name: fields
    operator: map
    set:
      n: 'length(line) + substr(line, 0, 1)'
  - name: out
    sink: print
EOF
sl_run sl_cli run "$bad"
assert_eq 2 "$SL_RC" "exit code of 'sluice run' with a type error; stderr: $SL_ERR"
assert_contains "$SL_ERR" "bad.yaml:9:24: operator '+' needs numbers, not int and string" \
    "stderr of 'sluice run'"
echo "ok"
