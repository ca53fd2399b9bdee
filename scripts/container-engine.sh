#!/usr/bin/env bash
# A real container engine and a local image registry for deploy-loop's container builders
# (build.kind: podman | docker), the local target's container runtime and the container tests.
# Nothing here reaches Docker Hub: the base image is made from the node binary that runs the project.
#
#   scripts/container-engine.sh install   # apt packages: podman, runc, docker-registry (needs root)
#   scripts/container-engine.sh start     # engine config, base image, registry; prints env lines
#   scripts/container-engine.sh status    # what is running; exit 0 only when ready
#   scripts/container-engine.sh stop      # registry stopped, deploy-loop containers removed (images kept)
#   scripts/container-engine.sh clean     # stop, then remove the state folder (images, registry data)
#
# Use it in a shell:   eval "$(scripts/container-engine.sh start)"
# or later:            set -a; . /tmp/deploy-loop-engine/env; set +a
#
# Every step is idempotent. Environment:
#   DEPLOY_LOOP_ENGINE_DIR     state folder (default /tmp/deploy-loop-engine)
#   DEPLOY_LOOP_ENGINE         podman | docker (default: podman when installed, else a reachable docker)
#   DEPLOY_LOOP_REGISTRY_PORT  registry port on 127.0.0.1 (default: the one used last time, else a free one)
#   DEPLOY_LOOP_NODE           node binary copied into the base image (default: the project's Node 24)
#
# Why podman is run with its own flags and conf (measured on Debian 12 hosts with cgroup v1 "hybrid"):
# crun refuses hybrid cgroups (runc works), root's default ulimits exceed the host's hard limits, and
# storage given through CONTAINERS_STORAGE_CONF makes `run --rm` stall 20 s, so --root/--runroot it is.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE=${DEPLOY_LOOP_ENGINE_DIR:-/tmp/deploy-loop-engine}
BASE_IMAGE=localhost/deploy-loop/node-base:latest
# Containers of the local target's container runtime carry this label; `stop` removes exactly those.
LABEL=io.deploy-loop.revision

say() { printf '%s\n' "container-engine: $*" >&2; }
die() { say "$*"; exit 1; }

case "$STATE" in *[[:space:]]*) die "DEPLOY_LOOP_ENGINE_DIR may not contain spaces: $STATE" ;; esac

podman_cmd() {
  CONTAINERS_CONF="$STATE/containers.conf" podman --root "$STATE/storage" --runroot "$STATE/runroot" "$@"
}

project_node() {
  if [ -n "${DEPLOY_LOOP_NODE:-}" ]; then echo "$DEPLOY_LOOP_NODE"; return; fi
  for n in "$ROOT/node_modules/node/bin/node" "$(command -v node || true)"; do
    if [ -n "$n" ] && [ -x "$n" ]; then readlink -f "$n"; return; fi
  done
  die "no node binary found (run npm ci, or set DEPLOY_LOOP_NODE)"
}

docker_reachable() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

choose_engine() {
  case "${DEPLOY_LOOP_ENGINE:-}" in
    podman|docker) echo "$DEPLOY_LOOP_ENGINE"; return ;;
    '') ;;
    *) die "DEPLOY_LOOP_ENGINE must be podman or docker, not '$DEPLOY_LOOP_ENGINE'" ;;
  esac
  # podman needs no daemon, so it is preferred when installed.
  if command -v podman >/dev/null 2>&1; then echo podman; return; fi
  if docker_reachable; then echo docker; return; fi
  die "no engine: podman is not installed and no Docker engine answers \`docker info\` (run: $0 install)"
}

cmd_install() {
  local want=() started=$SECONDS
  command -v podman >/dev/null 2>&1 || want+=(podman)
  command -v runc >/dev/null 2>&1 || want+=(runc)
  command -v docker-registry >/dev/null 2>&1 || want+=(docker-registry)
  if [ ${#want[@]} -eq 0 ]; then say "podman, runc and docker-registry are installed"; return; fi
  [ "$(id -u)" -eq 0 ] || die "installing ${want[*]} needs root (apt-get)"
  command -v apt-get >/dev/null 2>&1 || die "no apt-get here: install ${want[*]} with this system's package manager"
  say "installing ${want[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${want[@]}" >/dev/null
  say "installed ${want[*]} in $((SECONDS - started)) s"
}

write_containers_conf() {
  mkdir -p "$STATE"
  cat >"$STATE/containers.conf" <<'EOF'
# Written by scripts/container-engine.sh; used through CONTAINERS_CONF, so no global file changes.
[containers]
# The host's hard nofile limit is 20000 and root lacks CAP_SYS_RESOURCE; podman's default is higher.
# nproc above 32768 fails with "error setting rlimit type 6".
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
# crun refuses cgroup v1 "hybrid" hosts; runc works.
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
}

# Base image: the node binary and the shared libraries it links, nothing else (no shell, no apt).
# Rebuilt only when the node binary changes.
make_base_image() {
  local engine=$1 node stamp current rootfs quiet
  node=$(project_node)
  stamp=$(sha256sum "$node" | cut -c1-16)
  current=$(engine_cmd "$engine" image inspect --format '{{index .Config.Labels "io.deploy-loop.node"}}' "$BASE_IMAGE" 2>/dev/null || true)
  if [ "$current" = "$stamp" ]; then say "base image $BASE_IMAGE is up to date"; return; fi
  rootfs="$STATE/rootfs"
  rm -rf "$rootfs"
  mkdir -p "$rootfs/usr/local/bin" "$rootfs/tmp" "$rootfs/etc" "$rootfs/app"
  chmod 1777 "$rootfs/tmp"
  cp -L "$node" "$rootfs/usr/local/bin/node"
  for lib in $(ldd "$node" | grep -oE '/[^ ]+'); do
    mkdir -p "$rootfs$(dirname "$lib")"
    cp -L "$lib" "$rootfs$lib"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
  quiet=()
  [ "$engine" = podman ] && quiet=(--quiet)
  tar -C "$rootfs" -c . | engine_cmd "$engine" import "${quiet[@]}" \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
    --change 'WORKDIR /app' \
    --change 'CMD ["node"]' \
    --change "LABEL io.deploy-loop.node=$stamp" \
    - "$BASE_IMAGE" >/dev/null
  rm -rf "$rootfs"
  say "base image $BASE_IMAGE made from $node ($("$node" --version))"
}

engine_cmd() {
  local engine=$1; shift
  if [ "$engine" = podman ]; then podman_cmd "$@"; else docker "$@"; fi
}

# The registry's pid, only while that pid is still our registry (a pid file can outlive its process
# and the number be reused by another).
registry_pid() {
  local pid
  pid=$(cat "$STATE/registry.pid" 2>/dev/null || true)
  [ -n "$pid" ] || return 0
  if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "docker-registry serve $STATE/registry.yml"; then echo "$pid"; fi
}

registry_answers() { curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$1/v2/" 2>/dev/null; }

free_port() {
  "$(project_node)" -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

start_registry() {
  command -v docker-registry >/dev/null 2>&1 || die "docker-registry is not installed (run: $0 install)"
  local port pid
  port=${DEPLOY_LOOP_REGISTRY_PORT:-$(sed -n 's/^DEPLOY_LOOP_REGISTRY=127.0.0.1://p' "$STATE/env" 2>/dev/null || true)}
  pid=$(registry_pid)
  if [ -n "$pid" ] && [ -n "$port" ] && registry_answers "$port"; then
    say "registry already running on 127.0.0.1:$port (pid $pid)"
    REGISTRY_PORT=$port; return
  fi
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  if [ -z "$port" ] || ! "$(project_node)" -e 'require("net").createServer().listen(+process.argv[1],"127.0.0.1",function(){this.close()}).on("error",()=>process.exit(1))' "$port"; then
    port=$(free_port)
  fi
  mkdir -p "$STATE/registry"
  cat >"$STATE/registry.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $STATE/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
EOF
  # fd 9 is the state lock: the registry must not inherit it.
  setsid docker-registry serve "$STATE/registry.yml" >"$STATE/registry.log" 2>&1 </dev/null 9>&- &
  echo $! >"$STATE/registry.pid"
  for _ in $(seq 1 50); do
    registry_answers "$port" && { REGISTRY_PORT=$port; say "registry listening on 127.0.0.1:$port"; return; }
    kill -0 "$(cat "$STATE/registry.pid")" 2>/dev/null || break
    sleep 0.1
  done
  tail -n 20 "$STATE/registry.log" >&2 || true
  die "the registry did not answer on 127.0.0.1:$port"
}

cmd_start() {
  local started engine
  started=$(date +%s%N)
  engine=$(choose_engine)
  mkdir -p "$STATE"
  if [ "$engine" = podman ]; then
    command -v runc >/dev/null 2>&1 || die "runc is not installed (run: $0 install)"
    write_containers_conf
    podman_cmd info >/dev/null 2>"$STATE/podman-info.err" || { cat "$STATE/podman-info.err" >&2; die "podman does not work here"; }
  else
    docker_reachable || die "DEPLOY_LOOP_ENGINE=docker, but \`docker info\` fails"
  fi
  make_base_image "$engine"
  start_registry
  {
    echo "DEPLOY_LOOP_ENGINE=$engine"
    echo "DEPLOY_LOOP_ENGINE_DIR=$STATE"
    [ "$engine" = podman ] && echo "CONTAINERS_CONF=$STATE/containers.conf"
    echo "DEPLOY_LOOP_REGISTRY=127.0.0.1:$REGISTRY_PORT"
  } >"$STATE/env.tmp"
  mv "$STATE/env.tmp" "$STATE/env"
  say "ready in $(( ($(date +%s%N) - started) / 1000000 )) ms; env in $STATE/env"
  cat "$STATE/env"
}

cmd_status() {
  local ok=0 engine port
  [ -f "$STATE/env" ] || { say "not started (no $STATE/env)"; return 1; }
  engine=$(sed -n 's/^DEPLOY_LOOP_ENGINE=//p' "$STATE/env")
  port=$(sed -n 's/^DEPLOY_LOOP_REGISTRY=127.0.0.1://p' "$STATE/env")
  if engine_cmd "$engine" image inspect "$BASE_IMAGE" >/dev/null 2>&1; then say "$engine works; base image present"
  else say "$engine: base image missing or engine not working"; ok=1; fi
  if registry_answers "$port"; then say "registry answers on 127.0.0.1:$port"; else say "registry not answering on 127.0.0.1:$port"; ok=1; fi
  say "$(engine_cmd "$engine" ps -a --filter "label=$LABEL" --format '{{.Names}}' 2>/dev/null | wc -l) deploy-loop container(s)"
  [ $ok -eq 0 ] && cat "$STATE/env"
  return $ok
}

cmd_stop() {
  local engine pid ids
  engine=$(sed -n 's/^DEPLOY_LOOP_ENGINE=//p' "$STATE/env" 2>/dev/null || true)
  if [ -n "$engine" ]; then
    ids=$(engine_cmd "$engine" ps -aq --filter "label=$LABEL" 2>/dev/null || true)
    # shellcheck disable=SC2086 # ids is a list of container ids
    [ -n "$ids" ] && engine_cmd "$engine" rm -f -t 2 $ids >/dev/null 2>&1 || true
  fi
  pid=$(registry_pid)
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$STATE/registry.pid"
  say "stopped (containers labelled $LABEL removed, registry stopped; images kept in $STATE)"
}

cmd_clean() {
  cmd_stop
  if [ -d "$STATE/storage" ] && command -v podman >/dev/null 2>&1; then
    # Not `system reset`: that also deletes the machine's podman network configs.
    podman_cmd rm -af -t 0 >/dev/null 2>&1 || true
    podman_cmd rmi -af >/dev/null 2>&1 || true
  fi
  # Anything still mounted under the state folder (layers of a container podman lost track of).
  grep -oE " $STATE/[^ ]+" /proc/mounts 2>/dev/null | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$STATE"
  say "removed $STATE"
}

# start, stop and clean take a lock, so test files or shells that start the engine at once do not
# race (two registries, a half-made base image).
lock_state() {
  mkdir -p "$STATE"
  exec 9>"$STATE/.lock"
  flock -w 300 9 || die "timed out waiting for $STATE/.lock"
}

case "${1:-}" in
  install) cmd_install ;;
  start) lock_state; cmd_start ;;
  status) cmd_status ;;
  stop) lock_state; cmd_stop ;;
  clean) lock_state; cmd_clean ;;
  *) echo "usage: $0 install | start | status | stop | clean" >&2; exit 2 ;;
esac
