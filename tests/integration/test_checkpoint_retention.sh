#!/usr/bin/env bash
# Checkpoint retention: a bounded run with checkpoints every 100 ms,
# state.checkpoints.num-retained 2 and state.checkpoints.dir set in the job
# file (a plain path). After FINISHED exactly 2 chk-* folders remain, the two
# newest completed checkpoints, each with its _metadata; no temporary or
# hidden file; `sluice checkpoints` shows completed >= 2 and
# `latest completed: <id> file://...` naming the newest folder. The output is
# exactly-once.
. "$(dirname "$0")/lib.sh"

sl_recovery_cluster 2
sl_wordcount_setup 1000000 5
ckdir="$SL_DATA/ckpts"
sl_write_file_job "$SL_DATA/job.yaml" checkpoint-retention "$SL_TEXT" "$SL_OUTDIR" 2 "    rate: $SL_RATE" \
    "  execution.checkpointing.interval: 100 ms
  state.checkpoints.num-retained: 2
  state.checkpoints.dir: $ckdir"
sl_submit_detached "$SL_DATA/job.yaml"
jobid="$SL_JOBID"
echo "job $jobid submitted"
sl_wait_job_end "$jobid" FINISHED 180

dir="$ckdir/$jobid"
[ -d "$dir" ] || fail "no checkpoint folder $dir (state.checkpoints.dir of the job file): $(find "$ckdir" -maxdepth 2 | head -n 20)"
echo "checkpoint folder after FINISHED:"
find "$dir" | sed "s|^$dir|    .|" | head -n 50
mapfile -t chks < <(sl_chk_folders "$dir")
[ "${#chks[@]}" -eq 2 ] || fail "expected exactly 2 chk-* folders in $dir (num-retained 2), found ${#chks[@]}: ${chks[*]}"
for c in "${chks[@]}"; do
    [[ "$c" =~ ^chk-[0-9]+$ ]] || fail "unexpected folder name $c"
    if [ ! -f "$dir/$c/_metadata" ] || [ ! -s "$dir/$c/_metadata" ]; then fail "$dir/$c has no (non-empty) _metadata"; fi
done
junk="$(find "$dir" -mindepth 1 \( -name '.*' -o -iname '*tmp*' -o -name '*~' -o -iname '*inprogress*' -o -iname '*partial*' \) | head -n 10)"
[ -z "$junk" ] || fail "temporary or hidden files left in $dir:"$'\n'"$junk"
newest="${chks[1]#chk-}"
older="${chks[0]#chk-}"

sl_checkpoints "$jobid"
assert_eq 0 "$SL_RC" "exit code of 'sluice checkpoints' (stderr: $SL_ERR)"
out="$SL_OUT"
echo "$out"
assert_ge 2 "$(sl_ckpt_count "$out" completed)" "'completed:' of 'sluice checkpoints'"
assert_eq 0 "$(sl_ckpt_count "$out" "in progress")" "'in progress:' of 'sluice checkpoints' of the finished job"
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

sl_check_exactly_once "$SL_OUTDIR" "$SL_REF"
echo "ok"
