// Package watch finds new releases and enqueues the jobs that rebuild
// them: Go toolchain releases from the module proxy's golang.org/toolchain
// version list (the go and gofmt commands, and the whole distribution),
// npm packages on a watch list from the registry's package documents,
// Debian binary packages from suites' signed indexes. What
// a watch list has enqueued is remembered in the queue's database, in the
// transaction that enqueues it (queue.EnqueueNew), so a watcher that
// restarts, or two that run at once, never enqueue a release twice.
//
// The documents a watcher reads are untrusted: they are size-limited,
// parsed strictly enough to refuse what is not a release (a version that
// is no version, a tarball that is not http(s), an integrity that is not
// sha512; a Debian index is read only once its InRelease is verified and
// its own digest matches), and everything they say is checked again by the worker that
// fetches the artifact against its pin.
package watch

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/reprove/reprove/fleet/queue"
)

// Source is one watch list: it finds the releases it watches and the job
// that rebuilds each.
type Source interface {
	// Name is the watch list's name (its memory in the queue).
	Name() string
	// Find lists what the source offers now, oldest first.
	Find(ctx context.Context) ([]queue.WatchItem, error)
}

// Once asks the source once and enqueues what its watch list has not
// enqueued before.
func Once(ctx context.Context, q *queue.Queue, src Source) ([]queue.Enqueued, error) {
	items, err := src.Find(ctx)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", src.Name(), err)
	}
	return q.EnqueueNew(ctx, src.Name(), items)
}

// Run asks the source every interval until ctx ends, reporting what it
// enqueued; an error is reported and the next round tried.
func Run(ctx context.Context, q *queue.Queue, src Source, every time.Duration, report func([]queue.Enqueued, error)) {
	for {
		got, err := Once(ctx, q, src)
		report(got, err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// maxDocument bounds a document a watcher reads.
const maxDocument = 64 << 20

// get fetches a document, refusing one larger than maxDocument.
func get(ctx context.Context, hc *http.Client, url, accept string) ([]byte, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxDocument+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if len(b) > maxDocument {
		return nil, fmt.Errorf("GET %s: larger than %d bytes", url, maxDocument)
	}
	return b, nil
}
