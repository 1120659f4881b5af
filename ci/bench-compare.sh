#!/usr/bin/env bash
# compare's benchmark (run by `make bench`): reprove compare against
# diffoscope, the tool people reach for today, on the same pairs in one run.
# For each pair it prints both times, the ratio (target: reprove ≥ 50×
# faster) and whether both tools found the same differing members. Then it
# compares a ~1 GB tar.gz pair and prints reprove's peak RSS (target:
# ≤ 256 MB). Exits non-zero when a target is missed or the tools disagree.
# BENCH_SKIP_LARGE=1 skips the 1 GB pair (it needs ~2 GB of disk).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

bash ci/setup.sh --bench
go build -o bin/reprove ./cmd/reprove
go build -o bin/benchpeer ./compare/internal/benchpeer

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin/benchpeer gen "$work"

now() { date +%s.%N; }
calc() { awk "BEGIN { print $1 }"; } # awk is always there; bc may not be
is() { awk "BEGIN { exit !($1) }"; }
status=0

# bench NAME A B: times reprove (best of 3) and diffoscope (once).
bench() {
	local name=$1 a=$2 b=$3 best="" t0 t1 t rc
	for _ in 1 2 3; do
		t0=$(now)
		rc=0
		bin/reprove compare --json "$a" "$b" >"$work/$name.reprove.json" || rc=$?
		t1=$(now)
		if [ "$rc" != 3 ]; then
			echo "$name: reprove compare exited $rc, want 3 (different)" >&2
			status=1
			return
		fi
		t=$(calc "$t1 - $t0")
		if [ -z "$best" ] || is "$t < $best"; then best=$t; fi
	done
	t0=$(now)
	rc=0
	diffoscope --no-progress --json "$work/$name.diffoscope.json" "$a" "$b" >/dev/null 2>"$work/$name.diffoscope.err" || rc=$?
	t1=$(now)
	if [ "$rc" != 1 ]; then
		echo "$name: diffoscope exited $rc, want 1 (differences):" >&2
		cat "$work/$name.diffoscope.err" >&2
		status=1
		return
	fi
	local dt ratio ours theirs same
	dt=$(calc "$t1 - $t0")
	ratio=$(calc "$dt / $best")
	ours=$(bin/benchpeer reprove "$work/$name.reprove.json")
	theirs=$(bin/benchpeer diffoscope "$work/$name.diffoscope.json")
	same=yes
	[ "$ours" = "$theirs" ] || same=no
	printf '%s: reprove %.3f s, diffoscope %.2f s, ratio %.0fx (target >= 50x); same differing members: %s (%d)\n' \
		"$name" "$best" "$dt" "$ratio" "$same" "$(echo "$ours" | wc -w)"
	if [ "$same" = no ]; then
		echo "  reprove:    $ours"
		echo "  diffoscope: $theirs"
		status=1
	fi
	if is "$ratio < 50"; then
		echo "  below the 50x target"
		status=1
	fi
}

bench toolchain-zip "$work/toolchain-a.zip" "$work/toolchain-b.zip"
bench elf-one-function "$work/prog-a.elf" "$work/prog-b.elf"

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
