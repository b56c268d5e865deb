#!/usr/bin/env bash
# Word-count throughput: words per second through source -> tokenize ->
# count (key-by) -> file sink on a local cluster of 1 jobmanager and 2
# taskmanagers: parallelism 1 and 2 with checkpointing off, and parallelism
# 2 with a checkpoint every second (exactly-once file sink). Each
# configuration runs BENCH_RUNS times (3; QUICK=1: 1), the three
# alternated (run 1 of each, then run 2, ...); the time of a run is submit
# to FINISHED as the jobmanager records it.
# Usage: bench/wordcount.sh [MB]
# Environment: BENCH_RUNS, WC_RESULTS (JSON, bench/results/wordcount.json;
#   QUICK=1: wordcount-quick.json), SLUICE_BIN_DIR (build/bin)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bin="${SLUICE_BIN_DIR:-$here/build/bin}"
mb="${1:-200}"
. "$here/bench/lib.sh"
bench_root wc
bench_begin wordcount "${WC_RESULTS:-$(bench_results wordcount)}" "bench/wordcount.sh $*"
bench_param mb "$mb"
runs=$(bench_runs)
mkdir -p "$root/in"
printf 'jobmanager.rpc.port: %d\ntaskmanager.numberOfTaskSlots: 2\n' "$port" > "$SLUICE_CONF_DIR/sluice.yaml"
bench_workers 2

echo "generating ${mb} MB of text..."
awk -v mb="$mb" 'BEGIN { srand(42); n = split("the of and to a in that is was he for it with as his on be at by i this had not are but from or have an they which one you were her all she there would their we him been has when who will more no if out so said what up its about into than them can only other new some could time these two may then do first any my now such like our over man me even most made after also did many before must through back years where much your way well down should because each just those people how too little state good very make world still own see men work long get here between both life being under never day same another know while last might us great old year off come since against go came right used take three", w, " ")
  size = 0; line = ""
  while (size < mb * 1048576) {
    word = w[int(rand() * 200) + 1]; if (rand() < 0.1) word = toupper(substr(word,1,1)) substr(word,2)
    line = line word (rand() < 0.1 ? ", " : " ")
    if (length(line) > 70) { print line; size += length(line) + 1; line = "" }
  } }' > "$root/in/text.txt"
words=$(LC_ALL=C tr -cs 'A-Za-z0-9' '\n' < "$root/in/text.txt" | grep -c .)
bench_param words "$words"
bench_start
label() { if [ "$2" = off ]; then echo "parallelism $1, checkpoints off"; else echo "parallelism $1, checkpoint every 1 s"; fi; }

# one_run RUN P CHECKPOINTS(off|1s): one job, its output checked; sets rate
one_run() {
  local r="$1" p="$2" chk="$3" out="$root/out" config="" rows
  rm -rf "$out" "$root/checkpoints"
  if [ "$chk" != off ]; then
    config="config:
  execution.checkpointing.interval: 1 s
  state.checkpoints.dir: file://$root/checkpoints"
  fi
  cat > "$root/job-$p.yaml" <<JOB
name: wordcount-bench-p$p
parallelism: $p
$config
pipeline:
  - name: lines
    source: file
    path: $root/in/text.txt
  - name: words
    operator: tokenize
  - name: counts
    operator: count
    key-by: word
  - name: out
    sink: file
    path: $out
JOB
  bench_run_job "$root/job-$p.yaml"
  rows=$(cat "$out"/part-* | wc -l)
  [ "$rows" -eq "$words" ] || { echo "parallelism $p: $rows output rows, expected $words" >&2; exit 1; }
  rm -rf "$out"
  rate=$(awk -v w="$words" -v s="$bench_job_secs" 'BEGIN { printf "%.0f", w / s }')
  bench_sample "$(label "$p" "$chk")" seconds "$bench_job_secs"
  bench_sample "$(label "$p" "$chk")" words_per_s "$rate"
  printf 'run %d, parallelism %d, checkpoints %-3s: %d words in %.2f s = %d words/s\n' \
    "$r" "$p" "$chk" "$words" "$bench_job_secs" "$rate"
}

for r in $(seq 1 "$runs"); do
  one_run "$r" 1 off
  one_run "$r" 2 off
  off=$rate
  one_run "$r" 2 1s
  # the cost of checkpoints at parallelism 2 within this run: 1 - (every 1 s / off)
  bench_sample "parallelism 2, every 1 s against off" cost_percent \
    "$(awk -v a="$off" -v b="$rate" 'BEGIN { printf "%.2f", 100 * (1 - b / a) }')"
done

echo
bench_caption
echo "| configuration | words/s |"
echo "|---|---|"
for c in "1 off" "2 off" "2 1s"; do
  echo "| $(label $c) | $(bench_cell "$(label $c)" words_per_s 1e6 %.2f " M") |"
done
echo
echo "checkpoint every 1 s against off at parallelism 2, per run: $(bench_cell \
  "parallelism 2, every 1 s against off" cost_percent 1 %.1f %) cost"
bench_end
