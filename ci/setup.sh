#!/usr/bin/env bash
# Installs what reprove needs on a Debian machine, idempotently: the
# container runtime (containerd + runc, started privately by reprove itself),
# mmdebstrap for reproducible Debian base images, git for git sources,
# e2fsprogs (mkfs.ext4) for each build's size-limited disk, and the tools the
# tests use as peers. Safe to run again: it installs only what is
# missing. Needs root (or sudo) for apt-get.
set -euo pipefail

packages=(containerd runc mmdebstrap debian-archive-keyring git e2fsprogs ca-certificates osslsigncode bzip2)
if [ "${1:-}" = "--test" ]; then
	# Real parts for tests: PostgreSQL (the centre's tests start a private
	# cluster with initdb + pg_ctl as a non-root user) and Chromium (page
	# tests drive it headless through chromedp). attest's interop tests run
	# the real cosign CLIs, built from the Go module proxy below; compare's
	# benchmark adds diffoscope through --bench. bash-completion and fish run
	# reprove's completion scripts as a user's shell would. gcc and
	# mingw-w64 build the small C programs compare's tests explain
	# (stripped, PIE, -O2; and Windows x64), as the native code of real
	# packages is built. OpenSSH's client tools hold each test witness's key
	# (litewitness signs through an ssh-agent).
	packages+=(postgresql chromium fonts-dejavu-core bash-completion fish gcc libc6-dev gcc-mingw-w64-x86-64-posix openssh-client)
fi
if [ "${1:-}" = "--bench" ]; then
	# diffoscope, and those of its recommended tools and Python modules it
	# uses on the benchmark's inputs (zips, tarballs, .debs, ELF binaries,
	# JSON): without them it would fall back to hex dumps and lose to nobody.
	# Its other recommends (Java, Haskell, R, Mono, image and PDF tools)
	# read file types these pairs do not hold.
	packages+=(diffoscope unzip binutils binutils-multiarch xxd xz-utils zstd python3-debian python3-tlsh python3-jsondiff python3-defusedxml time)
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

# go_tool MODULE VERSION PACKAGE DEST: installs a pinned Go program into
# DEST, once. It is skipped when DEST's build info already names exactly that
# module at that version, so a second run costs a `go version -m`.
go_tool() {
	local mod=$1 version=$2 pkg=$3 dest=$4
	local gobin
	gobin=$(command -v go || echo /usr/local/go/bin/go)
	if "$gobin" version -m "$dest" 2>/dev/null | grep -Eq "^[[:space:]]+mod[[:space:]]+$mod[[:space:]]+$version[[:space:]]"; then
		return 0
	fi
	echo "ci/setup.sh: building $pkg@$version into $dest" >&2
	local tmp start
	start=$(date +%s)
	tmp=$(mktemp -d)
	GOBIN="$tmp" GOFLAGS= CGO_ENABLED=0 "$gobin" install "$pkg@$version"
	local sudo=""
	if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
	$sudo install -m 0755 "$tmp/$(basename "$pkg")" "$dest"
	rm -rf "$tmp"
	echo "ci/setup.sh: $dest built in $(($(date +%s) - start)) s" >&2
}

if [ "${1:-}" = "--test" ]; then
	# Pinned Go tools the tests run. The cosign CLIs are the peers of attest's
	# interop tests (v2 for the legacy bundle, v3 for Sigstore bundles);
	# staticcheck is run by `make test`. Each takes minutes to build cold,
	# so each is built once into a fixed place.
	go_tool github.com/sigstore/cosign/v2 v2.6.5 github.com/sigstore/cosign/v2/cmd/cosign /usr/local/bin/cosign
	go_tool github.com/sigstore/cosign/v3 v3.1.3 github.com/sigstore/cosign/v3/cmd/cosign /usr/local/bin/cosign-v3
	go_tool honnef.co/go/tools v0.8.2 honnef.co/go/tools/cmd/staticcheck /usr/local/bin/staticcheck
	# litewitness and witnessctl (C2SP tlog-witness), the independent
	# witnesses the centre's tests ask to cosign its checkpoints.
	go_tool filippo.io/torchwood v0.6.1 filippo.io/torchwood/cmd/litewitness /usr/local/bin/litewitness
	go_tool filippo.io/torchwood v0.6.1 filippo.io/torchwood/cmd/witnessctl /usr/local/bin/witnessctl
fi
