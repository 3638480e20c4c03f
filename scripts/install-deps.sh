#!/usr/bin/env bash
# Installs everything the integration tests need on a fresh Debian 12 (bookworm), as root.
# Idempotent and non-interactive; a run on a machine that already has everything takes seconds.
# It starts no services: the tests start private instances on 127.0.0.1 themselves.
#
#   sudo scripts/install-deps.sh
#
# Environment: MIRROR_S3RVER_HOME (default /opt/mirror-test/s3rver) is where the npm S3 server goes.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 NEEDRESTART_MODE=l

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps.sh: run as root" >&2
  exit 1
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
s3rver_home=${MIRROR_S3RVER_HOME:-/opt/mirror-test/s3rver}
s3rver_version=5.0.0

packages=(
  # services
  postgresql docker-registry
  # real clients and image tooling
  docker.io containerd runc podman buildah skopeo umoci conmon uidmap busybox-static
  # load tools and a reverse proxy for benchmarks
  hey wrk apache2-utils nginx-light
  # Go toolchain and the libraries the token-server / helpers use
  golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev
  # plumbing used by the fixtures: runuser/mount/umount (util-linux), ps/kill (procps)
  curl jq ca-certificates util-linux procps
)

# Only ask apt for what dpkg says is missing (dpkg-query is fast; apt-get update is not).
missing=()
for p in "${packages[@]}"; do
  if [[ $(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null) != installed ]]; then
    missing+=("$p")
  fi
done
# Node.js may come from Debian (nodejs + npm) or from elsewhere with npm bundled: check the commands.
if ! command -v node >/dev/null 2>&1; then missing+=(nodejs); fi
if ! command -v npm >/dev/null 2>&1; then missing+=(npm); fi

if ((${#missing[@]})); then
  echo "install-deps.sh: installing ${missing[*]}"
  apt-get update -q
  # docker.io's and postgresql's maintainer scripts try to start services; on a machine without
  # systemd (containers, CI) that fails or is unwanted, so forbid it for the duration.
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    created_policy=1
  fi
  trap 'if [[ $created_policy == 1 ]]; then rm -f "$policy"; fi' EXIT
  # With recommends, as on the machines where the fixtures were seen to work (podman's and docker.io's
  # recommends include the runtime helpers they expect). needrestart, one of them, must not prompt.
  apt-get install -y -q \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
fi

# The S3-compatible server (MinIO is not packaged): @20minutes/s3rver 5.0.0 with its whole dependency
# tree pinned by scripts/s3rver/package-lock.json. Reinstalled only when the lock file changes.
installed_version=$(jq -r .version "$s3rver_home/node_modules/@20minutes/s3rver/package.json" 2>/dev/null || true)
if [[ $installed_version != "$s3rver_version" ]] || ! cmp -s "$here/s3rver/package-lock.json" "$s3rver_home/package-lock.json"; then
  echo "install-deps.sh: installing @20minutes/s3rver@$s3rver_version into $s3rver_home"
  mkdir -p "$s3rver_home"
  install -m 644 "$here/s3rver/package.json" "$here/s3rver/package-lock.json" "$s3rver_home/"
  # It declares node >= 24 but runs on Debian 12's node 18 and on node 20 (start.js supplies the one
  # missing Array method), so engines must not fail the install.
  (cd "$s3rver_home" && npm ci --omit=dev --no-audit --no-fund --engine-strict=false --loglevel=error)
fi
# The start script (SigV4 canonical-URI fix, AbortMultipartUpload, node 18 support: see the file).
install -m 644 "$here/s3rver/start.js" "$s3rver_home/start.js"

echo "install-deps.sh: all dependencies present"
