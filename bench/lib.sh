# Shared by the bench scripts (sourced after `here` = the repository root):
# a throw-away cluster on this machine.
#
#   bench_root NAME [BASE]   a temp root BASE/sluice-bench-NAME.XXXXXX
#                            (default /tmp) with conf/ log/ pid/, exported
#                            as SLUICE_CONF_DIR/LOG_DIR/PID_DIR; sets root
#                            and a random jobmanager port in port; conf/
#                            masters = localhost, conf/workers = one
#                            taskmanager. On exit the cluster is stopped
#                            (by its pid files) and the root removed.
#   bench_workers N          conf/workers with N taskmanagers
#   bench_start              scripts/start-cluster.sh (waits for them)
#   bench_spare              one more taskmanager, waits until it has
#                            registered (a spare for the next kill)
#
# Each script writes its own conf/sluice.yaml between bench_root and
# bench_start.

bench_cleanup() {
  "$here/scripts/stop-cluster.sh" >/dev/null 2>&1 || true
  rm -rf "$root"
}

# bench_free_port: sets port to a random TCP port in 20000-31999 (below
# the kernel's ephemeral range) that nothing uses now: a taken one made a
# jobmanager exit with "Address in use" (seen in CI, test_nexmark).
bench_free_port() {
  local i
  for i in $(seq 1 200); do
    port=$((20000 + RANDOM % 12000))
    if command -v ss >/dev/null 2>&1; then
      [ -n "$(ss -Htan "sport = :$port" 2>/dev/null)" ] || return 0
    elif ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
  done
  echo "no free TCP port found in 20000-31999" >&2
  return 1
}

bench_root() {
  root="$(mktemp -d "${2:-/tmp}/sluice-bench-$1.XXXXXX")"
  export SLUICE_CONF_DIR="$root/conf" SLUICE_LOG_DIR="$root/log" SLUICE_PID_DIR="$root/pid"
  mkdir -p "$SLUICE_CONF_DIR" "$SLUICE_LOG_DIR" "$SLUICE_PID_DIR"
  trap bench_cleanup EXIT
  bench_free_port
  echo localhost >"$SLUICE_CONF_DIR/masters"
  echo localhost >"$SLUICE_CONF_DIR/workers"
}

bench_workers() {
  local i
  : >"$SLUICE_CONF_DIR/workers"
  for ((i = 0; i < $1; i++)); do echo localhost >>"$SLUICE_CONF_DIR/workers"; done
}

bench_start() {
  "$here/scripts/start-cluster.sh" >/dev/null
}

# bench_spare: one more taskmanager, back once a live taskmanager with a free
# slot is registered (at most 30 s), so that the next kill finds its spare
bench_spare() {
  local i p
  "$here/scripts/taskmanager.sh" start >/dev/null
  for ((i = 0; i < 300; i++)); do
    for p in $("$bin/sluice" taskmanagers 2>/dev/null | awk '$5 > 0 { print $3 }'); do
      kill -0 "$p" 2>/dev/null && return 0
    done
    sleep 0.1
  done
  echo "bench: no taskmanager with a free slot 30 s after starting a spare" >&2
  return 1
}

# ---- repeated runs and their statistics (one place for every script)
#
#   bench_runs                 runs per configuration: BENCH_RUNS (default 3;
#                              QUICK=1: 1)
#   bench_results NAME         the default JSON path: bench/results/NAME.json
#                              (QUICK=1: NAME-quick.json)
#   bench_begin NAME OUT CMD   after bench_root: prints the machine (cores,
#                              CPU model, memory), the commit, the date and the
#                              load average once, and starts an empty sample
#                              table; the JSON goes to OUT, CMD is recorded
#   bench_param KEY VALUE      a parameter of this run, copied into the JSON
#   bench_sample ROW METRIC V  one run's value V of METRIC in table row ROW
#   bench_stat ROW METRIC      "N MIN MEDIAN MAX" of that row's samples
#   bench_cell ROW METRIC [DIV [FMT [UNIT]]]
#                              a table cell "MEDIAN UNIT (MIN-MAX)" (just
#                              "VALUE UNIT" for one run; "A to B" when A or
#                              B is negative); every figure is
#                              divided by DIV (1) and printed with FMT, a
#                              printf format (%.0f) or "int," (thousands
#                              separated by commas)
#   bench_int N                N with thousands separated by commas
#   bench_pow10 N              "10^K" for a power of ten, else bench_int N
#   bench_caption              "median (min-max) of N runs", for the summary
#   bench_end                  writes the JSON: machine (with the load average
#                              and the cores' idle and steal share while the
#                              script ran), date, command, parameters, and
#                              per row and metric the values of every run
#                              and their min, median and max
#   bench_run_job FILE         `sluice run FILE` to a terminal state: sets
#                              bench_job (its id) and bench_job_secs, submit to
#                              the end as the jobmanager timed it (the CLI
#                              polls every 200 ms, so its own wall clock would
#                              add up to 0.2 s); fails unless FINISHED
#
# Medians of an even number of runs are the mean of the middle two.

bench_runs() {
  if [ -n "${BENCH_RUNS:-}" ]; then echo "$BENCH_RUNS"
  elif [ -n "${QUICK:-}" ]; then echo 1
  else echo 3; fi
}

bench_results() {
  echo "$here/bench/results/$1${QUICK:+-quick}.json"
}

bench_machine_line() {
  printf '%s cores, %s, %s GiB' "$(nproc)" \
    "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" \
    "$(awk '$1 == "MemTotal:" { printf "%.1f", $2 / 1048576 }' /proc/meminfo)"
}

bench_begin() {
  local commit
  bench_name="$1" bench_out="$2" bench_cmd="$3"
  bench_samples="$root/samples" bench_params="$root/params"
  : >"$bench_samples"
  : >"$bench_params"
  commit=$(git -C "$here" describe --always --dirty 2>/dev/null || echo unknown)
  bench_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  bench_load0=$(cut -d' ' -f1-3 /proc/loadavg)
  bench_cpu0=$(bench_cpu_ticks)
  bench_commit=$commit
  bench_param runs "$(bench_runs)"
  echo "$bench_name: $(bench_machine_line); commit $commit; $bench_date;" \
    "load average $bench_load0; $(bench_runs) run(s) per configuration; results -> $bench_out"
}

# bench_cpu_ticks: "TOTAL IDLE STEAL" ticks of all cores so far (/proc/stat)
bench_cpu_ticks() {
  awk '$1 == "cpu" { print $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9, $5 + $6, $9; exit }' /proc/stat
}

bench_param() {
  printf '%s\t%s\n' "$1" "$2" >>"$bench_params"
}

bench_sample() {
  printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$bench_samples"
}

# the statistics: for every (row, metric) in the order first sampled,
# "ROW<TAB>METRIC<TAB>N<TAB>MIN<TAB>MEDIAN<TAB>MAX<TAB>V1,V2,..." (values in
# run order)
bench_stats_all() {
  awk -F'\t' '
    !(($1, $2) in n) { order[++keys] = $1 SUBSEP $2 }
    { k = $1 SUBSEP $2; v[k, ++n[k]] = $3 + 0; raw[k] = raw[k] (n[k] > 1 ? "," : "") $3 }
    END {
      for (i = 1; i <= keys; i++) {
        k = order[i]; m = n[k]
        for (j = 1; j <= m; j++) s[j] = v[k, j]
        for (j = 2; j <= m; j++) {   # insertion sort: a handful of runs
          x = s[j]
          for (l = j - 1; l >= 1 && s[l] > x; l--) s[l + 1] = s[l]
          s[l + 1] = x
        }
        med = m % 2 ? s[(m + 1) / 2] : (s[m / 2] + s[m / 2 + 1]) / 2
        split(k, rm, SUBSEP)
        printf "%s\t%s\t%d\t%.10g\t%.10g\t%.10g\t%s\n", rm[1], rm[2], m, s[1], med, s[m], raw[k]
      }
    }' "$bench_samples"
}

bench_stat() {
  bench_stats_all | awk -F'\t' -v r="$1" -v m="$2" '$1 == r && $2 == m { print $3, $4, $5, $6; f = 1 }
    END { if (!f) print 0, 0, 0, 0 }'
}

# fmt(x): x printed with the printf format f, or with thousands separated
# by commas when f is "int,"
bench_awk_fmt='
  function fmt(x,   s, t) {
    if (f != "int,") return sprintf(f, x)
    s = sprintf("%.0f", x); t = ""
    while (length(s) > 3 && substr(s, length(s) - 3, 1) ~ /[0-9]/) {
      t = "," substr(s, length(s) - 2) t; s = substr(s, 1, length(s) - 3)
    }
    return s t
  }'

# bench_int N: N with thousands separated by commas (anything else as it is)
bench_int() {
  awk -v x="$1" -v f="int," "$bench_awk_fmt"' BEGIN { print x ~ /^-?[0-9.]+$/ ? fmt(x) : x }'
}

# bench_pow10 N: "10^K" when N is a power of ten, else N with commas
bench_pow10() {
  awk -v x="$1" -v f="int," "$bench_awk_fmt"' BEGIN { r = sprintf("%.0f", log(x) / log(10))
    if (x > 0 && 10 ^ r == x) print "10^" r; else print fmt(x) }'
}

bench_cell() {
  bench_stat "$1" "$2" | awk -v d="${3:-1}" -v f="${4:-%.0f}" -v u="${5:-}" "$bench_awk_fmt"'
    { if ($1 == 0) { print "-"; exit }
      lo = fmt($2 / d); me = fmt($3 / d); hi = fmt($4 / d)
      if ($1 == 1) print me u
      else print me u " (" lo (lo ~ /^-/ || hi ~ /^-/ ? " to " : "-") hi ")" }'
}

bench_caption() {
  if [ "$(bench_runs)" -gt 1 ]; then echo "each cell: median (min-max) of $(bench_runs) runs"
  else echo "each cell: one run"; fi
}

bench_end() {
  mkdir -p "$(dirname "$bench_out")"
  local cpu
  # idle and steal (time the VM's host gave to others) of all cores while the script ran
  cpu=$(awk -v a="$bench_cpu0" -v b="$(bench_cpu_ticks)" 'BEGIN { split(a, x, " "); split(b, y, " ")
    t = y[1] - x[1]; if (t <= 0) t = 1
    printf "%.1f %.1f", 100 * (y[2] - x[2]) / t, 100 * (y[3] - x[3]) / t }')
  bench_stats_all | python3 -c '
import json, sys
name, cmd, date, load0, commit, cores, cpu, params_file, out = sys.argv[1:10]
idle, steal = cpu.split()
def num(s):
    try:
        return int(s)
    except ValueError:
        try:
            return float(s)
        except ValueError:
            return s
params = {}
for line in open(params_file):
    k, _, v = line.rstrip("\n").partition("\t")
    params[k] = num(v)
rows = []
for line in sys.stdin:
    row, metric, n, lo, med, hi, vals = line.rstrip("\n").split("\t")
    r = next((x for x in rows if x["row"] == row), None)
    if r is None:
        r = {"row": row}
        rows.append(r)
    r[metric] = {"n": int(n), "min": num(lo), "median": num(med), "max": num(hi),
                 "values": [num(v) for v in vals.split(",")]}
with open("/proc/meminfo") as f:
    mem = next(int(l.split()[1]) for l in f if l.startswith("MemTotal:"))
with open("/proc/cpuinfo") as f:
    model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
with open("/proc/loadavg") as f:
    load1 = " ".join(f.read().split()[:3])
doc = {"benchmark": name, "command": cmd, "date": date, "commit": commit,
       "machine": {"cores": int(cores), "cpu": model, "memory_gib": round(mem / 1048576, 1),
                   "load_average_start": load0, "load_average_end": load1,
                   "idle_percent": float(idle), "steal_percent": float(steal)},
       "parameters": params, "results": rows}
with open(out, "w") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")
' "$bench_name" "$bench_cmd" "$bench_date" "$bench_load0" "$bench_commit" "$(nproc)" \
    "$cpu" "$bench_params" "$bench_out"
  echo "results -> $bench_out (load average now $(cut -d' ' -f1-3 /proc/loadavg);" \
    "while it ran, all cores: idle ${cpu% *}%, steal ${cpu#* }%)"
}

bench_run_job() {
  local out
  out=$("$bin/sluice" run "$1") || { echo "bench: $1: $out" >&2; return 1; }
  bench_job=$(awk '/submitted with JobID/ { print $NF }' <<<"$out")
  grep -q "finished with state FINISHED" <<<"$out" || { echo "bench: $1: $out" >&2; return 1; }
  bench_job_secs=$("$bin/sluice" info --json "$bench_job" | python3 -c '
import json, sys
j = json.load(sys.stdin)
print("%.3f" % ((j["end-time"] - j["start-time"]) / 1000))')
}
