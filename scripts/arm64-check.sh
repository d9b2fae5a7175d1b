#!/usr/bin/env bash
# Builds both images for linux/arm64 on an amd64 machine and starts them under emulation: the check that the
# Dockerfiles cross-build (build stage native, runtime stage for the target) where there is no buildx and no
# registry, as on this project's CI machines. Prints each check and how long each part took.
#
# As root on Debian (bookworm). It:
#   - installs qemu-user-static, binfmt-support and debootstrap if they are missing;
#   - registers qemu for aarch64 with the kernel's binfmt_misc if it is not (mounting binfmt_misc first where
#     nothing has): this changes the machine, and stays after the script (Docker Desktop does the same);
#   - builds the arm64 stand-in base with `.ci/base-image.sh --arch arm64`, and the native one if missing
#     (both are kept for the next run);
#   - builds Dockerfile.payment and Dockerfile.order with the legacy builder: the build stage FROM the native
#     base, the runtime stage FROM the arm64 one;
#   - runs payment and order on a Docker network of its own, ports on loopback only, and checks the image
#     architecture, `uname -m`, GET /, /readyz and an order -> payment call through PAYMENT_SERVICE_HOST;
#   - removes its containers, network and image tags at the end (--keep keeps the two images).
#
# Usage: scripts/arm64-check.sh [--keep]     Exit status: 0 passed, 1 failed, 3 cannot emulate arm64 here.
# Environment: NODE_IMAGE (snackbar/node-base:24, the native base), ARM64_NODE_IMAGE ($NODE_IMAGE-arm64),
#   READY_TIMEOUT (180 s per container).
set -euo pipefail

keep=false
for arg in "$@"; do
  case "$arg" in
    --keep) keep=true ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "unknown option: $arg (see --help)" >&2; exit 2 ;;
  esac
done

cd "$(dirname "$0")/.."
native_base="${NODE_IMAGE:-snackbar/node-base:24}"
arm64_base="${ARM64_NODE_IMAGE:-$native_base-arm64}"
ready_timeout="${READY_TIMEOUT:-180}"
run_id="$(date +%s)-$$"
prefix=snackbar-arm64check
network="$prefix-$run_id"
work="$(mktemp -d /var/tmp/arm64-check.XXXXXX)"

say() { printf 'arm64-check: %s\n' "$*"; }
die() { say "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root: it installs packages and registers qemu with binfmt_misc"
[ "$(dpkg --print-architecture)" = amd64 ] ||
  die "this machine is $(dpkg --print-architecture), not amd64: build for it natively with docker build"

now() { date +%s.%N; }
timings=()
# Records "label: N.N s" from a start time taken with now().
took() { timings+=("$(awk -v label="$1:" -v from="$2" -v to="$(now)" 'BEGIN { printf "%-40s %6.1f s", label, to - from }')"); }

checks=0 failures=0
check() { # NAME EXPECTED ACTUAL
  checks=$((checks + 1))
  if [ "$2" = "$3" ]; then
    say "PASS  $1: $3"
  else
    failures=$((failures + 1))
    say "FAIL  $1: wanted '$2', got '$3'"
  fi
}
check_prefix() { # NAME PREFIX ACTUAL
  checks=$((checks + 1))
  if [[ "$3" == "$2"* ]]; then
    say "PASS  $1: $3"
  else
    failures=$((failures + 1))
    say "FAIL  $1: wanted a line starting '$2', got '$3'"
  fi
}

containers=()
tags=()
before_ids="$work/image-ids-before"
cleanup() {
  set +e
  [ "${#containers[@]}" -eq 0 ] || docker rm -f "${containers[@]}" >/dev/null 2>&1
  docker network rm "$network" >/dev/null 2>&1
  if ! $keep && [ "${#tags[@]}" -gt 0 ]; then docker rmi "${tags[@]}" >/dev/null 2>&1; fi
  # The legacy builder leaves each build stage's last image dangling (--keep or not). Only ids this run printed
  # and that did not exist before it are ours to remove.
  if [ -s "$before_ids" ]; then
    dangling="$(docker image ls -q --no-trunc --filter dangling=true)"
    sed -n 's/^ ---> \([0-9a-f]\{12\}\)$/\1/p' "$work"/build-*.log 2>/dev/null | sort -u |
      while read -r id; do
        full="$(grep -m1 "sha256:$id" <<<"$dangling")" || continue
        grep -qx "$full" "$before_ids" || docker rmi "$full" >/dev/null 2>&1
      done
  fi
  rm -rf "$work"
}
trap cleanup EXIT

total_start="$(now)"

# --- what emulation needs -------------------------------------------------------------------------------------
missing=()
command -v qemu-aarch64-static >/dev/null || missing+=(qemu-user-static)
PATH="$PATH:/usr/sbin:/sbin" command -v update-binfmts >/dev/null || missing+=(binfmt-support)
PATH="$PATH:/usr/sbin:/sbin" command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get -q -o DPkg::Lock::Timeout=300 update &&
    apt-get -q -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "${missing[@]}"; } >"$work/apt.log" 2>&1 ||
    { tail -n 20 "$work/apt.log" >&2; die "could not install ${missing[*]}"; }
fi

# Exit status 3: this machine cannot emulate arm64 (no binfmt_misc, say, in an unprivileged container), which
# says nothing about the images; .ci/run reports it as skipped rather than failed.
cannot_emulate() { say "cannot emulate arm64 here: $*" >&2; exit 3; }
binfmt=/proc/sys/fs/binfmt_misc
if [ ! -e "$binfmt/status" ]; then
  say "mounting binfmt_misc at $binfmt"
  mount -t binfmt_misc binfmt_misc "$binfmt" 2>/dev/null || cannot_emulate "binfmt_misc cannot be mounted"
fi
if ! grep -qx enabled "$binfmt/qemu-aarch64" 2>/dev/null; then
  say "registering qemu-aarch64 with binfmt_misc"
  PATH="$PATH:/usr/sbin:/sbin" update-binfmts --enable qemu-aarch64 || cannot_emulate "update-binfmts failed"
fi
# F (fix-binary): the kernel opens qemu when it is registered, so containers need no qemu of their own.
grep -q '^flags:.*F' "$binfmt/qemu-aarch64" ||
  cannot_emulate "qemu-aarch64 is registered without the F flag, so it would not run inside containers"

bash .ci/docker-engine.sh >/dev/null
docker image ls -aq --no-trunc >"$before_ids"

# --- base images ----------------------------------------------------------------------------------------------
for base in "$native_base:amd64" "$arm64_base:arm64"; do
  image="${base%:*}" arch="${base##*:}"
  if docker image inspect "$image" >/dev/null 2>&1; then
    say "base $image: present"
  else
    start="$(now)"
    say "base $image: building (debootstrap; for arm64 its second stage runs under qemu)"
    bash .ci/base-image.sh --arch "$arch" "$image" >"$work/base-$arch.log" 2>&1 ||
      { tail -n 20 "$work/base-$arch.log" >&2; die "base image $image did not build"; }
    took "base image $arch" "$start"
  fi
done
check "arm64 base platform" linux/arm64 "$(docker image inspect "$arm64_base" --format '{{.Os}}/{{.Architecture}}')"

# --- images ---------------------------------------------------------------------------------------------------
version="$(node -p "require('./package.json').version")"
revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
for service in payment order; do
  tag="$prefix/$service:$run_id"
  start="$(now)"
  say "building $tag"
  # The legacy builder, explicitly: with buildx installed, docker build would use BuildKit, which resolves
  # every FROM for one target platform and would not take the two single-platform local bases.
  # No --platform: engine 20.10's legacy builder applies it to every stage, and its COPY then refuses the
  # build stage ("does not match the specified platform"); without it, each stage runs as its base image's
  # architecture, which is what `FROM --platform=$BUILDPLATFORM` asks for.
  DOCKER_BUILDKIT=0 docker build -f "Dockerfile.$service" \
    --build-arg NODE_IMAGE="$arm64_base" --build-arg BUILD_NODE_IMAGE="$native_base" \
    --build-arg VERSION="$version" --build-arg REVISION="$revision" \
    -t "$tag" . >"$work/build-$service.log" 2>&1 ||
    { tail -n 30 "$work/build-$service.log" >&2; die "$tag did not build"; }
  tags+=("$tag")
  took "build $service (arm64)" "$start"
  check "$service image platform" linux/arm64 "$(docker image inspect "$tag" --format '{{.Os}}/{{.Architecture}}')"
done

# --- run under emulation --------------------------------------------------------------------------------------
docker network create "$network" >/dev/null

# No --memory 64m here: under emulation qemu's own memory (its cache of translated code) counts against the
# container's limit, and a 64m container is OOM-killed before it is ready. Not a property of the image.
start_pod() { # SERVICE [docker run options...]
  local service="$1"
  shift
  docker run -d --name "$prefix-$service-$run_id" --hostname "$service-arm64" --network "$network" \
    --platform linux/arm64 --read-only --tmpfs /tmp -p 127.0.0.1::8080 "$@" "$prefix/$service:$run_id" >/dev/null
  containers+=("$prefix-$service-$run_id")
}
host_port() { docker port "$prefix-$1-$run_id" 8080/tcp | head -n1 | sed 's/.*://'; }
wait_ready() { # SERVICE: polls from the host, as a readiness probe would, and records the time to ready
  local service="$1" start port deadline
  start="$(now)"
  port="$(host_port "$service")"
  deadline=$((SECONDS + ready_timeout))
  until curl -sf -o /dev/null "127.0.0.1:$port/readyz"; do
    if [ "$(docker inspect -f '{{.State.Running}}' "$prefix-$service-$run_id")" != true ] || [ $SECONDS -ge $deadline ]; then
      docker logs "$prefix-$service-$run_id" 2>&1 | tail -n 20 >&2
      die "$service did not become ready"
    fi
    sleep 0.1
  done
  took "$service start to ready (emulated)" "$start"
}

start_pod payment --network-alias payment
wait_ready payment
start_pod order -e PAYMENT_SERVICE_HOST=payment -e PAYMENT_SERVICE_PORT=8080 -e UPSTREAM_PAYMENT_PORT=8080
wait_ready order

for service in payment order; do
  port="$(host_port "$service")"
  check "$service uname -m" aarch64 "$(docker exec "$prefix-$service-$run_id" uname -m)"
  check "$service node process.arch" arm64 "$(docker exec "$prefix-$service-$run_id" node -p process.arch)"
  check "$service GET /readyz" "200 ok" "$(curl -s -w '%{http_code}' -o "$work/body" "127.0.0.1:$port/readyz") $(cat "$work/body")"
  check_prefix "$service GET /" "$service $version pod=$service-arm64 " "$(curl -s "127.0.0.1:$port/")"
  # The code cache was written under emulation by the target's V8: the real start must take it (build/README.md).
  check "$service code cache taken" 0 "$(docker logs "$prefix-$service-$run_id" 2>&1 | grep -c 'code cache')"
done
check_prefix "order GET /payment (via PAYMENT_SERVICE_HOST)" "payment pod=payment-arm64 " \
  "$(curl -s "127.0.0.1:$(host_port order)/payment")"

took "total" "$total_start"
say "timings (this machine: $(nproc) cores):"
printf '  %s\n' "${timings[@]}"
if [ "$failures" -gt 0 ]; then
  die "$failures of $checks checks failed"
fi
say "all $checks checks passed"
if $keep; then say "kept: ${tags[*]}"; fi
