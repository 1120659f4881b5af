#!/usr/bin/env bash
# Rebuilds a fixed list of 25 small bookworm source packages (autotools C,
# make C, CMake C and C++, Meson, Perl XS, Python C extensions, a Rust
# crate), each at the version the suite's signed Sources index holds when
# it runs, as `reprove infer` + `reprove rebuild` do, and the same steps
# as a plain dpkg-buildpackage in a chroot of the same locked image, the
# two taking turns going first. Prints each result, the reproduction rate
# beside Debian's figure, the median of reprove's time over the plain
# build's, and the build step's CPU time on each side (ci/benchdebian;
# `-images` in a second process builds the images ahead). A package
# whose source files the mirror does not serve is reported as not
# measured. Needs root, containerd, mmdebstrap and the Debian archive
# keyring (bash ci/setup.sh). An hour or more: one image per distinct lock.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
GOFLAGS=-buildvcs=false go run ./ci/benchdebian "$@"
