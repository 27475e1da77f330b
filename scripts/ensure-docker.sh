#!/usr/bin/env bash
# Make sure a Docker engine answers on the default socket. If none does, install Debian's docker.io
# (when missing) and start dockerd with the default bridge disabled: nothing we run may send traffic
# to private address ranges, and actor containers get no network or the host's.
set -euo pipefail
LOG=${ABACO_DOCKERD_LOG:-/var/log/abaco-dockerd.log}
# A running engine answers `docker info` in well under a second; one that does not within this many
# seconds is wedged (Debian's 20.10 can deadlock in libnetwork under heavy container churn,
# moby/moby#46661): say so instead of hanging the caller.
INFO_TIMEOUT=${ABACO_DOCKER_INFO_TIMEOUT:-30}

answers() { timeout "$1" docker info >/dev/null 2>&1; }

status=0
answers "$INFO_TIMEOUT" || status=$?
if [ "$status" -eq 0 ]; then exit 0; fi
if [ "$status" -eq 124 ]; then  # connected, no answer: not an engine still starting
  echo "ensure-docker: dockerd does not answer within ${INFO_TIMEOUT}s (wedged?); restart it" \
       "(kill -TERM \$(pgrep -x dockerd), then run this script again)" >&2
  exit 1
fi

if ! command -v dockerd >/dev/null 2>&1; then
  echo "ensure-docker: installing Debian's docker.io" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null || true
  apt-get install -y -q --no-install-recommends docker.io >/dev/null
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
  echo "ensure-docker: starting dockerd --bridge=none (log: $LOG)" >&2
  nohup dockerd --bridge=none --iptables=false --ip-masq=false >"$LOG" 2>&1 &
fi

for _ in $(seq 1 120); do
  if answers 5; then exit 0; fi
  sleep 0.5
done
echo "ensure-docker: the Docker engine did not come up; see $LOG" >&2
tail -n 20 "$LOG" >&2 || true
exit 1
