package cli

import "github.com/spf13/cobra"

// commands lists reprove's subcommands; each lives in its own file.
func commands(env *Env) []*cobra.Command {
	return []*cobra.Command{
		newVersionCmd(env),
		newRebuildCmd(env),
		newCheckCmd(env),
		newImageCmd(env),
		newCompareCmd(env),
		newRecipeCmd(env),
		newInferCmd(env),
		newLockCmd(env),
		newKeyCmd(env),
		newReviewCmd(env),
		newAttestCmd(env),
		newVerifyCmd(env),
		newServeCmd(env),
		newPublishCmd(env),
		newLogCmd(env),
		newWorkerCmd(env),
		newQueueCmd(env),
		newWatchCmd(env),
		newCompletionCmd(env),
	}
}
