#!/usr/bin/env bash
# The secure setup of the README from nothing, with the cluster scripts:
# scripts/sluice-certs.sh makes the certificates, sluice.yaml gets internal
# and rest TLS with client authentication and the roles, start-cluster.sh
# brings up a jobmanager and 2 taskmanagers (it waits with the CLI and the
# cluster's own sluice.yaml), a user with a sluice.yaml of their own (the
# jobmanager's address, the CA, their certificate and key) runs a word
# count to FINISHED, exactly-once; grafana (view) may list it, not cancel
# it; the cluster's own sluice.yaml (the daemon certificate) may view, not
# cancel; stop-cluster.sh stops everything.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/security_lib.sh"

sec_make_certs alice grafana
sl_new_cluster
# As README.md "Security" writes it: no rest certificate of its own (the
# jobmanager's port presents the internal one).
sec_conf_internal
sl_conf_set security.ssl.rest.enabled true
sl_conf_set security.ssl.rest.trust-cert "$SEC_CERTS/ca.pem"
sl_conf_set security.ssl.rest.authentication-enabled true
sec_conf_roles "alice:admin,grafana:view"
echo "sluice.yaml:"
sed 's/^/    /' "$SL_CONF/sluice.yaml"
sl_start_cluster 2
echo "$SL_OUT"

user_conf="$(sec_client_conf alice \
    security.ssl.rest.enabled true \
    security.ssl.rest.trust-cert "$SEC_CERTS/ca.pem" \
    security.ssl.rest.authentication-enabled true \
    security.ssl.rest.cert "$SEC_CERTS/alice.pem" \
    security.ssl.rest.key "$SEC_CERTS/alice.key")"
sl_run sec_cli_conf "$user_conf" taskmanagers
assert_eq 0 "$SL_RC" "exit code of 'sluice taskmanagers' with alice's sluice.yaml (stderr: $SL_ERR)"
assert_eq 2 "$(awk '$6 == "RUNNING"' <<<"$SL_OUT" | wc -l)" "RUNNING taskmanagers"

sl_wordcount_setup 300000 6
sl_write_file_job "$SL_DATA/job.yaml" secure-wordcount "$SL_TEXT" "$SL_OUTDIR" 2 "    rate: $SL_RATE"
sl_run sec_cli_conf "$user_conf" run -d "$SL_DATA/job.yaml"
assert_eq 0 "$SL_RC" "exit code of 'sluice run -d' with alice's sluice.yaml (stderr: $SL_ERR)"
jobid="$(sl_jobid_of "$SL_OUT")"
[ -n "$jobid" ] || fail "no JobID in:"$'\n'"$SL_OUT"
SEC_CLI_CN=alice
# The README's -D form on a cluster host: grafana may look, not cancel.
sl_run "$SL_BIN/sluice" -c "$SL_CONF" -D "security.ssl.rest.cert=$SEC_CERTS/grafana.pem" \
    -D "security.ssl.rest.key=$SEC_CERTS/grafana.key" list -a
assert_eq 0 "$SL_RC" "exit code of 'list -a' as grafana (stderr: $SL_ERR)"
assert_contains "$SL_OUT" "$jobid" "grafana's list -a"
sl_run "$SL_BIN/sluice" -c "$SL_CONF" -D "security.ssl.rest.cert=$SEC_CERTS/grafana.pem" \
    -D "security.ssl.rest.key=$SEC_CERTS/grafana.key" cancel "$jobid"
assert_eq 1 "$SL_RC" "exit code of 'cancel' as grafana (stdout: $SL_OUT; stderr: $SL_ERR)"
assert_contains "$SL_ERR" "permission denied: grafana may not cancel" "stderr of 'cancel' as grafana"
# On a cluster host without a client certificate the CLI shows the daemon
# certificate, which may view but not act.
sl_run "$SL_BIN/sluice" -c "$SL_CONF" taskmanagers
assert_eq 0 "$SL_RC" "exit code of 'taskmanagers' with the cluster's own sluice.yaml (stderr: $SL_ERR)"
sl_run "$SL_BIN/sluice" -c "$SL_CONF" cancel "$jobid"
assert_eq 1 "$SL_RC" "exit code of 'cancel' with the daemon certificate (stdout: $SL_OUT; stderr: $SL_ERR)"
assert_contains "$SL_ERR" "permission denied" "stderr of 'cancel' with the daemon certificate"
sl_wait_job_end "$jobid" FINISHED 120
sl_check_exactly_once "$SL_OUTDIR" "$SL_REF"
sec_assert_audit alice run allowed

sl_run sl_script stop-cluster.sh
assert_eq 0 "$SL_RC" "exit code of stop-cluster.sh (stdout: $SL_OUT; stderr: $SL_ERR)"
for role in jobmanager taskmanager; do
    for pid in $(sl_pidfile_pids "$role"); do
        wait_for -t 30 sl_pid_gone "$pid"
    done
done
echo "ok"
