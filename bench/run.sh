#!/usr/bin/env bash
# Builds the solution in Release and runs the benchmark (3 min 51 s, build included, on 2 cores; see docs/benchmarks.md).
# Arguments go to Mirror.Bench: [--layer-mib N] [--herd-mib N] [--wrk-seconds N] [--systems limit,peer,embedded,cluster].
# Needs the packages of scripts/install-deps.sh (docker-registry, nginx-light, wrk, curl, PostgreSQL, the S3 server).
set -euo pipefail
cd "$(dirname "$0")/.."
export MIRROR_TEST_ROOT="${MIRROR_TEST_ROOT:-/tmp/mirror-bench}"
dotnet build Mirror.sln -c Release -nologo -v quiet
exec dotnet bench/Mirror.Bench/bin/Release/net10.0/Mirror.Bench.dll "$@"
