package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"

	"github.com/reprove/reprove/recipes"
)

func newRecipeCmd(env *Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "recipe",
		Short: "Work with recipe files",
		Args:  groupArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(newRecipeLintCmd(env))
	return cmd
}

// lintResult is one file's entry in `reprove recipe lint --json`.
type lintResult struct {
	File      string          `json:"file"`
	Valid     bool            `json:"valid"`
	Digest    digest.Digest   `json:"digest,omitempty"`
	Canonical json.RawMessage `json:"canonical,omitempty"`
	Errors    []lintError     `json:"errors,omitempty"`
}

type lintError struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// lintSchemaVersion versions the --json output of recipe lint (2:
// schemaVersion, lowerCamelCase).
const lintSchemaVersion = 2

func newRecipeLintCmd(env *Env) *cobra.Command {
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "lint FILE...  (- for standard input)",
		Short: "Validate recipes; print each one's canonical form and digest",
		Long: `Validate each recipe strictly (unknown fields, duplicate keys, wrong types,
unpinned or weakly pinned inputs, unsafe paths, unknown normalizers) and
print its canonical form (RFC 8785 JSON) and digest, the sha256 of that
form, which attestations cite.

Every problem is reported as FILE:LINE:COLUMN: FIELD: what is wrong.
Exit 0 when every recipe is valid, 1 when any is not, 2 for bad usage.`,
		Args: args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, files []string) error {
			var results []lintResult
			invalid := 0
			for _, f := range files {
				res := lintFile(cmd, env, f)
				if !res.Valid {
					invalid++
				}
				results = append(results, res)
			}
			if jsonOut {
				enc := json.NewEncoder(env.Stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(struct {
					SchemaVersion int          `json:"schemaVersion"`
					Recipes       []lintResult `json:"recipes"`
				}{lintSchemaVersion, results}); err != nil {
					return err
				}
			} else {
				for _, res := range results {
					if !res.Valid {
						for _, e := range res.Errors {
							printf(env.Stderr, "%s\n", formatLintError(e))
						}
						continue
					}
					printf(env.Stdout, "%s: valid\ndigest: %s\n%s\n", res.File, res.Digest, res.Canonical)
				}
			}
			if invalid > 0 {
				return &exitError{code: ExitFailure, err: fmt.Errorf("%d of %d recipes invalid", invalid, len(files))}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print the results as JSON (schema-versioned)")
	return cmd
}

func formatLintError(e lintError) string {
	return (&recipes.Error{File: e.File, Line: e.Line, Column: e.Column, Field: e.Field, Err: errors.New(e.Message)}).Error()
}

func lintFile(cmd *cobra.Command, env *Env, file string) lintResult {
	res := lintResult{File: file}
	var r *recipes.Recipe
	var err error
	if file == "-" {
		// The recipe on standard input (relative paths in it are then
		// relative to the working directory).
		res.File = "<stdin>"
		var data []byte
		data, err = io.ReadAll(io.LimitReader(env.Stdin, recipes.MaxSize+1))
		if err == nil {
			r, err = recipes.Parse(res.File, data)
		}
	} else {
		r, err = recipes.Load(cmd.Context(), file)
	}
	if err != nil {
		res.Errors = lintErrors(res.File, err)
		return res
	}
	c, err := r.Canonical()
	if err == nil {
		res.Digest = digest.FromBytes(c)
		res.Canonical = c
		res.Valid = true
	} else {
		res.Errors = lintErrors(res.File, err)
	}
	return res
}

// lintErrors flattens what Load returned into located entries; an error
// that is not a recipe error (the file cannot be read) still names the file.
func lintErrors(file string, err error) []lintError {
	var es recipes.Errors
	var e *recipes.Error
	switch {
	case errors.As(err, &es):
	case errors.As(err, &e):
		es = recipes.Errors{e}
	default:
		// A file that cannot be read is named once: "x.yaml: no such
		// file or directory", not "x.yaml: load recipe: open x.yaml: …".
		var pe *fs.PathError
		if errors.As(err, &pe) && pe.Path == file {
			return []lintError{{File: file, Message: pe.Err.Error()}}
		}
		return []lintError{{File: file, Message: err.Error()}}
	}
	out := make([]lintError, len(es))
	for i, e := range es {
		out[i] = lintError{File: e.File, Line: e.Line, Column: e.Column, Field: e.Field, Message: e.Err.Error()}
	}
	return out
}
