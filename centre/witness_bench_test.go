package centre

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/reprove/reprove/attest/logproof"
	"github.com/reprove/reprove/centre/centretest/fixture"
	"github.com/reprove/reprove/centre/client"
	"github.com/reprove/reprove/centre/item"
	"github.com/reprove/reprove/centre/merklelog"
	"github.com/reprove/reprove/centre/store"
	"github.com/reprove/reprove/centre/store/pgtest"
	"github.com/reprove/reprove/centre/witness"
	"github.com/reprove/reprove/centre/witness/witnesstest"
)

// BenchmarkAppendWitnessed: appends per second from 8 concurrent
// publishers (one envelope per submission, every reply checked), with two
// litewitnesses cosigning in the background at the default interval, and,
// as the peer, with no witnesses; "fast" asks the witnesses every 50 ms
// instead of every second. It reports the cosignatures stored during the
// run, so a run where the witnesses did nothing shows it.
func BenchmarkAppendWitnessed(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		for _, mode := range []struct {
			name      string
			witnesses int
			interval  time.Duration
		}{{"none", 0, 0}, {"two", 2, 0}, {"two-fast", 2, 50 * time.Millisecond}} {
			b.Run(backend+"/"+mode.name, func(b *testing.B) {
				ctx := context.Background()
				dir := b.TempDir()
				cfg := Config{DataDir: dir, Origin: "bench.test/log", NewLog: true, KeyRate: -1, Witnessing: witness.Options{Interval: mode.interval}}
				if backend == "postgres" {
					cfg.DatabaseURL = pgtest.Database(b)
				}
				skey, _, err := merklelog.LoadOrCreateKey(dir, cfg.Origin)
				if err != nil {
					b.Fatal(err)
				}
				vkey, _ := merklelog.VerifierKey(skey)
				for i := range mode.witnesses {
					lw := witnesstest.Start(b, fmt.Sprintf("witness-%d.bench", i), vkey)
					cfg.Witnesses = append(cfg.Witnesses, lw.Witness())
				}
				c, err := Open(ctx, cfg)
				if err != nil {
					b.Fatal(err)
				}
				for _, k := range []struct {
					p    *fixture.Party
					role item.Role
				}{{alice, item.Reviewer}} {
					if _, err := AddKey(ctx, c.st, k.p.Name, k.role, k.p.PEM, time.Now()); err != nil && !errors.Is(err, store.ErrExists) {
						b.Fatal(err)
					}
				}
				srv := httptest.NewServer(c.Handler())
				b.Cleanup(func() {
					srv.Close()
					c.Close()
				})
				envs := reviewsFor(b, b.N, fmt.Sprintf("bench witnessed %s %s %d", backend, mode.name, b.N))
				v, _ := logproof.NewVerifier(vkey)
				cl, _ := client.New(srv.URL)
				before := cosigned(c)
				b.ResetTimer()
				el := publishBench(b, cl, v, envs)
				b.StopTimer()
				b.ReportMetric(float64(b.N)/el.Seconds(), "appends/s")
				b.ReportMetric(float64(cosigned(c)-before), "cosignatures")
			})
		}
	}
}

// cosigned counts the rounds the cosigner completed, over its witnesses.
func cosigned(c *Centre) int {
	n := 0
	for _, s := range c.Witnesses() {
		n += s.Rounds
	}
	return n
}

// publishBench publishes envs one per submission from 8 publishers and
// returns how long it took.
func publishBench(b *testing.B, c *client.Client, v *logproof.Verifier, envs [][]byte) time.Duration {
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for p := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := p; i < len(envs); i += 8 {
				rep, err := c.Publish(context.Background(), envs[i:i+1])
				if err != nil {
					errs <- err
					return
				}
				leaf, _ := client.EnvelopeLeaf(envs[i])
				if _, err := client.CheckReply(rep, v, [][]byte{leaf}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return el
}
