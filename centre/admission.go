package centre

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"

	"github.com/reprove/reprove/attest/keys"
	"github.com/reprove/reprove/centre/api"
	"github.com/reprove/reprove/centre/item"
	"github.com/reprove/reprove/centre/store"
)

// What the centre takes at once, and from each key, unless configured.
const (
	// DefaultMaxInFlight bounds the bytes of submissions being read or
	// checked at once: past it a submission is answered 503 at once.
	DefaultMaxInFlight = 128 << 20
	// DefaultMaxSubmissions bounds the submissions in progress at once.
	DefaultMaxSubmissions = 1024
	// DefaultKeyRate and DefaultKeyBurst are each registered key's share:
	// envelopes per second over time, and at once.
	DefaultKeyRate  = 10
	DefaultKeyBurst = 1024
)

// gate admits submissions: a bound on the bytes and the number of them in
// progress, so a flood of large submissions answers 503 instead of taking
// the server's memory.
type gate struct {
	bytes *semaphore.Weighted
	n     *semaphore.Weighted
}

func newGate(maxBytes int64, maxN int) *gate {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxInFlight
	}
	if maxN <= 0 {
		maxN = DefaultMaxSubmissions
	}
	return &gate{bytes: semaphore.NewWeighted(maxBytes), n: semaphore.NewWeighted(int64(maxN))}
}

// enter admits a submission of the request's declared size (the most a
// submission may be, when it declares none), or answers 503 and returns
// false. The caller calls release when done.
func (c *Centre) enter(w http.ResponseWriter, r *http.Request) (release func(), ok bool) {
	n := r.ContentLength
	if n < 0 || n > api.MaxSubmission {
		n = api.MaxSubmission
	}
	if !c.gate.n.TryAcquire(1) {
		c.busy(w, errors.New("too many submissions in progress"))
		return nil, false
	}
	if !c.gate.bytes.TryAcquire(n) {
		c.gate.n.Release(1)
		c.busy(w, fmt.Errorf("too many bytes of submissions in progress (this one declares %d)", n))
		return nil, false
	}
	return func() { c.gate.bytes.Release(n); c.gate.n.Release(1) }, true
}

// busy answers 503 with Retry-After for a centre that is overloaded.
func (c *Centre) busy(w http.ResponseWriter, err error) {
	w.Header().Set("Retry-After", "1")
	writeJSON(w, http.StatusServiceUnavailable, &api.Error{SchemaVersion: api.SchemaVersion, Code: api.CodeUnavailable,
		Message: "the centre is busy: " + err.Error() + "; retry after a second"})
}

// quotas are the registered keys' shares, one token bucket
// (golang.org/x/time/rate) per key, in this process (each replica keeps
// its own).
type quotas struct {
	limit rate.Limit
	burst int
	mu    sync.Mutex
	by    map[digest.Digest]*rate.Limiter
}

func newQuotas(perSecond float64, burst int) *quotas {
	q := &quotas{limit: rate.Limit(perSecond), burst: burst, by: map[digest.Digest]*rate.Limiter{}}
	switch {
	case perSecond < 0:
		q.limit = rate.Inf
	case perSecond == 0:
		q.limit = DefaultKeyRate
	}
	if burst <= 0 {
		q.burst = DefaultKeyBurst
	}
	return q
}

// take takes one token per item from each key that signed it; when a key
// has too few, it takes none and returns how long until it would have.
func (q *quotas) take(items []*item.Item, now time.Time) (digest.Digest, time.Duration) {
	if q.limit == rate.Inf {
		return "", 0
	}
	need := map[digest.Digest]int{}
	for _, it := range items {
		for _, k := range it.SignerKeys {
			need[k]++
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	var taken []*rate.Reservation
	for k, n := range need {
		l := q.by[k]
		if l == nil {
			l = rate.NewLimiter(q.limit, q.burst)
			q.by[k] = l
		}
		r := l.ReserveN(now, n)
		if !r.OK() || r.DelayFrom(now) > 0 {
			wait := time.Duration(math.MaxInt64)
			if r.OK() {
				wait = r.DelayFrom(now)
				r.CancelAt(now)
			}
			for _, t := range taken {
				t.CancelAt(now)
			}
			return k, wait
		}
		taken = append(taken, r)
	}
	return "", 0
}

// keyRing caches the registered keys, reloading them when the store's key
// version moves (checked at most once a second, and at once when a
// submission names no known key, so a key added a moment ago counts). It
// remembers which key signed last, and offers it first: most submissions
// then cost one signature check, however many keys are registered.
type keyRing struct {
	st      store.Store
	mu      sync.Mutex
	keys    []item.Key
	version int64
	checked time.Time
	loaded  bool
	last    atomic.Pointer[digest.Digest]
}

func (r *keyRing) get(ctx context.Context, force bool) ([]item.Key, error) {
	ks, _, err := r.load(ctx, force)
	return ks, err
}

// load is get, also saying whether the keys changed: a submission that
// names no known key is checked again only against keys that did (a
// hostile one must not cost two passes over the same keys).
func (r *keyRing) load(ctx context.Context, force bool) ([]item.Key, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.loaded && !force && time.Since(r.checked) < time.Second {
		return r.ordered(), false, nil
	}
	v, err := r.st.KeysVersion(ctx)
	if err != nil {
		return nil, false, err
	}
	r.checked = time.Now()
	if r.loaded && v == r.version {
		return r.ordered(), false, nil
	}
	recs, err := r.st.Keys(ctx)
	if err != nil {
		return nil, false, err
	}
	var ks []item.Key
	for _, k := range recs {
		ver, err := keys.ParseVerifier(k.PEM, "registered key "+k.Name)
		if err != nil {
			return nil, false, err
		}
		ks = append(ks, item.Key{Name: k.Name, Role: k.Role, Verifier: ver, Revoked: k.Revoked})
	}
	r.keys, r.version, r.loaded = ks, v, true
	return r.ordered(), true, nil
}

// ordered is the keys with the one that signed last first.
func (r *keyRing) ordered() []item.Key {
	last := r.last.Load()
	if last == nil {
		return r.keys
	}
	out := make([]item.Key, 0, len(r.keys))
	for _, k := range r.keys {
		if k.Verifier.Fingerprint == *last {
			out = append(out, k)
		}
	}
	for _, k := range r.keys {
		if k.Verifier.Fingerprint != *last {
			out = append(out, k)
		}
	}
	return out
}

// signed records the key that signed an accepted item.
func (r *keyRing) signed(it *item.Item) {
	if len(it.SignerKeys) > 0 {
		k := it.SignerKeys[0]
		if p := r.last.Load(); p == nil || *p != k {
			r.last.Store(&k)
		}
	}
}

// retryAfter writes a Retry-After of d, in whole seconds (at least one).
func retryAfter(w http.ResponseWriter, d time.Duration) {
	s := int64(math.Ceil(d.Seconds()))
	if d == time.Duration(math.MaxInt64) || s > 3600 {
		s = 3600
	}
	w.Header().Set("Retry-After", strconv.FormatInt(max(1, s), 10))
}
