#!/usr/bin/env bash
# Stops the local cluster started by deploy/up.sh: unmounts, then stops every daemon by PID.
set -uo pipefail
source "$(dirname "$0")/common.sh"

if grep -qs " $CAIRN_MOUNT fuse" /proc/mounts; then
  fusermount3 -u "$CAIRN_MOUNT" 2>/dev/null || umount -l "$CAIRN_MOUNT" 2>/dev/null || true
fi

stop() {  # NAME
  local f="$CAIRN_HOME/$1.pid"
  [ -f "$f" ] || return 0
  local pid; pid="$(cat "$f")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    local deadline=$(( $(date +%s) + 15 ))
    while kill -0 "$pid" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    echo "stopped $1 (pid $pid)"
  fi
  rm -f "$f" "$CAIRN_HOME/$1.info"
}

stop fuse
for f in "$CAIRN_HOME"/datanode-*.pid; do
  [ -e "$f" ] && stop "$(basename "$f" .pid)"
done
stop namenode
