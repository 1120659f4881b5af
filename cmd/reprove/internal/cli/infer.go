package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"

	"github.com/reprove/reprove/debian/archive"
	"github.com/reprove/reprove/internal/atomicfile"
	"github.com/reprove/reprove/internal/cachedir"
	"github.com/reprove/reprove/pipeline"
	"github.com/reprove/reprove/recipes"
	"github.com/reprove/reprove/recipes/infer"
)

// inferSchemaVersion versions the --json output of infer (2: lowerCamelCase
// keys, schemaVersion, complete, member and archiveDigest).
const inferSchemaVersion = 2

// ExitIncomplete is infer's exit status when it wrote a recipe that lacks
// something it could not find out (a tree digest, a go.sum hash): the
// recipe is written, marked INCOMPLETE, and does not validate until filled
// in.
const ExitIncomplete = 4

type inferFlags struct {
	source, commit, sourceURL string
	shippedURL, member        string
	buildinfo                 string
	securityMirror            string
	keyrings                  []string
	ldflags                   []string
	output, name, suite       string
	jsonOut                   bool
	rebuild                   bool
	rebuildDir                string
	rf                        runtimeFlags
}

func newInferCmd(env *Env) *cobra.Command {
	var fl inferFlags
	cmd := &cobra.Command{
		Use:   "infer [--member PATH] BINARY|PACKAGE.deb",
		Short: "Write a first recipe for a Go binary or a Debian .deb from what it records",
		Long: `Infer a recipe for rebuilding a Go binary from what the binary records: its
build information (Go version, main package, modules, build flags, GOOS/GOARCH,
VCS stamping) and what the linker left out (symbol table: -s, DWARF: -w,
build ID: -buildid=). Each decision is listed as certain, guess or unknown.

With -trimpath the go command does not record -ldflags, so a -X version stamp
cannot be read from the binary: give the flags with --ldflags (repeat it to
list alternatives for --rebuild to try).

A binary stamped with VCS information (vcs.revision) is rebuilt from a git
checkout of that revision in a Debian image with git. --source pins it: a
local clone or a git URL (checked out at the revision and hashed), or a plain
directory (hashed as it is). Without --source the repository is guessed from
the module path and its tree digest is left for you to fill in.

The recipe goes to stdout (or --output FILE, written atomically); the
findings go to stderr (or into --json).

For a program inside an npm package (--member), the version the package's
package.json states names the recipe when the binary records no module
version.

--rebuild goes on to rebuild each candidate recipe hermetically (as reprove
rebuild does, into --rebuild-dir/candidate-N) and compare it with the binary,
in turn, until one reproduces it; the recipe written is that one.

A Debian .deb names its source package: infer finds the .dsc in the suite's
signed Sources index, locks a buildd environment with its Build-Depends
against the signed Packages index (or, with --buildinfo, exactly the
original build's Installed-Build-Depends from the snapshot archive), and
writes a recipe that builds it with dpkg-buildpackage -b. That today's
suite is not the buildd's environment is said as a guess. A security update,
whose source version the suite does not hold, is looked for in
SUITE-security of the security archive (--debian-security-mirror, default
http://deb.debian.org/debian-security), and its environment is locked over
both suites, the highest version of each package, as Debian's security
buildds install. A security update's .buildinfo (Distribution
SUITE-security) is locked from the snapshot archive's debian and
debian-security at its Build-Date.

On any other ELF or PE file (C, C++, Rust, mingw-w64), infer reports what
the file records (compilers and versions, build ID, interpreter, needed
libraries, cargo-auditable crates), suggests a locked Debian environment with
that compiler, and says what it cannot know (source, flags, build system).
It writes no recipe and exits 4.

Exit status: 0 a complete recipe was written (with --rebuild: a candidate
reproduced the binary), 4 the recipe was written but is incomplete (it says
what to fill in), 3 with --rebuild: no candidate reproduced the binary, 1 an
error, 2 bad usage.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return runInfer(cmd, env, a[0], fl)
		},
	}
	f := cmd.Flags()
	f.StringVar(&fl.source, "source", "", "the source: a git clone, a git URL or a plain `directory`")
	f.StringVar(&fl.commit, "commit", "", "the commit to rebuild (default: the binary's vcs.revision)")
	f.StringVar(&fl.sourceURL, "source-url", "", "repository `URL` to write in the recipe (default: the clone's origin)")
	f.StringVar(&fl.shippedURL, "shipped-url", "", "where BINARY is published (`URL`); default: its local path")
	f.StringVar(&fl.member, "member", "", "BINARY is an archive (tar, .tgz, zip); infer from this member `path` in it")
	f.StringArrayVar(&fl.ldflags, "ldflags", nil, "linker `flags` the binary cannot reveal, such as -X main.version=1.2.3 (repeat for alternatives)")
	f.StringVarP(&fl.output, "output", "o", "", "write the recipe to `file` instead of stdout")
	f.StringVar(&fl.name, "name", "", "file name of the rebuilt binary in /out (default: from the main package)")
	f.StringVar(&fl.suite, "suite", "bookworm", "Debian `suite` for images that need packages (git, gcc)")
	f.StringVar(&fl.buildinfo, "buildinfo", "", "for a .deb: the original build's .buildinfo `file`; its Installed-Build-Depends are locked exactly, from the snapshot archive at its Build-Date")
	f.StringArrayVar(&fl.keyrings, "keyring", nil, "for a .deb: OpenPGP keyring `file` the archives' Releases must be signed by (repeatable; default "+archive.DefaultKeyring+")")
	f.StringVar(&fl.securityMirror, "debian-security-mirror", "", "for a .deb: Debian security archive `URL` whose SUITE-security holds security updates, and which a security update's lock records (default "+archive.DefaultSecurity+")")
	f.StringVar(&fl.rf.snapshot, "snapshot", "", "snapshot archive `URL` (default https://snapshot.debian.org), for --buildinfo")
	f.BoolVar(&fl.jsonOut, "json", false, "print the recipe, findings and candidates as JSON (schema-versioned)")
	f.BoolVar(&fl.rebuild, "rebuild", false, "rebuild the candidates in turn until one reproduces the binary")
	f.StringVar(&fl.rebuildDir, "rebuild-dir", "", "`directory` for the rebuilds (must not exist; default reprove-out/infer-NAME-VERSION)")
	// The build settings of reprove rebuild (its --json is infer's own).
	f.StringVar(&fl.rf.address, "containerd-address", "", "with --rebuild: use the containerd at this socket instead of starting reprove's own")
	f.StringVar(&fl.rf.mirror, "debian-mirror", "", "Debian `mirror`: its signed indexes lock the image a recipe needs (git, a C toolchain; a .deb's build environment); with --rebuild, base images come from it")
	f.StringVar(&fl.rf.proxy, "goproxy", "", "with --rebuild: Go module proxy for toolchains and modules")
	f.Var(&fl.rf.memory, "memory", "with --rebuild: memory limit of each build, e.g. 4GiB")
	f.Var(&fl.rf.disk, "disk", "with --rebuild: disk limit of each build, e.g. 20GiB")
	f.DurationVar(&fl.rf.timeout, "timeout", 0, "with --rebuild: wall-clock limit of each build")
	return cmd
}

func runInfer(cmd *cobra.Command, env *Env, binary string, fl inferFlags) error {
	ctx := cmd.Context()
	if infer.IsDeb(binary) {
		return runInferDeb(cmd, env, binary, fl)
	}
	if fl.commit != "" && fl.source == "" {
		return usageErrorf("--commit needs --source")
	}
	if fl.sourceURL != "" && fl.source == "" {
		return usageErrorf("--source-url needs --source")
	}
	if !fl.rebuild && (fl.rebuildDir != "" || fl.rf.address != "" || fl.rf.proxy != "" || fl.rf.memory != 0 || fl.rf.disk != 0 || fl.rf.timeout != 0) {
		return usageErrorf("--rebuild-dir and the build settings need --rebuild")
	}
	if fl.rebuildDir != "" {
		if _, err := os.Lstat(fl.rebuildDir); err == nil {
			return usageErrorf("--rebuild-dir %s already exists", fl.rebuildDir)
		}
	}
	// Without a cache directory the checksum database cannot be asked, and
	// the recipe says what to fill in.
	cache, _ := cachedir.Dir(env.Getenv)
	ir, err := pipeline.Infer(ctx, pipeline.InferRequest{
		Binary: binary, Member: fl.member,
		Source:     infer.SourceSpec{Location: fl.source, Commit: fl.commit, URL: fl.sourceURL},
		ShippedURL: fl.shippedURL, RecipeFile: fl.output,
		Ldflags: fl.ldflags, Output: fl.name, Suite: fl.suite,
		CacheDir: cache,
		Archive:  inferArchive(env, fl),
		Hash:     env.status.hashFile,
		Progress: func(msg string) {
			if !fl.jsonOut {
				printf(env.Stderr, "reprove: source  %s\n", msg)
			}
		},
	})
	if err != nil {
		if errors.Is(err, infer.ErrNotGo) && fl.member == "" {
			// A native executable: what it records, no recipe.
			return runInferNative(cmd, env, binary, fl)
		}
		return err
	}
	for _, n := range ir.Notes {
		printf(env.Stderr, "reprove: %s\n", n)
	}
	res, facts, archiveDigest := ir.Result, ir.Facts, ir.ArchiveDigest
	var tries []rebuildTry
	reproduced := -1
	if fl.rebuild {
		if len(res.Incomplete) > 0 {
			return fmt.Errorf("cannot rebuild: the recipe is incomplete (%s); give --source", strings.Join(res.Incomplete, "; "))
		}
		abs, err := filepath.Abs(binary)
		if err != nil {
			return err
		}
		if tries, reproduced, err = rebuildCandidates(cmd, env, res, abs, fl); err != nil {
			return err
		}
		if reproduced >= 0 {
			// The recipe written is the one that reproduced.
			c := res.Candidates[reproduced]
			res.Recipe = c.Recipe
			res.Findings = append(res.Findings, infer.Finding{Certainty: infer.Certain, Topic: "-ldflags", Value: c.Ldflags,
				Reason: fmt.Sprintf("candidate %d of %d reproduced the binary bit for bit in a hermetic rebuild", reproduced+1, len(res.Candidates))})
		}
	}
	origin := fmt.Sprintf("%s (%s)", filepath.Base(binary), facts.Digest)
	if fl.member != "" {
		origin = fmt.Sprintf("%s in %s (%s)", fl.member, filepath.Base(binary), facts.Digest)
	}
	text, err := infer.Render(res, origin)
	if err != nil {
		return err
	}
	if fl.output != "" {
		if err := atomicfile.Write(fl.output, text, 0o644); err != nil {
			return fmt.Errorf("write recipe: %w", err)
		}
	}
	if fl.jsonOut {
		if err := writeInferJSON(env, binary, fl.member, archiveDigest, facts, res, tries); err != nil {
			return err
		}
	} else {
		if fl.output == "" {
			if _, err := env.Stdout.Write(text); err != nil {
				return err
			}
		}
		printFindings(env, res)
		printTries(env, tries, reproduced)
		if fl.output != "" {
			printf(env.Stderr, "reprove: wrote %s\n", fl.output)
		}
	}
	if fl.rebuild && reproduced < 0 {
		return withCode(ExitNotReproduced)
	}
	if len(res.Incomplete) > 0 {
		return withCode(ExitIncomplete)
	}
	return nil
}

// rebuildTry is one candidate's rebuild, for the report.
type rebuildTry struct {
	Candidate int    `json:"candidate"`
	Ldflags   string `json:"ldflags"`
	// Verdict is reprove rebuild's: "reproduced" or "not reproduced".
	Verdict pipeline.Verdict `json:"verdict"`
	Dir     string           `json:"dir"`
	// Report is the comparison report of the (first) output.
	Report string `json:"report,omitempty"`
}

// rebuildCandidates rebuilds each candidate recipe in turn, as reprove
// rebuild does, until one reproduces the shipped binary. It returns the
// tries and the index of the candidate that reproduced (-1 if none).
func rebuildCandidates(cmd *cobra.Command, env *Env, res *infer.Result, binary string, fl inferFlags) ([]rebuildTry, int, error) {
	dir := fl.rebuildDir
	if dir == "" {
		dir = filepath.Join("reprove-out", "infer-"+filepath.Base(defaultOutDir(res.Recipe)))
		if _, err := os.Lstat(dir); err == nil {
			return nil, -1, usageErrorf("%s already exists (remove it, or choose another with --rebuild-dir)", dir)
		}
	}
	rf := fl.rf
	rf.json = fl.jsonOut
	var tries []rebuildTry
	for i, c := range res.Candidates {
		r := *c.Recipe
		// The recipe may name the binary relative to where it is written;
		// the rebuild reads it from here.
		r.Outputs = append([]recipes.Output(nil), r.Outputs...)
		sh := *r.Outputs[0].Shipped
		if sh.URL == "" {
			sh.Path = binary
		}
		r.Outputs[0].Shipped = &sh
		if !fl.jsonOut {
			printf(env.Stderr, "reprove: infer   candidate %d of %d: -ldflags=%q\n", i+1, len(res.Candidates), c.Ldflags)
		}
		out := filepath.Join(dir, fmt.Sprintf("candidate-%d", i+1))
		rep, err := rebuild(cmd.Context(), env, &rf, pipeline.RebuildRequest{Recipe: &r, OutDir: out})
		if err != nil {
			return tries, -1, fmt.Errorf("rebuild candidate %d (-ldflags=%q): %w", i+1, c.Ldflags, err)
		}
		t := rebuildTry{Candidate: i + 1, Ldflags: c.Ldflags, Verdict: rep.Verdict, Dir: rep.Dir}
		if len(rep.Outputs) > 0 {
			t.Report = rep.Outputs[0].Report
		}
		tries = append(tries, t)
		if rep.Verdict == pipeline.Reproduced {
			return tries, i, nil
		}
	}
	return tries, -1, nil
}

func printTries(env *Env, tries []rebuildTry, reproduced int) {
	for _, t := range tries {
		printf(env.Stderr, "candidate %d  -ldflags=%q  %s  (%s)\n", t.Candidate, t.Ldflags, t.Verdict, t.Dir)
	}
	switch {
	case len(tries) == 0:
	case reproduced >= 0:
		printf(env.Stderr, "reprove: candidate %d reproduced the binary bit for bit\n", reproduced+1)
	default:
		printf(env.Stderr, "reprove: no candidate reproduced the binary; the comparison reports say where they differ\n")
	}
}

func printFindings(env *Env, res *infer.Result) {
	for _, c := range []infer.Certainty{infer.Certain, infer.Guess, infer.Unknown} {
		for _, f := range res.Findings {
			if f.Certainty != c {
				continue
			}
			v := ""
			if f.Value != "" {
				v = " = " + f.Value
			}
			printf(env.Stderr, "%-8s %s%s: %s\n", c, f.Topic, v, f.Reason)
		}
	}
	if len(res.Incomplete) > 0 {
		printf(env.Stderr, "reprove: the recipe is incomplete:\n")
		for _, s := range res.Incomplete {
			printf(env.Stderr, "  %s\n", s)
		}
	}
}

func writeInferJSON(env *Env, binary, member string, archiveDigest digest.Digest, facts *infer.Facts, res *infer.Result, tries []rebuildTry) error {
	type candidate struct {
		Ldflags string        `json:"ldflags"`
		Digest  digest.Digest `json:"recipeDigest,omitempty"`
	}
	var cands []candidate
	for _, c := range res.Candidates {
		d, _ := c.Recipe.Digest()
		cands = append(cands, candidate{Ldflags: c.Ldflags, Digest: d})
	}
	enc := json.NewEncoder(env.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		SchemaVersion int    `json:"schemaVersion"`
		Binary        string `json:"binary"`
		// Member and ArchiveDigest are set when BINARY is an archive.
		Member        string        `json:"member,omitempty"`
		ArchiveDigest digest.Digest `json:"archiveDigest,omitempty"`
		// Digest is the program's (the member's).
		Digest     digest.Digest   `json:"digest"`
		Format     infer.Format    `json:"format"`
		Complete   bool            `json:"complete"`
		Recipe     *recipes.Recipe `json:"recipe"`
		Findings   []infer.Finding `json:"findings"`
		Candidates []candidate     `json:"candidates"`
		Incomplete []string        `json:"incomplete,omitempty"`
		Rebuilds   []rebuildTry    `json:"rebuilds,omitempty"`
	}{inferSchemaVersion, binary, member, archiveDigest, facts.Digest, facts.Format, len(res.Incomplete) == 0, res.Recipe, res.Findings, cands, res.Incomplete, tries})
}
