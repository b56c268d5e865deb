#!/usr/bin/env bash
# Checkpoint retention: word counts with checkpoints every 100 ms,
# state.checkpoints.num-retained 2 and state.checkpoints.dir set in the job
# file (a plain path).
#
# 1. Cancelled mid-run with RETAIN_ON_CANCELLATION after at least 4
#    completed checkpoints: exactly 2 chk-* folders remain, the two newest
#    completed checkpoints, each with its _metadata; no temporary or hidden
#    file; `sluice checkpoints` shows `latest completed: <id> file://...`
#    naming the newest folder, and every row has the documented shape.
# 2. Run to the end: a FINISHED job's checkpoints are discarded whatever
#    the retention setting (Flink's rule): its folder under
#    state.checkpoints.dir goes, `sluice checkpoints` still counts the
#    completed ones and says `latest completed: none`. The output is
#    exactly-once.
. "$(dirname "$0")/lib.sh"

sl_recovery_cluster 2
sl_wordcount_setup 1000000 5
ckdir="$SL_DATA/ckpts"
job() {
    sl_write_file_job "$1" checkpoint-retention "$SL_TEXT" "$2" 2 "    rate: $SL_RATE" \
        "  execution.checkpointing.interval: 100 ms
  execution.checkpointing.externalized-checkpoint-retention: $3
  state.checkpoints.num-retained: 2
  state.checkpoints.dir: $ckdir"
}

# ---- 1. retained after a cancel
job "$SL_DATA/retain.yaml" "$SL_DATA/out-cancelled" RETAIN_ON_CANCELLATION
mkdir -p "$SL_DATA/out-cancelled"
sl_submit_detached "$SL_DATA/retain.yaml"
j1="$SL_JOBID"
echo "job $j1 submitted (RETAIN_ON_CANCELLATION)"
wait_for sl_ckpt_completed_at_least "$j1" 4
sl_job_running_now "$j1"
sl_run sl_cli cancel "$j1"
assert_eq 0 "$SL_RC" "exit code of 'sluice cancel' (stderr: $SL_ERR)"
sl_wait_job_end "$j1" CANCELED 60

dir="$ckdir/$j1"
[ -d "$dir" ] || fail "no checkpoint folder $dir (state.checkpoints.dir of the job file): $(find "$ckdir" -maxdepth 2 | head -n 20)"
# An aborted in-progress checkpoint's folder goes shortly after the cancel.
two_folders() {
    mapfile -t chks < <(sl_chk_folders "$dir")
    echo "chk folders: ${chks[*]}"
    [ "${#chks[@]}" -eq 2 ]
}
wait_for -t 30 two_folders
echo "checkpoint folder after CANCELED:"
find "$dir" | sed "s|^$dir|    .|" | head -n 50
for c in "${chks[@]}"; do
    [[ "$c" =~ ^chk-[0-9]+$ ]] || fail "unexpected folder name $c"
    if [ ! -f "$dir/$c/_metadata" ] || [ ! -s "$dir/$c/_metadata" ]; then fail "$dir/$c has no (non-empty) _metadata"; fi
done
junk="$(find "$dir" -mindepth 1 \( -name '.*' -o -iname '*tmp*' -o -name '*~' -o -iname '*inprogress*' -o -iname '*partial*' \) | head -n 10)"
[ -z "$junk" ] || fail "temporary or hidden files left in $dir:"$'\n'"$junk"
newest="${chks[1]#chk-}"
older="${chks[0]#chk-}"

sl_checkpoints "$j1"
assert_eq 0 "$SL_RC" "exit code of 'sluice checkpoints' (stderr: $SL_ERR)"
out="$SL_OUT"
echo "$out"
assert_ge 4 "$(sl_ckpt_count "$out" completed)" "'completed:' of 'sluice checkpoints'"
assert_eq 0 "$(sl_ckpt_count "$out" "in progress")" "'in progress:' of 'sluice checkpoints' of the cancelled job"
assert_match "$out" '^ID STATUS TRIGGER-TIME DURATION SIZE ACKED$' "'sluice checkpoints' header"
latest="$(sl_ckpt_latest "$out")"
[[ "$latest" =~ ^([0-9]+)\ (file://[^ ]+)$ ]] || fail "no 'latest completed: <id> file://...' line:"$'\n'"$out"
assert_eq "$newest" "${BASH_REMATCH[1]}" "latest completed id vs the newest retained folder"
assert_eq "$(realpath "$dir/chk-$newest")" "$(realpath -m "$(sl_uri_path "${BASH_REMATCH[2]}")")" "path of 'latest completed: $latest'"
# The two retained folders are the two newest COMPLETED checkpoints listed.
top2="$(awk '$2 == "COMPLETED" { print $1 }' <<<"$out" | sort -n | tail -n 2 | tr '\n' ' ')"
assert_eq "$older $newest " "$top2" "the two newest COMPLETED checkpoints in 'sluice checkpoints' vs the retained folders"
# Every row has the documented shape.
rows="$(awk 'f { print } /^ID STATUS/ { f = 1 }' <<<"$out" | grep -v '^latest completed:' || true)"
[ -n "$rows" ] || fail "no checkpoint rows in 'sluice checkpoints':"$'\n'"$out"
bad="$(grep -vE '^[0-9]+ (COMPLETED|FAILED|IN_PROGRESS) .+ [0-9]+ms [0-9]+B [0-9]+/[0-9]+( failure: .*)?$' <<<"$rows" || true)"
[ -z "$bad" ] || fail "checkpoint rows not of the form '<id> <STATUS> <time> <n>ms <n>B <a>/<t>':"$'\n'"$bad"

# ---- 2. discarded after FINISHED, even with RETAIN_ON_CANCELLATION
job "$SL_DATA/finish.yaml" "$SL_OUTDIR" RETAIN_ON_CANCELLATION
sl_submit_detached "$SL_DATA/finish.yaml"
j2="$SL_JOBID"
echo "job $j2 submitted"
wait_for sl_ckpt_completed_at_least "$j2" 2
[ -d "$ckdir/$j2" ] || fail "no checkpoint folder $ckdir/$j2 while the job runs"
sl_wait_job_end "$j2" FINISHED 180
wait_for -t 30 bash -c "! [ -e '$ckdir/$j2' ]"
echo "the checkpoint folder of the finished job $j2 is gone"
[ -f "$dir/chk-$newest/_metadata" ] || fail "the finished job removed the retained checkpoint of job $j1"
sl_checkpoints "$j2"
assert_eq 0 "$SL_RC" "exit code of 'sluice checkpoints' (stderr: $SL_ERR)"
assert_ge 2 "$(sl_ckpt_count "$SL_OUT" completed)" "'completed:' of 'sluice checkpoints' of the finished job"
assert_eq none "$(sl_ckpt_latest "$SL_OUT")" "'latest completed:' of the finished job (its checkpoints are discarded)"

sl_check_exactly_once "$SL_OUTDIR" "$SL_REF"
echo "ok"
