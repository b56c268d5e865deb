#!/usr/bin/env bash
# README.md as a new user follows it, on a fresh copy of the checkout:
# - the commands of the Quick start code block, taken from the README and
#   run one by one as written (cwd the copy, its shipped conf/ with only the
#   jobmanager port changed to a free one), each with its output checked:
#   the cluster starts, `taskmanagers` lists one RUNNING line per
#   conf/workers line, `run` submits word count and reports FINISHED, the
#   part files hold exactly the running counts of examples/data (computed
#   here with tr/sort/uniq), the job checkpointed into the default
#   state.checkpoints.dir (under TMPDIR), and stop-cluster.sh stops it all;
# - before the stop, the commands of the paragraph after the block:
#   `run -d`, `list [-a]`, `info JOBID`, `cancel JOBID`, and `--json` of
#   list, info and taskmanagers;
# - the make targets of Setup exist (`make -n`: nothing is built or installed).
# Isolation: the copy gets its own pid folder (SLUICE_PID_DIR) and TMPDIR,
# and the quick start's /tmp/sluice-wordcount is moved into this test's
# folder, in the commands and in the copy of examples/wordcount.yaml only:
# a user's own quick start (or another test) is never touched.
. "$(dirname "$0")/lib.sh"

readme="$SL_REPO/README.md"
qs_dir=/tmp/sluice-wordcount

# section TITLE: the lines of README section "## TITLE" (up to the next "## ").
section() {
    awk -v t="## $1" '$0 == t { on = 1; next } on && /^## / { exit } on { print }' "$readme"
}

# block_commands: the commands of the first ```sh block of stdin, without
# comments and blank lines.
block_commands() {
    awk '/^```sh$/ && !done { on = 1; next } on && /^```/ { on = 0; done = 1 } on { print }' |
        sed -E -e 's/[[:space:]]+#.*$//' -e '/^[[:space:]]*#/d' -e '/^[[:space:]]*$/d'
}

mapfile -t commands < <(section "Quick start" | block_commands)
[ "${#commands[@]}" -ge 5 ] || fail "found only ${#commands[@]} commands in the Quick start block of $readme: ${commands[*]}"
printf 'quick start command: %s\n' "${commands[@]}"

# ------------------------------------------------------------ the fresh copy
clone="$SL_TMP/clone"
mkdir -p "$clone"
if git -C "$SL_REPO" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # Tracked files only, as a clone has them (their working-tree content).
    (cd "$SL_REPO" && git ls-files -z | while IFS= read -r -d '' f; do
        [ -e "$f" ] || continue
        mkdir -p "$clone/$(dirname "$f")"
        cp -p "$f" "$clone/$f"
    done)
else
    cp -a "$SL_REPO/." "$clone/"
    rm -rf "$clone/build" "$clone/log"
fi
[ -f "$clone/conf/sluice.yaml" ] || fail "the copy has no conf/sluice.yaml"
[ ! -e "$clone/log" ] || fail "the copy already has a log folder"
# `make` would build build/bin: the binaries under test stand in for it.
mkdir -p "$clone/build"
ln -s "$SL_BIN" "$clone/build/bin"

# Its own ports, pids and temp dir; nothing else of the shipped conf/ changes.
sl_pick_port
port="$SL_PORT"
grep -qE '^jobmanager\.rpc\.port: [0-9]+$' "$clone/conf/sluice.yaml" ||
    fail "conf/sluice.yaml has no 'jobmanager.rpc.port: N' line"
sed -i -E "s/^jobmanager\.rpc\.port: [0-9]+$/jobmanager.rpc.port: $port/" "$clone/conf/sluice.yaml"
grep -q "^state.checkpoints.dir" "$clone/conf/sluice.yaml" &&
    fail "conf/sluice.yaml sets state.checkpoints.dir: this test checks its default"
mkdir -p "$clone/pid" "$SL_TMP/tmp"
SL_ROOTS+=("$clone") # cleanup kills what its pid files list; failures dump its logs
tmpdir="$SL_TMP/tmp"
workdir="$SL_TMP/wordcount"

# The quick start's folder, moved into this test's folder: only paths under
# $qs_dir may be absolute /tmp paths (else the test would write outside).
job_text="$(cat "$clone/examples/wordcount.yaml")"
for text in "${commands[@]}" "$job_text"; do
    stray="$(grep -oE '/tmp/[^ "]*' <<<"$text" | grep -vE "^$qs_dir(/|\$)" || true)"
    [ -z "$stray" ] || fail "a /tmp path other than $qs_dir in the quick start: $stray"
done
grep -q "$qs_dir" "$clone/examples/wordcount.yaml" || fail "examples/wordcount.yaml does not use $qs_dir"
sed -i "s|$qs_dir|$workdir|g" "$clone/examples/wordcount.yaml"

# in_clone CMD: runs the command line as a user would, from the copy.
in_clone() {
    (cd "$clone" && env -u SLUICE_CONF_DIR -u SLUICE_LOG_DIR -u SLUICE_BIN_DIR \
        SLUICE_PID_DIR="$clone/pid" TMPDIR="$tmpdir" \
        timeout --foreground -k 5 300 bash -c "$1") {SL_FD_OUT}>&- {SL_FD_ERR}>&-
}

# ------------------------------------------------------------ the reference
# Word count of examples/data: ASCII letters lower-cased, every other byte
# separates words; the sink writes, per word, the running counts 1..N.
sl_reference <(cat "$clone"/examples/data/*.txt) "$SL_TMP/reference.txt"
awk '{ for (i = 1; i <= $2; i++) print $1 "," i }' "$SL_TMP/reference.txt" | LC_ALL=C sort >"$SL_TMP/expected.csv"
assert_ge 100 "$(wc -l <"$SL_TMP/expected.csv")" "rows expected from examples/data"
workers="$(grep -cvE '^[[:space:]]*(#|$)' "$clone/conf/workers")"
slots="$(sed -n -E 's/^taskmanager\.numberOfTaskSlots: ([0-9]+)$/\1/p' "$clone/conf/sluice.yaml")"
[ -n "$slots" ] || slots=1

# ------------------------------------------------------------ the checks of each command
check_taskmanagers() {
    local n
    assert_eq 0 "$SL_RC" "exit code (stderr: $SL_ERR)"
    n="$(grep -c . <<<"$SL_OUT" || true)"
    assert_eq "$workers" "$n" "taskmanager lines (one per conf/workers line) in:"$'\n'"$SL_OUT"$'\n'
    awk -v s="$slots" 'NF != 6 || $2 !~ /:[0-9]+$/ || $4 != s || $5 != s || $6 != "RUNNING" { bad = 1 } END { exit bad }' <<<"$SL_OUT" ||
        fail "expected '<tm-id> <host:port> <pid> $slots $slots RUNNING' lines, got:"$'\n'"$SL_OUT"
}

check_run() {
    assert_eq 0 "$SL_RC" "exit code (stdout: $SL_OUT, stderr: $SL_ERR)"
    jobid="$(sl_jobid_of "$SL_OUT")"
    [ -n "$jobid" ] || fail "no 'Job has been submitted with JobID <32 hex>' line in:"$'\n'"$SL_OUT"
    assert_eq "Job has been submitted with JobID $jobid"$'\n'"Job $jobid finished with state FINISHED" "$SL_OUT" "stdout"
    assert_eq "" "$SL_ERR" "stderr"
    # It checkpointed into the default folder, under this test's TMPDIR.
    sl_run sl_cli_clone checkpoints "$jobid"
    assert_eq 0 "$SL_RC" "exit code of 'sluice checkpoints $jobid' (stderr: $SL_ERR)"
    assert_ge 1 "$(sl_ckpt_count "$SL_OUT" completed)" "completed checkpoints of the quick start job"
    assert_eq 0 "$(sl_ckpt_count "$SL_OUT" failed)" "failed checkpoints of the quick start job"
    # The default folder is under this test's TMPDIR (the job's own folder
    # is gone: a finished job's checkpoints are removed).
    [ -d "$tmpdir/sluice-checkpoints" ] ||
        fail "no $tmpdir/sluice-checkpoints: the checkpoints did not go to the default folder under TMPDIR"
    [ ! -e "/tmp/sluice-checkpoints/$jobid" ] || fail "the job checkpointed into /tmp, not its TMPDIR"
}

check_cat() {
    assert_eq 0 "$SL_RC" "exit code (stderr: $SL_ERR)"
    LC_ALL=C sort <<<"$SL_OUT" >"$SL_TMP/emitted.csv"
    if ! diff -u "$SL_TMP/expected.csv" "$SL_TMP/emitted.csv" >"$SL_TMP/diff.txt"; then
        fail "the part files differ from the running counts of examples/data (- expected, + emitted):"$'\n'"$(head -n 30 "$SL_TMP/diff.txt")"
    fi
    echo "output: $(wc -l <"$SL_TMP/emitted.csv") rows, exactly the expected running counts"
}

check_stopped() {
    local f pid
    assert_eq 0 "$SL_RC" "exit code (stdout: $SL_OUT, stderr: $SL_ERR)"
    for pid in "${cluster_pids[@]}"; do
        wait_for sl_pid_gone "$pid"
    done
    for f in "$clone"/pid/*.pid; do
        [ ! -s "$f" ] || fail "pid file $f still lists: $(cat "$f")"
    done
}

sl_cli_clone() {
    (cd "$clone" && env -u SLUICE_CONF_DIR timeout --foreground -k 5 "$SL_CLI_TIMEOUT" build/bin/sluice "$@")
}

# json_ok TEXT WHAT: TEXT is one JSON document.
json_ok() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import json, sys; json.loads(sys.stdin.read())' <<<"$1" ||
            fail "$2 is not JSON: $1"
    else
        assert_match "$1" '^\{' "$2"
    fi
}

# The paragraph after the block: run -d, list, info, cancel, --json.
check_background_commands() {
    local bg="$SL_TMP/background.yaml" id
    cat >"$bg" <<EOF
name: background
parallelism: 2
pipeline:
  - name: gen
    source: datagen
    count: 1000000000
    rate: 1000
  - name: out
    sink: blackhole
EOF
    sl_run in_clone "build/bin/sluice run -d $bg"
    assert_eq 0 "$SL_RC" "exit code of 'sluice run -d' (stderr: $SL_ERR)"
    id="$(sl_jobid_of "$SL_OUT")"
    assert_eq "Job has been submitted with JobID $id" "$SL_OUT" "stdout of 'sluice run -d'"
    wait_for sl_clone_state_is "$id" RUNNING
    sl_run in_clone "build/bin/sluice list"
    assert_eq 0 "$SL_RC" "exit code of 'sluice list'"
    assert_eq "$id RUNNING background" "$SL_OUT" "'sluice list' (running jobs only)"
    sl_run in_clone "build/bin/sluice list -a"
    assert_eq 0 "$SL_RC" "exit code of 'sluice list -a'"
    assert_match "$SL_OUT" "^$jobid FINISHED wordcount\$" "'sluice list -a'"
    assert_match "$SL_OUT" "^$id RUNNING background\$" "'sluice list -a'"
    assert_eq 2 "$(grep -c . <<<"$SL_OUT")" "jobs in 'sluice list -a'"
    sl_run in_clone "build/bin/sluice info $id"
    assert_eq 0 "$SL_RC" "exit code of 'sluice info'"
    assert_eq "$id" "$(sl_field "$SL_OUT" job)" "info job:"
    assert_eq background "$(sl_field "$SL_OUT" name)" "info name:"
    local cmd
    for cmd in "list --json" "info $id --json" "taskmanagers --json"; do
        sl_run in_clone "build/bin/sluice $cmd"
        assert_eq 0 "$SL_RC" "exit code of 'sluice $cmd' (stderr: $SL_ERR)"
        json_ok "$SL_OUT" "output of 'sluice $cmd'"
    done
    assert_contains "$SL_OUT" "\"slots-total\"" "'sluice taskmanagers --json'"
    sl_run in_clone "build/bin/sluice cancel $id"
    assert_eq 0 "$SL_RC" "exit code of 'sluice cancel' (stdout: $SL_OUT, stderr: $SL_ERR)"
    wait_for sl_clone_state_is "$id" CANCELED
}

sl_clone_state_is() {
    sl_run in_clone "build/bin/sluice info $1"
    echo "info exit $SL_RC: $SL_OUT $SL_ERR"
    [ "$SL_RC" -eq 0 ] && [ "$(sl_field "$SL_OUT" state)" = "$2" ]
}

# ------------------------------------------------------------ run the quick start
jobid=""
cluster_pids=()
ran=""
for cmd in "${commands[@]}"; do
    line="${cmd//$qs_dir/$workdir}"
    case "$cmd" in
        scripts/stop-cluster.sh) check_background_commands ;;
    esac
    if [ "$line" = "$cmd" ]; then echo "\$ $cmd"; else echo "\$ $cmd    (run as: $line)"; fi
    sl_run in_clone "$line"
    printf '%s\n' "$SL_OUT" | head -n 5
    case "$cmd" in
        scripts/start-cluster.sh)
            assert_eq 0 "$SL_RC" "exit code of '$cmd' (stdout: $SL_OUT, stderr: $SL_ERR)"
            mapfile -t cluster_pids < <(cat "$clone"/pid/*.pid 2>/dev/null | grep -E '^[0-9]+$')
            assert_eq $((workers + 1)) "${#cluster_pids[@]}" "daemons in the pid files of $clone/pid"
            ;;
        "build/bin/sluice taskmanagers") check_taskmanagers ;;
        "mkdir -p "* | "cp "*) assert_eq 0 "$SL_RC" "exit code of '$cmd' (stderr: $SL_ERR)" ;;
        "build/bin/sluice run examples/wordcount.yaml") check_run ;;
        "cat $qs_dir/output/part-"*) check_cat ;;
        scripts/stop-cluster.sh) check_stopped ;;
        *) fail "this test does not know what '$cmd' (README Quick start) should print: teach it" ;;
    esac
    ran+="$cmd"$'\n'
done
for want in scripts/start-cluster.sh "build/bin/sluice run examples/wordcount.yaml" scripts/stop-cluster.sh; do
    assert_contains "$ran" "$want" "the Quick start commands run"
done
[ -n "$jobid" ] || fail "the Quick start ran no job"
[ -d "$workdir/output" ] || fail "the job wrote no $workdir/output"

# ------------------------------------------------------------ Setup: the make targets exist
mapfile -t setup < <(section "Setup (Debian 12)" | block_commands)
[ "${#setup[@]}" -ge 1 ] || fail "no commands in the Setup block"
mapfile -t others < <(section "Setup (Debian 12)" | grep -oE '`make [a-z-]+( QUICK=1)?`' | tr -d '`' | sort -u)
for cmd in "${setup[@]}" "${others[@]}"; do
    [[ "$cmd" =~ ^make( [a-z-]+)?( QUICK=1)?$ ]] || fail "Setup command '$cmd' is not a make target this test knows"
    sl_run in_clone "${cmd/make/make -n}"
    assert_eq 0 "$SL_RC" "exit code of '${cmd/make/make -n}' in the copy (stderr: $SL_ERR)"
    echo "ok: $cmd (make -n)"
done
echo "ok"
