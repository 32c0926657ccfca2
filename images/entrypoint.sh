#!/bin/bash
# Started by tini (PID 1, which reaps orphans). `serve` (the default) and the daemon's other
# commands are run as `agent-executor <command>`; anything else is run as given, so
# `docker run IMAGE agent-executor selftest` and `docker run IMAGE bash` both work.
set -euo pipefail

work_dir="${EXECUTOR_WORK_DIR:-/var/lib/agent-executor/runs}"
sandbox_user="${EXECUTOR_SANDBOX_USER:-64000}"

# A container restarted in place (after EXECUTOR_MAX_RUNS, or exit 3 on a dirty sandbox) keeps its
# emptyDir volumes: start from a work dir and shared places with nothing of the sandbox user's in
# them, as a fresh pod would.
start_clean() {
  mkdir -p "$work_dir"
  find "$work_dir" -mindepth 1 -maxdepth 1 -exec rm -rf -- {} +
  local dir
  for dir in /tmp /var/tmp /dev/shm /run/lock; do
    [ -d "$dir" ] || continue
    find "$dir" -xdev -mindepth 1 -user "${sandbox_user%%:*}" -prune -exec rm -rf -- {} + 2>/dev/null || true
  done
}

case "${1:-serve}" in
  serve)
    start_clean
    exec agent-executor "$@"
    ;;
  selftest | submit | cancel | help)
    exec agent-executor "$@"
    ;;
  -*)
    start_clean
    exec agent-executor serve "$@"
    ;;
  *)
    exec "$@"
    ;;
esac
