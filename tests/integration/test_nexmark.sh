#!/usr/bin/env bash
# Nexmark (bench/nexmark/q*.yaml, `source: nexmark`, `operator: argmax`) on
# 2 taskmanagers:
#  1. every query over N events, at parallelism 1 and 2, with a csv file
#     sink instead of the blackhole: the committed rows equal (sorted) the
#     rows the single-loop program (bench/nexmark/loop.c) prints for the
#     same events. Event time runs at 10,000 events/s so q5 and q7 span
#     several windows.
#  2. recovery: q5 at parallelism 2, rate-limited, checkpoints every 200 ms,
#     on 3 taskmanagers with 1 slot each; the taskmanager running the
#     source (lanes in the checkpoint) is killed with SIGKILL mid-run; the
#     restarted job commits exactly the loop program's rows.
#  3. the benchmark harness (bench/nexmark.sh, quick mode, few events) runs
#     and writes a result per query (nothing is asserted about speed).
. "$(dirname "$0")/lib.sh"

n=200000
eps=10000
loop="$SL_BIN/../bench/nexmark-loop"
[ -x "$loop" ] || fail "no loop program at $loop"
sl_new_cluster
sl_start_cluster 2

# job Q P OUT: the test copy of query Q at parallelism P writing to OUT
job() {
    sed -e "s/^parallelism: 1/parallelism: $2/" \
        -e "s/count: COUNT/count: $n\n    events-per-second: $eps/" \
        -e "s|sink: blackhole|sink: file\n    path: $3|" \
        "$SL_REPO/bench/nexmark/$1.yaml" >"$SL_DATA/$1-p$2.yaml"
}

rows() {
    local -a p=()
    mapfile -t p < <(find "$1" -type f -name 'part-*' | LC_ALL=C sort)
    [ "${#p[@]}" -ge 1 ] || fail "no part files in $1"
    cat "${p[@]}" | LC_ALL=C sort >"$2"
}

# ------------------------------------------------------------ 1. engine vs loop
for q in q0 q1 q2 q5 q7; do
    "$loop" "$q" "$n" 0 "$eps" --print 2>"$SL_DATA/$q.loop.err" | LC_ALL=C sort >"$SL_DATA/$q.expected"
    [ -s "$SL_DATA/$q.expected" ] || fail "$q: the loop program printed no rows"
    for p in 1 2; do
        job "$q" "$p" "$SL_DATA/out-$q-$p"
        sl_run sl_cli run "$SL_DATA/$q-p$p.yaml"
        assert_eq 0 "$SL_RC" "sluice run $q at parallelism $p; stdout: $SL_OUT; stderr: $SL_ERR"
        assert_contains "$SL_OUT" "finished with state FINISHED" "sluice run $q p$p"
        rows "$SL_DATA/out-$q-$p" "$SL_DATA/$q-$p.rows"
        cmp -s "$SL_DATA/$q.expected" "$SL_DATA/$q-$p.rows" ||
            fail "$q at parallelism $p differs from the loop program ($(wc -l <"$SL_DATA/$q-$p.rows") rows vs $(wc -l <"$SL_DATA/$q.expected")):"$'\n'"$(diff "$SL_DATA/$q.expected" "$SL_DATA/$q-$p.rows" | head -n 10)"
        echo "$q p$p: $(wc -l <"$SL_DATA/$q.expected") rows as the loop program"
    done
done

# ------------------------------------------------------------ 2. recovery
first="$SL_ROOT"
expected="$SL_DATA/q5.expected"
sl_recovery_cluster 3
job q5 2 "$SL_DATA/out-q5-kill"
sed -i -e "s/^    count: $n/    count: $n\n    rate: 50000/" \
    -e "s/^pipeline:/config:\n  execution.checkpointing.interval: 200 ms\n  state.checkpoints.dir: file:\/\/${SL_DATA//\//\\/}\/chk\n  restart-strategy.type: fixed-delay\n  restart-strategy.fixed-delay.attempts: 5\n  restart-strategy.fixed-delay.delay: 0 ms\npipeline:/" \
    "$SL_DATA/q5-p2.yaml"
sl_submit_detached "$SL_DATA/q5-p2.yaml"
wait_for sl_job_deployed "$SL_JOBID"
wait_for sl_ckpt_latest_id_above "$SL_JOBID" 1
sl_kill_counts_tm "$SL_JOBID" KILL events
sl_wait_restart "$SL_JOBID" "$SL_PREV_ATTEMPT"
sl_wait_job_end "$SL_JOBID" FINISHED
rows "$SL_DATA/out-q5-kill" "$SL_DATA/q5-kill.rows"
cmp -s "$expected" "$SL_DATA/q5-kill.rows" ||
    fail "q5 after a kill differs from the loop program:"$'\n'"$(diff "$expected" "$SL_DATA/q5-kill.rows" | head -n 10)"
echo "q5 after a taskmanager kill: $(wc -l <"$SL_DATA/q5-kill.rows") rows as the loop program"
sl_use "$first"

# ------------------------------------------------------------ 3. the harness
sl_run env QUICK=1 NEXMARK_EVENTS=200000 NEXMARK_RESULTS="$SL_DATA/nexmark.json" \
    SLUICE_BIN_DIR="$SL_BIN" "$SL_REPO/bench/nexmark.sh"
assert_eq 0 "$SL_RC" "bench/nexmark.sh; stdout: $SL_OUT; stderr: $SL_ERR"
for q in q0 q1 q2 q5 q7; do
    python3 - "$SL_DATA/nexmark.json" "$q" <<'PY' || fail "no $q result in the harness JSON"
import json, sys
rows = json.load(open(sys.argv[1]))["results"]
r = [x for x in rows if x["row"].split(" ")[0] == sys.argv[2]]
sys.exit(0 if r and r[0]["events_per_second_per_core"]["median"] > 0 else 1)
PY
    assert_contains "$SL_OUT" "| $q " "harness table"
done
echo "harness: $(grep -c '"row"' "$SL_DATA/nexmark.json") results"
