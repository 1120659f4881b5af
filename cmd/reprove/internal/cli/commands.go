package cli

import "github.com/spf13/cobra"

// subcommand is one of reprove's commands: its name, as its Use begins,
// and what builds it. Each lives in its own file.
type subcommand struct {
	name string
	make func(*Env) *cobra.Command
	// tree marks a command that reads the whole command tree (completion
	// writes a script for every command and flag).
	tree bool
}

// subcommands lists reprove's commands in the order help shows them.
var subcommands = []subcommand{
	{name: "version", make: newVersionCmd},
	{name: "rebuild", make: newRebuildCmd},
	{name: "check", make: newCheckCmd},
	{name: "image", make: newImageCmd},
	{name: "compare", make: newCompareCmd},
	{name: "recipe", make: newRecipeCmd},
	{name: "infer", make: newInferCmd},
	{name: "lock", make: newLockCmd},
	{name: "key", make: newKeyCmd},
	{name: "review", make: newReviewCmd},
	{name: "attest", make: newAttestCmd},
	{name: "verify", make: newVerifyCmd},
	{name: "serve", make: newServeCmd},
	{name: "publish", make: newPublishCmd},
	{name: "log", make: newLogCmd},
	{name: "worker", make: newWorkerCmd},
	{name: "queue", make: newQueueCmd},
	{name: "watch", make: newWatchCmd},
	{name: "completion", make: newCompletionCmd, tree: true},
}

// commands builds the commands a command line args needs: only the one it
// names when its first argument is a command's name, else (no arguments,
// a flag, help, a shell's completion request, a mistyped name) every one.
//
// Every command, its subcommands and their flags are about a thousand
// allocations (issue 17): `reprove verify` of one file has no use for
// serve's or rebuild's. A command, its help and its errors are the same
// either way; what reads the whole tree (reprove --help, completion, the
// suggestions for a mistyped name) gets it.
func commands(env *Env, args []string) []*cobra.Command {
	if len(args) > 0 {
		for _, s := range subcommands {
			if s.name == args[0] && !s.tree {
				return []*cobra.Command{s.make(env)}
			}
		}
	}
	all := make([]*cobra.Command, len(subcommands))
	for i, s := range subcommands {
		all[i] = s.make(env)
	}
	return all
}
