#!/usr/bin/env bash
# Durability order, checked on the system calls (strace -f -tt -y on the
# jobmanager and both taskmanagers while a word count with checkpoints every
# 300 ms runs to the end):
#   - every file opened for writing in chk-<n> (the state files) was fsynced,
#     and chk-<n> itself fsynced, before chk-<n>/_metadata.tmp is renamed to
#     _metadata; _metadata.tmp was fsynced before that rename; chk-<n> and the
#     job folder are fsynced after it;
#   - every hidden part file the file sink renames visible was fsynced
#     before, and the sink's folder is fsynced after the rename.
# Skipped if strace is missing.
. "$(dirname "$0")/lib.sh"

command -v strace >/dev/null || { echo "skipped: no strace"; exit 0; }

sl_new_cluster
sl_start_cluster 2
sl_wordcount_setup 400000 8
sl_write_file_job "$SL_DATA/job.yaml" fsync-order "$SL_TEXT" "$SL_OUTDIR" 2 "    rate: $SL_RATE" \
    "  execution.checkpointing.interval: 300 ms"

trace="$SL_DATA/trace"
for role in jobmanager taskmanager; do
    for pid in $(sl_pidfile_pids "$role"); do
        strace -f -tt -y -e trace=openat,fsync,fdatasync,rename,renameat,renameat2 \
            -o "$trace.$pid" -p "$pid" 2>"$SL_DATA/strace.$pid.err" &
        sl_record_pid $!
    done
done
# strace says when it is attached to the process's threads.
for pid in $(sl_pidfile_pids jobmanager) $(sl_pidfile_pids taskmanager); do
    wait_for grep -q "Process $pid attached" "$SL_DATA/strace.$pid.err"
done

sl_submit_detached "$SL_DATA/job.yaml"
j="$SL_JOBID"
sl_wait_job_end "$j" FINISHED 120
sl_check_exactly_once "$SL_OUTDIR" "$SL_REF"

# One time-ordered stream "<pid> <time> <call>" (single spaces: sort
# counts leading blanks in a field), a call split by another
# thread's ("<unfinished ...>" ... "<... NAME resumed>") joined at the time
# it returned.
for f in "$trace".[0-9]*; do
    awk '/<unfinished \.\.\.>$/ { l = $0; sub(/ <unfinished \.\.\.>$/, "", l); held[$1] = l; next }
         /<\.\.\. [a-z0-9_]+ resumed>/ { r = $0; sub(/^.*resumed>/, "", r)
             l = held[$1]; delete held[$1]; split(l, a, " "); t = $2
             sub(/^[0-9]+ +[0-9:.]+ /, "", l); print $1 " " t " " l r; next }
         { l = $0; sub(/^[0-9]+ +[0-9:.]+ /, "", l); print $1 " " $2 " " l }' "$f"
done | LC_ALL=C sort -s -b -k2,2 >"$trace.all"
awk -v outdir="$SL_OUTDIR" '
function dir_of(p) { sub(/\/[^\/]*$/, "", p); return p }
function fd_path(s) { return match(s, /<[^>]*>/) ? substr(s, RSTART + 1, RLENGTH - 2) : "" }
# openat(AT_FDCWD, "<path>", O_WRONLY|O_CREAT...) = 7</abs path>
/ openat\(/ && /O_WRONLY|O_RDWR/ && / = [0-9]+</ {
    p = $0; sub(/.* = [0-9]+</, "", p); sub(/>.*/, "", p)
    synced[p] = 0
    if (p !~ /\/_metadata\.tmp$/) { written[p] = 1; synced[dir_of(p)] = 0 }
    next
}
/ (fsync|fdatasync)\(/ && / = 0$/ {
    p = fd_path($0); synced[p] = 1; if (p in after) delete after[p]
    next
}
/ rename(at2?)?\(/ && / = 0$/ {
    split($0, q, "\"")
    from = q[2]; to = q[4]
    if (to ~ /\/_metadata$/) {
        d = dir_of(to); mds++
        if (!synced[from]) { print "FAIL: " from " renamed before its fsync"; bad++ }
        if (!synced[d]) { print "FAIL: " d " not fsynced (after its state files were created) before " to; bad++ }
        for (f in written) if (dir_of(f) == d && !synced[f]) {
            print "FAIL: " f " not fsynced before " to; bad++ }
        after[d] = to; after[dir_of(d)] = to
    } else if (index(to, outdir "/part-") == 1) {
        parts++
        if (!synced[from]) { print "FAIL: " from " committed before its fsync"; bad++ }
        after[outdir] = to
    }
    next
}
END {
    for (d in after) { print "FAIL: " d " not fsynced after the rename to " after[d]; bad++ }
    printf "checked %d _metadata renames and %d part file commits\n", mds, parts
    if (mds == 0 || parts == 0) { print "FAIL: nothing traced"; bad++ }
    exit bad > 0
}' "$trace.all" || fail "durability order (trace in $trace.all, KEEP_TMP=1 to keep it)"
echo "ok"
