package centre

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest/envelope"
	"github.com/reprove/reprove/attest/keys"
	"github.com/reprove/reprove/attest/logproof"
	"github.com/reprove/reprove/centre/api"
	"github.com/reprove/reprove/centre/centretest/fixture"
	"github.com/reprove/reprove/centre/client"
	"github.com/reprove/reprove/centre/item"
	"github.com/reprove/reprove/centre/store/pgtest"
)

// Benchmarks of the centre, run by ci/bench-centre.sh (make bench). Each
// reports its figure with b.ReportMetric, and a peer measured in the same
// run to read it against.

func benchCentre(b *testing.B, backend string, maxBatch int) (*Centre, *httptest.Server) {
	b.Helper()
	ctx := context.Background()
	cfg := Config{DataDir: b.TempDir(), Origin: "bench.test/log", MaxBatch: maxBatch}
	if backend == "postgres" {
		cfg.DatabaseURL = pgtest.Database(b)
	}
	c, err := Open(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	for _, k := range []struct {
		p    *fixture.Party
		role item.Role
	}{{alice, item.Reviewer}, {bob, item.Reviewer}, {rebA, item.Rebuilder}, {rebB, item.Rebuilder}} {
		if _, err := AddKey(ctx, c.st, k.p.Name, k.role, k.p.PEM, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	srv := httptest.NewServer(c.Handler())
	b.Cleanup(func() {
		srv.Close()
		c.Close()
	})
	return c, srv
}

// BenchmarkAppend publishes single-envelope submissions from 8 concurrent
// publishers over loopback HTTP, each reply checked: appends per second,
// with batched sequencing and, as the peer, with one commit per
// submission (MaxBatch 1).
func BenchmarkAppend(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		for _, mode := range []struct {
			name     string
			maxBatch int
		}{{"batched", 0}, {"unbatched", 1}} {
			b.Run(backend+"/"+mode.name, func(b *testing.B) {
				_, srv := benchCentre(b, backend, mode.maxBatch)
				envs := reviewsFor(b, b.N, fmt.Sprintf("bench %s %s %d", backend, mode.name, b.N))
				c, _ := client.New(srv.URL)
				info, err := c.Log(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				v, _ := logproof.NewVerifier(info.VerifierKey)
				b.ResetTimer()
				el := publishBench(b, c, v, envs)
				b.StopTimer()
				b.ReportMetric(float64(b.N)/el.Seconds(), "appends/s")
			})
		}
	}
}

// bigLog is a log of about 100,000 entries: releases of one review, an
// agreeing rebuild, comparison and summary, and a dissenting one.
type bigLog struct {
	c        *Centre
	srv      *httptest.Server
	releases []digest.Digest
	entries  int64
}

var (
	bigLogs   = map[string]*bigLog{}
	bigLogsMu sync.Mutex
)

// benchEntries is the size of the log lookups run against
// ($REPROVE_BENCH_ENTRIES, else 100,000).
func benchEntries() int {
	if n, err := strconv.Atoi(os.Getenv("REPROVE_BENCH_ENTRIES")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

// fillLog returns the big log of a backend, filling the logs of both
// backends with the same entries at the first call (making and checking
// the envelopes is the slow part; it is done once for both).
func fillLog(b *testing.B, backend string) *bigLog {
	b.Helper()
	bigLogsMu.Lock()
	defer bigLogsMu.Unlock()
	if l := bigLogs[backend]; l != nil {
		return l
	}
	ctx := context.Background()
	logs := map[string]*bigLog{}
	var known []item.Key
	for _, be := range []string{"sqlite", "postgres"} {
		// Not benchCentre: the big logs outlive the benchmark that made
		// them, for the others to share (the process's end closes them).
		cfg := Config{DataDir: benchDir(b), Origin: "bench.test/log"}
		if be == "postgres" {
			cfg.DatabaseURL = pgtest.Database(b)
		}
		c, err := Open(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		for _, k := range []struct {
			p    *fixture.Party
			role item.Role
		}{{alice, item.Reviewer}, {rebA, item.Rebuilder}, {rebB, item.Rebuilder}} {
			if _, err := AddKey(ctx, c.st, k.p.Name, k.role, k.p.PEM, time.Now()); err != nil {
				b.Fatal(err)
			}
		}
		if known, err = c.keys.get(ctx, true); err != nil {
			b.Fatal(err)
		}
		logs[be] = &bigLog{c: c, srv: httptest.NewServer(c.Handler())}
	}
	per := 3*len(says) + 1
	n := benchEntries() / per
	start := time.Now()
	type batch struct {
		items   []*item.Item
		digests []digest.Digest
	}
	batches := make(chan batch, 4)
	go func() {
		defer close(batches)
		var wg sync.WaitGroup
		work := make(chan int)
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for first := range work {
					var bt batch
					for i := first; i < min(first+100, n); i++ {
						rel, err := fixture.MakeReleaseWith(ctx, fmt.Sprintf("tool%d", i), "1.0", []*fixture.Party{alice}, says, fixture.Options{NoReports: true})
						if err != nil {
							panic(err)
						}
						for _, e := range rel.All(says) {
							it, err := item.CheckEnvelope(ctx, e, known)
							if err != nil {
								panic(err)
							}
							bt.items = append(bt.items, it)
						}
						bt.digests = append(bt.digests, rel.Digest)
					}
					batches <- bt
				}
			}()
		}
		for first := 0; first < n; first += 100 {
			work <- first
		}
		close(work)
		wg.Wait()
	}()
	for bt := range batches {
		for _, l := range logs {
			if _, _, err := l.c.Log().Append(ctx, bt.items, nil); err != nil {
				b.Fatal(err)
			}
			l.releases = append(l.releases, bt.digests...)
			l.entries += int64(len(bt.items))
		}
	}
	b.Logf("filled both logs with %d entries (%d releases) in %v", logs["sqlite"].entries, len(logs["sqlite"].releases), time.Since(start).Round(time.Second))
	for be, l := range logs {
		bigLogs[be] = l
	}
	return bigLogs[backend]
}

// benchDir is a data directory that lives as long as the process.
func benchDir(b *testing.B) string {
	d, err := os.MkdirTemp("", "reprove-bench-centre-")
	if err != nil {
		b.Fatal(err)
	}
	benchDirs = append(benchDirs, d)
	return d
}

var benchDirs []string

func percentile(ds []time.Duration, p float64) time.Duration {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[min(len(ds)-1, int(float64(len(ds))*p))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkLookup fetches the log bundle of random releases from a log of
// 100,000 entries over loopback HTTP, one at a time: latency p50 and p99.
// The peer is the store's own query for the same entries, without proofs,
// signing or HTTP.
func BenchmarkLookup(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			l := fillLog(b, backend)
			ctx := context.Background()
			cp, _, err := l.c.Log().Latest(ctx)
			if err != nil {
				b.Fatal(err)
			}
			r := rand.New(rand.NewPCG(1, 2))
			hc := &http.Client{}
			lat := make([]time.Duration, 0, b.N)
			peer := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				d := l.releases[r.IntN(len(l.releases))]
				t0 := time.Now()
				resp, err := hc.Get(l.srv.URL + api.PathArtifacts + d.String())
				if err != nil {
					b.Fatal(err)
				}
				var buf [32 << 10]byte
				for {
					if _, err := resp.Body.Read(buf[:]); err != nil {
						break
					}
				}
				resp.Body.Close()
				lat = append(lat, time.Since(t0))
				if resp.StatusCode != 200 {
					b.Fatalf("lookup %s: %d", d, resp.StatusCode)
				}
				t1 := time.Now()
				es, err := l.c.st.Lookup(ctx, d, cp.Size, false)
				if err != nil || len(es) != 7 {
					b.Fatalf("store lookup: %d entries, %v", len(es), err)
				}
				peer = append(peer, time.Since(t1))
			}
			b.StopTimer()
			b.ReportMetric(ms(percentile(lat, 0.50)), "p50-ms")
			b.ReportMetric(ms(percentile(lat, 0.99)), "p99-ms")
			b.ReportMetric(ms(percentile(peer, 0.50)), "query-p50-ms")
			b.ReportMetric(ms(percentile(peer, 0.99)), "query-p99-ms")
			b.ReportMetric(float64(l.entries), "entries")
		})
	}
}

// BenchmarkVerifyBundle is what checking a log bundle costs a customer
// offline: a 7-entry bundle from the log of 100,000 entries, checkpoint
// signature, every inclusion proof, the artifact index (client.CheckBundle).
// The peer is what verify does anyway without a log: checking each
// envelope's signatures under the policy's keys (envelope.SignedBy).
func BenchmarkVerifyBundle(b *testing.B) {
	l := fillLog(b, "sqlite")
	ctx := context.Background()
	d := l.releases[len(l.releases)/2]
	bu, _, err := l.c.Log().Bundle(ctx, d)
	if err != nil {
		b.Fatal(err)
	}
	raw, _ := bu.Marshal()
	v := l.c.Log().Verifier()
	policy := []*keys.Verifier{alice.Verifier, rebA.Verifier, rebB.Verifier}
	var proofs, sigs time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		pb, err := logproof.ParseBundle(raw)
		if err != nil {
			b.Fatal(err)
		}
		_, envs, err := client.CheckBundle(pb, v, d)
		if err != nil {
			b.Fatal(err)
		}
		proofs += time.Since(t0)
		t1 := time.Now()
		for _, e := range envs {
			if _, err := envelope.SignedBy(ctx, e, policy); err != nil {
				b.Fatal(err)
			}
		}
		sigs += time.Since(t1)
	}
	b.StopTimer()
	b.ReportMetric(float64(proofs.Microseconds())/float64(b.N), "proofs-µs/bundle")
	b.ReportMetric(float64(sigs.Microseconds())/float64(b.N), "signatures-µs/bundle")
	b.ReportMetric(float64(len(bu.Entries)), "entries/bundle")
}
