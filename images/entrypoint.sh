#!/bin/bash
# Started by tini (PID 1, which reaps orphans). `serve` (the default) and the daemon's other
# commands are run as `agent-executor <command>`; anything else is run as given, so
# `docker run IMAGE agent-executor selftest` and `docker run IMAGE bash` both work.
set -euo pipefail

# In the manifests every executor is a Job's pod (restartPolicy Never): when the daemon exits
# (recycled: 0; dirty sandbox: 3) the pod ends and KEDA starts a new one with fresh volumes. Where
# a container is restarted in place anyway (docker --restart, a Deployment) it keeps its volumes
# (the work dir, /tmp...): so the daemon itself proves the sandbox clean before its first task, for
# every one of its sandbox uids, and refuses to start (status 3) when it cannot.

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
