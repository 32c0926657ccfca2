#!/bin/bash
# Started by tini (PID 1, which reaps orphans). `serve` (the default) and the daemon's other
# commands are run as `agent-executor <command>`; anything else is run as given, so
# `docker run IMAGE agent-executor selftest` and `docker run IMAGE bash` both work.
set -euo pipefail

# A container restarted in place keeps its emptyDir volumes (the work dir, /tmp...): the daemon
# itself proves the sandbox clean before its first task, for every one of its sandbox uids, and
# refuses to start (status 3) when it cannot.

case "${1:-serve}" in
  serve)
    exec agent-executor "$@"
    ;;
  selftest | submit | cancel | help)
    exec agent-executor "$@"
    ;;
  -*)
    exec agent-executor serve "$@"
    ;;
  *)
    exec "$@"
    ;;
esac
