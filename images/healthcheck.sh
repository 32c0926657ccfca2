#!/bin/bash
# Health of the executor, for Docker's HEALTHCHECK (Kubernetes probes the HTTP endpoints directly).
# With EXECUTOR_HTTP_PORT set, the daemon's own /healthz: its event loop is turning. Without it,
# the daemon (root's `agent-executor serve`) exists and is neither stopped nor a zombie.
set -uo pipefail

port="${EXECUTOR_HTTP_PORT:-0}"
if [ "$port" != 0 ]; then
  exec node -e '
    fetch(`http://127.0.0.1:${process.argv[1]}/healthz`, { signal: AbortSignal.timeout(4000) })
      .then((r) => { console.log(`/healthz: ${r.status}`); process.exit(r.ok ? 0 : 1); },
            (e) => { console.log(`/healthz: ${e.message}`); process.exit(1); });' "$port"
fi

pid="$(pgrep -o -u 0 -f '^node /usr/local/bin/agent-executor serve')" || {
  echo 'agent-executor serve is not running'
  exit 1
}
state="$(ps -o stat= -p "$pid")" || {
  echo "agent-executor serve (pid $pid) is gone"
  exit 1
}
case "$state" in
  T* | t* | Z*)
    echo "agent-executor serve (pid $pid) is stopped or a zombie: $state"
    exit 1
    ;;
esac
