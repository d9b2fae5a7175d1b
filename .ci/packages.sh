#!/usr/bin/env bash
# Installs the Debian packages the test suites need, only when something is missing, so a
# machine that already has them (or has no network to Debian) is left alone.
set -euo pipefail

declare -A wanted=(
  [dockerd]=docker.io        # image and cluster tests need an engine
  [debootstrap]=debootstrap  # .ci/base-image.sh builds the stand-in node base
  [iptables]=iptables        # the cluster e2e emulates ClusterIP VIPs with DNAT rules
  [chromium]=chromium        # browser test (playwright-core drives /usr/bin/chromium)
)
missing=()
for cmd in "${!wanted[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$cmd" >/dev/null 2>&1 ||
    missing+=("${wanted[$cmd]}")
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "packages: all present"
  exit 0
fi

echo "packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1  # no interactive prompts or restart scans
apt_opts=(-q -o DPkg::Lock::Timeout=300)
apt-get "${apt_opts[@]}" update
apt-get "${apt_opts[@]}" install -y --no-install-recommends "${missing[@]}"
