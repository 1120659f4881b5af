package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/recipes"
)

// The job kinds, as River records them.
const (
	KindRebuild = "reprove_rebuild"
	KindInfer   = "reprove_infer"
	KindPublish = "reprove_publish"
)

// Release is what a job is about, as the dashboard groups it: a version of
// a named thing in an ecosystem, found by a watch list (or enqueued by
// hand, with Watch empty).
type Release struct {
	// Ecosystem is "go", "npm", "debian" or "recipe" (enqueued by hand).
	Ecosystem string `json:"ecosystem"`
	Watch     string `json:"watch,omitempty"`
	Name      string `json:"name"`
	Version   string `json:"version"`
}

func (r Release) check() error {
	for _, f := range []struct{ name, v string }{{"ecosystem", r.Ecosystem}, {"name", r.Name}, {"version", r.Version}} {
		if f.v == "" {
			return fmt.Errorf("release: no %s", f.name)
		}
	}
	for _, s := range []string{r.Ecosystem, r.Watch, r.Name, r.Version} {
		if len(s) > 256 || strings.ContainsAny(s, "\x00\n\r") {
			return fmt.Errorf("release: %q is not a name", s)
		}
	}
	return nil
}

// RebuildArgs is a job that rebuilds a recipe.
type RebuildArgs struct {
	Release Release `json:"release"`
	// Recipe is the recipe's canonical JSON (its digest is the recipe's).
	Recipe json.RawMessage `json:"recipe"`
	// File is where the recipe was read from, and BaseDir the directory
	// its relative paths (a dir source, a shipped path) are relative to;
	// both are empty for a recipe made in code.
	File    string `json:"file,omitempty"`
	BaseDir string `json:"baseDir,omitempty"`
}

// Kind is River's name for the job.
func (RebuildArgs) Kind() string { return KindRebuild }

// NewRebuild makes the job of rebuilding r.
func NewRebuild(r *recipes.Recipe, rel Release) (RebuildArgs, error) {
	c, err := r.Canonical()
	if err != nil {
		return RebuildArgs{}, err
	}
	if rel.Name == "" {
		rel.Name, rel.Version = r.Name, r.Version
	}
	if rel.Ecosystem == "" {
		rel.Ecosystem = "recipe"
	}
	return RebuildArgs{Release: rel, Recipe: c, File: r.File(), BaseDir: r.BaseDir()}, nil
}

// ParseRecipe reads the job's recipe back, strictly, with its relative
// paths resolved as where it was enqueued.
func (a RebuildArgs) ParseRecipe() (*recipes.Recipe, error) {
	name := a.File
	if name == "" {
		name = "recipe of " + a.Release.Name + " " + a.Release.Version
	}
	return recipes.ParseIn(name, a.BaseDir, a.Recipe)
}

// RecipeDigest is the digest of the job's recipe.
func (a RebuildArgs) RecipeDigest() digest.Digest { return digest.FromBytes(a.Recipe) }

// RecipeKind says how an infer job makes its recipe.
type RecipeKind string

const (
	// Inferred: reprove infer on the shipped program (the Member of the
	// artifact).
	Inferred RecipeKind = "infer"
	// GoDistribution: the whole Go distribution, rebuilt from its own
	// source with make.bash -distpack (as gorebuild does), compared with
	// the golang.org/toolchain module zip.
	GoDistribution RecipeKind = "go-distribution"
	// DebianPackage: a binary package (.deb) of a Debian suite, rebuilt
	// from its source package as reprove infer writes the recipe (the
	// source found in the suite's signed Sources index, a buildd
	// environment locked against its signed Packages index).
	DebianPackage RecipeKind = "debian"
)

// Artifact is a shipped artifact an infer job starts from: a file at a
// URL pinned by digest, or a Go module version (its zip, checked against
// the Go checksum database), and the program in it.
type Artifact struct {
	URL    string        `json:"url,omitempty"`
	Digest digest.Digest `json:"digest,omitempty"`
	// Module and ModuleVersion name a module on the Go module proxy (for
	// Go distributions, golang.org/toolchain).
	Module        string `json:"module,omitempty"`
	ModuleVersion string `json:"moduleVersion,omitempty"`
	// Member is the program inside the archive (package/bin/esbuild,
	// golang.org/toolchain@…/bin/gofmt).
	Member string     `json:"member,omitempty"`
	Recipe RecipeKind `json:"recipe"`
	// Bootstrap is the Go release that builds a GoDistribution.
	Bootstrap string `json:"bootstrap,omitempty"`
	// Suite and Mirror are a DebianPackage's suite and the archive whose
	// signed indexes name it.
	Suite  string `json:"suite,omitempty"`
	Mirror string `json:"mirror,omitempty"`
}

func (a Artifact) check() error {
	switch {
	case a.Recipe != Inferred && a.Recipe != GoDistribution && a.Recipe != DebianPackage:
		return fmt.Errorf("artifact: unknown recipe kind %q", a.Recipe)
	case (a.URL == "") == (a.Module == ""):
		return errors.New("artifact: give a URL or a module, not both")
	case a.URL != "" && a.Digest.Validate() != nil:
		return fmt.Errorf("artifact %s: no valid digest", a.URL)
	case a.Module != "" && a.ModuleVersion == "":
		return fmt.Errorf("artifact %s: no version", a.Module)
	case a.Recipe == Inferred && a.Member == "" && a.Module != "":
		return errors.New("artifact: inferring a recipe from a module zip needs the program's member")
	case a.Recipe == GoDistribution && (a.Module == "" || a.Bootstrap == ""):
		return errors.New("artifact: a Go distribution needs its module and a bootstrap Go release")
	case a.Recipe == DebianPackage && (a.URL == "" || a.Suite == ""):
		return errors.New("artifact: a Debian package needs its .deb's URL and its suite")
	}
	return nil
}

// Describe says what the artifact is, in words.
func (a Artifact) Describe() string {
	where := a.URL
	if a.Module != "" {
		where = a.Module + "@" + a.ModuleVersion
	}
	switch {
	case a.Recipe == GoDistribution:
		return "the Go distribution " + where
	case a.Recipe == DebianPackage:
		return where + " (" + a.Suite + ")"
	case a.Member != "":
		return a.Member + " in " + where
	}
	return where
}

// InferArgs is a job that infers a recipe for a shipped artifact and then
// rebuilds it.
type InferArgs struct {
	Release  Release  `json:"release"`
	Artifact Artifact `json:"artifact"`
}

// Kind is River's name for the job.
func (InferArgs) Kind() string { return KindInfer }

// PublishArgs is a job that publishes the attestations of a stored result
// to the transparency centre the workers publish to.
type PublishArgs struct {
	// Job is the job whose result is published.
	Job int64 `json:"job"`
}

// Kind is River's name for the job.
func (PublishArgs) Kind() string { return KindPublish }

// Job is a job a user or a watcher enqueues: RebuildArgs or InferArgs.
type Job interface {
	Kind() string
	release() Release
	artifact() string
	recipeDigest() string
	check() error
}

func (a RebuildArgs) release() Release     { return a.Release }
func (a RebuildArgs) artifact() string     { return a.File }
func (a RebuildArgs) recipeDigest() string { return a.RecipeDigest().String() }
func (a RebuildArgs) check() error {
	if err := a.Release.check(); err != nil {
		return err
	}
	_, err := a.ParseRecipe()
	return err
}

func (a InferArgs) release() Release     { return a.Release }
func (a InferArgs) artifact() string     { return a.Artifact.Describe() }
func (a InferArgs) recipeDigest() string { return "" }
func (a InferArgs) check() error {
	if err := a.Release.check(); err != nil {
		return err
	}
	return a.Artifact.check()
}

// Enqueued is a job put on the queue.
type Enqueued struct {
	ID      int64
	Kind    string
	Release Release
	// Item is the watcher's name for it (EnqueueNew).
	Item string
}

// CheckJob reports what is wrong with a job before it is enqueued.
func CheckJob(j Job) error { return j.check() }

// Enqueue puts one job on the queue.
func (q *Queue) Enqueue(ctx context.Context, j Job) (Enqueued, error) {
	if err := j.check(); err != nil {
		return Enqueued{}, fmt.Errorf("enqueue: %w", err)
	}
	var e Enqueued
	err := q.be.inTx(ctx, func(t tx) error {
		var err error
		e, err = q.insertJob(ctx, t, j, 0)
		return err
	})
	if err != nil {
		return Enqueued{}, fmt.Errorf("enqueue %s: %w", j.Kind(), err)
	}
	return e, nil
}

func (q *Queue) insertJob(ctx context.Context, t tx, j Job, parent int64) (Enqueued, error) {
	res, err := t.insert(ctx, j, insertOpts(j.Kind()))
	if err != nil {
		return Enqueued{}, err
	}
	rel := j.release()
	if _, err := t.exec(ctx, `INSERT INTO fleet_job (job_id, kind, ecosystem, watch, name, version, artifact, recipe_digest, parent, enqueued_at)
		VALUES (@id, @kind, @eco, @watch, @name, @version, @artifact, @recipe, @parent, @at)`, params{
		"id": res.Job.ID, "kind": j.Kind(), "eco": rel.Ecosystem, "watch": rel.Watch, "name": rel.Name, "version": rel.Version,
		"artifact": j.artifact(), "recipe": j.recipeDigest(), "parent": parent, "at": q.now()}); err != nil {
		return Enqueued{}, err
	}
	return Enqueued{ID: res.Job.ID, Kind: j.Kind(), Release: rel}, nil
}

// WatchItem is one thing a watcher found: its name for it (a version, a
// package and version) and the job that rebuilds it.
type WatchItem struct {
	Item string
	Job  Job
}

// EnqueueNew enqueues each item the watch list has not enqueued before,
// remembering it in the same transaction as the job, so that a watcher
// that restarts (or two that run at once) never enqueues an item twice.
// It returns what it enqueued.
func (q *Queue) EnqueueNew(ctx context.Context, watch string, items []WatchItem) ([]Enqueued, error) {
	if watch == "" {
		return nil, errors.New("enqueue: no watch list name")
	}
	var out []Enqueued
	for _, it := range items {
		if err := it.Job.check(); err != nil {
			return out, fmt.Errorf("enqueue %s: %w", it.Item, err)
		}
		var e *Enqueued
		err := q.be.inTx(ctx, func(t tx) error {
			e = nil
			n, err := t.exec(ctx, `INSERT INTO fleet_seen (watch, item, job_id, seen_at) VALUES (@watch, @item, 0, @at)
				ON CONFLICT (watch, item) DO NOTHING`, params{"watch": watch, "item": it.Item, "at": q.now()})
			if err != nil || n == 0 {
				return err
			}
			en, err := q.insertJob(ctx, t, it.Job, 0)
			if err != nil {
				return err
			}
			en.Item = it.Item
			e = &en
			_, err = t.exec(ctx, `UPDATE fleet_seen SET job_id = @id WHERE watch = @watch AND item = @item`,
				params{"id": en.ID, "watch": watch, "item": it.Item})
			return err
		})
		if err != nil {
			return out, fmt.Errorf("enqueue %s: %w", it.Item, err)
		}
		if e != nil {
			out = append(out, *e)
		}
	}
	return out, nil
}

// Seen lists the items a watch list has enqueued, in the order it found
// them.
func (q *Queue) Seen(ctx context.Context, watch string) ([]string, error) {
	var out []string
	err := q.be.read(ctx, func(t tx) error {
		return each(ctx, t, `SELECT item FROM fleet_seen WHERE watch = @watch ORDER BY seen_at, item`, params{"watch": watch}, func(r rows) error {
			var s string
			if err := r.Scan(&s); err != nil {
				return err
			}
			out = append(out, s)
			return nil
		})
	})
	return out, err
}
