package cli

import (
	"bytes"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
)

// TestSubcommandNames checks the table against what each entry builds:
// the name a command line is matched with must be the command's own (and
// a command with aliases would be missed by that match).
func TestSubcommandNames(t *testing.T) {
	env := Env{}
	seen := map[string]bool{}
	for _, s := range subcommands {
		c := s.make(&env)
		if c.Name() != s.name || len(c.Aliases) > 0 {
			t.Errorf("subcommands entry %q builds %q (aliases %q)", s.name, c.Name(), c.Aliases)
		}
		if seen[s.name] {
			t.Errorf("%q listed twice", s.name)
		}
		seen[s.name] = true
	}
}

// TestCommandsBuildsOnlyTheOneNamed pins issue 17's start-up cut: a
// command line naming a command builds that command alone, and the rest
// get the whole tree.
func TestCommandsBuildsOnlyTheOneNamed(t *testing.T) {
	env := Env{}
	for _, tc := range []struct {
		args []string
		want []string // nil: every command
	}{
		{args: []string{"verify", "FILE", "--policy", "p.yaml"}, want: []string{"verify"}},
		{args: []string{"attest", "summary", "--help"}, want: []string{"attest"}},
		{args: []string{"version"}, want: []string{"version"}},
		{args: nil},
		{args: []string{"--help"}},
		{args: []string{"--version"}},
		{args: []string{"help", "verify"}},
		{args: []string{"verfiy"}},
		{args: []string{"completion", "bash"}},
		{args: []string{cobra.ShellCompRequestCmd, "verify", ""}},
	} {
		var got []string
		for _, c := range newRoot(&env, tc.args).Commands() {
			got = append(got, c.Name())
		}
		want := tc.want
		if want == nil {
			for _, s := range subcommands {
				want = append(want, s.name)
			}
		}
		slices.Sort(want) // cobra sorts its commands
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%q built (-want +got):\n%s", tc.args, diff)
		}
	}
}

// TestCommandAloneSameAsInTree: a command built alone has the same help,
// usage and flags, at every level below it, as in the whole tree.
func TestCommandAloneSameAsInTree(t *testing.T) {
	env := Env{}
	full := newRoot(&env, nil)
	for _, s := range subcommands {
		alone := newRoot(&env, []string{s.name})
		a, _, err := alone.Find([]string{s.name})
		if err != nil {
			t.Fatal(err)
		}
		f, _, err := full.Find([]string{s.name})
		if err != nil {
			t.Fatal(err)
		}
		compareHelp(t, f, a)
	}
}

func compareHelp(t *testing.T, full, alone *cobra.Command) {
	t.Helper()
	help := func(c *cobra.Command) string {
		var b bytes.Buffer
		c.SetOut(&b)
		c.SetErr(&b)
		defer c.SetOut(nil)
		defer c.SetErr(nil)
		if err := c.Help(); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	if diff := cmp.Diff(help(full), help(alone)); diff != "" {
		t.Errorf("%s: help differs built alone (-tree +alone):\n%s", full.CommandPath(), diff)
	}
	fc, ac := full.Commands(), alone.Commands()
	if len(fc) != len(ac) {
		t.Fatalf("%s: %d subcommands in the tree, %d alone", full.CommandPath(), len(fc), len(ac))
	}
	for i := range fc {
		compareHelp(t, fc[i], ac[i])
	}
}

// BenchmarkNewRoot measures the command tree a command line costs: one
// command (reprove verify) against every command (reprove --help).
func BenchmarkNewRoot(b *testing.B) {
	for _, bc := range []struct {
		name string
		args []string
	}{{"verify", []string{"verify", "f", "--policy", "p"}}, {"all", []string{"--help"}}} {
		b.Run(bc.name, func(b *testing.B) {
			env := Env{}
			b.ReportAllocs()
			for b.Loop() {
				newRoot(&env, bc.args)
			}
		})
	}
}
