#!/usr/bin/env bash
# Starts a local Cairn cluster: a NameNode on 127.0.0.1:8020, 3 DataNodes and a FUSE mount at
# ./mnt, all data under ./.cairn. Builds first if needed (installing missing packages).
#   CAIRN_HOME (default ./.cairn)  CAIRN_NAMENODE_PORT (8020)  CAIRN_DATANODES (3)
#   CAIRN_MOUNT (default ./mnt; "none" to skip the mount)
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$CAIRN_ROOT"

if [ ! -x "$BIN/cairn-namenode" ] || [ ! -x "$BIN/cairn-datanode" ] || [ ! -x "$BIN/cairn" ]; then
  ./deploy/setup.sh
fi
mkdir -p "$CAIRN_HOME"
CLI=("$BIN/cairn" --namenode "$NAMENODE_ADDR")

start_daemon() {  # NAME COMMAND...
  local name="$1"; shift
  if pid_alive "$name"; then
    echo "$name already running (pid $(cat "$CAIRN_HOME/$name.pid"))"
    return 0
  fi
  rm -f "$CAIRN_HOME/$name.info"
  "$@" --info-file "$CAIRN_HOME/$name.info" >>"$CAIRN_HOME/$name.log" 2>&1 &
  echo $! >"$CAIRN_HOME/$name.pid"
  if ! wait_for "$name to listen" 30 test -s "$CAIRN_HOME/$name.info"; then
    echo "$name did not start; last lines of $CAIRN_HOME/$name.log:" >&2
    tail -20 "$CAIRN_HOME/$name.log" >&2
    exit 1
  fi
}

start_daemon namenode "$BIN/cairn-namenode" --dir "$CAIRN_HOME/namenode" --port "$NAMENODE_PORT"
for i in $(seq 1 "$DATANODES"); do
  start_daemon "datanode-$i" "$BIN/cairn-datanode" --volume "$CAIRN_HOME/datanode-$i" \
    --namenode "$NAMENODE_ADDR" --port 0
done

if ! wait_for "$DATANODES DataNodes to register" 60 \
    bash -c "[ \"\$(\"$BIN/cairn\" --namenode $NAMENODE_ADDR df 2>/dev/null | grep -o '[0-9]* live' | cut -d' ' -f1)\" -ge $DATANODES ]"; then
  exit 1
fi
"${CLI[@]}" admin safemode wait --timeout-s 60 >/dev/null

mounted=""
if [ "$CAIRN_MOUNT" != "none" ] && [ -x "$BIN/cairn-fuse" ] && [ -e /dev/fuse ]; then
  mkdir -p "$CAIRN_MOUNT"
  if grep -qs " $CAIRN_MOUNT fuse" /proc/mounts; then
    mounted="$CAIRN_MOUNT"
  else
    "$BIN/cairn-fuse" "$CAIRN_MOUNT" --namenode "$NAMENODE_ADDR" -f >>"$CAIRN_HOME/fuse.log" 2>&1 &
    echo $! >"$CAIRN_HOME/fuse.pid"
    if wait_for "the FUSE mount" 30 grep -qs " $CAIRN_MOUNT fuse" /proc/mounts; then
      mounted="$CAIRN_MOUNT"
    else
      echo "warning: cairn-fuse did not mount; see $CAIRN_HOME/fuse.log" >&2
    fi
  fi
fi

echo
echo "Cairn is up: NameNode $NAMENODE_ADDR, $DATANODES DataNodes, data in $CAIRN_HOME"
"${CLI[@]}" df -h

# Show it doing its job: a file in, its blocks and replicas, the same bytes out.
echo
echo "Demo: cairn put README.md /demo/README.md, then read it back"
"${CLI[@]}" mkdir -p /demo
"${CLI[@]}" put -f README.md /demo/README.md
"${CLI[@]}" stat /demo/README.md | grep -E 'Size|Replication|blk_'
if "${CLI[@]}" cat /demo/README.md | cmp -s - README.md; then
  echo "read back through the client: identical"
fi
if [ -n "$mounted" ] && cmp -s "$mounted/demo/README.md" README.md; then
  echo "read back through the FUSE mount at $mounted/demo/README.md: identical"
fi
echo
echo "Try this:"
echo "  export CAIRN_NAMENODE=$NAMENODE_ADDR"
echo "  $BIN/cairn put README.md /hello/README.md     # (mkdir -p /hello first)"
echo "  $BIN/cairn ls -l /hello; $BIN/cairn stat /hello/README.md"
if [ -n "$mounted" ]; then
  echo "  cp -a common $mounted/ && ls -l $mounted/common    # through the FUSE mount"
fi
echo "  $BIN/cairn fsck /; $BIN/cairn admin report"
echo "Stop it with ./deploy/down.sh"
