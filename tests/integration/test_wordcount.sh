#!/usr/bin/env bash
# Wordcount end to end: a deterministic multi-megabyte text (mixed case,
# digits, punctuation, bytes >= 0x80) through file source -> tokenize ->
# count key-by word -> file sink at parallelism 2. `sluice run` (attached)
# reports FINISHED; the sink's part files hold, for every word, the running
# counts 1..N exactly once each, N being the reference count. A second,
# rate-limited run (-d) shows its count subtasks 0/2 and 1/2 on two
# different taskmanagers while RUNNING.
. "$(dirname "$0")/lib.sh"

sl_new_cluster
sl_start_cluster 2

text="$SL_DATA/words.txt"
out="$SL_DATA/out"
job="$SL_DATA/wordcount.yaml"

# ------------------------------------------------------------ the input
# A fixed word list (upper case, digits, punctuation, UTF-8 and a raw
# Latin-1 byte) picked by a Park-Miller generator with a fixed seed: exact
# in double arithmetic, so mawk and gawk print the same bytes.
LC_ALL=C awk -v seed=20240611 -v target=3400000 '
BEGIN {
    n = split("the quick brown fox jumps over a lazy dog The QUICK Brown FOX " \
        "stream Stream STREAM sluice Sluice flink Flink checkpoint barrier " \
        "watermark window key-by don'"'"'t it'"'"'s e-mail U.S.A. C3PO r2-d2 x86_64 " \
        "42 007 3.14159 1,000,000 2024-06-11 12:30:45 v1.2.3 HTTP/1.1 " \
        "user@example.com #hashtag 50% $100 (paren) [bracket] {brace} <tag> " \
        "\"quoted\" semi;colon a|b under_score MiXeD CamelCase snake_case " \
        "café naïve Straße déjà-vu über résumé Ärger 🙂ok caf\351 na\357ve " \
        "zebra Zebra ZEBRA zzz9 9zzz α β-test end. end, end! end? end...", W, " ")
    x = seed
    bytes = 0
    while (bytes < target) {
        x = (x * 16807) % 2147483647; nw = x % 16
        line = ""
        for (i = 0; i < nw; i++) {
            x = (x * 16807) % 2147483647; w = W[1 + x % n]
            x = (x * 16807) % 2147483647; s = x % 12
            sep = (s < 7) ? " " : (s == 7) ? "  " : (s == 8) ? "\t" : (s == 9) ? ", " : (s == 10) ? " - " : "/"
            line = line (i ? sep : "") w
        }
        x = (x * 16807) % 2147483647; e = x % 40
        if (e == 0) { line = "  " line "  " }
        if (e == 1 && nw > 0) { line = line "aaaaaaaaaabbbbbbbbbbccccccccccddddddddddeeeeeeeeeeffffffffffgggggggggghhhhhhhhhh" }
        eol = (e == 2) ? "\r\n" : "\n"
        printf "%s%s", line, eol
        bytes += length(line) + length(eol)
    }
    # The last line has no line end.
    printf "Last Line without a line end: 42 Words, FIN"
}' >"$text"
size="$(stat -c %s "$text")"
[ "$size" -ge 3000000 ] || fail "generated text is only $size bytes"

# Reference: lower-case ASCII letters, every byte not a-z/0-9 separates words.
# shellcheck disable=SC2018,SC2019  # ASCII only, on purpose
LC_ALL=C tr 'A-Z' 'a-z' <"$text" | LC_ALL=C tr -cs 'a-z0-9' '\n' | grep -v '^$' |
    LC_ALL=C sort | uniq -c | awk '{ print $2, $1 }' | LC_ALL=C sort >"$SL_DATA/reference.txt"
words="$(wc -l <"$SL_DATA/reference.txt")"
total="$(awk '{ t += $2 } END { print t }' "$SL_DATA/reference.txt")"
echo "input: $size bytes, $total words, $words distinct"
[ "$words" -ge 50 ] || fail "reference has only $words distinct words"

# ------------------------------------------------------------ attached run
mkdir -p "$out"
sl_write_file_job "$job" wordcount-it "$text" "$out" 2
sl_run sl_cli run "$job"
assert_eq 0 "$SL_RC" "exit code of 'sluice run' (attached); stdout: $SL_OUT; stderr: $SL_ERR"
jobid="$(sl_jobid_of "$SL_OUT")"
[ -n "$jobid" ] || fail "no 'Job has been submitted with JobID <32 hex>' line in:"$'\n'"$SL_OUT"
assert_contains "$SL_OUT" "Job $jobid finished with state FINISHED" "output of 'sluice run'"

# ------------------------------------------------------------ the output
hidden="$(find "$out" -mindepth 1 -name '.*' | head -n 5)"
[ -z "$hidden" ] || fail "hidden (in-progress) files left in the sink folder after FINISHED:"$'\n'"$hidden"
mapfile -t parts < <(find "$out" -type f -name 'part-*' | LC_ALL=C sort)
[ "${#parts[@]}" -ge 1 ] || fail "no part-* files in $out: $(ls -la "$out")"
echo "part files: ${#parts[@]}"
cat "${parts[@]}" >"$SL_DATA/emitted.csv"
bad="$(LC_ALL=C grep -Ev '^[a-z0-9]+,[1-9][0-9]*$' "$SL_DATA/emitted.csv" | head -n 5 || true)"
[ -z "$bad" ] || fail "part files hold lines that are not 'word,count' (first ones shown):"$'\n'"$bad"

# Per word, sorted by count: must be exactly 1, 2, ..., N.
LC_ALL=C sort -t, -k1,1 -k2,2n "$SL_DATA/emitted.csv" | LC_ALL=C awk -F, '
    # Words compare as strings ("007" is not "7"), counts as numbers.
    { k = $1 "" }
    !started || k != w { if (started) print w, n; w = k; n = 0; started = 1 }
    { n++; if ($2 + 0 != n && !bad) { printf "word %s: expected count %d next, got %s\n", w, n, $2 > "/dev/stderr"; bad = 1 } }
    END { if (started) print w, n; exit bad }' >"$SL_DATA/emitted.txt" 2>"$SL_DATA/sequence.err" ||
    fail "the counts of a word are not exactly 1..N once each: $(head -n 5 "$SL_DATA/sequence.err")"
LC_ALL=C sort -o "$SL_DATA/emitted.txt" "$SL_DATA/emitted.txt"
if ! diff -u "$SL_DATA/reference.txt" "$SL_DATA/emitted.txt" >"$SL_DATA/diff.txt"; then
    fail "final counts differ from the reference (- reference, + emitted):"$'\n'"$(head -n 30 "$SL_DATA/diff.txt")"
fi
echo "output: $(wc -l <"$SL_DATA/emitted.csv") rows, all counts match the reference"

# ------------------------------------------------------------ info of the finished job
sl_info "$jobid"
assert_eq 0 "$SL_RC" "exit code of 'sluice info $jobid'; stderr: $SL_ERR"
info="$SL_OUT"
assert_eq "$jobid" "$(sl_field "$info" job)" "info job:"
assert_eq wordcount-it "$(sl_field "$info" name)" "info name:"
assert_eq FINISHED "$(sl_field "$info" state)" "info state:"
assert_eq 2 "$(sl_field "$info" parallelism)" "info parallelism:"
assert_eq 0 "$(sl_field "$info" restarts)" "info restarts:"
assert_not_contains "$info" "failure:" "info of a finished job"
assert_match "$info" '^tasks:' "info"
tasks="$(sl_tasks "$info")"
for i in 0 1; do
    assert_match "$tasks" "^task counts(\+out)? $i/2 FINISHED [^ ]+ [^ ]+:[0-9]+$" "task lines of info"
done
sl_run sl_cli list -a
assert_eq 0 "$SL_RC" "exit code of 'sluice list -a'"
assert_match "$SL_OUT" "^$jobid FINISHED wordcount-it$" "'sluice list -a'"
sl_run sl_cli list
assert_eq 0 "$SL_RC" "exit code of 'sluice list'"
assert_not_contains "$SL_OUT" "$jobid" "'sluice list' (running jobs only)"

# ------------------------------------------------------------ placement while running
slow_out="$SL_DATA/out-slow"
slow_job="$SL_DATA/wordcount-slow.yaml"
mkdir -p "$slow_out"
sl_write_file_job "$slow_job" wordcount-slow "$text" "$slow_out" 2 "    rate: 1000"
sl_submit_detached "$slow_job"
slow_id="$SL_JOBID"
wait_for sl_job_deployed "$slow_id"
info="$SL_OUT"
tasks="$(sl_tasks "$info")"
t0="$(awk '$2 ~ /^counts(\+out)?$/ && $3 == "0/2" && $4 == "RUNNING"' <<<"$tasks")"
t1="$(awk '$2 ~ /^counts(\+out)?$/ && $3 == "1/2" && $4 == "RUNNING"' <<<"$tasks")"
if [ -z "$t0" ] || [ -z "$t1" ]; then
    fail "info of the RUNNING job shows no RUNNING 'task counts+out 0/2' and '1/2' lines:"$'\n'"$info"
fi
tm0="$(awk '{ print $5 }' <<<"$t0")"
tm1="$(awk '{ print $5 }' <<<"$t1")"
[ "$tm0" != "$tm1" ] || fail "count subtasks 0/2 and 1/2 both run on taskmanager $tm0:"$'\n'"$info"
# Each task's address is that of its taskmanager.
sl_run sl_cli taskmanagers
assert_eq 0 "$SL_RC" "exit code of 'sluice taskmanagers'"
for t in "$t0" "$t1"; do
    read -r _ _ _ _ tm addr <<<"$t"
    assert_match "$SL_OUT" "^$tm $addr " "taskmanagers (task '$t' on $tm at $addr)"
done
sl_run sl_cli cancel "$slow_id"
echo "ok"
