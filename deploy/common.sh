# Shared by the deploy scripts. Source it; it sets CAIRN_ROOT, CAIRN_HOME, BIN.
CAIRN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CAIRN_HOME="${CAIRN_HOME:-$CAIRN_ROOT/.cairn}"
BIN="$CAIRN_ROOT/build/bin"
NAMENODE_PORT="${CAIRN_NAMENODE_PORT:-8020}"
NAMENODE_ADDR="127.0.0.1:$NAMENODE_PORT"
DATANODES="${CAIRN_DATANODES:-3}"
CAIRN_MOUNT="${CAIRN_MOUNT:-$CAIRN_ROOT/mnt}"

# pid_alive NAME: the daemon's PID file names a running process.
pid_alive() {
  local f="$CAIRN_HOME/$1.pid"
  [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null
}

# wait_for DESCRIPTION SECONDS COMMAND...: polls COMMAND until it succeeds or time runs out.
wait_for() {
  local what="$1" secs="$2"; shift 2
  local deadline=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "timed out after ${secs}s waiting for $what" >&2
      return 1
    fi
    sleep 0.2
  done
}
