package witness

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/reprove/reprove/centre/store"
)

// Log is what the cosigner needs of the centre's log.
type Log interface {
	// Newest is the newest signed checkpoint (Size 0 for an empty log).
	Newest(ctx context.Context) (store.Checkpoint, error)
	// ProveConsistency proves that the tree of size newer extends the one
	// of size older.
	ProveConsistency(ctx context.Context, older, newer int64) ([]tlog.Hash, error)
	// AddCosignature stores a witness's cosignature.
	AddCosignature(ctx context.Context, c store.Cosignature) error
}

// Options tune the cosigner. Zero values take the defaults.
type Options struct {
	// Interval is the least time between two requests to one witness
	// (default 1 s): under load, each request carries the newest
	// checkpoint, so the witnesses see one of every few commits.
	Interval time.Duration
	// Refresh is how often an unchanged checkpoint is cosigned again
	// (default 15 min), so its cosignatures stay young enough for
	// policies with maxAge while the log does not grow.
	Refresh time.Duration
	// Timeout bounds one request (default 10 s).
	Timeout time.Duration
	// MaxBackoff bounds the wait before asking a failing witness again
	// (default 30 s; the first retry comes after Interval).
	MaxBackoff time.Duration
	// HTTP is the client (default: one with Timeout).
	HTTP *http.Client
	// Logf receives what goes wrong (a witness down, a refusal).
	Logf func(format string, args ...any)
	// Cosigned, when set, hears of each cosignature stored.
	Cosigned func(store.Cosignature)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Cosigner keeps witnesses up to date with a log in the background: one
// goroutine per witness, so a slow or dead witness holds up no other and
// never an append.
type Cosigner struct {
	log  Log
	opts Options
	ws   []*worker
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// worker is one witness's loop and what it knows.
type worker struct {
	c    *Cosigner
	w    *Witness
	wake chan struct{}
	mu   sync.Mutex
	st   Status
}

// Status is what the cosigner knows of one witness.
type Status struct {
	Witness string
	// Known is the tree size the witness is believed to hold (-1: not
	// known yet).
	Known int64
	// Cosigned is the size of the last checkpoint it cosigned, and At when.
	Cosigned int64
	At       time.Time
	// Err is the last failure, cleared by a success.
	Err error
	// Rounds counts the cosignatures stored.
	Rounds int
}

// Start starts a cosigner for log with witnesses.
func Start(log Log, witnesses []*Witness, opts Options) *Cosigner {
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	if opts.Refresh <= 0 {
		opts.Refresh = 15 * time.Minute
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	if opts.HTTP == nil {
		opts.HTTP = &http.Client{Timeout: opts.Timeout}
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &Cosigner{log: log, opts: opts, stop: make(chan struct{})}
	for _, w := range witnesses {
		wk := &worker{c: c, w: w, wake: make(chan struct{}, 1), st: Status{Witness: w.Name(), Known: -1, Cosigned: -1}}
		c.ws = append(c.ws, wk)
		c.wg.Add(1)
		go wk.run()
	}
	c.Notify()
	return c
}

// Notify tells every witness's loop that the log has a new checkpoint. It
// never blocks.
func (c *Cosigner) Notify() {
	for _, w := range c.ws {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// Status reports what the cosigner knows of each witness.
func (c *Cosigner) Status() []Status {
	out := make([]Status, len(c.ws))
	for i, w := range c.ws {
		w.mu.Lock()
		out[i] = w.st
		w.mu.Unlock()
	}
	return out
}

// Close stops the loops, abandoning requests in flight.
func (c *Cosigner) Close() {
	c.once.Do(func() { close(c.stop) })
	c.wg.Wait()
}

func (w *worker) run() {
	defer w.c.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-w.c.stop
		cancel()
	}()
	opts := w.c.opts
	backoff := time.Duration(0)
	var last time.Time // the last request's start
	timer := time.NewTimer(opts.Refresh)
	defer timer.Stop()
	for {
		select {
		case <-w.c.stop:
			return
		case <-w.wake:
		case <-timer.C:
		}
		// At most one request per Interval: wait out the rest of it
		// (wakes arriving meanwhile coalesce into this round).
		if wait := opts.Interval - time.Since(last); wait > 0 {
			select {
			case <-w.c.stop:
				return
			case <-time.After(wait):
			}
		}
		last = time.Now()
		err := w.round(ctx)
		next := opts.Refresh
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			backoff = min(max(2*backoff, opts.Interval), opts.MaxBackoff)
			next = backoff
			opts.Logf("cosigner: %v (next try in %s)", err, backoff)
		} else {
			backoff = 0
		}
		w.mu.Lock()
		w.st.Err = err
		w.mu.Unlock()
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(next)
	}
}

// round brings the witness to the log's newest checkpoint, or cosigns it
// again when its cosignature is older than Refresh.
func (w *worker) round(ctx context.Context) error {
	err := w.bringUp(ctx)
	if err != nil && !strings.HasPrefix(err.Error(), "witness "+w.w.Name()+":") {
		err = fmt.Errorf("witness %s: %w", w.w.Name(), err)
	}
	return err
}

func (w *worker) bringUp(ctx context.Context) error {
	opts := w.c.opts
	cp, err := w.c.log.Newest(ctx)
	if err != nil {
		return err
	}
	if cp.Size == 0 {
		return nil
	}
	w.mu.Lock()
	known, cosigned, at := w.st.Known, w.st.Cosigned, w.st.At
	w.mu.Unlock()
	if cosigned == cp.Size && opts.Now().Sub(at) < opts.Refresh {
		return nil
	}
	// A witness new to the centre is asked from size 0; if it holds the
	// log already, it answers with its size (409) and is asked again with
	// a proof from there.
	old := max(known, 0)
	for try := 0; ; try++ {
		if old > cp.Size {
			// The witness holds a larger tree than this replica's newest:
			// another replica moved on (read again), or the log was
			// rolled back or forked, which the witness rightly refuses.
			if cp, err = w.c.log.Newest(ctx); err != nil {
				return err
			}
			if old > cp.Size {
				return fmt.Errorf("the witness holds the log at tree size %d, larger than the centre's %d: the log was rolled back or forked, or another replica is ahead", old, cp.Size)
			}
		}
		proof, err := w.c.log.ProveConsistency(ctx, old, cp.Size)
		if err != nil {
			return err
		}
		started := opts.Now()
		rctx, cancel := context.WithTimeout(ctx, opts.Timeout)
		line, err := w.w.AddCheckpoint(rctx, opts.HTTP, old, proof, cp.Note)
		cancel()
		var ce *ConflictError
		if errors.As(err, &ce) && try < 2 {
			w.setKnown(ce.Known)
			old = ce.Known
			continue
		}
		if err != nil {
			return err
		}
		signed, err := At(line)
		if err != nil {
			return err
		}
		c := store.Cosignature{Size: cp.Size, Witness: w.w.Key, Line: line, At: signed}
		if err := w.c.log.AddCosignature(ctx, c); err != nil {
			return err
		}
		w.mu.Lock()
		w.st.Known, w.st.Cosigned, w.st.At = cp.Size, cp.Size, started
		w.st.Rounds++
		w.mu.Unlock()
		if opts.Cosigned != nil {
			opts.Cosigned(c)
		}
		return nil
	}
}

func (w *worker) setKnown(n int64) {
	w.mu.Lock()
	w.st.Known = n
	w.mu.Unlock()
}
