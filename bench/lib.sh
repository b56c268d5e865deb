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
#
# Each script writes its own conf/sluice.yaml between bench_root and
# bench_start.

bench_cleanup() {
  "$here/scripts/stop-cluster.sh" >/dev/null 2>&1 || true
  rm -rf "$root"
}

bench_root() {
  root="$(mktemp -d "${2:-/tmp}/sluice-bench-$1.XXXXXX")"
  export SLUICE_CONF_DIR="$root/conf" SLUICE_LOG_DIR="$root/log" SLUICE_PID_DIR="$root/pid"
  mkdir -p "$SLUICE_CONF_DIR" "$SLUICE_LOG_DIR" "$SLUICE_PID_DIR"
  trap bench_cleanup EXIT
  port=$((20000 + RANDOM % 12000))
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
