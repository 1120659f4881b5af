#!/usr/bin/env bash
# `make bench`, centre part: the transparency centre's figures, measured on a
# real SQLite file and a real PostgreSQL (a private cluster the benchmark
# starts), over loopback HTTP, with the machine's context printed first.
#   - appends per second: 8 concurrent publishers, one signed envelope per
#     submission, every reply's proof checked; batched sequencing against the
#     peer, one commit per submission (target: batched >= 500/s);
#   - lookup latency p50/p99 of GET /v1/artifacts/sha256:... in a log of
#     100,000 entries, against the store's own query (target: p99 <= 20 ms);
#   - the cost of checking a log bundle's proofs offline, against checking
#     the same envelopes' signatures (what verify does without a log);
#   - appends per second while two litewitnesses cosign, against none
#     (target: within 10%), medians of 3 runs;
#   - reprove verify of a bundle whose checkpoint two witnesses cosigned,
#     under a policy requiring both within maxAge and with the customer's
#     memory of the log, against the same bundle under a policy naming only
#     the log (target: at most +5 ms), medians of 5 runs of 200.
# Exits non-zero when a target is missed. BENCH_ENTRIES sets the log size
# for lookups (default 100000); BENCH_APPENDS the submissions (default 4000).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
bash ci/setup.sh --test >/dev/null

appends=${BENCH_APPENDS:-4000}
entries=${BENCH_ENTRIES:-100000}
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$(go version | cut -d' ' -f3-); $(grep -E 'modernc.org/sqlite |jackc/pgx/v5 ' go.mod | awk '{printf "%s %s; ", $1, $2}')$(/usr/lib/postgresql/15/bin/postgres --version)"
echo "storage: $(df -h --output=source,fstype /tmp | tail -1 | awk '{print $1, $2}') (SQLite synchronous=FULL in WAL mode; PostgreSQL fsync on)"

out=$(mktemp)
trap 'rm -f "$out"' EXIT
go test -run '^$' -bench 'BenchmarkAppend' -benchtime "${appends}x" -count 1 -timeout 60m ./centre/ | tee -a "$out"
REPROVE_BENCH_ENTRIES=$entries go test -run '^$' -bench 'BenchmarkLookup|BenchmarkVerifyBundle' -benchtime 2000x -count 1 -timeout 60m ./centre/ | tee -a "$out"
# reprove verify end to end (files read, hashed, every check), with the
# log's proofs against without them: medians of 5 runs of 200.
go test -run '^$' -bench 'BenchmarkVerifyLogProofs' -benchtime 200x -count 5 ./attest/ | tee -a "$out"
# Witnessed checkpoints: appends with two litewitnesses against none (the
# runs interleave, so load changes hit both), and verify with witnessed
# proofs against without.
for i in 1 2 3; do
	go test -run '^$' -bench 'BenchmarkAppendWitnessed/sqlite' -benchtime "${appends}x" -count 1 -timeout 60m ./centre/ | tee -a "$out"
done
for i in 1 2 3 4 5; do
	go test -run '^$' -bench 'BenchmarkVerifyWitnessed' -benchtime 200x -count 1 ./attest/ | tee -a "$out"
done
go test -run '^$' -bench 'BenchmarkCheckCheckpoint' -count 5 ./attest/logproof/ | tee -a "$out"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

# metric NAME UNIT: the value reported with UNIT on the line of benchmark NAME.
metric() { awk -v name="$1" -v unit="$2" '$1 ~ "^"name"(-[0-9]+)?$" { for (i = 3; i < NF; i++) if ($(i+1) == unit) print $i }' "$out"; }
is() { awk "BEGIN { exit !($1) }"; }
status=0
echo
echo "== centre figures"
for db in sqlite postgres; do
	b=$(metric "BenchmarkAppend/$db/batched" appends/s)
	u=$(metric "BenchmarkAppend/$db/unbatched" appends/s)
	verdict=ok
	is "$b >= 500" || { verdict="MISSED (target >= 500/s)"; status=1; }
	printf 'appends %-8s %7.0f/s batched, %7.0f/s one commit per submission (peer), ratio %.1fx: %s\n' "$db" "$b" "$u" "$(awk "BEGIN { print $b / $u }")" "$verdict"
done
for db in sqlite postgres; do
	p50=$(metric "BenchmarkLookup/$db" p50-ms)
	p99=$(metric "BenchmarkLookup/$db" p99-ms)
	q50=$(metric "BenchmarkLookup/$db" query-p50-ms)
	q99=$(metric "BenchmarkLookup/$db" query-p99-ms)
	n=$(metric "BenchmarkLookup/$db" entries)
	verdict=ok
	is "$p99 <= 20" || { verdict="MISSED (target p99 <= 20 ms)"; status=1; }
	printf 'lookup  %-8s p50 %.2f ms, p99 %.2f ms in %.0f entries; the store query alone (peer) p50 %.2f ms, p99 %.2f ms: %s\n' "$db" "$p50" "$p99" "$n" "$q50" "$q99" "$verdict"
done
pr=$(metric BenchmarkVerifyBundle proofs-µs/bundle)
sg=$(metric BenchmarkVerifyBundle signatures-µs/bundle)
ne=$(metric BenchmarkVerifyBundle entries/bundle)
printf 'verify  a %.0f-entry bundle'"'"'s checkpoint, proofs and index: %.0f µs; its envelopes'"'"' signatures (peer): %.0f µs; proofs add %.0f%%\n' "$ne" "$pr" "$sg" "$(awk "BEGIN { print 100 * $pr / $sg }")"
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
plain=$(metric BenchmarkVerifyLogProofs/envelopes ns/op | median)
logged=$(metric BenchmarkVerifyLogProofs/log-bundle ns/op | median)
extra=$(awk "BEGIN { print ($logged - $plain) / 1e6 }")
verdict=ok
is "$extra <= 5" || { verdict="MISSED (target <= +5 ms)"; status=1; }
printf 'verify  reprove verify with log proofs %.2f ms, without (peer) %.2f ms: %+.2f ms: %s\n' "$(awk "BEGIN { print $logged / 1e6 }")" "$(awk "BEGIN { print $plain / 1e6 }")" "$extra" "$verdict"
none=$(metric BenchmarkAppendWitnessed/sqlite/none appends/s | median)
two=$(metric BenchmarkAppendWitnessed/sqlite/two appends/s | median)
fast=$(metric BenchmarkAppendWitnessed/sqlite/two-fast appends/s | median)
cosigs=$(metric BenchmarkAppendWitnessed/sqlite/two cosignatures | median)
verdict=ok
is "$two >= 0.9 * $none" || { verdict="MISSED (target: within 10%)"; status=1; }
printf 'witness appends: %.0f/s with two witnesses (%.0f cosignatures a run), %.0f/s without (peer): ratio %.2f; asking every 50 ms: %.0f/s: %s\n' "$two" "$cosigs" "$none" "$(awk "BEGIN { print $two / $none }")" "$fast" "$verdict"
plain=$(metric BenchmarkVerifyWitnessed/log-bundle ns/op | median)
witnessed=$(metric BenchmarkVerifyWitnessed/witnessed-bundle ns/op | median)
plaincpu=$(metric BenchmarkVerifyWitnessed/log-bundle cpu-ms/op | median)
witnessedcpu=$(metric BenchmarkVerifyWitnessed/witnessed-bundle cpu-ms/op | median)
extra=$(awk "BEGIN { print ($witnessed - $plain) / 1e6 }")
extracpu=$(awk "BEGIN { print $witnessedcpu - $plaincpu }")
verdict=ok
is "$extra <= 5" || { verdict="MISSED (target <= +5 ms)"; status=1; }
printf 'witness verify: a witnessed bundle %.2f ms, a bundle the log alone signed (peer) %.2f ms: %+.2f ms (CPU %.2f against %.2f ms: %+.2f ms): %s\n' \
	"$(awk "BEGIN { print $witnessed / 1e6 }")" "$(awk "BEGIN { print $plain / 1e6 }")" "$extra" "$witnessedcpu" "$plaincpu" "$extracpu" "$verdict"
cl=$(metric BenchmarkCheckCheckpoint/log ns/op | median)
cw=$(metric BenchmarkCheckCheckpoint/two-witnesses ns/op | median)
printf 'witness check:  a checkpoint with two cosignatures %.0f µs, the log'"'"'s signature alone (peer) %.0f µs\n' "$(awk "BEGIN { print $cw / 1e3 }")" "$(awk "BEGIN { print $cl / 1e3 }")"
exit $status
