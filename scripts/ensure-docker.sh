#!/usr/bin/env bash
# Make sure a Docker engine answers on the default socket. If none does, install Debian's docker.io
# (when missing) and start dockerd with the default bridge disabled: nothing we run may send traffic
# to private address ranges, and actor containers get no network or the host's.
set -euo pipefail
LOG=${ABACO_DOCKERD_LOG:-/var/log/abaco-dockerd.log}

if docker info >/dev/null 2>&1; then exit 0; fi

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
  if docker info >/dev/null 2>&1; then exit 0; fi
  sleep 0.5
done
echo "ensure-docker: the Docker engine did not come up; see $LOG" >&2
tail -n 20 "$LOG" >&2 || true
exit 1
