package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/reprove/reprove/debian/archive"
	"github.com/reprove/reprove/debian/deb822"
	"github.com/reprove/reprove/debian/lock"
	"github.com/reprove/reprove/internal/atomicfile"
	"github.com/reprove/reprove/internal/cachedir"
	"github.com/reprove/reprove/recipes"
	"github.com/reprove/reprove/recipes/infer"
)

// runInferDeb writes the recipe that rebuilds a Debian binary package
// from its source package, its build environment locked against the
// suite's signed indexes.
func runInferDeb(cmd *cobra.Command, env *Env, deb string, fl inferFlags) error {
	ctx := cmd.Context()
	if fl.source != "" || fl.member != "" || len(fl.ldflags) > 0 || fl.rebuild {
		return usageErrorf("--source, --member, --ldflags and --rebuild are for Go binaries; a .deb names its own source package")
	}
	keyrings := fl.keyrings
	if len(keyrings) == 0 {
		keyrings = []string{archive.DefaultKeyring}
	}
	kr, err := archive.LoadKeyring(keyrings...)
	if err != nil {
		return err
	}
	c := &archive.Client{Base: fl.rf.mirror, Keyring: kr}
	if !fl.jsonOut {
		c.Log = func(s string) { printf(env.Stderr, "reprove: archive %s\n", s) }
	}
	if dir, err := cachedir.Dir(env.Getenv); err == nil {
		c.CacheDir = filepath.Join(dir, "debian", "indexes")
	}
	var opts infer.DebOptions
	if fl.buildinfo != "" {
		raw, err := os.ReadFile(fl.buildinfo)
		if err != nil {
			return err
		}
		if opts.BuildInfo, err = deb822.ParseBuildInfo(fl.buildinfo, raw); err != nil {
			return err
		}
		base := fl.rf.snapshot
		if base == "" {
			base = archive.DefaultSnapshot
		}
		opts.Snapshot = &archive.Client{Base: base, Keyring: kr, Log: c.Log}
	}
	sc := *c
	sc.Base = fl.securityMirror
	if sc.Base == "" {
		sc.Base = archive.DefaultSecurity
	}
	opts.Security = &sc
	facts, err := infer.ReadDebFacts(ctx, c, deb, fl.suite, opts)
	if err != nil {
		return err
	}
	res, err := infer.InferDeb(facts)
	if err != nil {
		return err
	}
	text, err := infer.Render(res, fmt.Sprintf("%s (%s)", filepath.Base(deb), facts.Digest))
	if err != nil {
		return err
	}
	if fl.output != "" {
		if err := atomicfile.Write(fl.output, text, 0o644); err != nil {
			return fmt.Errorf("write recipe: %w", err)
		}
	}
	if fl.jsonOut {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			SchemaVersion int             `json:"schemaVersion"`
			Recipe        any             `json:"recipe"`
			Findings      []infer.Finding `json:"findings"`
			Complete      bool            `json:"complete"`
		}{inferSchemaVersion, res.Recipe, res.Findings, len(res.Incomplete) == 0}); err != nil {
			return err
		}
	} else {
		if fl.output == "" {
			if _, err := env.Stdout.Write(text); err != nil {
				return err
			}
		}
		printFindings(env, res)
		if fl.output != "" {
			printf(env.Stderr, "reprove: wrote %s\n", fl.output)
		}
	}
	if len(res.Incomplete) > 0 {
		return withCode(ExitIncomplete)
	}
	return nil
}

// runInferNative reports what a non-Go ELF or PE file records, suggests a
// locked Debian environment with its compiler, and says what it cannot
// know. No recipe is written: a native file does not name its source.
func runInferNative(cmd *cobra.Command, env *Env, file string, fl inferFlags) error {
	ctx := cmd.Context()
	nf, err := infer.ReadNative(ctx, file, infer.DefaultLimits())
	if err != nil {
		return err
	}
	sug := infer.SuggestNative(nf)
	var locked *recipes.DebianImage
	if len(sug.Packages) > 0 {
		if kr, err := archive.LoadKeyring(archive.DefaultKeyring); err == nil {
			c := &archive.Client{Base: fl.rf.mirror, Keyring: kr}
			if dir, err := cachedir.Dir(env.Getenv); err == nil {
				c.CacheDir = filepath.Join(dir, "debian", "indexes")
			}
			img, err := lock.Image(ctx, c, &recipes.DebianImage{Suite: fl.suite, Variant: "buildd", Packages: sug.Packages}, "amd64")
			if err != nil {
				sug.Findings = append(sug.Findings, infer.Finding{Certainty: infer.Unknown, Topic: "image", Value: strings.Join(sug.Packages, " "),
					Reason: fmt.Sprintf("%s cannot give them: %v", fl.suite, err)})
			} else {
				locked = img
				for _, p := range img.Lock.Packages {
					want, ok := sug.Want[p.Name]
					if !ok {
						continue
					}
					c, why := infer.Certain, "the version the file records"
					if !strings.HasPrefix(p.Version, want) {
						c, why = infer.Guess, "the file records "+want+"; "+fl.suite+" has another version today, so the code may differ"
					}
					sug.Findings = append(sug.Findings, infer.Finding{Certainty: c, Topic: "image", Value: p.Name + " " + p.Version, Reason: fl.suite + "'s locked " + p.Name + " is " + p.Version + ": " + why})
				}
			}
		}
	}
	if fl.jsonOut {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			SchemaVersion int                  `json:"schemaVersion"`
			Native        *infer.NativeFacts   `json:"native"`
			Findings      []infer.Finding      `json:"findings"`
			Image         *recipes.DebianImage `json:"image,omitempty"`
			Complete      bool                 `json:"complete"`
		}{inferSchemaVersion, nf, sug.Findings, locked, false})
	}
	printf(env.Stdout, "%s: %s %s, not a Go binary\n", filepath.Base(file), nf.Format, nf.Machine)
	for _, c := range nf.Comments {
		printf(env.Stdout, "  comment      %s\n", c)
	}
	if nf.BuildID != "" {
		printf(env.Stdout, "  build-id     %s\n", nf.BuildID)
	}
	if nf.Interpreter != "" {
		printf(env.Stdout, "  interpreter  %s\n", nf.Interpreter)
	}
	for _, n := range nf.Needed {
		printf(env.Stdout, "  needed       %s\n", n)
	}
	for _, d := range nf.CargoAuditable {
		printf(env.Stdout, "  crate        %s %s %s\n", d.Name, d.Version, d.Source)
	}
	if locked != nil {
		text, err := (&recipes.Recipe{Image: recipes.Image{Debian: locked}}).YAML()
		if err == nil {
			printf(env.Stdout, "suggested environment (a locked Debian %s buildd image with that compiler; %d packages):\n", fl.suite, len(locked.Lock.Packages))
			printf(env.Stdout, "  image.debian: suite %s, variant buildd, packages %s\n", fl.suite, strings.Join(locked.Packages, ", "))
			_ = text
		}
	}
	res := &infer.Result{Findings: sug.Findings}
	printFindings(env, res)
	return withCode(ExitIncomplete)
}

// inferArchive is the Debian archive infer locks a Go binary's image
// against (git, a C toolchain): the mirror, its indexes verified with the
// Debian archive keyring. Without the keyring, nil: the recipe then says
// to run reprove lock.
func inferArchive(env *Env, fl inferFlags) *archive.Client {
	kr, err := archive.LoadKeyring(archive.DefaultKeyring)
	if err != nil {
		return nil
	}
	c := &archive.Client{Base: fl.rf.mirror, Keyring: kr}
	if dir, err := cachedir.Dir(env.Getenv); err == nil {
		c.CacheDir = filepath.Join(dir, "debian", "indexes")
	}
	return c
}
