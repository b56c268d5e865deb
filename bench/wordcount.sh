#!/usr/bin/env bash
# Word-count throughput: words per second through source -> tokenize ->
# count (key-by) -> file sink on a local cluster of 1 jobmanager and 2
# taskmanagers: parallelism 1 and 2 with checkpointing off, and parallelism
# 2 with a checkpoint every second (exactly-once file sink).
# Usage: bench/wordcount.sh [MB]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bin="${SLUICE_BIN_DIR:-$here/build/bin}"
mb="${1:-200}"
. "$here/bench/lib.sh"
bench_root wc
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
bench_start
for run in "1 off" "2 off" "2 1s"; do
  read -r p chk <<<"$run"
  out="$root/out-$p-$chk"
  config=""
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
  t0=$(date +%s.%N)
  "$bin/sluice" run "$root/job-$p.yaml" >/dev/null
  t1=$(date +%s.%N)
  rows=$(cat "$out"/part-* | wc -l)
  [ "$rows" -eq "$words" ] || { echo "parallelism $p: $rows output rows, expected $words" >&2; exit 1; }
  awk -v p="$p" -v c="$chk" -v w="$words" -v a="$t0" -v b="$t1" \
    'BEGIN { printf "parallelism %d, checkpoints %-3s: %d words in %.2f s = %.0f words/s\n", p, c, w, b - a, w / (b - a) }'
done
