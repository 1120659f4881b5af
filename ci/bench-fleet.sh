#!/usr/bin/env bash
# `make bench`, fleet part: the rebuild fleet's figures (fleet/worker's
# benchmarks), on the shared test containerd, a real PostgreSQL (a private
# cluster the benchmark starts) and SQLite, with the machine's context
# printed first:
#   - queue overhead per job: the same small rebuild as a direct library call
#     and as a job (enqueued, taken by a worker, its result stored), one at a
#     time; the queue's own part of each job's time (target: median <= 100 ms);
#   - jobs per hour with 1, 2 and 3 workers on simulated builds (a step that
#     sleeps 3 s), against the same builds as direct calls by as many
#     goroutines (best of 2 rounds each, taking turns): near 1 means the
#     queue is not the bottleneck;
#   - the first rebuild with a Go release a warm worker has never seen (only
#     the toolchain fetched and layered; the rootfs layer reused), against the
#     same rebuild warm, and on a second worker that copies the toolchain from
#     the first one's cache (--shared-cache).
# Exits non-zero when a target is missed. BENCH_FLEET_RUNS sets the overhead
# samples (default 30), BENCH_FLEET_JOBS the simulated jobs (default 12).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
bash ci/setup.sh --test >/dev/null

runs=${BENCH_FLEET_RUNS:-30}
jobs=${BENCH_FLEET_JOBS:-12}
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$(go version | cut -d' ' -f3-); $(grep -E 'riverqueue/river |modernc.org/sqlite |jackc/pgx/v5 ' go.mod | awk '{printf "%s %s; ", $1, $2}')$(/usr/lib/postgresql/15/bin/postgres --version)"

out=$(mktemp)
trap 'rm -f "$out"' EXIT
go test -run '^$' -bench 'BenchmarkQueueOverhead' -benchtime "${runs}x" -count 1 -timeout 60m ./fleet/worker/ 2>&1 | grep -v 'level=' | tee -a "$out"
REPROVE_BENCH_JOBS=$jobs go test -run '^$' -bench 'BenchmarkThroughput' -benchtime 2x -count 1 -timeout 60m ./fleet/worker/ 2>&1 | grep -v 'level=' | tee -a "$out"
go test -run '^$' -bench 'BenchmarkNewGoVersion' -benchtime 1x -count 1 -timeout 60m -v ./fleet/worker/ 2>&1 | grep -E 'Benchmark|bench_test' | tee -a "$out"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

# metric NAME UNIT: the value reported with UNIT on the line of benchmark NAME.
metric() { awk -v name="$1" -v unit="$2" '$1 ~ "^"name"(-[0-9]+)?$" { for (i = 3; i < NF; i++) if ($(i+1) == unit) print $i }' "$out"; }
is() { awk "BEGIN { exit !($1) }"; }
status=0
echo
echo "== fleet figures"
for db in sqlite postgres; do
	o=$(metric "BenchmarkQueueOverhead/$db" overhead-ms/job)
	o90=$(metric "BenchmarkQueueOverhead/$db" overhead-p90-ms/job)
	d=$(metric "BenchmarkQueueOverhead/$db" direct-ms/job)
	q=$(metric "BenchmarkQueueOverhead/$db" queued-ms/job)
	verdict=ok
	is "$o <= 100" || { verdict="MISSED (target median <= 100 ms)"; status=1; }
	printf 'queue overhead %-8s median %.0f ms (p90 %.0f ms) per job; the job %.0f ms queued, %.0f ms as a direct call (peer): %s\n' "$db" "$o" "$o90" "$q" "$d" "$verdict"
done
for w in 1 2 3; do
	j=$(metric "BenchmarkThroughput/workers=$w" jobs/hour)
	p=$(metric "BenchmarkThroughput/workers=$w" direct-jobs/hour)
	printf 'throughput %d worker(s): %5.0f jobs/hour through the queue, %5.0f as direct calls (peer), ratio %.2f\n' "$w" "$j" "$p" "$(awk "BEGIN { print $j / $p }")"
done
printf 'a Go release a warm worker never saw: %.0f s (image %.0f s: only the toolchain fetched and layered); on a worker copying it from a shared cache %.0f s (image %.0f s); once warm (peer) %.0f s (image %.1f s); the first build on an empty cache %.0f s (image %.0f s)\n' \
	"$(metric BenchmarkNewGoVersion new-go-s)" "$(metric BenchmarkNewGoVersion new-go-image-s)" \
	"$(metric BenchmarkNewGoVersion new-go-shared-s)" "$(metric BenchmarkNewGoVersion new-go-shared-image-s)" \
	"$(metric BenchmarkNewGoVersion warm-s)" "$(metric BenchmarkNewGoVersion warm-image-s)" \
	"$(metric BenchmarkNewGoVersion cold-s)" "$(metric BenchmarkNewGoVersion cold-image-s)"
exit $status
