#!/usr/bin/env bash
# `make bench`, verifier part (issue 17):
#   - the customer's verifier alone (ci/benchverify/verifyonly: attest and
#     its policy, keys, envelopes, bundles and log proofs) as a binary: its
#     size and the modules it is built from (targets: <= 16 MB, <= 20
#     modules; with cosign and sigstore-go it was 29.4 MB from 94);
#   - `reprove verify` of gofmt (3.1 MB) against four attestations, paired
#     with sha256sum of the same file (target: at most sha256sum + 15 ms),
#     and what reprove's package initialisers cost at start-up.
# Exits non-zero when a target is missed. BENCH_RUNS sets the paired runs.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o bin/reprove ./cmd/reprove
go build -o "$tmp/verify-only" ./ci/benchverify/verifyonly
status=0
size=$(stat -c %s "$tmp/verify-only")
mods=$(go version -m "$tmp/verify-only" | awk '$1 == "dep"' | wc -l)
verdict=ok
if [ "$size" -gt 16000000 ] || [ "$mods" -gt 20 ]; then verdict="MISSED (targets: <= 16 MB, <= 20 modules)"; status=1; fi
printf 'verify-only binary: %.1f MB, %d modules besides reprove (%s): %s\n' "$(awk "BEGIN { print $size / 1e6 }")" "$mods" \
	"$(go version -m "$tmp/verify-only" | awk '$1 == "dep" { printf "%s%s", sep, $2; sep = ", " }')" "$verdict"
printf 'reprove binary: %.1f MB, %d modules\n' "$(awk "BEGIN { print $(stat -c %s bin/reprove) / 1e6 }")" "$(go version -m bin/reprove | awk '$1 == "dep"' | wc -l)"
go run ./ci/benchverify -reprove bin/reprove -verify-only "$tmp/verify-only" -runs "${BENCH_RUNS:-40}" || status=1
exit $status
