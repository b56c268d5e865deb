#!/usr/bin/env bash
# Authorization (security.authorization.roles, interface.md section 9) on a
# cluster with internal and rest TLS and client authentication, client
# certificates by scripts/sluice-certs.sh: roles
# "alice:admin,ops:operate,grafana:view,dev:submit"; mallory has a valid
# certificate of the same CA but no role.
# - view (grafana): list, info, checkpoints, taskmanagers work; cancel,
#   checkpoint, savepoint and run are refused (exit 1, "permission denied:
#   grafana may not <verb>") and the job is untouched;
# - operate (ops): checkpoint works; run of a UDF job (a shared library
#   every taskmanager loads) and of a plain job are refused; cancel works;
# - submit (dev) and admin (alice) run the UDF job (examples/udf session
#   counter) to FINISHED with the right output;
# - mallory gets nothing, not even list;
# - the jobmanager log holds an audit line (CN, verb, allowed/denied) for
#   each refusal and each allowed request above view (allowed view
#   requests, which `run` and the scripts poll, are audited at DEBUG).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/security_lib.sh"

lib="$(dirname "$SL_BIN")/examples/libsession_counter.so"
[ -f "$lib" ] || fail "$lib is missing (make binaries builds it)"

sec_make_certs alice ops grafana dev mallory
SEC_CLI_CN=alice
sl_new_cluster
sl_conf_set taskmanager.numberOfTaskSlots 2
sec_conf_all "alice:admin,ops:operate,grafana:view,dev:submit"
sec_start_cluster alice 2

# ---------------------------------------------------------------- jobs
# A word count that runs long enough (rate-limited, ~120 s) to be acted on.
sl_wordcount_setup 1500000 120
sl_write_file_job "$SL_DATA/long.yaml" roles-long "$SL_TEXT" "$SL_OUTDIR" 2 "    rate: $SL_RATE" \
    "  execution.checkpointing.interval: 1 s"
sl_write_file_job "$SL_DATA/short.yaml" roles-short "$SL_TEXT" "$SL_DATA/out-short" 1

# The UDF job (the session counter of test_udf): a csv of (user, ts),
# sessions per user into OUTDIR/sessions.
input="$SL_DATA/events.csv"
gap=400
LC_ALL=C awk -v seed=4242 -v n=5000 'BEGIN {
    x = seed; t = 1000
    for (i = 0; i < n; i++) {
        x = (x * 16807) % 2147483647; u = "user" (x % 23)
        x = (x * 16807) % 2147483647; t += x % 61
        printf "%s,%d\n", u, t
    }
}' >"$input"
LC_ALL=C awk -F, -v gap="$gap" '
    { u = $1; ts = $2 + 0
      if (!(u in last) || ts - last[u] > gap) { s[u]++; print u "," s[u] }
      last[u] = ts }' "$input" | LC_ALL=C sort >"$SL_DATA/sessions.ref"
# udf_job FILE OUTDIR: writes the UDF job.
udf_job() {
    cat >"$1" <<EOF
name: roles-udf
parallelism: 2
pipeline:
  - name: events
    source: file
    path: $input
    format: csv
    schema: "user:string, ts:int"
    parallelism: 1
    watermark: "ts, 50 ms"
  - name: sessions
    input: events
    operator: udf
    library: $lib
    symbol: session_counter
    key-by: user
    schema: "user:string, sessions:int"
    params:
      gap_ms: $gap
  - name: out
    sink: file
    path: $2/sessions
EOF
}
# check_sessions OUTDIR: the UDF job's committed output equals the reference.
check_sessions() {
    find "$1/sessions" -type f -name 'part-*' -exec cat {} + | LC_ALL=C sort >"$SL_DATA/got.csv"
    cmp -s "$SL_DATA/got.csv" "$SL_DATA/sessions.ref" ||
        fail "output of $1 differs from the reference ($(wc -l <"$SL_DATA/got.csv") vs $(wc -l <"$SL_DATA/sessions.ref") lines):"$'\n'"$(diff "$SL_DATA/sessions.ref" "$SL_DATA/got.csv" | head -n 10)"
    echo "output of the UDF job in $1 equals the reference ($(wc -l <"$SL_DATA/got.csv") rows)"
}
udf_job "$SL_DATA/udf-ops.yaml" "$SL_DATA/udf-ops"
udf_job "$SL_DATA/udf-dev.yaml" "$SL_DATA/udf-dev"
udf_job "$SL_DATA/udf-alice.yaml" "$SL_DATA/udf-alice"

# jobs_count: number of jobs alice sees with list -a.
jobs_count() {
    sec_run alice list -a
    [ "$SL_RC" -eq 0 ] || fail "'sluice list -a' as alice exited $SL_RC: $SL_ERR"
    grep -cE '[0-9a-f]{32}' <<<"$SL_OUT" || true
}

# ------------------------------------------------------------ admin runs
sec_assert_allowed alice run -d "$SL_DATA/long.yaml"
jobid="$(sl_jobid_of "$SL_OUT")"
[ -n "$jobid" ] || fail "alice's run printed no JobID:"$'\n'"$SL_OUT"
wait_for sl_job_deployed "$jobid"
wait_for sl_ckpt_completed_at_least "$jobid" 1
echo "alice's job $jobid is RUNNING"
sec_assert_audit alice run allowed

# ------------------------------------------------------------------ view
sec_assert_allowed grafana list
assert_contains "$SL_OUT" "$jobid" "grafana's list"
sec_assert_allowed grafana info "$jobid"
assert_eq RUNNING "$(sl_field "$SL_OUT" state)" "state in grafana's info"
sec_assert_allowed grafana checkpoints "$jobid"
sec_assert_allowed grafana taskmanagers
assert_eq 2 "$(awk '$6 == "RUNNING"' <<<"$SL_OUT" | wc -l)" "RUNNING taskmanagers in grafana's list"
n_jobs="$(jobs_count)"
sec_assert_denied grafana cancel cancel "$jobid"
sec_assert_denied grafana checkpoint checkpoint "$jobid"
sec_assert_denied grafana savepoint savepoint "$jobid" "$SL_DATA/sp-grafana"
sec_assert_denied grafana run run -d "$SL_DATA/short.yaml"
sec_assert_denied grafana run run -d "$SL_DATA/udf-ops.yaml"
sl_job_running_now "$jobid"
assert_eq "$n_jobs" "$(jobs_count)" "jobs after grafana's refused runs"
[ ! -e "$SL_DATA/sp-grafana" ] || fail "grafana's refused savepoint made $SL_DATA/sp-grafana"
sec_assert_audit grafana cancel denied
sec_assert_audit grafana run denied

# --------------------------------------------------------------- operate
sec_assert_allowed ops list
sec_assert_allowed ops checkpoint "$jobid"
assert_match "$SL_OUT" "^Checkpoint [0-9]+ for job $jobid completed" "ops's checkpoint"
sec_assert_denied ops run run -d "$SL_DATA/udf-ops.yaml"
sec_assert_denied ops run run -d "$SL_DATA/short.yaml"
assert_eq "$n_jobs" "$(jobs_count)" "jobs after ops's refused runs"
[ ! -e "$SL_DATA/udf-ops" ] || fail "ops's refused UDF job wrote $SL_DATA/udf-ops"
sec_assert_audit ops checkpoint allowed
sec_assert_audit ops run denied

# ---------------------------------------------------------- nobody at all
for args in "list" "info $jobid" "taskmanagers" "checkpoints $jobid" "cancel $jobid" "run -d $SL_DATA/short.yaml"; do
    read -r -a a <<<"$args"
    verb="${a[0]}"
    sec_assert_denied mallory "$verb" "${a[@]}"
done
sl_job_running_now "$jobid"
sec_assert_audit mallory list denied
sec_assert_audit mallory cancel denied

# ------------------------------------------------------ submit and admin
sec_assert_allowed dev run -d "$SL_DATA/udf-dev.yaml"
dev_job="$(sl_jobid_of "$SL_OUT")"
[ -n "$dev_job" ] || fail "dev's run printed no JobID:"$'\n'"$SL_OUT"
sec_assert_audit dev run allowed
mkdir -p "$SL_DATA/sp-fake"
: >"$SL_DATA/sp-fake/_metadata"
sec_assert_denied dev "dispose of savepoints" savepoint -d "$SL_DATA/sp-fake"
[ -e "$SL_DATA/sp-fake/_metadata" ] || fail "dev's refused dispose removed $SL_DATA/sp-fake"
sl_wait_job_end "$dev_job" FINISHED 120
check_sessions "$SL_DATA/udf-dev"

sec_assert_allowed alice run -d "$SL_DATA/udf-alice.yaml"
alice_job="$(sl_jobid_of "$SL_OUT")"
[ -n "$alice_job" ] || fail "alice's UDF run printed no JobID:"$'\n'"$SL_OUT"
sl_wait_job_end "$alice_job" FINISHED 120
check_sessions "$SL_DATA/udf-alice"

# ------------------------------------------------------ operate cancels
sl_job_running_now "$jobid"
sec_assert_allowed ops cancel "$jobid"
sl_wait_job_end "$jobid" CANCELED 60
sec_assert_audit ops cancel allowed

echo "audit lines of the jobmanager log: $(sec_audit_lines | wc -l); the last ones:"
sec_audit_lines | tail -n 12
echo "ok"
