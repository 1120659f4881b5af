#!/usr/bin/env bash
# compare's benchmark (run by `make bench`): reprove compare against
# diffoscope, the tool people reach for today, on the same pairs in one run:
#   toolchain-zip  a Go-toolchain-like zip and a copy with 7 members twice
#   go-flip        the go command built -trimpath -s -w (over 10 MB) and a
#                  copy with one byte flipped in .text
#   str            two builds of the go command differing in one string literal
#   ins            two builds of a program, one with a function inserted
# For each pair it prints both times and their ratio (target: reprove at
# least 100x faster), reprove's peak RSS (target: at most 256 MB), both
# text reports' lengths and their ratio (target: reprove's at least 10x
# shorter), and whether each report names the pair's root cause (both must).
# Then it compares a ~1 GB tar.gz pair and prints reprove's peak RSS.
# Exits non-zero when a target is missed.
# BENCH_SKIP_LARGE=1 skips the 1 GB pair (it needs ~2 GB of disk).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

bash ci/setup.sh --bench
go build -o bin/reprove ./cmd/reprove
go build -o bin/benchpeer ./compare/internal/benchpeer

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "generating the pairs (builds the go command once)" >&2
bin/benchpeer gen "$work"

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
	printf '%-14s reprove %.3f s, diffoscope %.1f s: %.0fx faster (target >= 100x); peak RSS %d MB (target <= 256 MB); text %d vs %d lines: %.0fx shorter (target >= 10x); root cause named: %s\n' \
		"$name" "$best" "$dt" "$ratio" "$((rss / 1024))" "$ours" "$theirs" "$lratio" "$named"
	if is "$ratio < 100"; then
		echo "  below the 100x speed target"
		status=1
	fi
	if [ "$rss" -gt $((256 * 1024)) ]; then
		echo "  above the 256 MB memory target"
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

bench toolchain-zip "$work/toolchain-a.zip" "$work/toolchain-b.zip"
bench go-flip "$work/go-a" "$work/go-b"
bench str "$work/str-a" "$work/str-b"
bench ins "$work/ins-a" "$work/ins-b"

if [ "${BENCH_SKIP_LARGE:-}" != 1 ]; then
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
	printf 'large-tar.gz: two %.2f GB files in %.1f s, peak RSS %d MB (target <= 256 MB)\n' \
		"$(calc "$size / 1000000000")" "$secs" "$((kb / 1024))"
	if [ "$kb" -gt $((256 * 1024)) ]; then
		echo "  above the 256 MB target"
		status=1
	fi
fi
exit $status
