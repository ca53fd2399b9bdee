#!/usr/bin/env bash
# CI: a real container engine and local registry for the container tests (test/integration/container-*).
# Installs what is missing and starts it with scripts/container-engine.sh. On success it prints the
# engine's env lines on stdout, for the caller to export:
#
#   container_env=$(bash scripts/ci-containers.sh) && { set -a; eval "$container_env"; set +a; }
#
# It always exits 0: a machine where no engine can run still runs the rest of the suite, and this
# says plainly (on stderr) that the container tests will be skipped and why.
set -uo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
log=$(mktemp)
trap 'rm -f "$log"' EXIT

skip() {
  echo "ci-containers: $1" >&2
  tail -n 15 "$log" | sed 's/^/ci-containers:   /' >&2
  echo "ci-containers: the container tests will be SKIPPED on this machine" >&2
  exit 0
}

bash scripts/container-engine.sh install >"$log" 2>&1 || skip "could not install podman, runc and docker-registry"
sed 's/^/ci-containers: /' "$log" >&2
env_lines=$(bash scripts/container-engine.sh start 2>"$log") || skip "could not start the engine and registry"
sed 's/^/ci-containers: /' "$log" >&2
echo "ci-containers: engine and registry ready in $((SECONDS - started)) s; container tests will run" >&2
printf '%s\n' "$env_lines"
