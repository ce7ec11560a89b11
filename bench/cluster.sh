# Helpers for the benchmark scripts: a throw-away local cluster. Source it.
#   bench_cluster_start DIR NUM_DATANODES [extra namenode flags...]
#   bench_cluster_stop
# Sets NN (host:port), NN_PID, DN_PIDS (array), DN_DIRS (array).
BIN="${BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build/bin}"

_wait_file() {  # FILE SECONDS
  local deadline=$(( $(date +%s) + $2 ))
  until [ -s "$1" ]; do
    [ "$(date +%s)" -ge "$deadline" ] && { echo "timeout waiting for $1" >&2; return 1; }
    sleep 0.1
  done
}

bench_cluster_start() {
  local dir="$1" n="$2"; shift 2
  BENCH_DIR="$dir"
  mkdir -p "$dir"
  "$BIN/cairn-namenode" --dir "$dir/nn" --port 0 --info-file "$dir/nn.info" "$@" >"$dir/nn.log" 2>&1 &
  NN_PID=$!
  _wait_file "$dir/nn.info" 30 || return 1
  NN="127.0.0.1:$(grep '^port=' "$dir/nn.info" | cut -d= -f2)"
  DN_PIDS=(); DN_DIRS=()
  for i in $(seq 1 "$n"); do
    bench_start_datanode "$i" || return 1
  done
  local deadline=$(( $(date +%s) + 60 ))
  until [ "$("$BIN/cairn" --namenode "$NN" df 2>/dev/null | grep -o '[0-9]* live' | cut -d' ' -f1)" = "$n" ]; do
    [ "$(date +%s)" -ge "$deadline" ] && { echo "DataNodes did not register" >&2; return 1; }
    sleep 0.2
  done
  "$BIN/cairn" --namenode "$NN" admin safemode wait >/dev/null
}

bench_start_datanode() {  # INDEX (1-based)
  local i="$1"
  DN_DIRS[$i]="$BENCH_DIR/dn$i"
  rm -f "$BENCH_DIR/dn$i.info"
  "$BIN/cairn-datanode" --volume "$BENCH_DIR/dn$i" --namenode "$NN" --port 0 \
    --heartbeat-interval-ms 500 --info-file "$BENCH_DIR/dn$i.info" ${DN_FLAGS:-} >"$BENCH_DIR/dn$i.log" 2>&1 &
  DN_PIDS[$i]=$!
  _wait_file "$BENCH_DIR/dn$i.info" 30
}

bench_cluster_stop() {
  for p in "${DN_PIDS[@]}" "$NN_PID"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }
