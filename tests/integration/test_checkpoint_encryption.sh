#!/usr/bin/env bash
# Encrypted checkpoints (state.checkpoints.encryption.key-file, AES-256-GCM).
#
# 1. For each state backend (hashmap, leveldb): a rate-limited word count at
#    parallelism 2 on 3 taskmanagers (1 slot each), checkpoints every 300 ms,
#    with a key file set in the cluster's sluice.yaml (64 hex digits). Both
#    daemons log that checkpoints are encrypted. Once checkpoints completed,
#    SIGKILL the taskmanager of a `counts` subtask: the job restores from the
#    latest completed checkpoint, ends FINISHED and its output is
#    exactly-once. Every state file is sealed (version 2) and every _metadata
#    too (version 3), and no file of the job's checkpoints holds the input's
#    marker words ("zebra", "quick") or a stage name in clear (grep -a).
# 2. Manual checkpoints A and B; one ciphertext byte of B's largest state file
#    flipped AND the file's CRC repaired (4 bytes of the last tag chosen so the
#    CRC-32C is unchanged: only authentication can tell), then SIGKILL: the
#    jobmanager says B's file "does not authenticate" and restores A
#    (`restored from: A` in `sluice info`); the job ends FINISHED. Output
#    committed at B stays (as in test_recovery_corrupt_checkpoint), so the
#    output is checked at-least-once.
# 3. Stop with a savepoint (sealed), move its folder, `run -s` the moved
#    folder with the leveldb backend: FINISHED, exactly-once.
# 4. A key file of 31 bytes: a taskmanager and a jobmanager refuse to start,
#    exit 2, stderr naming the key and the file.
. "$(dirname "$0")/lib.sh"

# key_file PATH: 64 hex digits and a newline.
key_file() {
    od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$1"
    echo >>"$1"
    chmod 600 "$1"
}

# u32_at FILE OFFSET: the little-endian u32 at OFFSET.
u32_at() {
    od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '
}

# check_sealed DIR: in a copy of DIR, every state file is version 2, every
# _metadata version 3, nothing holds a marker word or a stage name in clear.
check_sealed() {
    local dir f n=0 m=0 hits
    # a copy: retention removes older checkpoints while the job runs
    dir="$(mktemp -d "$SL_DATA/sealed.XXXXXX")"
    cp -r "$1/." "$dir/" 2>/dev/null || true
    while IFS= read -r f; do
        [ -s "$f" ] || continue # a state file being written: nothing flushed yet
        case "$(basename "$f")" in
            _metadata) assert_eq 3 "$(u32_at "$f" 4)" "version of $f"; m=$((m + 1)) ;;
            *.state) assert_eq 2 "$(u32_at "$f" 4)" "version of $f"; n=$((n + 1)) ;;
        esac
    done < <(find "$dir" -type f)
    [ "$n" -ge 1 ] && [ "$m" -ge 1 ] || fail "no sealed files under $dir: $(find "$dir" | head -n 20)"
    hits="$(grep -a -r -l -E 'zebra|quick|counts|words' "$dir" || true)"
    [ -z "$hits" ] || fail "files under $dir hold input words or stage names in clear:"$'\n'"$hits"
    echo "$n state files and $m _metadata files under $1 are sealed; no marker word in clear"
    rm -rf "$dir"
}

# encrypted_cluster: a cluster of 3 one-slot taskmanagers with a key file.
encrypted_cluster() {
    sl_new_cluster
    key_file "$SL_ROOT/checkpoint.key"
    sl_conf_set taskmanager.numberOfTaskSlots 1
    sl_conf_set state.checkpoints.encryption.key-file "$SL_ROOT/checkpoint.key"
    sl_conf_set state.savepoints.dir "file://$SL_ROOT/savepoints"
    sl_start_cluster 3
    local f
    for f in "$SL_LOG"/sluice-jobmanager.log "$SL_LOG"/sluice-taskmanager-0.log; do
        grep -q "checkpoints and savepoints are encrypted (AES-256-GCM" "$f" ||
            fail "$f does not say that checkpoints are encrypted:"$'\n'"$(tail -n 20 "$f")"
    done
}

# ---- 1. kill and restore, both backends
kill_and_restore() {
    local backend="$1" jobid before restored
    encrypted_cluster
    sl_wordcount_setup 1500000 10
    sl_write_file_job "$SL_DATA/job.yaml" "encrypted-$backend" "$SL_TEXT" "$SL_OUTDIR" 2 "    rate: $SL_RATE" \
        "  state.backend.type: $backend
  execution.checkpointing.interval: 300 ms
  state.checkpoints.num-retained: 3"
    sl_submit_detached "$SL_DATA/job.yaml"
    jobid="$SL_JOBID"
    echo "[$backend] job $jobid submitted"
    wait_for sl_job_deployed "$jobid"
    wait_for sl_ckpt_completed_at_least "$jobid" 2
    before="$(sl_latest_ckpt_id "$jobid")"
    echo "[$backend] latest completed checkpoint before the kill: $before"
    sl_kill_counts_tm "$jobid" KILL
    sl_wait_restart "$jobid" "$SL_PREV_ATTEMPT"
    restored="$(sl_line_value "$SL_INFO" "restored from")"
    [[ "$restored" =~ ^([0-9]+)\ file:// ]] ||
        fail "info after the restart has no 'restored from: <id> file://...' line:"$'\n'"$SL_INFO"
    [ "${BASH_REMATCH[1]}" -ge "$before" ] ||
        fail "restored from checkpoint ${BASH_REMATCH[1]}, older than checkpoint $before"
    wait_for sl_ckpt_completed_at_least "$jobid" 1
    check_sealed "$(sl_ckpt_job_dir "$jobid")"
    sl_wait_job_end "$jobid" FINISHED 180
    sl_check_exactly_once "$SL_OUTDIR" "$SL_REF"
    sl_script stop-cluster.sh >/dev/null
}

kill_and_restore hashmap
kill_and_restore leveldb

# ---- 2. a CRC-preserving change to B: authentication refuses it
# tamper_keep_crc FILE: flips the byte 20 bytes before the CRC trailer (the
# last chunk) and sets the 4 bytes before the trailer (the end of the last
# tag) so that the CRC-32C of the file's body stays what the trailer says.
tamper_keep_crc() {
    python3 - "$1" <<'EOF'
import sys
POLY = 0x82F63B78
def raw(reg, data):
    for b in data:
        reg ^= b
        for _ in range(8):
            reg = (reg >> 1) ^ (POLY if reg & 1 else 0)
    return reg
path = sys.argv[1]
buf = bytearray(open(path, 'rb').read())
L = len(buf) - 8            # the CRC covers buf[0:L]
K = 20                      # differences only in the last K bytes
flip = bytearray(K); flip[0] = 0x01
target = raw(0, flip)       # what the patch must cancel
cols = []
for j in range(32):
    d = bytearray(K); d[K - 4 + j // 8] = 1 << (j % 8)
    cols.append(raw(0, d))
# solve sum x_j cols[j] = target over GF(2)
rows = [(cols[j], 1 << j) for j in range(32)]
basis = {}
for v, comb in rows:
    for bit in range(31, -1, -1):
        if not (v >> bit) & 1:
            continue
        if bit in basis:
            bv, bc = basis[bit]; v ^= bv; comb ^= bc
        else:
            basis[bit] = (v, comb); break
x, v = 0, target
for bit in range(31, -1, -1):
    if (v >> bit) & 1:
        bv, bc = basis[bit]; v ^= bv; x ^= bc
assert v == 0
before = raw(0xFFFFFFFF, buf[:L])
buf[L - K] ^= 0x01
for j in range(32):
    if (x >> j) & 1:
        buf[L - 4 + j // 8] ^= 1 << (j % 8)
assert raw(0xFFFFFFFF, buf[:L]) == before
open(path, 'wb').write(buf)
print("flipped byte %d and patched bytes %d..%d of %s (%d bytes); CRC unchanged" % (L - K, L - 4, L - 1, path, len(buf)))
EOF
}

encrypted_cluster
sl_wordcount_setup 2500000 20 777
sl_write_file_job "$SL_DATA/job.yaml" encrypted-fallback "$SL_TEXT" "$SL_OUTDIR" 2 "    rate: $SL_RATE" \
    "  execution.checkpointing.interval: 1 h
  state.checkpoints.num-retained: 3"
sl_submit_detached "$SL_DATA/job.yaml"
jobid="$SL_JOBID"
echo "job $jobid submitted"
wait_for sl_job_deployed "$jobid"
sl_trigger_checkpoint "$jobid"
a="$SL_CKPT_ID"
sl_trigger_checkpoint "$jobid"
b="$SL_CKPT_ID"
chk_b="$(sl_uri_path "$SL_CKPT_URI")"
[ "$b" -gt "$a" ] || fail "second checkpoint id $b is not above the first, $a"
check_sealed "$chk_b"
victim="$(find "$chk_b" -type f -name '*.state' -printf '%s %p\n' | sort -n | tail -n 1 | cut -d' ' -f2-)"
[ -n "$victim" ] || fail "checkpoint $b has no state file: $(find "$chk_b" | head -n 20)"
size_before="$(stat -c %s "$victim")"
tamper_keep_crc "$victim" || fail "could not change $victim"
assert_eq "$size_before" "$(stat -c %s "$victim")" "size of the changed state file"

sl_kill_counts_tm "$jobid" KILL
sl_wait_restart "$jobid" "$SL_PREV_ATTEMPT"
restored="$(sl_line_value "$SL_INFO" "restored from")"
assert_eq "$a" "${restored%% *}" "checkpoint of 'restored from: $restored' (checkpoint $b does not authenticate)"
jm_log="$SL_LOG/sluice-jobmanager.log"
why="$(grep -E "chk-$b/$(basename "$victim"): chunk [0-9]+ does not authenticate \(another key, or the file was changed\)" "$jm_log" | head -n 1)"
[ -n "$why" ] || fail "the jobmanager log does not say that $(basename "$victim") of checkpoint $b does not authenticate:"$'\n'"$(grep -E "chk-$b" "$jm_log" | tail -n 10)"
echo "jobmanager log: $why"
grep -q "restoring checkpoint $a, older than checkpoint $b" "$jm_log" ||
    fail "the jobmanager log does not say it restores checkpoint $a, older than $b"
sl_checkpoints "$jobid"
echo "sluice checkpoints: $(grep -E '^(restored|latest)' <<<"$SL_OUT" | tr '\n' ';')"
sl_wait_job_end "$jobid" FINISHED 180
sl_check_at_least_once "$SL_OUTDIR" "$SL_REF"
sl_script stop-cluster.sh >/dev/null

# ---- 3. a sealed savepoint, moved to another folder, restores (the folder
# is not bound, only the names within it), with the other backend
encrypted_cluster
sl_wordcount_setup 1500000 12 99
sl_write_file_job "$SL_DATA/sp-1.yaml" encrypted-savepoint "$SL_TEXT" "$SL_OUTDIR" 2 "    rate: $SL_RATE" \
    "  execution.checkpointing.interval: 300 ms"
sl_write_file_job "$SL_DATA/sp-2.yaml" encrypted-savepoint "$SL_TEXT" "$SL_OUTDIR" 2 "    rate: $SL_RATE" \
    "  execution.checkpointing.interval: 300 ms
  state.backend.type: leveldb"
sl_submit_detached "$SL_DATA/sp-1.yaml"
j1="$SL_JOBID"
wait_for sl_ckpt_completed_at_least "$j1" 2
sl_job_running_now "$j1"
sl_stop_job "$j1"
check_sealed "$SL_SP"
moved="$SL_DATA/moved-savepoint"
mv "$SL_SP" "$moved"
sl_run sl_cli run -s "$moved" "$SL_DATA/sp-2.yaml"
assert_eq 0 "$SL_RC" "exit code of 'sluice run -s $moved'; stdout: $SL_OUT; stderr: $SL_ERR"
assert_contains "$SL_OUT" "finished with state FINISHED" "output of 'sluice run -s $moved'"
grep -q "state file(s) of $moved" "$SL_LOG"/sluice-taskmanager-*.log ||
    fail "no taskmanager log says it restored state files of $moved"
sl_check_exactly_once "$SL_OUTDIR" "$SL_REF"
echo "the sealed savepoint restored from $moved"
sl_script stop-cluster.sh >/dev/null

# ---- 4. a key file of the wrong length: the daemons refuse to start
bad="$SL_ROOT/short.key"
head -c 31 /dev/urandom >"$bad"
for d in taskmanager jobmanager; do
    sl_run timeout 20 "$SL_BIN/sluice-$d" -c "$SL_CONF" -D "state.checkpoints.encryption.key-file=$bad"
    assert_eq 2 "$SL_RC" "exit code of a $d with a 31-byte key file (stderr: $SL_ERR)"
    assert_contains "$SL_ERR" "state.checkpoints.encryption.key-file: $bad: 31 bytes: expected 32 raw bytes or 64 hex digits" \
        "stderr of a $d with a 31-byte key file"
done
echo "a 31-byte key file: both daemons exit 2: $(head -n 1 <<<"$SL_ERR")"
echo "ok"
