#!/usr/bin/env bash
# meta_runs.sh: the NameNode throughput targets of issue 2 (20,000 creates/s, 50,000 stats/s)
# measured over several runs, each on a fresh NameNode, because one run on a shared VM says
# little (the same binary moves +-25% from run to run here). Per run and thread count: creates,
# then stats of as many existing files (`cairn-bench meta`, default client). Prints every run,
# then per (op, threads) the median, min and max and how many runs reached the target.
#
#   bench/meta_runs.sh [--runs N (5)] [--threads "16 64"] [--creates N (60000)]
#                      [--stats N (100000)] [--bin DIR (build/bin)] [-- extra namenode flags]
set -euo pipefail
RUNS=5
THREADS="16 64"
CREATES=60000
STATS=100000
NN_FLAGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --creates) CREATES=$2; shift 2 ;;
    --stats) STATS=$2; shift 2 ;;
    --bin) BIN=$2; shift 2 ;;
    --) shift; NN_FLAGS=("$@"); break ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "meta_runs: unknown option $1" >&2; exit 2 ;;
  esac
done
source "$(dirname "$0")/cluster.sh"
WORK="$(mktemp -d /var/tmp/cairn-meta-XXXXXX)"
trap 'bench_cluster_stop; rm -rf "$WORK"' EXIT
RESULTS="$WORK/results"

for run in $(seq "$RUNS"); do
  bench_cluster_start "$WORK/run$run" 0 "${NN_FLAGS[@]}"
  for t in $THREADS; do
    for op in create stat; do
      n=$CREATES; [ "$op" = stat ] && n=$STATS
      line=$("$BIN/cairn-bench" --namenode "$NN" meta --op "$op" --threads "$t" --ops "$n" \
               --namenode-pid "$NN_PID")
      echo "run $run: $line"
      echo "$op $t $(sed -n 's/.*ops_per_sec=\([0-9]*\).*/\1/p' <<< "$line")" >> "$RESULTS"
    done
  done
  bench_cluster_stop
  rm -rf "$WORK/run$run"
done

python3 - "$RESULTS" <<'EOF'
import statistics, sys
target = {"create": 20000, "stat": 50000}
runs = {}
for line in open(sys.argv[1]):
    op, threads, rate = line.split()
    runs.setdefault((op, int(threads)), []).append(int(rate))
print(f"{'op':8}{'threads':>8}{'median':>10}{'min':>10}{'max':>10}   runs >= target")
for (op, threads), rates in sorted(runs.items()):
    met = sum(r >= target[op] for r in rates)
    print(f"{op:8}{threads:>8}{statistics.median(rates):>10.0f}{min(rates):>10}{max(rates):>10}"
          f"   {met}/{len(rates)} (>= {target[op]})")
EOF
