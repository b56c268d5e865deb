#!/usr/bin/env bash
# source: datagen end to end, on 3 taskmanagers with 1 slot each.
#  1. A bounded datagen (count N) written by a csv file sink at parallelism 1
#     and at parallelism 2: the same multiset of {key, value, ts} rows, N of
#     them, ts 0..N-1 once each, keys within `keys`.
#  2. sum of value key-by key over that datagen (source parallelism 1, so
#     each key's records arrive in order; sum parallelism 2): a run without
#     failure emits exactly the running sums an awk reference computes from
#     the rows of 1.; a rate-limited run with checkpoints every 200 ms
#     (EXACTLY_ONCE) whose taskmanager running a `sums` subtask gets SIGKILL
#     mid-run restarts from its checkpoint and commits exactly the same rows.
. "$(dirname "$0")/lib.sh"

n=300000
seed=12345
keys=100
sl_recovery_cluster 3

# gen_job FILE NAME OUT P [GEN-EXTRA] [WITH-SUM] [CONFIG]
gen_job() {
    {
        echo "name: $2"
        echo "parallelism: $4"
        if [ -n "${7:-}" ]; then
            echo "config:"
            echo "$7"
        fi
        echo "pipeline:"
        echo "  - name: gen"
        echo "    source: datagen"
        echo "    seed: $seed"
        echo "    count: $n"
        echo "    keys: $keys"
        [ -z "${5:-}" ] || echo "$5"
        if [ -n "${6:-}" ]; then
            echo "  - name: sums"
            echo "    operator: sum"
            echo "    key-by: key"
            echo "    field: value"
        fi
        echo "  - name: out"
        echo "    sink: file"
        echo "    path: $3"
    } >"$1"
}

# rows DIR OUT: the rows of DIR's part files, sorted, into OUT (no hidden
# file may be left).
rows() {
    local hidden
    local -a p=()
    hidden="$(find "$1" -mindepth 1 -name '.*' | head -n 3)"
    [ -z "$hidden" ] || fail "hidden files left in $1: $hidden"
    mapfile -t p < <(find "$1" -type f -name 'part-*' | LC_ALL=C sort)
    [ "${#p[@]}" -ge 1 ] || fail "no part files in $1"
    cat "${p[@]}" | LC_ALL=C sort >"$2"
}

run_finished() {
    sl_run sl_cli run "$1"
    assert_eq 0 "$SL_RC" "exit code of 'sluice run $1'; stdout: $SL_OUT; stderr: $SL_ERR"
    assert_contains "$SL_OUT" "finished with state FINISHED" "output of 'sluice run $1'"
}

# ------------------------------------------------------------ 1. parallelism 1 vs 2
for p in 1 2; do
    gen_job "$SL_DATA/gen$p.yaml" "datagen-p$p" "$SL_DATA/gen$p" "$p"
    run_finished "$SL_DATA/gen$p.yaml"
    rows "$SL_DATA/gen$p" "$SL_DATA/gen$p.rows"
done
assert_eq "$n" "$(wc -l <"$SL_DATA/gen1.rows")" "rows of datagen at parallelism 1"
cmp -s "$SL_DATA/gen1.rows" "$SL_DATA/gen2.rows" ||
    fail "datagen at parallelism 1 and 2 differ:"$'\n'"$(diff "$SL_DATA/gen1.rows" "$SL_DATA/gen2.rows" | head -n 10)"
LC_ALL=C sort -t, -k3,3n "$SL_DATA/gen1.rows" >"$SL_DATA/by_ts.rows"
LC_ALL=C awk -F, -v keys="$keys" -v vmax=1000 '
    NF != 3 || $3 != NR - 1 || $1 < 0 || $1 >= keys || $2 < 0 || $2 >= vmax {
        print "bad row " NR ": " $0; bad = 1; exit 1
    }
    { seen[$1] = 1 }
    END { if (!bad) { for (k in seen) nk++; print nk " distinct keys" } }' "$SL_DATA/by_ts.rows" >"$SL_DATA/check.txt" ||
    fail "datagen rows are not key,value,ts with ts 0..$((n - 1)): $(cat "$SL_DATA/check.txt")"
echo "datagen: $n rows, identical at parallelism 1 and 2, $(cat "$SL_DATA/check.txt")"

# ------------------------------------------------------------ 2. keyed sum, with and without a kill
# Reference: running sums per key, in ts order.
LC_ALL=C awk -F, '{ s[$1] += $2; print $1 "," s[$1] }' "$SL_DATA/by_ts.rows" | LC_ALL=C sort >"$SL_DATA/sums.ref"

gen_job "$SL_DATA/sum.yaml" datagen-sum "$SL_DATA/sum" 2 "    parallelism: 1" sum
run_finished "$SL_DATA/sum.yaml"
rows "$SL_DATA/sum" "$SL_DATA/sum.rows"
if ! diff -u "$SL_DATA/sums.ref" "$SL_DATA/sum.rows" >"$SL_DATA/sum.diff"; then
    fail "running sums without failure differ from the reference (- reference, + emitted):"$'\n'"$(head -n 20 "$SL_DATA/sum.diff")"
fi
echo "sum without failure: $(wc -l <"$SL_DATA/sum.rows") rows match the reference"

rate=$((n / 15))
gen_job "$SL_DATA/kill.yaml" datagen-sum-kill "$SL_DATA/kill" 2 "    parallelism: 1
    rate: $rate" sum "  execution.checkpointing.interval: 200 ms
  execution.checkpointing.mode: EXACTLY_ONCE"
sl_submit_detached "$SL_DATA/kill.yaml"
jobid="$SL_JOBID"
wait_for sl_ckpt_completed_at_least "$jobid" 1
sl_kill_counts_tm "$jobid" KILL sums
sl_wait_restart "$jobid" "$SL_PREV_ATTEMPT"
assert_match "$SL_INFO" '^restored from: [0-9]+ file://' "info after the restart"
sl_wait_job_end "$jobid" FINISHED 180
assert_ge 1 "$(sl_field "$SL_INFO" restarts)" "restarts of the killed run"
rows "$SL_DATA/kill" "$SL_DATA/kill.rows"
if ! diff -u "$SL_DATA/sum.rows" "$SL_DATA/kill.rows" >"$SL_DATA/kill.diff"; then
    fail "the run with a SIGKILL committed other rows than the run without (- without, + with; $(grep -c '^-[^-]' "$SL_DATA/kill.diff" || true) missing, $(grep -c '^+[^+]' "$SL_DATA/kill.diff" || true) extra):"$'\n'"$(head -n 20 "$SL_DATA/kill.diff")"
fi
echo "sum with a SIGKILL mid-run: $(wc -l <"$SL_DATA/kill.rows") rows, exactly those of the run without failure"
echo "ok"
