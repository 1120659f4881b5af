package centre

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/reprove/reprove/attest/logproof"
	"github.com/reprove/reprove/centre/centretest/fixture"
	"github.com/reprove/reprove/centre/client"
	"github.com/reprove/reprove/centre/item"
	"github.com/reprove/reprove/centre/store/pgtest"
	"github.com/reprove/reprove/internal/atomicfile"
)

// The test binary doubles as a centre server for the crash test: with
// these variables set, TestMain serves instead of testing.
const (
	childData = "REPROVE_CENTRE_CHILD_DATA"
	childDB   = "REPROVE_CENTRE_CHILD_DATABASE"
	childAddr = "REPROVE_CENTRE_CHILD_ADDR"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(childData); dir != "" {
		os.Exit(serveChild(dir, os.Getenv(childDB), os.Getenv(childAddr)))
	}
	pgtest.Main(m)
}

// serveChild runs a centre as `reprove serve` does, until SIGTERM (or a
// SIGKILL from the test).
func serveChild(dir, dsn, addrFile string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := Open(ctx, Config{DataDir: dir, DatabaseURL: dsn, Origin: "centre.test/log",
		Logf: func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer c.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := atomicfile.Write(addrFile, []byte("http://"+ln.Addr().String()+"\n"), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := c.Serve(ctx, ln, 10*time.Second); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

type child struct {
	cmd *exec.Cmd
	url string
	out *bytes.Buffer
}

func startChild(t *testing.T, dir, dsn string) *child {
	t.Helper()
	addr := filepath.Join(t.TempDir(), "addr")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childData+"="+dir, childDB+"="+dsn, childAddr+"="+addr)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := &child{cmd: cmd, out: &out}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	deadline := time.Now().Add(time.Minute)
	for {
		b, err := os.ReadFile(addr)
		if err == nil && bytes.HasSuffix(b, []byte("\n")) {
			ch.url = strings.TrimSpace(string(b))
			return ch
		}
		if time.Now().After(deadline) {
			t.Fatalf("the centre did not start:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ack is one acknowledged submission: where the centre said the leaf is,
// and the checkpoint it handed out.
type ack struct {
	leaf  []byte
	index int64
	cp    logproof.Checkpoint
	note  string
	at    time.Time // when the reply came
}

func reviewsFor(t testing.TB, n int, tag string) [][]byte {
	t.Helper()
	envs := make([][]byte, n)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				e, err := fixture.Review(context.Background(), alice, "tool", "1.0", fmt.Sprintf("%s %d", tag, i))
				if err != nil {
					panic(err)
				}
				envs[i] = e
			}
		}()
	}
	wg.Wait()
	return envs
}

// publishAll submits envs from publishers goroutines, in submissions of
// per envelopes, checking every reply; it stops a publisher at its first
// error when stopOnError, else fails the test.
func publishAll(t *testing.T, url string, v *logproof.Verifier, envs [][]byte, publishers, per int, stopOnError bool, onAck func(int)) []ack {
	t.Helper()
	c, err := client.New(url)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var acks []ack
	var wg sync.WaitGroup
	var failed atomic.Value
	for p := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for start := p * per; start < len(envs); start += publishers * per {
				batch := envs[start:min(start+per, len(envs))]
				rep, err := c.Publish(context.Background(), batch)
				if err != nil {
					if !stopOnError {
						failed.Store(err)
					}
					return
				}
				var leaves [][]byte
				for _, e := range batch {
					l, err := client.EnvelopeLeaf(e)
					if err != nil {
						failed.Store(err)
						return
					}
					leaves = append(leaves, l)
				}
				cp, err := client.CheckReply(rep, v, leaves)
				if err != nil {
					failed.Store(err)
					return
				}
				at := time.Now()
				mu.Lock()
				for i, e := range rep.Entries {
					acks = append(acks, ack{leaf: leaves[i], index: e.Index, cp: cp, note: rep.Checkpoint, at: at})
				}
				n := len(acks)
				mu.Unlock()
				if onAck != nil {
					onAck(n)
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}
	return acks
}

// checkAcks verifies, against the log as the centre at url serves it now,
// that every acknowledged leaf is at its index with a valid inclusion
// proof, and that the tree extends every checkpoint handed out.
func checkAcks(t *testing.T, url string, v *logproof.Verifier, acks []ack) logproof.Checkpoint {
	t.Helper()
	ctx := context.Background()
	c, _ := client.New(url)
	note, err := c.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	latest, err := v.Open(note)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64][]byte{}
	sizes := map[int64]logproof.Checkpoint{}
	for _, a := range acks {
		if old, ok := seen[a.index]; ok && !bytes.Equal(old, a.leaf) {
			t.Fatalf("index %d acknowledged for two leaves", a.index)
		}
		seen[a.index] = a.leaf
		if prev, ok := sizes[a.cp.Size]; ok && prev.Hash != a.cp.Hash {
			t.Fatalf("two checkpoints of size %d with different roots", a.cp.Size)
		}
		sizes[a.cp.Size] = a.cp
	}
	// Leaves: read back in tiles' worth of entries, with proofs.
	for idx, leaf := range seen {
		if idx >= latest.Size {
			t.Fatalf("acknowledged entry %d is past the tree of size %d", idx, latest.Size)
		}
		e, err := c.Entry(ctx, idx)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(e.Leaf, leaf) {
			t.Fatalf("entry %d is not the leaf acknowledged", idx)
		}
		p, _ := logproof.DecodeHashes(e.InclusionProof)
		ec, err := v.Open([]byte(e.Checkpoint))
		if err != nil {
			t.Fatal(err)
		}
		if err := logproof.VerifyInclusion(leaf, idx, p, ec); err != nil {
			t.Fatalf("entry %d: %v", idx, err)
		}
	}
	for size, cp := range sizes {
		p, err := c.Consistency(ctx, size, latest.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := logproof.VerifyConsistency(cp, latest, p); err != nil {
			t.Fatalf("checkpoint of size %d handed out: %v", size, err)
		}
	}
	t.Logf("%d acknowledged entries, %d checkpoints handed out, all in the tree of size %d", len(seen), len(sizes), latest.Size)
	return latest
}

// TestCrash kills the server with SIGKILL in the middle of a stream of
// submissions, restarts it on the same data, and checks that every
// acknowledged submission is in the log with a valid proof and that the
// tree is consistent with every checkpoint handed out before the crash.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("a crash under load (skipped with -short)")
	}
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			dsn := ""
			if backend == "postgres" {
				dsn = pgtest.Database(t)
			}
			st, err := OpenStore(ctx, Config{DataDir: dir, DatabaseURL: dsn})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := AddKey(ctx, st, "alice", item.Reviewer, alice.PEM, time.Now()); err != nil {
				t.Fatal(err)
			}
			st.Close()
			envs := reviewsFor(t, 3000, "crash "+backend)

			srv := startChild(t, dir, dsn)
			c, _ := client.New(srv.url)
			info, err := c.Log(ctx)
			if err != nil {
				t.Fatal(err)
			}
			v, _ := logproof.NewVerifier(info.VerifierKey)
			var once sync.Once
			killed := make(chan struct{})
			acks := publishAll(t, srv.url, v, envs, 8, 3, true, func(n int) {
				if n >= 600 {
					once.Do(func() {
						srv.cmd.Process.Signal(syscall.SIGKILL)
						close(killed)
					})
				}
			})
			<-killed
			err = srv.cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("the server was not killed: %v\n%s", err, srv.out)
			}
			if len(acks) >= len(envs) {
				t.Fatal("every submission was acknowledged before the kill: no crash under load")
			}
			t.Logf("killed after %d acknowledged submissions", len(acks))

			srv = startChild(t, dir, dsn)
			latest := checkAcks(t, srv.url, v, acks)
			// The log goes on: resubmitting the acknowledged leaves changes
			// nothing, and the rest are appended.
			again := publishAll(t, srv.url, v, envs, 8, 25, false, nil)
			for _, a := range again {
				if a.index < latest.Size && a.cp.Size < latest.Size {
					t.Fatalf("a reply's checkpoint (%d) is older than the tree before it (%d)", a.cp.Size, latest.Size)
				}
			}
			final := checkAcks(t, srv.url, v, append(acks, again...))
			if final.Size != int64(len(envs)) {
				t.Errorf("final tree size %d, want %d (each envelope once)", final.Size, len(envs))
			}
			// Graceful shutdown on SIGTERM.
			srv.cmd.Process.Signal(syscall.SIGTERM)
			if err := srv.cmd.Wait(); err != nil {
				t.Errorf("SIGTERM: %v\n%s", err, srv.out)
			}
		})
	}
}

// TestLoad: 8 concurrent publishers × 500 submissions over loopback.
// Nothing acknowledged is lost, no checkpoint is inconsistent.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("4,000 submissions (skipped with -short)")
	}
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			tc := newCentre(t, backend)
			envs := reviewsFor(t, 8*500, "load "+backend)
			start := time.Now()
			acks := publishAll(t, tc.srv.URL, tc.v, envs, 8, 1, false, nil)
			el := time.Since(start)
			if len(acks) != len(envs) {
				t.Fatalf("%d acknowledgements for %d submissions", len(acks), len(envs))
			}
			final := checkAcks(t, tc.srv.URL, tc.v, acks)
			if final.Size != int64(len(envs)) {
				t.Errorf("tree size %d, want %d", final.Size, len(envs))
			}
			t.Logf("%s: %d submissions in %v (%.0f/s; a benchmark measures, not this)", backend, len(envs), el.Round(time.Millisecond), float64(len(envs))/el.Seconds())
		})
	}
}
