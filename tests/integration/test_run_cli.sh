#!/usr/bin/env bash
# `sluice run` as a user meets it:
# - `-D key=value` after the verb (as Flink's CLI takes it) works like the
#   global one, and wins over it (given later); a bad one is refused alike.
# - Every error of run starts with the job file's name: `file:line:column:`
#   where there is a place (a stage name with "..", which would have broken
#   every checkpoint, is refused at submit), `file:` otherwise (a missing
#   file, a jobmanager that cannot be reached, a refused restore, a job
#   that fails while run waits for it).
# - A legal dotted stage name ("cnt.v2") checkpoints and finishes.
. "$(dirname "$0")/lib.sh"

sl_new_cluster
sl_start_cluster 1
printf 'the quick brown fox\njumps over the lazy dog\n' >"$SL_DATA/in.txt"
sl_reference "$SL_DATA/in.txt" "$SL_DATA/reference.txt"

# A configuration folder whose jobmanager port is wrong: only -D fixes it.
sl_pick_port
dead_port="$SL_PORT"
wrong_conf="$SL_TMP/wrong-conf"
mkdir -p "$wrong_conf"
printf 'jobmanager.rpc.address: 127.0.0.1\njobmanager.rpc.port: %s\n' "$dead_port" >"$wrong_conf/sluice.yaml"
cli_wrong() {
    timeout --foreground -k 5 "$SL_CLI_TIMEOUT" "$SL_BIN/sluice" -c "$wrong_conf" "$@"
}

# job FILE STAGE-NAME OUTDIR [CONFIG-LINE]: word count with the counts stage named STAGE-NAME.
job() {
    mkdir -p "$3"
    {
        echo "name: run-cli"
        echo "parallelism: 1"
        [ -z "${4:-}" ] || printf 'config:\n  %s\n' "$4"
        echo "pipeline:"
        echo "  - name: lines"
        echo "    source: file"
        echo "    path: $SL_DATA/in.txt"
        echo "  - name: words"
        echo "    operator: tokenize"
        echo "  - name: $2"
        echo "    operator: count"
        echo "    key-by: word"
        echo "  - name: out"
        echo "    sink: file"
        echo "    path: $3"
    } >"$1"
}

# ------------------------------------------------------------ -D after the verb
job "$SL_DATA/a.yaml" counts "$SL_DATA/out-a"
sl_run cli_wrong run -D "jobmanager.rpc.port=$SL_JM_PORT" "$SL_DATA/a.yaml"
assert_eq 0 "$SL_RC" "exit code of 'sluice run -D jobmanager.rpc.port=$SL_JM_PORT' (stderr: $SL_ERR)"
jobid="$(sl_jobid_of "$SL_OUT")"
assert_contains "$SL_OUT" "Job $jobid finished with state FINISHED" "output of 'sluice run -D ...'"
sl_check_exactly_once "$SL_DATA/out-a" "$SL_DATA/reference.txt"
# The global -D does the same; the one after the verb comes later and wins.
job "$SL_DATA/b.yaml" counts "$SL_DATA/out-b"
sl_run cli_wrong -D "jobmanager.rpc.port=$dead_port" run -d -D "jobmanager.rpc.port=$SL_JM_PORT" "$SL_DATA/b.yaml"
assert_eq 0 "$SL_RC" "exit code of 'sluice -D port=dead run -d -D port=live' (stderr: $SL_ERR)"
[ -n "$(sl_jobid_of "$SL_OUT")" ] || fail "no JobID printed by 'sluice -D ... run -d -D ...': $SL_OUT"
sl_wait_job_end "$(sl_jobid_of "$SL_OUT")" FINISHED
sl_run sl_cli run -D nosuch.key=1 "$SL_DATA/b.yaml"
assert_eq 2 "$SL_RC" "exit code of 'sluice run -D nosuch.key=1' (stderr: $SL_ERR)"
assert_eq "-D nosuch.key=1: unknown configuration key 'nosuch.key'" "$SL_ERR" "stderr of 'sluice run -D nosuch.key=1'"
sl_run sl_cli run -D "$SL_DATA/b.yaml"
assert_eq 2 "$SL_RC" "exit code of 'sluice run -D FILE' (stderr: $SL_ERR)"

# ------------------------------------------------------------ errors start with the file
# A place: a stage name with "..", refused at submit.
job "$SL_DATA/dots.yaml" cnt..v2 "$SL_DATA/out-dots" "execution.checkpointing.interval: 100 ms"
sl_run sl_cli run "$SL_DATA/dots.yaml"
assert_eq 2 "$SL_RC" "exit code of 'sluice run dots.yaml' (stderr: $SL_ERR)"
assert_eq "$SL_DATA/dots.yaml:11:11: stage name 'cnt..v2' may not contain '..'" "$SL_ERR" "stderr of 'sluice run dots.yaml'"
assert_eq "" "$(sl_jobid_of "$SL_OUT")" "JobID printed for dots.yaml"

# No place: the file is missing.
sl_run sl_cli run "$SL_DATA/missing.yaml"
assert_eq 2 "$SL_RC" "exit code of 'sluice run missing.yaml'"
assert_eq "$SL_DATA/missing.yaml: cannot read the job file: No such file or directory" "$SL_ERR" "stderr of 'sluice run missing.yaml'"

# No place: the jobmanager cannot be reached (exit 3, the address named).
sl_run cli_wrong run "$SL_DATA/a.yaml"
assert_eq 3 "$SL_RC" "exit code of 'sluice run' against a closed port (stderr: $SL_ERR)"
assert_match "$SL_ERR" "^$SL_DATA/a.yaml: cannot reach the jobmanager at 127.0.0.1:$dead_port: " "stderr of 'sluice run' against a closed port"

# No place: the jobmanager refuses the restore.
sl_run sl_cli run -s "$SL_DATA/no-savepoint" "$SL_DATA/a.yaml"
assert_eq 2 "$SL_RC" "exit code of 'sluice run -s <missing folder>' (stderr: $SL_ERR)"
assert_match "$SL_ERR" "^$SL_DATA/a.yaml: .*$SL_DATA/no-savepoint" "stderr of 'sluice run -s <missing folder>'"
assert_eq 1 "$(grep -c . <<<"$SL_ERR")" "lines of stderr of 'sluice run -s <missing folder>': $SL_ERR"
echo "refused restore: $SL_ERR"

# No place: the job fails while run waits (a csv line that does not parse).
printf 'x\n' >"$SL_DATA/bad.csv"
cat >"$SL_DATA/fails.yaml" <<EOF
name: fails
pipeline:
  - name: rows
    source: file
    path: $SL_DATA/bad.csv
    format: csv
    schema: "n:int"
  - name: out
    sink: blackhole
EOF
sl_run sl_cli run "$SL_DATA/fails.yaml"
assert_eq 1 "$SL_RC" "exit code of 'sluice run fails.yaml' (stdout: $SL_OUT, stderr: $SL_ERR)"
fid="$(sl_jobid_of "$SL_OUT")"
assert_contains "$SL_OUT" "Job $fid finished with state FAILED" "stdout of 'sluice run fails.yaml'"
assert_match "$SL_ERR" "^$SL_DATA/fails.yaml: job $fid failed: .+" "stderr of 'sluice run fails.yaml'"
echo "failed job: $SL_ERR"

# ------------------------------------------------------------ a dotted stage name checkpoints
job "$SL_DATA/dot.yaml" cnt.v2 "$SL_DATA/out-dot" "execution.checkpointing.interval: 100 ms"
sl_run sl_cli run "$SL_DATA/dot.yaml"
assert_eq 0 "$SL_RC" "exit code of 'sluice run dot.yaml' (stderr: $SL_ERR)"
did="$(sl_jobid_of "$SL_OUT")"
assert_contains "$SL_OUT" "Job $did finished with state FINISHED" "output of 'sluice run dot.yaml'"
sl_checkpoints "$did"
assert_ge 1 "$(sl_ckpt_count "$SL_OUT" completed)" "completed checkpoints of the job with stage cnt.v2"
assert_eq 0 "$(sl_ckpt_count "$SL_OUT" failed)" "failed checkpoints of the job with stage cnt.v2"
sl_check_exactly_once "$SL_DATA/out-dot" "$SL_DATA/reference.txt"
echo "ok"
