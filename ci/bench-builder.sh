#!/usr/bin/env bash
# `make bench`, builder part: a reprove rebuild against a native go build of
# the same source and toolchain (see ci/benchbuilder). Target ratio <= 1.10.
set -euo pipefail
cd "$(dirname "$0")/.."
go build -o bin/reprove ./cmd/reprove
exec go run ./ci/benchbuilder -runs "${BENCH_RUNS:-5}"
