package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/reprove/reprove/builder"
	"github.com/reprove/reprove/builder/fetch"
	"github.com/reprove/reprove/builder/goproxy"
	"github.com/reprove/reprove/builder/runner"
	"github.com/reprove/reprove/compare/verdict"
	"github.com/reprove/reprove/fleet/queue"
	"github.com/reprove/reprove/internal/escape"
	"github.com/reprove/reprove/pipeline"
	"github.com/reprove/reprove/recipes"
	"github.com/reprove/reprove/recipes/infer"
)

// slot is one pipeline session; its progress goes to the job it runs.
type slot struct {
	sess *pipeline.Session
	mu   sync.Mutex
	sink func(pipeline.Event)
}

func (s *slot) event(e pipeline.Event) {
	s.mu.Lock()
	f := s.sink
	s.mu.Unlock()
	if f != nil {
		f(e)
	}
}

func (s *slot) route(f func(pipeline.Event)) {
	s.mu.Lock()
	s.sink = f
	s.mu.Unlock()
}

// built is what a build job made: the recipe it built and the rebuild's
// result.
type built struct {
	recipe *recipes.Recipe
	res    *pipeline.RebuildResult
}

// failure is a deterministic outcome that is not a rebuild: the recipe
// (when there is one) and why.
type failure struct {
	recipe *recipes.Recipe
	err    error
}

func (f *failure) Error() string { return f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

// build runs one attempt of a rebuild or infer job: unless an attempt
// already stored the job's result, it takes a pipeline session, runs the
// job, and stores the result (a deterministic failure too) with its
// publication, in one transaction. A transient error is returned for
// River to retry, and stored as the job's failure only on its last
// attempt.
func (w *Worker) build(ctx context.Context, row *rivertype.JobRow, run func(context.Context, *slot, *jobLog, *rivertype.JobRow) (*built, error)) error {
	if _, err := w.q.Result(ctx, row.ID); err == nil {
		return nil // an earlier attempt finished; its publish job is queued
	} else if !errors.Is(err, queue.ErrNotFound) {
		return err
	}
	ctx, done := w.jobContext(ctx)
	defer done()
	started := w.cfg.Clock()
	phases := w.phaseWriter(row)
	log := newJobLog(w.cfg.Clock, phases.set)
	log.say("worker", fmt.Sprintf("job %d attempt %d of %d on worker %s", row.ID, row.Attempt, row.MaxAttempts, w.id))
	defer func() {
		phases.stop()
		if err := w.q.ClearRunning(context.Background(), row.ID, w.id); err != nil {
			w.cfg.Logf("job %d: %v", row.ID, err)
		}
	}()
	s := <-w.slots
	s.route(log.event)
	b, err := run(ctx, s, log, row)
	s.route(nil)
	w.slots <- s
	res := &queue.Result{Job: row.ID, Worker: w.id, WorkerName: w.cfg.Name, Key: w.cfg.Signer.Fingerprint,
		Attempt: row.Attempt, Started: started}
	var fail *failure
	switch {
	case err == nil:
		if err := fill(res, b, w.cfg.Signer.Fingerprint); err != nil {
			return err
		}
		log.say("worker", fmt.Sprintf("%s %s: %s", b.res.Recipe.Name, b.res.Recipe.Version, res.Outcome))
	case errors.As(err, &fail) || Deterministic(err):
		res.Outcome, res.Error = queue.Failed, err.Error()
		if fail != nil && fail.recipe != nil {
			res.Recipe, _ = fail.recipe.Canonical()
			res.RecipeDigest, _ = fail.recipe.Digest()
		}
		log.say("worker", "failed: "+err.Error())
	default:
		cause := err
		if c := context.Cause(ctx); c != nil && ctx.Err() != nil {
			cause = c
		}
		if row.Attempt < row.MaxAttempts || ctx.Err() != nil {
			w.cfg.Logf("job %d attempt %d: %v (to be tried again)", row.ID, row.Attempt, cause)
			return cause
		}
		res.Outcome, res.Error = queue.Failed, fmt.Sprintf("gave up after %d attempts: %v", row.Attempt, cause)
		log.say("worker", res.Error)
	}
	res.Finished = w.cfg.Clock()
	res.Log = log.bytes()
	stored, err := w.q.StoreResult(context.Background(), res, w.cfg.Server != "")
	if err != nil {
		return err
	}
	if b != nil && !w.cfg.KeepResults {
		os.RemoveAll(b.res.Dir)
	}
	if stored {
		w.cfg.Logf("job %d: %s", row.ID, res.Outcome)
	} else {
		w.cfg.Logf("job %d: another attempt stored its result first; this one (%s) is dropped", row.ID, res.Outcome)
	}
	return nil
}

// phases records a running job's phase for the dashboard, off the build's
// path: the newest phase is written when the database is free, older ones
// that were not are skipped.
type phases struct {
	latest chan string
	done   chan struct{}
}

func (w *Worker) phaseWriter(row *rivertype.JobRow) *phases {
	p := &phases{latest: make(chan string, 1), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for phase := range p.latest {
			if err := w.q.SetPhase(context.Background(), row.ID, w.id, row.Attempt, phase); err != nil {
				w.cfg.Logf("job %d: %v", row.ID, err)
			}
		}
	}()
	return p
}

func (p *phases) set(phase string) {
	for {
		select {
		case p.latest <- phase:
			return
		default:
			select { // drop the phase not yet written
			case <-p.latest:
			default:
			}
		}
	}
}

func (p *phases) stop() {
	close(p.latest)
	<-p.done
}

// fill records a finished rebuild in res: outcome, recipe, shipped
// digests, result.json, attestations, reports, publication key.
func fill(res *queue.Result, b *built, key digest.Digest) error {
	r := b.res
	res.Outcome = outcomeOf(r)
	var err error
	if res.Recipe, err = b.recipe.Canonical(); err != nil {
		return err
	}
	res.RecipeDigest = r.Recipe.Digest
	outputs := map[string]digest.Digest{}
	for _, o := range r.Outputs {
		outputs[o.Path] = o.Rebuilt
		if o.Shipped != nil {
			res.Shipped = append(res.Shipped, o.Shipped.Digest)
		}
		if o.Report != "" {
			rep, err := readCompact(o.Report)
			if err != nil {
				return err
			}
			res.Reports = append(res.Reports, rep)
		}
	}
	if res.ResultJSON, err = os.ReadFile(filepath.Join(r.Dir, "result.json")); err != nil {
		return err
	}
	for _, a := range r.Attestations {
		env, err := readCompact(a)
		if err != nil {
			return err
		}
		res.Attestations = append(res.Attestations, env)
	}
	if len(res.Attestations) > 0 {
		res.Publication = queue.PublicationKey(res.RecipeDigest, key, outputs)
	}
	return nil
}

func readCompact(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out.Bytes(), nil
}

// outcomeOf is a rebuild's outcome: different if any shipped artifact
// differs, equivalent if any needed normalizers, identical if all are,
// rebuilt if the recipe names nothing shipped.
func outcomeOf(r *pipeline.RebuildResult) queue.Outcome {
	out := queue.Rebuilt
	for _, o := range r.Outputs {
		if o.Verdict == nil {
			continue
		}
		switch *o.Verdict {
		case verdict.Different:
			return queue.Different
		case verdict.Equivalent:
			out = queue.Equivalent
		case verdict.Identical:
			if out == queue.Rebuilt {
				out = queue.Identical
			}
		}
	}
	return out
}

// Deterministic reports whether err is an outcome that another attempt
// would only repeat: a build step that failed, a limit the build hit, an
// input whose digest is not its pin, an output that is not there, a
// recipe that does not read, a pinned artifact whose program infer cannot
// read or infer a recipe for. Anything else
// (the network, the daemon, the database) is transient.
func Deterministic(err error) bool {
	var (
		step   *runner.StepError
		limit  *runner.LimitError
		dg     *fetch.DigestError
		tree   *fetch.TreeError
		mod    *goproxy.MismatchError
		out    *builder.OutputError
		rerr   *recipes.Error
		rerrs  recipes.Errors
		exists *pipeline.ExistsError
		inf    *pipeline.InferError
	)
	return errors.As(err, &step) || errors.As(err, &limit) || errors.As(err, &dg) || errors.As(err, &tree) ||
		errors.As(err, &mod) || errors.As(err, &out) || errors.As(err, &rerr) || errors.As(err, &rerrs) ||
		errors.As(err, &exists) || errors.As(err, &inf) || errors.Is(err, infer.ErrNotGo)
}

func (w *Worker) signing() *pipeline.Signing {
	return &pipeline.Signing{Signer: w.cfg.Signer, BuilderID: w.cfg.BuilderID}
}

// rebuild runs a rebuild job.
func (w *Worker) rebuild(ctx context.Context, s *slot, row *rivertype.JobRow, a queue.RebuildArgs) (*built, error) {
	r, err := a.ParseRecipe()
	if err != nil {
		return nil, &failure{err: err}
	}
	res, err := s.sess.Rebuild(ctx, pipeline.RebuildRequest{Recipe: r, OutDir: w.resultsDir(row.ID, row.Attempt), Replace: true, Signing: w.signing()})
	if err != nil {
		if Deterministic(err) {
			return nil, &failure{recipe: r, err: err}
		}
		return nil, err
	}
	return &built{recipe: r, res: res}, nil
}

// maxCandidates bounds the candidate recipes an infer job rebuilds.
const maxCandidates = 3

// infer runs an infer job: the recipe for the artifact (inferred from the
// program, or the Go distribution's), then its rebuild; of inferred
// candidates (spellings of -ldflags) the first that reproduces is kept,
// else the first.
func (w *Worker) infer(ctx context.Context, s *slot, log *jobLog, row *rivertype.JobRow, a queue.InferArgs) (*built, error) {
	var cands []*recipes.Recipe
	switch a.Artifact.Recipe {
	case queue.GoDistribution:
		m, err := s.sess.ModuleZip(ctx, a.Artifact.Module, a.Artifact.ModuleVersion)
		if err != nil {
			return nil, err
		}
		goVersion, arch, ok := splitToolchainVersion(a.Artifact.ModuleVersion)
		if !ok {
			return nil, &failure{err: fmt.Errorf("%s@%s is not a Go distribution for linux", a.Artifact.Module, a.Artifact.ModuleVersion)}
		}
		r, err := recipes.GoDistribution(recipes.GoDist{Go: goVersion, Arch: arch, Sum: m.Sum, ZipURL: m.URL, ZipDigest: m.Digest, Bootstrap: a.Artifact.Bootstrap})
		if err != nil {
			return nil, &failure{err: err}
		}
		cands = []*recipes.Recipe{r}
	case queue.DebianPackage:
		inf, err := s.sess.InferDeb(ctx, pipeline.DebRequest{URL: a.Artifact.URL, Digest: a.Artifact.Digest, Suite: a.Artifact.Suite, Mirror: a.Artifact.Mirror})
		if err != nil {
			if Deterministic(err) {
				return nil, &failure{err: err}
			}
			return nil, err
		}
		for _, f := range inf.Findings {
			log.say("infer", fmt.Sprintf("%s %s %s: %s", f.Certainty, f.Topic, f.Value, f.Reason))
		}
		if len(inf.Incomplete) > 0 {
			return nil, &failure{recipe: inf.Recipe, err: fmt.Errorf("the recipe inferred for %s is incomplete: %s", a.Artifact.Describe(), strings.Join(inf.Incomplete, "; "))}
		}
		cands = []*recipes.Recipe{inf.Recipe}
	default:
		inf, err := s.sess.InferShipped(ctx, pipeline.ShippedRequest{URL: a.Artifact.URL, Digest: a.Artifact.Digest,
			Module: a.Artifact.Module, ModuleVersion: a.Artifact.ModuleVersion, Member: a.Artifact.Member})
		if err != nil {
			if Deterministic(err) {
				return nil, &failure{err: err}
			}
			return nil, err
		}
		for _, f := range inf.Findings {
			log.say("infer", fmt.Sprintf("%s %s %s: %s", f.Certainty, f.Topic, f.Value, f.Reason))
		}
		if len(inf.Incomplete) > 0 {
			if len(inf.Notes) > 0 {
				// Something could not be looked up (the checksum
				// database): another try may complete the recipe.
				return nil, fmt.Errorf("the recipe inferred for %s is incomplete: %s", a.Artifact.Describe(), strings.Join(inf.Notes, "; "))
			}
			return nil, &failure{recipe: inf.Recipe, err: fmt.Errorf("the recipe inferred for %s is incomplete: %s", a.Artifact.Describe(), strings.Join(inf.Incomplete, "; "))}
		}
		for _, c := range inf.Candidates {
			cands = append(cands, c.Recipe)
		}
		if len(cands) == 0 {
			cands = []*recipes.Recipe{inf.Recipe}
		}
	}
	var first *built
	for i, r := range cands[:min(len(cands), maxCandidates)] {
		log.say("infer", fmt.Sprintf("rebuilding candidate %d of %d", i+1, len(cands)))
		res, err := s.sess.Rebuild(ctx, pipeline.RebuildRequest{Recipe: r, OutDir: filepath.Join(w.resultsDir(row.ID, row.Attempt), fmt.Sprint("candidate-", i+1)), Replace: true, Signing: w.signing()})
		if err != nil {
			if Deterministic(err) {
				return nil, &failure{recipe: r, err: err}
			}
			return nil, err
		}
		b := &built{recipe: r, res: res}
		if res.Verdict == pipeline.Reproduced {
			if first != nil && !w.cfg.KeepResults {
				os.RemoveAll(first.res.Dir)
			}
			return b, nil
		}
		if first == nil {
			first = b
		} else if !w.cfg.KeepResults {
			os.RemoveAll(res.Dir)
		}
	}
	return first, nil
}

// splitToolchainVersion reads v0.0.1-go1.26.8.linux-amd64.
func splitToolchainVersion(v string) (goVersion, arch string, ok bool) {
	rest, ok := strings.CutPrefix(v, "v0.0.1-go")
	if !ok {
		return "", "", false
	}
	goVersion, arch, ok = strings.Cut(rest, ".linux-")
	return goVersion, arch, ok && goVersion != "" && arch != ""
}

// publish runs a publish job: the attestations and compare reports of the
// result that owns the job's publication key go to the centre (once: a
// publication already done is not submitted again; a submission the
// centre holds already logs nothing new).
func (w *Worker) publish(ctx context.Context, row *rivertype.JobRow, a queue.PublishArgs) error {
	res, err := w.q.Result(ctx, a.Job)
	if errors.Is(err, queue.ErrNotFound) {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	if res.Publication == "" {
		return nil
	}
	pub, err := w.q.Publication(ctx, res.Publication)
	if err != nil {
		return err
	}
	if !pub.Published.IsZero() {
		return nil
	}
	src := res
	if pub.Job != res.Job {
		if src, err = w.q.Result(ctx, pub.Job); err != nil {
			return err
		}
	}
	tmp, err := os.MkdirTemp("", "reprove-publish-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	attDir := filepath.Join(tmp, "attestations")
	if err := os.Mkdir(attDir, 0o700); err != nil {
		return err
	}
	for i, env := range src.Attestations {
		if err := os.WriteFile(filepath.Join(attDir, fmt.Sprintf("%03d.intoto.json", i)), env, 0o600); err != nil {
			return err
		}
	}
	var reports []string
	for i, rep := range src.Reports {
		p := filepath.Join(tmp, fmt.Sprintf("report-%03d.json", i))
		if err := os.WriteFile(p, rep, 0o600); err != nil {
			return err
		}
		reports = append(reports, p)
	}
	pr, err := pipeline.Publish(ctx, pipeline.PublishRequest{Server: w.cfg.Server, LogKey: w.cfg.LogKey,
		Files: []string{attDir}, CompareReports: reports, BundleDir: tmp})
	if err != nil {
		w.cfg.Logf("job %d: publish to %s: %v (to be tried again)", a.Job, w.cfg.Server, err)
		return err
	}
	var entries []int64
	fresh := 0
	for _, d := range append(pr.Documents, pr.CompareReports...) {
		entries = append(entries, d.Index)
		if d.New {
			fresh++
		}
	}
	if err := w.q.MarkPublished(ctx, pub.Key, pr.Server, entries); err != nil {
		return err
	}
	w.cfg.Logf("job %d: published %d entries (%d new) to %s, tree size %d", a.Job, len(entries), fresh, pr.Server, pr.TreeSize)
	return nil
}

// --- the job's log ---

// maxLog bounds the log kept of one job; beyond it the oldest lines go
// (and the log says how much).
const maxLog = 4 << 20

// jobLog is one job's log: its phases and the build's output, each line
// escaped (internal/escape) so that it is safe on a terminal and a page.
type jobLog struct {
	mu      sync.Mutex
	buf     []byte
	cut     int64
	now     func() time.Time
	phase   string
	onPhase func(string)
}

func newJobLog(now func() time.Time, onPhase func(string)) *jobLog {
	return &jobLog{now: now, onPhase: onPhase}
}

func (l *jobLog) event(e pipeline.Event) {
	if e.Bytes > 0 {
		return
	}
	if e.Phase == pipeline.PhaseBuild && e.Message == "" {
		l.add("  | " + e.Line) // escaped by the builder already
		return
	}
	l.say(string(e.Phase), e.Message)
}

func (l *jobLog) say(phase, msg string) {
	l.add(fmt.Sprintf("%s %-7s %s", l.now().UTC().Format("15:04:05"), phase, escape.Line(msg)))
	l.mu.Lock()
	changed := phase != l.phase && phase != "worker" && phase != string(pipeline.PhaseRuntime)
	if changed {
		l.phase = phase
	}
	l.mu.Unlock()
	if changed && l.onPhase != nil {
		l.onPhase(phase)
	}
}

func (l *jobLog) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(append(l.buf, line...), '\n')
	if len(l.buf) > maxLog {
		drop := len(l.buf) - maxLog*3/4
		if i := bytes.IndexByte(l.buf[drop:], '\n'); i >= 0 {
			drop += i + 1
		}
		l.cut += int64(drop)
		l.buf = append([]byte(nil), l.buf[drop:]...)
	}
}

func (l *jobLog) bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cut == 0 {
		return append([]byte(nil), l.buf...)
	}
	return append([]byte(fmt.Sprintf("[the first %d bytes of this log were cut; it keeps the last %d]\n", l.cut, len(l.buf))), l.buf...)
}
