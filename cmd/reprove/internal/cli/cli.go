// Package cli is the reprove command line: flag parsing, output and exit
// codes. It holds no logic of its own; every command calls into recipes,
// builder, compare or attest.
//
// Exit codes (STYLE.md):
//
//	0  verified / reproduced / identical
//	1  failure (an error stopped the work)
//	2  usage (bad flags or arguments)
//	3  not reproduced / not verified / different
//	4  reprove infer wrote a recipe that is incomplete (it says what is missing)
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	ExitOK            = 0
	ExitFailure       = 1
	ExitUsage         = 2
	ExitNotReproduced = 3
)

// Env is what a command may touch of the process around it. Tests inject
// their own; main passes OSEnv.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads the caller's environment (for example a key password).
	// It is never passed to a build.
	Getenv func(string) string
	// Now is the clock; tests fix it so outputs are stable.
	Now func() time.Time
	// IsTerminal reports whether Stderr is a terminal (progress display).
	IsTerminal bool
	// StdoutIsTerminal reports whether Stdout is a terminal (colour, short
	// digests in tables).
	StdoutIsTerminal bool

	// status is the progress line on a terminal's stderr (nil otherwise);
	// Main sets it up.
	status *statusLine
}

// OSEnv is the environment of the running process.
func OSEnv() Env {
	return Env{
		Stdin:            os.Stdin,
		Stdout:           os.Stdout,
		Stderr:           os.Stderr,
		Getenv:           os.Getenv,
		Now:              time.Now,
		IsTerminal:       isTerminal(os.Stderr),
		StdoutIsTerminal: isTerminal(os.Stdout),
	}
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// exitError carries an exit code out of a command. A nil err means the
// command already printed its result and only the code remains to be set.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageErrorf reports bad flags or arguments (exit 2).
func usageErrorf(format string, args ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, args...)}
}

// withCode sets the exit code for a result that has already been printed
// (for example 3 for "different").
func withCode(code int) error { return &exitError{code: code} }

// Main runs reprove with args (without the program name) and returns the
// process exit code.
func Main(ctx context.Context, args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	if env.Stdin == nil {
		env.Stdin = eofReader{}
	}
	if env.IsTerminal {
		// Byte progress and compare's steps share one line on stderr,
		// cleared before anything else is written to either stream.
		env.status = newStatusLine(env.Stderr, env.Now)
		env.Stderr = env.status.clearing(env.Stderr)
		if env.StdoutIsTerminal {
			env.Stdout = env.status.clearing(env.Stdout)
		}
		defer env.status.clear()
	}
	// On a terminal, a guard behind every write lets through only the
	// escape sequences reprove paints with: a string from outside that
	// missed printf's escaping still cannot drive the screen.
	if env.IsTerminal {
		g := terminalGuard(env.Stderr)
		env.Stderr = g
		defer g.Flush()
	}
	if env.StdoutIsTerminal {
		g := terminalGuard(env.Stdout)
		env.Stdout = g
		defer g.Flush()
	}
	root := newRoot(&env, args)
	if err := unknownCommand(root, args); err != nil {
		printError(env.Stderr, err)
		return ExitUsage
	}
	root.SetArgs(args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			printError(env.Stderr, ee.err)
		}
		return ee.code
	}
	if isFlagError(err) {
		printError(env.Stderr, err)
		return ExitUsage
	}
	printError(env.Stderr, err)
	return ExitFailure
}

// unknownCommand refuses a first argument that names no command before
// cobra sees it: with --help among the arguments cobra would print the root
// help and succeed, so `reprove serve --help` on a reprove without serve
// looked like it worked.
//
// The shells' completion scripts call reprove's hidden __complete commands,
// which cobra adds only when it runs: they pass. A mistyped command is
// answered with the commands it is close to.
func unknownCommand(root *cobra.Command, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") || args[0] == "help" {
		return nil
	}
	if args[0] == cobra.ShellCompRequestCmd || args[0] == cobra.ShellCompNoDescRequestCmd {
		return nil
	}
	if c, _, err := root.Find(args); err == nil && c != root {
		return nil
	}
	return unknownCommandError(root, args[0])
}

// unknownCommandError names the unknown command and, when the name is close
// to one of reprove's (by edit distance or prefix, as cobra measures it),
// suggests it.
func unknownCommandError(root *cobra.Command, name string) error {
	return fmt.Errorf("unknown command %q%s (see reprove --help)", name, didYouMean(root, name))
}

// didYouMean is "; did you mean "x"?" when name is within cobra's edit
// distance (2) of a subcommand of cmd, or a prefix of one; else "".
func didYouMean(cmd *cobra.Command, name string) string {
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's default, which SuggestionsFor does not apply
	}
	s := cmd.SuggestionsFor(name)
	if len(s) == 0 {
		return ""
	}
	q := make([]string, len(s))
	for i, c := range s {
		q[i] = fmt.Sprintf("%q", c)
	}
	return "; did you mean " + strings.Join(q, " or ") + "?"
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// flagError marks errors cobra reports for bad flags and arguments, so they
// exit 2 rather than 1.
type flagError struct{ err error }

func (e *flagError) Error() string { return e.err.Error() }
func (e *flagError) Unwrap() error { return e.err }

func isFlagError(err error) bool {
	var fe *flagError
	return errors.As(err, &fe)
}

// args wraps a cobra positional-argument check so that a failure is a usage
// error.
func args(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := check(cmd, a); err != nil {
			return &flagError{err}
		}
		return nil
	}
}

// groupArgs is the positional-argument check of a command that only groups
// subcommands (attest, key, …): an argument there is a mistyped
// subcommand, refused as a usage error with the subcommands it is close to.
func groupArgs(cmd *cobra.Command, a []string) error {
	if len(a) == 0 {
		return nil
	}
	return &flagError{fmt.Errorf("unknown command %q for %q%s (see %s --help)", a[0], cmd.CommandPath(), didYouMean(cmd, a[0]), cmd.CommandPath())}
}

// newRoot builds the root command with the subcommands args needs
// (commands).
func newRoot(env *Env, args []string) *cobra.Command {
	root := &cobra.Command{
		Use:           "reprove",
		Short:         "Prove that a shipped binary comes from reviewed source",
		SilenceUsage:  true,
		SilenceErrors: true,
		// Version is filled in from the binary's build info.
		Version: Version(),
		Args: func(cmd *cobra.Command, a []string) error {
			if len(a) > 0 {
				return &flagError{unknownCommandError(cmd, a[0])}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &flagError{err} })
	root.CompletionOptions.DisableDefaultCmd = true
	for _, c := range commands(env, args) {
		root.AddCommand(c)
	}
	return root
}
