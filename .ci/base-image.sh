#!/usr/bin/env bash
# Builds a local stand-in for node:24-bookworm-slim, because no registry is reachable here.
# It mirrors the official image (nodejs/docker-node 24/bookworm-slim on debian:bookworm-slim):
# Debian minbase + debuerreotype's container and "slim" configs, Node in /usr/local, npm,
# user node 1000:1000, ENTRYPOINT docker-entrypoint.sh, CMD node; no curl, no ca-certificates.
# The one addition: the CI proxy's CA bundle with NODE_EXTRA_CA_CERTS, so `npm ci` in builds works.
# Usage: .ci/base-image.sh [--arch amd64|arm64] [TAG]
#   TAG defaults to $NODE_IMAGE or snackbar/node-base:24, with -ARCH appended for a foreign architecture.
#   Skips if TAG exists. A foreign --arch (arm64 on an amd64 machine) needs qemu-user-static registered
#   with binfmt_misc: scripts/arm64-check.sh sets that up.
set -euo pipefail

native_arch="$(dpkg --print-architecture)"
arch="$native_arch"
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch="${2:?--arch needs amd64 or arm64}"; shift 2 ;;
    --arch=*) arch="${1#--arch=}"; shift ;;
    -*) echo "base-image: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
# Debian's name, the npm package's name, qemu's name: the same machine three ways.
case "$arch" in
  amd64) node_arch=x64 qemu_arch=x86_64 ;;
  arm64) node_arch=arm64 qemu_arch=aarch64 ;;
  *) echo "base-image: --arch $arch: only amd64 and arm64 are supported" >&2; exit 2 ;;
esac
default_tag="${NODE_IMAGE:-snackbar/node-base:24}"
[ "$arch" = "$native_arch" ] || default_tag="$default_tag-$arch"
tag="${1:-$default_tag}"
repo_dir="$(cd "$(dirname "$0")/.." && pwd)"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
ca_bundle="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
ca_in_image=/usr/local/share/snackbar-ci/proxy-ca.crt

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "base-image: $tag already present"
  exit 0
fi

# Same Node as the repo's `node` devDependency, so tests and images run one version.
node_version="${NODE_VERSION:-$(node -p "require('$repo_dir/package-lock.json').packages['node_modules/node']?.version ?? '24'")}"

work="$(mktemp -d /var/tmp/node-base.XXXXXX)"
root="$work/rootfs"
cleanup() {
  # debootstrap mounts proc/sys inside the target; a failed run can leave them behind,
  # and rm -rf must never descend into a live /proc.
  awk -v r="$root" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r | xargs -r -n1 umount -l
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

if [ "$arch" = "$native_arch" ]; then
  echo "base-image: debootstrap bookworm (minbase)"
  debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }
else
  # The kernel hands the target's binaries to qemu; with the F flag it keeps the interpreter open, so it
  # works inside the chroot and, later, inside containers.
  binfmt="/proc/sys/fs/binfmt_misc/qemu-$qemu_arch"
  if ! { grep -qx enabled "$binfmt" && grep -q '^flags:.*F' "$binfmt"; } 2>/dev/null; then
    echo "base-image: $arch binaries cannot run here: $binfmt is not an enabled, fix-binary (F) entry." >&2
    echo "  apt-get install qemu-user-static binfmt-support, then: update-binfmts --enable qemu-$qemu_arch" >&2
    exit 1
  fi
  echo "base-image: debootstrap bookworm (minbase, $arch: second stage under qemu)"
  { debootstrap --variant=minbase --arch "$arch" --foreign bookworm "$root" "$mirror" &&
    chroot "$root" /debootstrap/debootstrap --second-stage; } >"$work/debootstrap.log" 2>&1 ||
    { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }
fi

# --- Debian image conventions (debuerreotype-minimizing-config / -slimify / -fixup) ---
printf '#!/bin/sh\n# no services start during image builds\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
echo 'force-unsafe-io' >"$root/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
apt_clean='"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true";'
conf="$root/etc/apt/apt.conf.d"
cat >"$conf/docker-clean" <<EOF
// Effectively "apt-get clean" after every install/update, so package caches never land in a layer.
DPkg::Post-Invoke { $apt_clean };
APT::Update::Post-Invoke { $apt_clean };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$conf/docker-autoremove-suggests"
echo 'Acquire::GzipIndexes "true";' >"$conf/docker-gzip-indexes"
echo 'Acquire::Languages "none";' >"$conf/docker-no-languages"

# Official bookworm images use deb822 sources with updates and security.
rm -f "$root/etc/apt/sources.list"
cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: ${mirror}
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF

# "slim": docs, man pages and locales are dropped now and excluded from later installs.
excludes=('/usr/share/doc/*' '/usr/share/groff/*' '/usr/share/info/*' '/usr/share/linda/*'
  '/usr/share/lintian/overrides/*' '/usr/share/locale/*' '/usr/share/man/*')
includes=('/usr/share/doc/*/copyright' '/usr/share/locale/locale.alias')
{
  echo '# slim variant: files unnecessary in containers stay excluded'
  printf 'path-exclude %s\n' "${excludes[@]}"
  printf 'path-include %s\n' "${includes[@]}"
} >"$root/etc/dpkg/dpkg.cfg.d/docker"
for pattern in "${excludes[@]}"; do
  dir="$root$(dirname "$pattern")"
  [ -d "$dir" ] || continue
  find "$dir" -depth -mindepth 1 -not -path "$root/usr/share/doc/*/copyright" \
    -not -path "$root/usr/share/locale/locale.alias" -not -type d -delete
  find "$dir" -depth -mindepth 1 -type d -empty -delete
done
rm -f "$root"/var/log/{dpkg,bootstrap,alternatives}.log "$root/var/cache/ldconfig/aux-cache" \
  "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*

# --- nodejs/docker-node conventions ---
chroot "$root" groupadd --gid 1000 node
chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node

echo "base-image: node-linux-$node_arch@$node_version"
(cd "$work" && npm pack --silent "node-linux-$node_arch@$node_version" >/dev/null)
tar -xzf "$work"/node-linux-"$node_arch"-*.tgz -C "$work" package/bin/node
install -D -m 0755 "$work/package/bin/node" "$root/usr/local/bin/node"
ln -s node "$root/usr/local/bin/nodejs"
rm -rf "$root/usr/local/lib/node_modules/npm"
mkdir -p "$root/usr/local/lib/node_modules"
cp -a /usr/lib/node_modules/npm "$root/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
# Same behaviour as the official entrypoint: `docker run IMAGE -e "..."` or `IMAGE app.js` runs node.
cat >"$root/usr/local/bin/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
set -e
if [ "${1#-}" != "${1}" ] || [ -z "$(command -v "${1}")" ] || { [ -f "${1}" ] && ! [ -x "${1}" ]; }; then
  set -- node "$@"
fi
exec "$@"
EOF
chmod 0755 "$root/usr/local/bin/docker-entrypoint.sh"

install -D -m 0644 "$ca_bundle" "$root$ca_in_image"

chroot "$root" /usr/local/bin/node --version >/dev/null
chroot "$root" /usr/local/bin/node /usr/local/bin/npm --version >/dev/null
rm -rf "$root"/tmp/* "$root/root/.npm"   # the smoke tests leave a compile cache and npm logs

# docker load, not docker import: engine 20.10 ignores `import --platform` unless it runs experimental and
# labels every import with its own architecture, so an arm64 root would claim to be amd64 and
# `docker build --platform linux/arm64` would refuse it. docker load takes the image config as written.
echo "base-image: loading $tag (linux/$arch)"
image="$work/image"
mkdir -p "$image/rootfs"
tar -C "$root" --numeric-owner \
  --exclude='./proc/*' --exclude='./sys/*' --exclude='./dev/*' --exclude='./run/mount/utab' \
  -cf "$image/rootfs/layer.tar" .
diff_id="sha256:$(sha256sum "$image/rootfs/layer.tar" | cut -d' ' -f1)"
created="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
variant=""
[ "$arch" != arm64 ] || variant='"variant":"v8",'   # as the official arm64 images say
cat >"$image/config.json" <<EOF
{"architecture":"$arch",$variant"os":"linux","created":"$created",
 "config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
   "NODE_VERSION=$node_version","NODE_EXTRA_CA_CERTS=$ca_in_image"],
   "Entrypoint":["docker-entrypoint.sh"],"Cmd":["node"]},
 "rootfs":{"type":"layers","diff_ids":["$diff_id"]},
 "history":[{"created":"$created","comment":"stand-in for node:24-bookworm-slim (Node $node_version)"}]}
EOF
printf '[{"Config":"config.json","RepoTags":["%s"],"Layers":["rootfs/layer.tar"]}]\n' "$tag" >"$image/manifest.json"
tar -C "$image" -c manifest.json config.json rootfs/layer.tar | docker load >/dev/null
docker image inspect "$tag" --format "base-image: $tag is {{.Os}}/{{.Architecture}}{{with .Variant}}/{{.}}{{end}}"
docker image ls "$tag"
