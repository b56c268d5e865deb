#!/usr/bin/env bash
# The Sluice recovery demo (`make demo`): a local cluster of a jobmanager and
# 3 taskmanagers (1 slot each) runs examples/wordcount.yaml at parallelism 2
# over a few MB of generated text, slowed down so it lasts about 15 s, with a
# checkpoint every 500 ms. Mid-run one taskmanager running a `counts` subtask
# is killed with SIGKILL; the job restarts from its latest completed
# checkpoint on the free slots and finishes. The output is then checked to be
# exactly-once against a reference count made with tr/sort/uniq.
#
# Everything lives in a temporary folder (configuration, logs, pid files,
# input, output, checkpoints) with free ports, so the demo does not disturb
# another cluster. Exit status 0 only if every step worked and the output is
# exactly-once. Every process it started is stopped at the end, whatever
# happens; the folder is removed (KEEP_TMP=1 keeps it).
#
# Environment: SLUICE_BIN_DIR (binaries, default build/bin of the checkout),
# DEMO_SECONDS (about how long the job runs, default 15), KEEP_TMP=1.
set -Eeuo pipefail

SLUICE_HOME="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
BIN="${SLUICE_BIN_DIR:-$SLUICE_HOME/build/bin}"
SECONDS_WANTED="${DEMO_SECONDS:-15}"
CLI="$BIN/sluice"
T0="${EPOCHREALTIME/[.,]/}"

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
    B=$'\e[1m' G=$'\e[32m' R=$'\e[31m' Y=$'\e[33m' D=$'\e[2m' N=$'\e[0m'
else
    B="" G="" R="" Y="" D="" N=""
fi

now_ms() {
    local t="${EPOCHREALTIME/[.,]/}"
    echo $((10#$t / 1000))
}

# say TEXT: a line of the story, with the time since the start.
say() {
    local t="${EPOCHREALTIME/[.,]/}" ms
    ms=$(((10#$t - 10#$T0) / 1000))
    printf '%s[%3d.%ds]%s %s\n' "$D" $((ms / 1000)) $((ms % 1000 / 100)) "$N" "$*"
}
step() { echo; say "$B$*$N"; }
detail() { sed "s/^/          $D/; s/\$/$N/"; }
die() {
    { echo; say "${R}${B}Demo failed:${N} $*"; } >&2
    exit 1
}

for b in sluice-jobmanager sluice-taskmanager sluice; do
    [ -x "$BIN/$b" ] || die "$BIN/$b not found: build with 'make' first (or set SLUICE_BIN_DIR)"
done

TMP="$(mktemp -d "${TMPDIR:-/tmp}/sluice-demo.XXXXXX")"
export SLUICE_CONF_DIR="$TMP/conf" SLUICE_LOG_DIR="$TMP/log" SLUICE_PID_DIR="$TMP/pid" SLUICE_BIN_DIR="$BIN"
export SLUICE_STOP_GRACE=5
mkdir -p "$SLUICE_CONF_DIR" "$SLUICE_LOG_DIR" "$SLUICE_PID_DIR" "$TMP/input" "$TMP/output" "$TMP/checkpoints" "$TMP/tm-state"
CLUSTER_STARTED=0
JOBID=""

# The pids in our pid files that are still sluice daemons.
our_daemons() {
    local f pid
    for f in "$SLUICE_PID_DIR"/*.pid; do
        [ -f "$f" ] || continue
        while IFS= read -r pid || [ -n "$pid" ]; do
            pid="${pid//[[:space:]]/}"
            [[ "$pid" =~ ^[1-9][0-9]*$ ]] || continue
            kill -0 "$pid" 2>/dev/null || continue
            if tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qE '(^|/)sluice-(job|task)manager$'; then
                echo "$pid"
            fi
        done <"$f"
    done
}

cleanup() {
    local rc=$? pid
    set +e
    trap - ERR
    trap '' INT TERM
    if [ "$rc" -ne 0 ] && [ -d "$SLUICE_LOG_DIR" ]; then
        echo >&2
        echo "Last lines of the jobmanager log ($SLUICE_LOG_DIR/sluice-jobmanager.log):" >&2
        tail -n 25 "$SLUICE_LOG_DIR/sluice-jobmanager.log" 2>/dev/null | sed 's/^/    /' >&2
    fi
    if [ "$CLUSTER_STARTED" = 1 ]; then
        step "Stopping the cluster."
        "$SLUICE_HOME/scripts/stop-cluster.sh" 2>&1 | detail
    fi
    # Whatever is left of ours (a stopped cluster leaves nothing).
    for pid in $(our_daemons); do
        kill -KILL "$pid" 2>/dev/null
    done
    if [ "${KEEP_TMP:-0}" = 1 ]; then
        echo "Kept the demo folder $TMP."
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "demo.sh: line $LINENO: \"$BASH_COMMAND\" failed" >&2' ERR
trap 'exit 130' INT
trap 'exit 143' TERM

# A free TCP port on 127.0.0.1, random in 20000-60999 and outside the
# kernel's ephemeral range when possible.
pick_port() {
    local lo=32768 hi=60999 p
    [ -r /proc/sys/net/ipv4/ip_local_port_range ] && read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
    for _ in $(seq 1 2000); do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 41000))
        if [ "$lo" -gt 21000 ] || [ "$hi" -lt 60000 ]; then
            if [ "$p" -ge "$lo" ] && [ "$p" -le "$hi" ]; then continue; fi
        fi
        if command -v ss >/dev/null 2>&1; then
            [ -z "$(ss -Htan "sport = :$p" 2>/dev/null)" ] || continue
        elif (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            continue
        fi
        echo "$p"
        return 0
    done
    die "no free TCP port found"
}

cli() {
    timeout --foreground -k 5 60 "$CLI" -c "$SLUICE_CONF_DIR" "$@"
}

# field TEXT "NAME": the value of the line "NAME: value".
field() {
    awk -v p="$2: " 'index($0, p) == 1 { print substr($0, length(p) + 1); exit }' <<<"$1"
}

# ------------------------------------------------------------------ setup
echo "${B}Sluice demo: a taskmanager dies mid-job; the job recovers from its latest checkpoint, exactly-once.${N}"
say "Working folder $TMP"

PORT="$(pick_port)"
cat >"$SLUICE_CONF_DIR/sluice.yaml" <<EOF
# Written by scripts/demo.sh.
jobmanager.rpc.address: 127.0.0.1
jobmanager.rpc.port: $PORT
taskmanager.host: 127.0.0.1
taskmanager.numberOfTaskSlots: 1
taskmanager.state.local.root-dirs: $TMP/tm-state
state.checkpoints.dir: file://$TMP/checkpoints
EOF
echo localhost >"$SLUICE_CONF_DIR/masters"
printf 'localhost\nlocalhost\nlocalhost\n' >"$SLUICE_CONF_DIR/workers"

step "Generating the input from the words of examples/data."
TEXT="$TMP/input/words.txt"
# Lines of 4-15 words drawn pseudo-randomly (fixed seed) from the example
# texts, with their case and punctuation, up to about 3 MB.
cat "$SLUICE_HOME"/examples/data/*.txt | LC_ALL=C awk -v target=3000000 '
    { for (i = 1; i <= NF; i++) W[++n] = $i }
    END {
        if (n == 0) { W[1] = "empty"; n = 1 }
        x = 20240611
        while (bytes < target) {
            x = (x * 16807) % 2147483647; nw = 4 + x % 12
            line = ""
            for (i = 0; i < nw; i++) { x = (x * 16807) % 2147483647; line = line (i ? " " : "") W[1 + x % n] }
            print line
            bytes += length(line) + 1
        }
    }' >"$TEXT"
LINES="$(wc -l <"$TEXT")"
RATE=$(((LINES + SECONDS_WANTED - 1) / SECONDS_WANTED))
# The reference count: lower-case ASCII letters, every other byte separates words.
# shellcheck disable=SC2018,SC2019  # ASCII only, on purpose
LC_ALL=C tr 'A-Z' 'a-z' <"$TEXT" | LC_ALL=C tr -cs 'a-z0-9' '\n' | grep -v '^$' |
    LC_ALL=C sort | uniq -c | awk '{ print $2, $1 }' | LC_ALL=C sort >"$TMP/reference.txt"
WORDS="$(awk '{ t += $2 } END { print t }' "$TMP/reference.txt")"
DISTINCT="$(wc -l <"$TMP/reference.txt")"
say "$(stat -c %s "$TEXT") bytes, $LINES lines, $WORDS words ($DISTINCT distinct)."

JOB="$TMP/wordcount.yaml"
# examples/wordcount.yaml with its folders moved into the demo folder and a
# source rate so that the job runs about $SECONDS_WANTED s.
awk -v indir="$TMP/input" -v outdir="$TMP/output" -v rate="$RATE" '
    { gsub("/tmp/sluice-wordcount/input", indir); gsub("/tmp/sluice-wordcount/output", outdir); print }
    $1 == "path:" && $2 == indir { match($0, /^ */); print substr($0, 1, RLENGTH) "rate: " rate }
' "$SLUICE_HOME/examples/wordcount.yaml" >"$JOB"
grep -q "rate: $RATE" "$JOB" || die "could not set the source rate in the copy of examples/wordcount.yaml"
say "Job file: a copy of examples/wordcount.yaml reading $TMP/input at $RATE lines/s (~${SECONDS_WANTED} s), checkpoint every $(awk '/checkpointing.interval/ { $1 = ""; sub(/^ /, ""); print }' "$JOB")."

# ------------------------------------------------------------------ cluster
step "Starting a cluster: 1 jobmanager (port $PORT) and 3 taskmanagers with 1 slot each."
CLUSTER_STARTED=1
"$SLUICE_HOME/scripts/start-cluster.sh" 2>&1 | detail || die "start-cluster.sh failed"
cli taskmanagers | detail

step "Submitting the word count (parallelism 2)."
out="$(cli run -d "$JOB" 2>&1)" || die "sluice run -d failed: $out"
echo "$out" | detail
JOBID="$(sed -n -E 's/^Job has been submitted with JobID ([0-9a-f]{32})$/\1/p' <<<"$out")"
[ -n "$JOBID" ] || die "no JobID in the output of sluice run"

# ------------------------------------------------------------------ checkpoint
step "Waiting for the first completed checkpoint."
deadline=$(($(now_ms) + 60000))
while :; do
    ck="$(cli checkpoints "$JOBID" 2>&1)" || die "sluice checkpoints failed: $ck"
    latest="$(field "$ck" "latest completed")"
    if [ -n "$latest" ] && [ "$latest" != none ]; then break; fi
    [ "$(now_ms)" -lt "$deadline" ] || die "no checkpoint completed within 60 s:"$'\n'"$ck"
    sleep 0.2
done
say "Checkpoint ${latest%% *} completed: ${latest#* }"

# ------------------------------------------------------------------ kill
info="$(cli info "$JOBID" 2>&1)" || die "sluice info failed: $info"
[ "$(field "$info" state)" = RUNNING ] || die "the job is not RUNNING:"$'\n'"$info"
attempt="$(field "$info" attempt)"
echo "$info" | grep -E '^task ' | detail
# The taskmanager of a RUNNING counts subtask (the last one listed: 1/2).
victim="$(awk '$1 == "task" && $4 == "RUNNING" && ("+" $2 "+") ~ /\+counts\+/ { t = $5; s = $3 } END { if (t != "") print t, s }' <<<"$info")"
[ -n "$victim" ] || die "no RUNNING counts subtask in:"$'\n'"$info"
tm="${victim% *}" subtask="${victim#* }"
tms="$(cli taskmanagers 2>&1)" || die "sluice taskmanagers failed: $tms"
pid="$(awk -v tm="$tm" '$1 == tm { print $3 }' <<<"$tms")"
[[ "$pid" =~ ^[1-9][0-9]*$ ]] || die "taskmanager $tm has no pid in:"$'\n'"$tms"
grep -qx "$pid" <(our_daemons) || die "pid $pid is not one of this demo's daemons"
step "Killing taskmanager $tm (pid $pid), which runs counts $subtask, with SIGKILL."
kill -KILL "$pid"

# ------------------------------------------------------------------ recovery
deadline=$(($(now_ms) + 120000))
last=""
restarting_ms=""
while :; do
    info="$(cli info "$JOBID" 2>&1)" || die "sluice info failed: $info"
    state="$(field "$info" state)"
    a="$(field "$info" attempt)"
    if [ "$state" != "$last" ]; then
        case "$state" in
            RESTARTING) say "${Y}Job is RESTARTING${N} (the jobmanager noticed the lost taskmanager)."; restarting_ms="$(now_ms)" ;;
            FAILING) say "${Y}Job is FAILING${N}: $(field "$info" failure)" ;;
            FAILED | CANCELED) die "the job ended $state: $(field "$info" failure)" ;;
            FINISHED) die "the job FINISHED before it restarted: was the kill too late?" ;;
            *) ;;
        esac
        last="$state"
    fi
    if [ "$state" = RUNNING ] && [[ "$a" =~ ^[0-9]+$ ]] && [ "$a" -gt "$attempt" ]; then break; fi
    [ "$(now_ms)" -lt "$deadline" ] || die "the job did not run again within 120 s:"$'\n'"$info"
    sleep 0.1
done
restored="$(field "$info" "restored from")"
[ -n "$restored" ] || die "the job runs again but info has no 'restored from:' line:"$'\n'"$info"
say "${G}Job is RUNNING again${N}, restored from checkpoint ${restored%% *} (attempt $a${restarting_ms:+, $(($(now_ms) - restarting_ms)) ms after RESTARTING})."
echo "$info" | grep -E '^task ' | detail

# ------------------------------------------------------------------ finish
step "Waiting for the job to finish."
deadline=$(($(now_ms) + 180000))
while :; do
    info="$(cli info "$JOBID" 2>&1)" || die "sluice info failed: $info"
    state="$(field "$info" state)"
    case "$state" in
        FINISHED) break ;;
        FAILED | CANCELED) die "the job ended $state: $(field "$info" failure)" ;;
        *) ;;
    esac
    [ "$(now_ms)" -lt "$deadline" ] || die "the job did not finish within 180 s:"$'\n'"$info"
    sleep 0.2
done
say "${G}Job FINISHED${N} with $(field "$info" restarts) restart(s)."
ck="$(cli checkpoints "$JOBID" 2>&1)" || die "sluice checkpoints failed: $ck"
say "Checkpoints: $(field "$ck" completed) completed, $(field "$ck" failed) failed, $(field "$ck" restored) restored; latest: $(field "$ck" "latest completed")"

# ------------------------------------------------------------------ verify
step "Checking the output against the reference count (tr | sort | uniq -c)."
OUT="$TMP/output"
hidden="$(find "$OUT" -mindepth 1 -name '.*' | head -n 5)"
[ -z "$hidden" ] || die "in-progress (hidden) files left in the output folder:"$'\n'"$hidden"
mapfile -t parts < <(find "$OUT" -type f -name 'part-*' | LC_ALL=C sort)
[ "${#parts[@]}" -gt 0 ] || die "no part-* files in $OUT"
cat "${parts[@]}" | LC_ALL=C sort -t, -k1,1 -k2,2n >"$TMP/emitted.csv"
# Per word the running counts must be exactly 1, 2, ..., N, each once, and
# N the reference count: nothing lost, nothing twice.
if verdict="$(LC_ALL=C awk -F, '
    function done_word() {
        if (!(w in ref)) { bad++; if (bad <= 5) print "  word \"" w "\" is not in the input" > "/dev/stderr"; return }
        seen[w] = 1
        if (n != ref[w]) { bad++; if (bad <= 5) print "  word \"" w "\": counts end at " n ", the input has it " ref[w] " times" > "/dev/stderr" }
    }
    FNR == NR { split($0, f, " "); ref[f[1]] = f[2] + 0; next }
    {
        rows++
        if ($0 !~ /^[a-z0-9]+,[1-9][0-9]*$/) { bad++; if (bad <= 5) print "  bad line: " $0 > "/dev/stderr"; next }
        if (!started || $1 != w) { if (started) done_word(); w = $1; n = 0; started = 1 }
        n++
        if ($2 + 0 != n) { bad++; if (bad <= 5) print "  word \"" w "\": count " $2 " where " n " was due (a duplicate or a gap)" > "/dev/stderr"; n = $2 + 0 }
    }
    END {
        if (started) done_word()
        for (r in ref) if (!(r in seen)) { bad++; if (bad <= 5) print "  word \"" r "\" never emitted" > "/dev/stderr" }
        printf "%d rows in %d part files", rows, nparts
        exit bad > 0
    }' nparts="${#parts[@]}" "$TMP/reference.txt" "$TMP/emitted.csv" 2>"$TMP/problems.txt")"; then
    say "${G}${B}Exactly-once: OK.${N} $verdict: for each of the $DISTINCT words, the counts 1..N appear exactly once and N matches the reference ($WORDS words in all)."
else
    cat "$TMP/problems.txt" >&2
    die "${B}the output is NOT exactly-once${N} ($verdict; problems above)."
fi

step "Stopping the cluster."
"$SLUICE_HOME/scripts/stop-cluster.sh" 2>&1 | detail
CLUSTER_STARTED=0
echo
say "${G}${B}Demo complete:${N} taskmanager $tm was killed mid-run; the job restarted from checkpoint ${restored%% *} and its output is exactly-once."
