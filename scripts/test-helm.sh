#!/usr/bin/env bash
# Renders the Helm chart without a helm binary and checks every manifest.
#
# Builds tests/helm (a Go program: text/template + Sprig + the Helm functions
# the chart uses) in GOPATH mode against Debian's packaged Go libraries, then
# runs its case table (tests/helm/cases.go). Needs only these Debian packages:
#   golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev
# (scripts/install-deps.sh installs them). No network is used.
#
# Usage: scripts/test-helm.sh [-v]            run the suite (-v: list passing checks)
#        scripts/test-helm.sh template [...]  print manifests like "helm template"
# Last line of the suite: "helm: N passed, M failed"; exit status 0 only when M = 0.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
gocode="${MIRROR_GOCODE:-/usr/share/gocode}"

if ! command -v go >/dev/null 2>&1; then
  echo "test-helm: 'go' not found; install golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev" >&2
  echo "helm: 0 passed, 1 failed"
  exit 1
fi
for pkg in github.com/Masterminds/sprig gopkg.in/yaml.v3 github.com/Masterminds/semver; do
  if [ ! -d "$gocode/src/$pkg" ]; then
    echo "test-helm: $gocode/src/$pkg is missing; install golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev" >&2
    echo "helm: 0 passed, 1 failed"
    exit 1
  fi
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Reuse the Go build cache between runs when there is a home to keep it in.
cache="$work/gocache"
if [ -n "${XDG_CACHE_HOME:-}" ] || [ -n "${HOME:-}" ]; then
  cache="${XDG_CACHE_HOME:-$HOME/.cache}/mirror-helmcheck-go"
  mkdir -p "$cache" 2>/dev/null || cache="$work/gocache"
fi

# GOPATH mode: imports resolve from Debian's /usr/share/gocode/src; no module proxy.
export GO111MODULE=off GOPATH="$gocode" GOCACHE="$cache" GOFLAGS= CGO_ENABLED=0
unset GOROOT_FINAL || true

if ! (cd "$root/tests/helm" && go build -o "$work/helmcheck" .); then
  echo "test-helm: building tests/helm failed" >&2
  echo "helm: 0 passed, 1 failed"
  exit 1
fi

if [ "${1:-}" = "template" ]; then
  shift
  exec "$work/helmcheck" template -root "$root" "$@"
fi

unformatted="$(cd "$root/tests/helm" && gofmt -l . || true)"
if [ -n "$unformatted" ]; then
  echo "test-helm: gofmt needed: $unformatted" >&2
fi

"$work/helmcheck" suite -root "$root" "$@"
