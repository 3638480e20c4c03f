#!/usr/bin/env bash
# The whole test suite, as README.md documents it: installs what it needs (apt, npm), builds with warnings as
# errors, runs the unit tests, the integration tests (which start PostgreSQL, an S3 server, upstream registries,
# dockerd, containerd, podman and skopeo themselves, on 127.0.0.1) and the Helm chart checks.
#
#   sudo scripts/test.sh            # everything
#   sudo scripts/test.sh --filter X # only integration tests whose name contains X (dotnet test --filter)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

filter=()
if [[ ${1:-} == --filter ]]; then filter=(--filter "$2"); fi

bash scripts/install-deps.sh

# Test processes write here; PostgreSQL runs as its own user and must be able to reach it.
export MIRROR_TEST_ROOT=${MIRROR_TEST_ROOT:-/tmp/mirror-tests}
rm -rf "$MIRROR_TEST_ROOT"
mkdir -p "$MIRROR_TEST_ROOT"
chmod 755 "$MIRROR_TEST_ROOT"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

dotnet build Mirror.sln -c Release -nologo -clp:ErrorsOnly

results=$(mktemp -d)
status=0
run() {
  local name=$1; shift
  set +e
  dotnet test "$@" -c Release --no-build -nologo 2>&1 | tee "$results/$name.log"
  local rc=${PIPESTATUS[0]}
  set -e
  [[ $rc -eq 0 ]] || status=1
}
run unit tests/Mirror.UnitTests
run integration tests/Mirror.IntegrationTests "${filter[@]}"

set +e
bash scripts/test-helm.sh 2>&1 | tee "$results/helm.log"
helm_rc=${PIPESTATUS[0]}
set -e
[[ $helm_rc -eq 0 ]] || status=1

# One closing line for the whole run, summed over the test runners.
passed=0; failed=0; skipped=0
for log in "$results"/unit.log "$results"/integration.log; do
  while read -r f p s; do
    failed=$((failed + f)); passed=$((passed + p)); skipped=$((skipped + s))
  done < <(sed -nE 's/.*Failed: *([0-9]+), Passed: *([0-9]+), Skipped: *([0-9]+).*/\1 \2 \3/p' "$log")
  grep -qE 'Failed: *[0-9]+, Passed' "$log" || { echo "no test summary in $(basename "$log")" >&2; status=1; }
done
# The chart checker runs rendering cases, each with many assertions; each case counts as one test here.
helm_cases=$(grep -c '^case:' "$results/helm.log" || true)
if [[ $helm_rc -eq 0 && $helm_cases -gt 0 ]]; then passed=$((passed + helm_cases)); else failed=$((failed + 1)); fi
rm -rf "$results"
if [[ $skipped -gt 0 ]]; then
  echo "tests: $passed passed, $failed failed, $skipped skipped"
else
  echo "tests: $passed passed, $failed failed"
fi
exit $status
