package worker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/reprove/reprove/builder/fetch"
	"github.com/reprove/reprove/builder/goproxy"
	"github.com/reprove/reprove/builder/runner"
	"github.com/reprove/reprove/pipeline"
	"github.com/reprove/reprove/recipes"
	"github.com/reprove/reprove/recipes/infer"
)

// A deterministic outcome is a result, never retried; anything else is
// tried again.
func TestDeterministic(t *testing.T) {
	_, recipeErr := recipes.Parse("r.yaml", []byte("schema: 1\nnmae: x\n"))
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"build step failed", fmt.Errorf("build: %w", &runner.StepError{Step: 1, Args: []string{"make"}, ExitCode: 2}), true},
		{"limit hit", &runner.LimitError{Limit: runner.LimitMemory}, true},
		{"digest mismatch", &fetch.DigestError{What: "source"}, true},
		{"tree mismatch", &fetch.TreeError{What: "dir"}, true},
		{"module hash mismatch", &goproxy.MismatchError{Module: "m@v1"}, true},
		{"recipe does not read", recipeErr, true},
		{"not a Go binary", &pipeline.InferError{Artifact: "x", Err: infer.ErrNotGo}, true},
		{"network", fmt.Errorf("fetch: %w", &net.OpError{Op: "dial", Err: errors.New("connection refused")}), false},
		{"timeout", fmt.Errorf("fetch: %w", context.DeadlineExceeded), false},
		{"cancelled", context.Canceled, false},
		{"daemon", errors.New("start containerd: exit status 1"), false},
	} {
		if got := Deterministic(tc.err); got != tc.want {
			t.Errorf("%s: Deterministic(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	b := backoff{first: 10 * time.Second, now: func() time.Time { return now }}
	for attempt, want := range map[int]time.Duration{1: 10 * time.Second, 2: 20 * time.Second, 3: 40 * time.Second, 12: time.Hour} {
		if got := b.NextRetry(&rivertype.JobRow{Attempt: attempt}).Sub(now); got != want {
			t.Errorf("attempt %d: retry after %s, want %s", attempt, got, want)
		}
	}
}

// The job log keeps its last 4 MiB and says what it cut; lines from
// outside are escaped.
func TestJobLog(t *testing.T) {
	var phases []string
	l := newJobLog(func() time.Time { return time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC) }, func(p string) { phases = append(phases, p) })
	l.event(pipeline.Event{Phase: pipeline.PhaseFetch, Message: "source \x1b[31mred"})
	l.event(pipeline.Event{Phase: pipeline.PhaseFetch, Message: "downloading", Bytes: 10})
	l.event(pipeline.Event{Phase: pipeline.PhaseBuild, Message: "step 1"})
	line := strings.Repeat("x", 1000)
	for range 5000 {
		l.event(pipeline.Event{Phase: pipeline.PhaseBuild, Line: line})
	}
	l.say("worker", "done")
	b := string(l.bytes())
	if len(b) > maxLog+200 || !strings.HasPrefix(b, "[the first ") || !strings.HasSuffix(b, "worker  done\n") {
		t.Errorf("log of %d bytes starts %q, ends %q", len(b), b[:60], b[len(b)-20:])
	}
	short := newJobLog(time.Now, nil)
	short.say("fetch", "source \x1b[31mred\u202e")
	if got := string(short.bytes()); !strings.Contains(got, `source \x1b[31mred\u202e`) {
		t.Errorf("not escaped: %q", got)
	}
	if strings.Join(phases, " ") != "fetch build" {
		t.Errorf("phases %v", phases)
	}
}
