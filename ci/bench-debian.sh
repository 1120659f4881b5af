#!/usr/bin/env bash
# Rebuilds a fixed list of 25 small bookworm source packages (autotools C,
# make C, CMake C and C++, Meson, Perl XS, Python C extensions, a Rust
# crate, a mingw-w64 package) as `reprove infer` + `reprove rebuild` do,
# and prints each result, the reproduction rate beside Debian's figure and
# reprove's time over the dpkg-buildpackage step's own (ci/benchdebian).
# Needs root, containerd, mmdebstrap and the Debian archive keyring
# (bash ci/setup.sh). An hour or more: one image per distinct lock.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
GOFLAGS=-buildvcs=false go run ./ci/benchdebian "$@"
