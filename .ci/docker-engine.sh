#!/usr/bin/env bash
# Makes sure a Docker engine answers. CI machines start with only the docker client and no
# systemd, so dockerd is started detached here; an engine that already runs (or is still
# starting) is reused, never doubled.
set -euo pipefail

log="${DOCKERD_LOG:-/var/log/dockerd.log}"

if docker info >/dev/null 2>&1; then
  echo "docker-engine: already running"
  exit 0
fi

# pgrep may be missing on a minimal machine; dockerd's pid file says the same.
dockerd_running() {
  pgrep -x dockerd >/dev/null 2>&1 || { [ -s /var/run/docker.pid ] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; }
}

if dockerd_running; then
  echo "docker-engine: dockerd is starting, waiting for it"
else
  command -v dockerd >/dev/null || { echo "docker-engine: dockerd not installed (apt-get install docker.io)" >&2; exit 1; }
  echo "docker-engine: starting dockerd (log: $log)"
  setsid dockerd >"$log" 2>&1 </dev/null &
fi

for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    docker version --format 'docker-engine: ready, engine {{.Server.Version}} (API {{.Server.APIVersion}})'
    exit 0
  fi
  sleep 1
done
echo "docker-engine: no answer after 60 s; last lines of $log:" >&2
tail -n 30 "$log" >&2 || true
exit 1
