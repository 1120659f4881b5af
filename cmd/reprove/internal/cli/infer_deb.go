package cli

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/reprove/reprove/debian/archive"
	"github.com/reprove/reprove/internal/atomicfile"
	"github.com/reprove/reprove/internal/cachedir"
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
	kr, err := archive.LoadKeyring(archive.DefaultKeyring)
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
	facts, err := infer.ReadDebFacts(ctx, c, deb, fl.suite)
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
