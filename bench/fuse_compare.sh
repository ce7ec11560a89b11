#!/usr/bin/env bash
# fuse_compare.sh: cairn-fuse against a FUSE passthrough (bindfs) and the local file system,
# side by side, in one run.
#
#   CAIRN_NAMENODE=127.0.0.1:8020 bench/fuse_compare.sh [options]
#   bench/fuse_compare.sh --start-cluster [options]   # a throw-away local cluster (1 NN, 3 DNs)
#
# Targets measured (all on the same machine and disk):
#   local      a directory on the local file system
#   bindfs     a bindfs passthrough mount of a local directory
#   cairn-r1   cairn-fuse, new files with replication 1
#   cairn-r3   cairn-fuse, new files with replication 3 (needs >= 3 DataNodes)
# Phases: sequential write of SIZE MiB (dd conv=fsync), sequential read after drop_caches
# (dd), 4 KiB random reads (fio, psync, after drop_caches), then FILES small files created
# (4 KiB each), stat'ed (after drop_caches) and deleted, DIRS directories created and removed.
# Prints a table with Cairn/bindfs ratios and the targets.
#
# Options: --size-mb N (1024)  --files N (2000)  --dirs N (1000)  --rand-seconds N (10)
#          --jobs N (1: metadata phases run in N processes at once, each on its own names)
#          --rounds N (1: metadata phases repeated N times over all targets; medians reported,
#          and the r1/bindfs ratio as the median of the per-round ratios with their range)
#          --workdir DIR (a new directory under /tmp)  --bin DIR (build/bin)
#          --start-cluster (start NameNode + 3 DataNodes from --bin, stop them at the end)
#          --fuse-opts OPTS (extra -o options for cairn-fuse)
#          (environment: DN_FLAGS, extra flags for the DataNodes --start-cluster starts)
# Needs root for drop_caches (else the read phases may be served from the page cache),
# bindfs, fio and python3.
set -euo pipefail

SIZE_MB=1024
FILES=2000
DIRS=1000
RAND_SECONDS=10
JOBS=1
ROUNDS=1
WORKDIR=""
BIN="$(cd "$(dirname "$0")/.." && pwd)/build/bin"
START_CLUSTER=0
FUSE_OPTS=""

while [ $# -gt 0 ]; do
  case "$1" in
    --size-mb) SIZE_MB=$2; shift 2 ;;
    --files) FILES=$2; shift 2 ;;
    --dirs) DIRS=$2; shift 2 ;;
    --rand-seconds) RAND_SECONDS=$2; shift 2 ;;
    --jobs) JOBS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --workdir) WORKDIR=$2; shift 2 ;;
    --bin) BIN=$2; shift 2 ;;
    --start-cluster) START_CLUSTER=1; shift ;;
    --fuse-opts) FUSE_OPTS=$2; shift 2 ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

for tool in bindfs fio python3 dd fusermount3; do
  command -v "$tool" > /dev/null || { echo "fuse_compare: $tool is not installed" >&2; exit 1; }
done
[ -x "$BIN/cairn-fuse" ] || { echo "fuse_compare: $BIN/cairn-fuse not found (--bin)" >&2; exit 1; }

if [ -z "$WORKDIR" ]; then WORKDIR=$(mktemp -d /tmp/fuse-compare-XXXXXX); fi
mkdir -p "$WORKDIR"
LOG="$WORKDIR/logs"
mkdir -p "$LOG"
PIDS=()      # processes this script started (killed at exit, by PID)
MOUNTS=()    # mountpoints to unmount at exit

cleanup() {
  set +e
  for m in "${MOUNTS[@]}"; do
    if mountpoint -q "$m"; then fusermount3 -u "$m" 2> /dev/null || umount -l "$m"; fi
  done
  for p in "${PIDS[@]}"; do
    if kill -0 "$p" 2> /dev/null; then
      kill "$p"
      for _ in $(seq 50); do kill -0 "$p" 2> /dev/null || break; sleep 0.1; done
      kill -9 "$p" 2> /dev/null
    fi
  done
  rm -rf "$WORKDIR/local" "$WORKDIR/bindfs-src" "$WORKDIR/cluster"
}
trap cleanup EXIT

# Waits (up to 20 s) for a file or a mount.
wait_for() {
  local what=$1 test=$2
  for _ in $(seq 200); do
    if eval "$test"; then return 0; fi
    sleep 0.1
  done
  echo "fuse_compare: timed out waiting for $what" >&2
  return 1
}

drop_caches() {
  sync
  if [ -w /proc/sys/vm/drop_caches ]; then echo 3 > /proc/sys/vm/drop_caches; fi
}

if [ "$START_CLUSTER" = 1 ]; then
  C="$WORKDIR/cluster"
  mkdir -p "$C/nn"
  "$BIN/cairn-namenode" --dir "$C/nn" --port 0 --info-file "$C/nn.info" \
    --safemode-extension-ms 0 > "$LOG/namenode.log" 2>&1 &
  PIDS+=($!)
  wait_for "the NameNode" "[ -s '$C/nn.info' ]"
  PORT=$(sed -n 's/^port=//p' "$C/nn.info")
  export CAIRN_NAMENODE="127.0.0.1:$PORT"
  for i in 1 2 3; do
    mkdir -p "$C/dn$i"
    "$BIN/cairn-datanode" --volume "$C/dn$i" --namenode "$CAIRN_NAMENODE" --port 0 \
      --info-file "$C/dn$i.info" ${DN_FLAGS:-} > "$LOG/datanode$i.log" 2>&1 &
    PIDS+=($!)
  done
  for i in 1 2 3; do wait_for "DataNode $i" "[ -s '$C/dn$i.info' ]"; done
fi
: "${CAIRN_NAMENODE:?set CAIRN_NAMENODE=HOST:PORT or use --start-cluster}"

mount_cairn() {  # name replication: mounts and sets DIR[name] (no subshell: PIDS/MOUNTS)
  local mnt="$WORKDIR/mnt-$1"
  mkdir -p "$mnt"
  local opts="replication=$2"
  [ -n "$FUSE_OPTS" ] && opts="$opts,$FUSE_OPTS"
  "$BIN/cairn-fuse" "$mnt" --namenode "$CAIRN_NAMENODE" -f -o "$opts" > "$LOG/$1.log" 2>&1 &
  PIDS+=($!)
  MOUNTS+=("$mnt")
  wait_for "the $1 mount" "mountpoint -q '$mnt'"
  mkdir -p "$mnt/fuse-compare-$$"
  DIR[$1]="$mnt/fuse-compare-$$"
}

declare -A DIR
mkdir -p "$WORKDIR/local" "$WORKDIR/bindfs-src" "$WORKDIR/mnt-bindfs"
bindfs "$WORKDIR/bindfs-src" "$WORKDIR/mnt-bindfs"
MOUNTS+=("$WORKDIR/mnt-bindfs")
DIR[local]="$WORKDIR/local"
DIR[bindfs]="$WORKDIR/mnt-bindfs"
mount_cairn cairn-r1 1
mount_cairn cairn-r3 3
TARGETS=(local bindfs cairn-r1 cairn-r3)

now() { date +%s.%N; }
rate() { python3 -c "import sys; print(f'{float(sys.argv[1]) / (float(sys.argv[3]) - float(sys.argv[2])):.1f}')" "$@"; }

# A metadata phase over `count` names, split among JOBS processes (python), timed as a whole.
meta() {  # phase dir count
  python3 - "$@" "$JOBS" <<'EOF'
import os, sys, time
from multiprocessing import Process
phase, d, n, jobs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
data = b"x" * 4096
def work(names):
    for i in names:
        if phase == "create":
            fd = os.open(f"{d}/f{i}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.write(fd, data)
            os.close(fd)
        elif phase == "stat":
            os.stat(f"{d}/f{i}")
        elif phase == "delete":
            os.unlink(f"{d}/f{i}")
        elif phase == "mkdir":
            os.mkdir(f"{d}/d{i}")
        elif phase == "rmdir":
            os.rmdir(f"{d}/d{i}")
t = time.perf_counter()
if jobs <= 1:
    work(range(n))
else:
    procs = [Process(target=work, args=(range(j, n, jobs),)) for j in range(jobs)]
    for p in procs: p.start()
    for p in procs:
        p.join()
        if p.exitcode != 0: sys.exit(1)
print(f"{n / (time.perf_counter() - t):.1f}")
EOF
}

declare -A R
for t in "${TARGETS[@]}"; do
  d=${DIR[$t]}
  echo "== $t ($d)" >&2
  s=$(now); dd if=/dev/zero of="$d/seq" bs=1M count="$SIZE_MB" conv=fsync status=none; e=$(now)
  R[$t,write]=$(rate "$SIZE_MB" "$s" "$e")
  drop_caches
  s=$(now); dd if="$d/seq" of=/dev/null bs=1M status=none; e=$(now)
  R[$t,read]=$(rate "$SIZE_MB" "$s" "$e")
  drop_caches
  R[$t,rand]=$(fio --name=rand --filename="$d/seq" --rw=randread --bs=4k --ioengine=psync \
                 --runtime="$RAND_SECONDS" --time_based --output-format=json 2> /dev/null |
               python3 -c "import json,sys; print(f\"{json.load(sys.stdin)['jobs'][0]['read']['iops']:.0f}\")")
  rm -f "$d/seq"
done
# Metadata phases: ROUNDS rounds, each over every target in turn (so that a slow spell of the
# machine hits all targets of a round); R[target,phase,round].
for round in $(seq "$ROUNDS"); do
  for t in "${TARGETS[@]}"; do
    d=${DIR[$t]}
    echo "== metadata round $round: $t" >&2
    mkdir -p "$d/meta"
    R[$t,create,$round]=$(meta create "$d/meta" "$FILES")
    drop_caches
    R[$t,stat,$round]=$(meta stat "$d/meta" "$FILES")
    R[$t,delete,$round]=$(meta delete "$d/meta" "$FILES")
    R[$t,mkdir,$round]=$(meta mkdir "$d/meta" "$DIRS")
    R[$t,rmdir,$round]=$(meta rmdir "$d/meta" "$DIRS")
    rmdir "$d/meta"
  done
done
rmdir "${DIR[cairn-r1]}" "${DIR[cairn-r3]}" 2> /dev/null || true

python3 - "$SIZE_MB" "$FILES" "$DIRS" "$JOBS" "$ROUNDS" <<EOF
import statistics, sys
size, files, dirs, jobs, rounds = sys.argv[1:6]
rounds = int(rounds)
R = {}
$(for k in "${!R[@]}"; do echo "R['$k'] = ${R[$k]}"; done)
# Metadata phases: the median over the rounds; the r1/bindfs ratio is the median of the
# ratios of each round (both measured back to back), with their range when rounds > 1.
meta_keys = ["create", "stat", "delete", "mkdir", "rmdir"]
spread = {}
for key in meta_keys:
    for t in ["local", "bindfs", "cairn-r1", "cairn-r3"]:
        R[t + "," + key] = statistics.median(R[f"{t},{key},{r}"] for r in range(1, rounds + 1))
    ratios = [R[f"cairn-r1,{key},{r}"] / R[f"bindfs,{key},{r}"] for r in range(1, rounds + 1)]
    spread[key] = (statistics.median(ratios), min(ratios), max(ratios))
rows = [("write", f"seq write {size} MiB, MiB/s"), ("read", f"seq read {size} MiB, MiB/s"),
        ("rand", "4 KiB random read, IOPS"), ("create", f"create {files} files, ops/s"),
        ("stat", f"stat {files} files, ops/s"), ("delete", f"delete {files} files, ops/s"),
        ("mkdir", f"mkdir {dirs}, ops/s"), ("rmdir", f"rmdir {dirs}, ops/s")]
targets = ["local", "bindfs", "cairn-r1", "cairn-r3"]
print(f"metadata phases with {jobs} process(es), median of {rounds} round(s)")
goal = {"write": 0.6, "read": 0.7, "create": 0.5, "stat": 0.5, "mkdir": 0.5}
print(f"{'':32s}" + "".join(f"{t:>11s}" for t in targets) + f"{'r1/bindfs':>11s}{'target':>8s}")
for key, label in rows:
    line = f"{label:32s}" + "".join(f"{R[t + ',' + key]:11.1f}" for t in targets)
    ratio = spread[key][0] if key in spread else R["cairn-r1," + key] / R["bindfs," + key]
    line += f"{ratio:11.2f}" + (f"{'>=' + str(goal[key]):>8s}" if key in goal else "")
    if key in spread and rounds > 1:
        line += f"   rounds {spread[key][1]:.2f}-{spread[key][2]:.2f}"
    print(line)
r3 = R["cairn-r3,write"] / (R["local,write"] / 3)
print(f"cairn-r3 seq write / (local write / 3) = {r3:.2f} (target >= 0.8)")
EOF
