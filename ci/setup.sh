#!/usr/bin/env bash
# Installs what reprove needs on a Debian machine, idempotently: the
# container runtime (containerd + runc, started privately by reprove itself),
# mmdebstrap for reproducible Debian base images, git for git sources, and the
# tools the tests use as peers. Safe to run again: it installs only what is
# missing. Needs root (or sudo) for apt-get.
set -euo pipefail

packages=(containerd runc mmdebstrap git ca-certificates osslsigncode bzip2)
if [ "${1:-}" = "--test" ]; then
	# Peers for tests: attest's interop tests run the real cosign CLI (built
	# from the Go module proxy below, after Go is found); compare's benchmark
	# adds diffoscope through --bench.
	:
fi
if [ "${1:-}" = "--bench" ]; then
	# diffoscope, and the tools it runs on zips and ELF binaries (without
	# recommends it would fall back to hex dumps and lose to nobody).
	packages+=(diffoscope unzip binutils time)
fi

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -gt 0 ]; then
	sudo=""
	if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
	echo "ci/setup.sh: installing ${missing[*]}" >&2
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v go >/dev/null 2>&1; then
	if [ -x /usr/local/go/bin/go ]; then
		echo "ci/setup.sh: Go is at /usr/local/go/bin; add it to PATH" >&2
	else
		echo "ci/setup.sh: Go is not installed (need Go 1.26 or newer at /usr/local/go)" >&2
		exit 1
	fi
fi

if [ "${1:-}" = "--test" ]; then
	# The cosign CLI, pinned, for attest's interop tests. Building it takes
	# minutes cold, so it is installed once into a fixed place and skipped
	# when that exact version is already there.
	cosign_version=v2.6.5
	cosign_bin=/usr/local/bin/cosign
	gobin=$(command -v go || echo /usr/local/go/bin/go)
	if ! "$gobin" version -m "$cosign_bin" 2>/dev/null | grep -Eq "^[[:space:]]+mod[[:space:]]+github.com/sigstore/cosign/v2[[:space:]]+$cosign_version[[:space:]]"; then
		echo "ci/setup.sh: building cosign $cosign_version into $cosign_bin" >&2
		tmp=$(mktemp -d)
		GOBIN="$tmp" GOFLAGS= CGO_ENABLED=0 "$gobin" install "github.com/sigstore/cosign/v2/cmd/cosign@$cosign_version"
		sudo=""
		if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
		$sudo install -m 0755 "$tmp/cosign" "$cosign_bin"
		rm -rf "$tmp"
	fi
fi
