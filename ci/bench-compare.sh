#!/usr/bin/env bash
# compare's benchmark (run by `make bench`): reprove compare against
# diffoscope, the tool people reach for today, on the same pairs in one run:
#   toolchain-zip  a Go-toolchain-like zip and a copy with 7 members twice
#   go-flip        the go command built -trimpath -s -w (over 10 MB) and a
#                  copy with one byte flipped in .text
#   str            two builds of the go command differing in one string literal
#   ins            two builds of a program, one with a function inserted
# For each pair it prints both times and their ratio (target: reprove at
# least 100x faster), reprove's peak RSS (target: at most 256 MiB), both
# text reports' lengths and their ratio (target: reprove's at least 10x
# shorter), and whether each report names the pair's root cause (both must).
# Then real release pairs, downloaded once from the npm registry, Debian's
# mirror and the Go module proxy, cached by digest and pinned by sha256
# (two versions of esbuild, of lefthook, of a Debian package with a
# security fix in C; two Go toolchain module zips): reprove against
# diffoscope (target: at least 30x faster, peak RSS at most 256 MiB, the
# cause -- toolchain, dependency or package version -- in the first 15
# lines of reprove's text), and reprove's --json peak RSS on esbuild.
# Then it compares a ~1 GB tar.gz pair and prints reprove's peak RSS.
# Exits non-zero when a target is missed. BENCH_SKIP_RELEASES=1 skips the
# release pairs (they download ~170 MB once); BENCH_SKIP_SYNTHETIC=1 runs
# only them.
# BENCH_SKIP_LARGE=1 skips the 1 GB pair (it needs ~2 GB of disk).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

bash ci/setup.sh --bench
go build -o bin/reprove ./cmd/reprove
go build -o bin/benchpeer ./compare/internal/benchpeer

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ "${BENCH_SKIP_SYNTHETIC:-}" != 1 ]; then
	echo "generating the pairs (builds the go command once)" >&2
	bin/benchpeer gen "$work"
fi

now() { date +%s.%N; }
calc() { awk "BEGIN { print $1 }"; } # awk is always there; bc may not be
is() { awk "BEGIN { exit !($1) }"; }
status=0

# bench NAME A B: times reprove (best of 3, peak RSS of the slowest) and
# diffoscope (once), both writing their text report.
bench() {
	local name=$1 a=$2 b=$3 best="" t0 t1 t rc rss=0 kb
	for _ in 1 2 3; do
		rc=0
		t0=$(now)
		/usr/bin/time -f '%M' -o "$work/$name.rss" bin/reprove compare "$a" "$b" >"$work/$name.reprove.txt" || rc=$?
		t1=$(now)
		if [ "$rc" != 3 ]; then
			echo "$name: reprove compare exited $rc, want 3 (different)" >&2
			status=1
			return
		fi
		t=$(calc "$t1 - $t0")
		if [ -z "$best" ] || is "$t < $best"; then best=$t; fi
		kb=$(tail -n 1 "$work/$name.rss")
		if [ "$kb" -gt "$rss" ]; then rss=$kb; fi
	done
	rc=0
	t0=$(now)
	diffoscope --no-progress --text "$work/$name.diffoscope.txt" "$a" "$b" >/dev/null 2>"$work/$name.diffoscope.err" || rc=$?
	t1=$(now)
	if [ "$rc" != 1 ]; then
		echo "$name: diffoscope exited $rc, want 1 (differences):" >&2
		cat "$work/$name.diffoscope.err" >&2
		status=1
		return
	fi
	local dt ratio ours theirs lratio named
	dt=$(calc "$t1 - $t0")
	ratio=$(calc "$dt / $best")
	ours=$(wc -l <"$work/$name.reprove.txt")
	theirs=$(wc -l <"$work/$name.diffoscope.txt")
	lratio=$(calc "$theirs / $ours")
	named=$(bin/benchpeer check "$name" "$work")
	printf '%-14s reprove %.3f s, diffoscope %.1f s: %.0fx faster (target >= 100x); peak RSS %d MiB (target <= 256 MiB); text %d vs %d lines: %.0fx shorter (target >= 10x); root cause named: %s\n' \
		"$name" "$best" "$dt" "$ratio" "$((rss / 1024))" "$ours" "$theirs" "$lratio" "$named"
	if is "$ratio < 100"; then
		echo "  below the 100x speed target"
		status=1
	fi
	if [ "$rss" -gt $((256 * 1024)) ]; then
		echo "  above the 256 MiB memory target"
		status=1
	fi
	if is "$lratio < 10"; then
		echo "  report not 10x shorter"
		status=1
	fi
	case "$named" in
	"reprove=yes diffoscope=yes") ;;
	*)
		echo "  the reports do not both name the root cause; reprove's begins:"
		head -20 "$work/$name.reprove.txt" | sed 's/^/    /'
		status=1
		;;
	esac
}

if [ "${BENCH_SKIP_SYNTHETIC:-}" != 1 ]; then
	bench toolchain-zip "$work/toolchain-a.zip" "$work/toolchain-b.zip"
	bench go-flip "$work/go-a" "$work/go-b"
	bench str "$work/str-a" "$work/str-b"
	bench ins "$work/ins-a" "$work/ins-b"
fi

# fetch NAME URL SHA256: prints the path of a real file, downloaded once
# into the cache and checked against its pinned digest.
cache="${XDG_CACHE_HOME:-$HOME/.cache}/reprove-bench"
mkdir -p "$cache"
fetch() {
	local name=$1 url=$2 sum=$3 dest="$cache/$3-$1"
	if [ ! -f "$dest" ]; then
		if ! curl -fsSL --retry 2 -o "$dest.tmp" "$url"; then
			echo "fetch $name: $url failed (a superseded package leaves the mirror)" >&2
			rm -f "$dest.tmp"
			return 1
		fi
		if ! echo "$sum  $dest.tmp" | sha256sum -c --quiet >/dev/null 2>&1; then
			echo "fetch $name: $url does not have the pinned sha256 $sum" >&2
			rm -f "$dest.tmp"
			return 1
		fi
		mv "$dest.tmp" "$dest"
	fi
	echo "$dest"
}

# release NAME A B CAUSE [reprove-only]: reprove (best of 3) and diffoscope
# (once) on two releases; CAUSE is a fixed string that must be in the first
# 15 lines of reprove's text.
release() {
	local name=$1 a=$2 b=$3 cause=$4 only=${5:-} best="" t0 t1 t rc rss=0 kb
	for _ in 1 2 3; do
		rc=0
		t0=$(now)
		/usr/bin/time -f '%M' -o "$work/$name.rss" bin/reprove compare "$a" "$b" >"$work/$name.reprove.txt" || rc=$?
		t1=$(now)
		if [ "$rc" != 3 ]; then
			echo "$name: reprove compare exited $rc, want 3 (different)" >&2
			status=1
			return
		fi
		t=$(calc "$t1 - $t0")
		if [ -z "$best" ] || is "$t < $best"; then best=$t; fi
		kb=$(tail -n 1 "$work/$name.rss")
		if [ "$kb" -gt "$rss" ]; then rss=$kb; fi
	done
	local ours named=no
	ours=$(wc -l <"$work/$name.reprove.txt")
	if head -n 15 "$work/$name.reprove.txt" | grep -qF -- "$cause"; then named=yes; fi
	if [ -n "$only" ]; then
		printf '%-16s reprove %.2f s (diffoscope not run: %s); peak RSS %d MiB; text %d lines; cause in the first 15 lines: %s\n' \
			"$name" "$best" "$only" "$((rss / 1024))" "$ours" "$named"
	else
		rc=0
		t0=$(now)
		diffoscope --no-progress --text "$work/$name.diffoscope.txt" "$a" "$b" >/dev/null 2>"$work/$name.diffoscope.err" || rc=$?
		t1=$(now)
		if [ "$rc" != 1 ]; then
			echo "$name: diffoscope exited $rc, want 1 (differences):" >&2
			tail -5 "$work/$name.diffoscope.err" >&2
			status=1
			return
		fi
		local dt ratio theirs
		dt=$(calc "$t1 - $t0")
		ratio=$(calc "$dt / $best")
		theirs=$(wc -l <"$work/$name.diffoscope.txt")
		printf '%-16s reprove %.2f s, diffoscope %.1f s: %.1fx faster (target >= 30x); peak RSS %d MiB (target <= 256 MiB); text %d vs %d lines; cause in the first 15 lines: %s\n' \
			"$name" "$best" "$dt" "$ratio" "$((rss / 1024))" "$ours" "$theirs" "$named"
		if is "$ratio < 30"; then
			echo "  below the 30x speed target"
			status=1
		fi
	fi
	if [ "$rss" -gt $((256 * 1024)) ]; then
		echo "  above the 256 MiB memory target"
		status=1
	fi
	if [ "$named" != yes ]; then
		echo "  the cause ($cause) is not in the first 15 lines; they are:"
		head -n 15 "$work/$name.reprove.txt" | sed 's/^/    /'
		status=1
	fi
}

if [ "${BENCH_SKIP_RELEASES:-}" != 1 ]; then
	# Both tools run in the same load, so the ratio holds on a busy
	# machine; the times alone do not. Say what the load was.
	echo "release pairs; load: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs" >&2
	npm=https://registry.npmjs.org
	deb=http://deb.debian.org
	if e1=$(fetch esbuild-0.25.0.tgz $npm/@esbuild/linux-x64/-/linux-x64-0.25.0.tgz 822e9d5ff45b588f5af388f3ae17a4cd4d0d1b93d04220ee92956e941e7b8d9d) &&
		e2=$(fetch esbuild-0.26.0.tgz $npm/@esbuild/linux-x64/-/linux-x64-0.26.0.tgz 685517ebf4757c3f9ec966630075e4e3068f78b89ec7d61816b667030a435bc5); then
		release esbuild "$e1" "$e2" "go version: go1.23.5 → go1.23.12"
		rc=0
		/usr/bin/time -f '%M' -o "$work/esbuild-json.rss" bin/reprove compare --json "$e1" "$e2" >"$work/esbuild.json" || rc=$?
		kb=$(tail -n 1 "$work/esbuild-json.rss")
		printf '%-16s reprove --json wrote %d MB, peak RSS %d MiB (target <= 256 MiB)\n' esbuild-json "$(($(stat -c %s "$work/esbuild.json") / 1000000))" "$((kb / 1024))"
		if [ "$rc" != 3 ] || [ "$kb" -gt $((256 * 1024)) ]; then
			echo "  exit $rc (want 3) or above the 256 MiB memory target"
			status=1
		fi
	else
		status=1
	fi
	if l1=$(fetch lefthook-2.1.8.tgz $npm/lefthook-linux-x64/-/lefthook-linux-x64-2.1.8.tgz a2b6c5b5cc0fb836334cdff8003eb384d8d89a21e2cc0d8a21068e161b2a7fc6) &&
		l2=$(fetch lefthook-2.1.9.tgz $npm/lefthook-linux-x64/-/lefthook-linux-x64-2.1.9.tgz 240ece96c8cb82a76e0b1d4be2ef6a3bb1c9e8ee242533d50e49cb3cc8b9bb99); then
		release lefthook "$l1" "$l2" "go version: go1.26.0 → go1.26.3"
	else
		status=1
	fi
	# A security update of a C library (bookworm and bookworm-security).
	if x1=$(fetch libexpat1_2.5.0-1+deb12u2_amd64.deb $deb/debian/pool/main/e/expat/libexpat1_2.5.0-1+deb12u2_amd64.deb 2255e62fc22a86d2c544b8a3f516da9aee19383ad5742722ab4ce7f66a30dbc8) &&
		x2=$(fetch libexpat1_2.5.0-1+deb12u5_amd64.deb $deb/debian-security/pool/updates/main/e/expat/libexpat1_2.5.0-1+deb12u5_amd64.deb cae5ded666d8573dd33060bc66fbac21eea8b101a6b56e2af8bd590fcfa65d79); then
		release libexpat1-deb "$x1" "$x2" "Version: 2.5.0-1+deb12u2 → 2.5.0-1+deb12u5"
	else
		status=1
	fi
	# A program in C: a binNMU in bookworm against a security update.
	if z1=$(fetch lrzsz_0.12.21-10+b1_amd64.deb $deb/debian/pool/main/l/lrzsz/lrzsz_0.12.21-10+b1_amd64.deb 60c15258a977b837671f99f60a7876b1dfa7cebd9ed1a7dcd16d922b6e1b9cfe) &&
		z2=$(fetch lrzsz_0.12.21-10+deb12u1_amd64.deb $deb/debian-security/pool/updates/main/l/lrzsz/lrzsz_0.12.21-10+deb12u1_amd64.deb 952c64d2e8b5ff63d95c9de805252d7d301760019a6058e09bdea141513433a2); then
		release lrzsz-deb "$z1" "$z2" "Version: 0.12.21-10+b1 → 0.12.21-10+deb12u1"
	else
		status=1
	fi
	# Two Go toolchain releases (72 MB zips, 16,000 members under
	# module@version/): diffoscope is not run on them (it takes the better
	# part of an hour); reprove must pair the members.
	if g1=$(fetch go1.26.7.linux-amd64.zip https://proxy.golang.org/golang.org/toolchain/@v/v0.0.1-go1.26.7.linux-amd64.zip 478883fe531df5785b9186e7a39ecf2f67da37aaf81e3c9718e9c04e643ff5d1) &&
		g2=$(fetch go1.26.8.linux-amd64.zip https://proxy.golang.org/golang.org/toolchain/@v/v0.0.1-go1.26.8.linux-amd64.zip 30c2b1bf7dcc88d3eb0a1364e47ddd9128edb3110a30e8a0ef61cd5856b31de7); then
		release go-toolchain "$g1" "$g2" "go version: go1.26.7 → go1.26.8" "it takes the better part of an hour on 2 x 16,000 members"
		only=$(grep -c 'only in' "$work/go-toolchain.reprove.txt" || true)
		echo "  members only in one release: $only (23,034 before members paired below module@version/)"
		if [ "$only" -gt 200 ]; then
			status=1
		fi
	else
		status=1
	fi
fi

if [ "${BENCH_SKIP_LARGE:-}" != 1 ] && [ "${BENCH_SKIP_SYNTHETIC:-}" != 1 ]; then
	bin/benchpeer large "$work"
	size=$(stat -c %s "$work/big-a.tar.gz")
	rc=0
	/usr/bin/time -f '%e %M' -o "$work/large.time" \
		bin/reprove compare --normalize archive-mtime "$work/big-a.tar.gz" "$work/big-b.tar.gz" >"$work/large.txt" || rc=$?
	# GNU time puts "Command exited with non-zero status 3" first.
	read -r secs kb < <(tail -n 1 "$work/large.time")
	if [ "$rc" != 3 ] || ! grep -q '^  data/part-0777.bin$' "$work/large.txt"; then
		echo "large: want exit 3 naming data/part-0777.bin, got exit $rc:" >&2
		head -20 "$work/large.txt" >&2
		status=1
	fi
	printf 'large-tar.gz: two %.2f GB files in %.1f s, peak RSS %d MiB (target <= 256 MiB)\n' \
		"$(calc "$size / 1000000000")" "$secs" "$((kb / 1024))"
	if [ "$kb" -gt $((256 * 1024)) ]; then
		echo "  above the 256 MiB target"
		status=1
	fi
fi
echo "done; load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
exit $status
