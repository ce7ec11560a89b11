#!/usr/bin/env bash
# Issue 4: time from a DataNode's death to full replication of SIZE of data on the others
# (the dead-node interval subtracted), the re-replication throughput, foreground I/O meanwhile,
# and `cairn-bench io` at replication 1 in the same run for comparison.
# Usage: bench/rereplication.sh [SIZE_MIB]
set -euo pipefail
source "$(dirname "$0")/cluster.sh"
SIZE_MIB="${1:-1024}"
DEAD_MS=3000
WORK="$(mktemp -d /var/tmp/cairn-rerep-XXXXXX)"
trap 'bench_cluster_stop; rm -rf "$WORK"' EXIT
bench_cluster_start "$WORK/cluster" 4 --stale-after-ms 1500 --dead-after-ms "$DEAD_MS" \
  --replication-check-interval-ms 200 --heartbeat-interval-ms 500
CLI=("$BIN/cairn" --namenode "$NN")
size=$((SIZE_MIB << 20))
# 8 files of SIZE/8 at replication 3.
"$BIN/cairn-bench" --namenode "$NN" io --write --files 8 --size $((size / 8)) --replication 3 \
  --threads 2 --dir /rr >/dev/null
# What the victim holds of /rr (measured before anything else is written).
victim=1
lost=$(du -sb "$WORK/cluster/dn$victim" | cut -f1)
w1=$("$BIN/cairn-bench" --namenode "$NN" io --write --files 1 --size "$size" --replication 1 --dir /w1 |
     sed -n 's/.*MiB_per_sec=\([0-9.]*\).*/\1/p')
"${CLI[@]}" rm -r /w1
# One DataNode dies.
kill -9 "${DN_PIDS[$victim]}"
t0=$(date +%s.%N)
# Foreground traffic while it heals.
("$BIN/cairn-bench" --namenode "$NN" io --write --read --files 2 --size $((64 << 20)) --replication 2 \
   --dir /fg >"$WORK/fg.txt" 2>&1) &
fg=$!
until "${CLI[@]}" fsck /rr 2>/dev/null | grep -q 'Under-replicated blocks:.0' &&
      "${CLI[@]}" fsck /rr 2>/dev/null | grep -q 'Missing blocks:.0' &&
      "${CLI[@]}" admin report 2>/dev/null | grep -q DEAD; do
  sleep 0.2
done
t1=$(date +%s.%N)
wait "$fg" || true
heal=$(echo "$t1 - $t0 - $DEAD_MS / 1000" | bc -l)
rate=$(echo "$lost / 1048576 / $heal" | bc -l)
printf "data on the dead DataNode: %.0f MiB\n" "$(echo "$lost / 1048576" | bc -l)"
printf "death -> fully replicated, dead interval (%d ms) subtracted: %.1f s\n" "$DEAD_MS" "$heal"
printf "re-replication throughput: %.1f MiB/s\n" "$rate"
printf "cairn-bench io write r1 in the same run: %s MiB/s; ratio %.2f (target >= 0.5)\n" "$w1" "$(echo "$rate / $w1" | bc -l)"
echo "foreground I/O during healing:"; cat "$WORK/fg.txt"
"${CLI[@]}" fsck /rr | tail -5
