package merklelog

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest/logproof"
	"github.com/reprove/reprove/centre/item"
	"github.com/reprove/reprove/centre/store"
)

// BenchmarkSequence is what the sequencer costs an entry: single-review
// appends from 256 concurrent callers (as the centre's handlers make them
// at 256 writers) into SQLite, with the reply's inclusion proof. It
// reports the process's CPU time an entry beside the time.
func BenchmarkSequence(b *testing.B) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	l, err := Open(ctx, st, newKey(b), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	// One checked review, varied: the store checks no signature, and the
	// indexes see distinct subjects, payloads and leaves as in a real log.
	base := reviews(b, 1, "bench")[0]
	items := make([]*item.Item, b.N)
	for i := range items {
		it := *base
		it.Leaf = fmt.Appendf(append([]byte(nil), base.Leaf...), " %d", i)
		it.LeafHash = logproof.LeafHash(it.Leaf)
		it.PayloadDigest = digest.FromString(fmt.Sprintf("payload %d", i))
		it.Subjects = []item.Subject{{Name: "x", Digest: digest.FromString(fmt.Sprintf("subject %d", i))}}
		items[i] = &it
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	for range 256 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(len(items)) {
					return
				}
				added, cp, err := l.Append(ctx, items[i:i+1], nil)
				for err == ErrBusy {
					time.Sleep(time.Millisecond)
					added, cp, err = l.Append(ctx, items[i:i+1], nil)
				}
				if err != nil {
					b.Error(err)
					return
				}
				if _, err := l.ProveInclusion(ctx, cp.Size, added[0].Index); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "µs-CPU/entry")
}
