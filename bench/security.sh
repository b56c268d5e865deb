#!/usr/bin/env bash
# The cost of internal TLS (security.ssl.internal.*: mutual TLS on every
# daemon-to-daemon connection, RPC and data plane; interface.md section 9)
# on throughput: the same jobs on a local cluster of 1 jobmanager and 2
# taskmanagers with 1 slot each, once without TLS and once with internal
# TLS (certificates by scripts/sluice-certs.sh, RSA 2048):
# - word count (source -> tokenize -> count key-by word -> file sink) at
#   parallelism 2, checkpoints off: the key-by sends about half of the
#   words to the other taskmanager, through the data plane;
# - Nexmark q1 (bench/nexmark/q1.yaml) with the events source at
#   parallelism 1 and the rest at 2: the rebalance sends half of the bids
#   to the other taskmanager;
# - Nexmark q1 as bench/nexmark.sh runs it (parallelism 1): one
#   taskmanager, no data plane: only the RPC is encrypted.
# Each run starts a fresh cluster per configuration (off, then on; run 1 of
# both, then run 2, ...); the time of a job is submit to FINISHED as the
# jobmanager records it. Every run is BENCH_RUNS times (3; QUICK=1: 1).
# Usage: bench/security.sh [MB]        (word count input, default 100; QUICK=1: 20)
# Environment: BENCH_RUNS, SEC_EVENTS (Nexmark events, default 40,000,000;
#   QUICK=1: 4,000,000), SEC_RESULTS (JSON, bench/results/security.json;
#   QUICK=1: security-quick.json), SLUICE_BIN_DIR (build/bin)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bin="${SLUICE_BIN_DIR:-$here/build/bin}"
mb="${1:-${QUICK:+20}}"
mb="${mb:-100}"
events="${SEC_EVENTS:-${QUICK:+4000000}}"
events="${events:-40000000}"
. "$here/bench/lib.sh"
bench_root security
bench_begin security "${SEC_RESULTS:-$(bench_results security)}" "bench/security.sh $*"
bench_param mb "$mb"
bench_param nexmark_events "$events"
runs=$(bench_runs)
bench_workers 2

"$here/scripts/sluice-certs.sh" "$root/certs" >/dev/null

mkdir -p "$root/in"
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

cat > "$root/wordcount.yaml" <<JOB
name: security-bench-wordcount
parallelism: 2
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
    path: $root/out
JOB
sed "s/count: COUNT/count: $events/" "$here/bench/nexmark/q1.yaml" > "$root/q1-p1.yaml"
# q1 with the source at parallelism 1 and the rest at 2 (a rebalance)
sed -e "s/count: COUNT/count: $events/" -e 's/^parallelism: 1$/parallelism: 2/' \
  -e '/source: nexmark/a\    parallelism: 1' "$here/bench/nexmark/q1.yaml" > "$root/q1-p2.yaml"
grep -q '^    parallelism: 1$' "$root/q1-p2.yaml" || { echo "security: could not set the source's parallelism in q1-p2.yaml" >&2; exit 1; }

# conf CONFIG(off|on): the cluster's sluice.yaml
conf() {
  {
    printf 'jobmanager.rpc.port: %d\ntaskmanager.numberOfTaskSlots: 1\n' "$port"
    printf 'taskmanager.state.local.root-dirs: %s\n' "$root/local"
    if [ "$1" = on ]; then
      printf 'security.ssl.internal.enabled: true\n'
      printf 'security.ssl.internal.cert: %s\nsecurity.ssl.internal.key: %s\n' "$root/certs/daemon.pem" "$root/certs/daemon.key"
      printf 'security.ssl.internal.trust-cert: %s\n' "$root/certs/ca.pem"
    fi
  } > "$SLUICE_CONF_DIR/sluice.yaml"
}

label() { if [ "$2" = off ]; then echo "$1, TLS off"; else echo "$1, internal TLS on"; fi; }
WC="word count, parallelism 2"
Q1R="Nexmark q1, source rebalanced to parallelism 2"
Q1="Nexmark q1, parallelism 1"

# one_config RUN CONFIG: a fresh cluster, the three jobs; sets wc_rate,
# q1r_rate, q1_rate
one_config() {
  local r="$1" c="$2" rows
  conf "$c"
  bench_start
  rm -rf "$root/out"
  bench_run_job "$root/wordcount.yaml"
  rows=$(cat "$root/out"/part-* | wc -l)
  [ "$rows" -eq "$words" ] || { echo "security: word count with TLS $c: $rows output rows, expected $words" >&2; exit 1; }
  rm -rf "$root/out"
  wc_rate=$(awk -v w="$words" -v s="$bench_job_secs" 'BEGIN { printf "%.0f", w / s }')
  bench_sample "$(label "$WC" "$c")" words_per_s "$wc_rate"
  bench_sample "$(label "$WC" "$c")" seconds "$bench_job_secs"
  printf 'run %d, TLS %-3s: word count %d words in %.2f s = %d words/s\n' "$r" "$c" "$words" "$bench_job_secs" "$wc_rate"
  bench_run_job "$root/q1-p2.yaml"
  q1r_rate=$(awk -v n="$events" -v s="$bench_job_secs" 'BEGIN { printf "%.0f", n / s }')
  bench_sample "$(label "$Q1R" "$c")" events_per_s "$q1r_rate"
  bench_sample "$(label "$Q1R" "$c")" seconds "$bench_job_secs"
  printf 'run %d, TLS %-3s: q1 rebalanced %d events in %.2f s = %d events/s\n' "$r" "$c" "$events" "$bench_job_secs" "$q1r_rate"
  bench_run_job "$root/q1-p1.yaml"
  q1_rate=$(awk -v n="$events" -v s="$bench_job_secs" 'BEGIN { printf "%.0f", n / s }')
  bench_sample "$(label "$Q1" "$c")" events_per_s "$q1_rate"
  bench_sample "$(label "$Q1" "$c")" seconds "$bench_job_secs"
  printf 'run %d, TLS %-3s: q1 %d events in %.2f s = %d events/s\n' "$r" "$c" "$events" "$bench_job_secs" "$q1_rate"
  "$here/scripts/stop-cluster.sh" >/dev/null
}

# cost ROW OFF ON: the cost of TLS in this run, 1 - on / off, in percent
cost() {
  bench_sample "$1, TLS on against off" cost_percent "$(awk -v a="$2" -v b="$3" 'BEGIN { printf "%.2f", 100 * (1 - b / a) }')"
}

for r in $(seq 1 "$runs"); do
  one_config "$r" off
  wc_off=$wc_rate q1r_off=$q1r_rate q1_off=$q1_rate
  one_config "$r" on
  cost "$WC" "$wc_off" "$wc_rate"
  cost "$Q1R" "$q1r_off" "$q1r_rate"
  cost "$Q1" "$q1_off" "$q1_rate"
done

echo
bench_caption
echo "| job | TLS off | internal TLS on | cost of TLS (per run) |"
echo "|---|---|---|---|"
echo "| $WC (words/s) | $(bench_cell "$(label "$WC" off)" words_per_s 1e6 %.2f " M") |" \
  "$(bench_cell "$(label "$WC" on)" words_per_s 1e6 %.2f " M") | $(bench_cell "$WC, TLS on against off" cost_percent 1 %.1f %) |"
for row in "$Q1R" "$Q1"; do
  echo "| $row (events/s) | $(bench_cell "$(label "$row" off)" events_per_s 1e6 %.2f " M") |" \
    "$(bench_cell "$(label "$row" on)" events_per_s 1e6 %.2f " M") | $(bench_cell "$row, TLS on against off" cost_percent 1 %.1f %) |"
done
bench_end
