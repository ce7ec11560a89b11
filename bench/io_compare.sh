#!/usr/bin/env bash
# Cairn data path vs the local disk, side by side in one run (issue 3):
#   local: dd 1 GiB write with a final fsync, cold dd read
#   cairn: cairn-bench io write at replication 1 and 3 (sync ack), cold read (short-circuit local
#          reads, the client's default here, and over gRPC), 4 parallel readers
# All replicas share this machine's one disk. Usage: bench/io_compare.sh [SIZE_MIB]
set -euo pipefail
source "$(dirname "$0")/cluster.sh"
SIZE_MIB="${1:-1024}"
WORK="$(mktemp -d /var/tmp/cairn-io-XXXXXX)"
trap 'bench_cluster_stop; rm -rf "$WORK"' EXIT

mibps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f", b / 1048576 / s }'; }
now() { date +%s.%N; }

# Local disk (the same filesystem the DataNodes use).
t0=$(now); dd if=/dev/zero of="$WORK/local" bs=1M count="$SIZE_MIB" conv=fsync status=none; t1=$(now)
local_write=$(mibps $((SIZE_MIB << 20)) "$(echo "$t1 - $t0" | bc)")
drop_caches
t0=$(now); dd if="$WORK/local" of=/dev/null bs=1M status=none; t1=$(now)
local_read=$(mibps $((SIZE_MIB << 20)) "$(echo "$t1 - $t0" | bc)")
rm -f "$WORK/local"

bench_cluster_start "$WORK/cluster" 3
run() { "$BIN/cairn-bench" --namenode "$NN" io "$@" | sed -n 's/.*MiB_per_sec=\([0-9.]*\).*/\1/p'; }
size=$((SIZE_MIB << 20))
w1=$(run --write --files 1 --size "$size" --replication 1 --dir /b/r1)
w3=$(run --write --files 1 --size "$size" --replication 3 --dir /b/r3)
drop_caches
r1=$(run --read --files 1 --size "$size" --dir /b/r1)
drop_caches
r1net=$(run --read --files 1 --size "$size" --dir /b/r1 --no-local-reads)
quarter=$((size / 4))
run --write --files 4 --size "$quarter" --replication 1 --threads 4 --dir /b/p >/dev/null
drop_caches
r1x1=$(run --read --files 4 --size "$quarter" --threads 1 --dir /b/p)
drop_caches
r1x4=$(run --read --files 4 --size "$quarter" --threads 4 --dir /b/p)

echo "size: $SIZE_MIB MiB; MiB/s"
printf "%-34s %10s\n" "local write (dd, fsync)" "$local_write"
printf "%-34s %10s\n" "local read (dd, cold)" "$local_read"
printf "%-34s %10s  ratio %.2f (target >= 0.7)\n" "cairn write r1 sync" "$w1" "$(echo "$w1 / $local_write" | bc -l)"
printf "%-34s %10s  ratio to local/3 %.2f (target >= 0.8)\n" "cairn write r3 sync" "$w3" "$(echo "$w3 / ($local_write / 3)" | bc -l)"
printf "%-34s %10s  ratio %.2f (target >= 0.7)\n" "cairn read (cold)" "$r1" "$(echo "$r1 / $local_read" | bc -l)"
printf "%-34s %10s  ratio %.2f\n" "cairn read (cold), over gRPC" "$r1net" "$(echo "$r1net / $local_read" | bc -l)"
printf "%-34s %10s\n" "cairn read 4 files, 1 thread" "$r1x1"
printf "%-34s %10s  scaling %.2fx\n" "cairn read 4 files, 4 threads" "$r1x4" "$(echo "$r1x4 / $r1x1" | bc -l)"
