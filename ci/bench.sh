#!/usr/bin/env bash
# `make bench`: runs every ci/bench-*.sh in turn. Each measures reprove
# against a peer in the same run and prints the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for b in ci/bench-*.sh; do
	[ -e "$b" ] || continue
	echo "== $b"
	bash "$b" || status=1
done
exit $status
