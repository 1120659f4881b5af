package cli

import (
	"github.com/spf13/cobra"
)

func newCompletionCmd(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print a shell completion script",
		Long: `Print the completion script for a shell on standard output. For example:

  source <(reprove completion bash)                        # this bash session
  reprove completion bash > /etc/bash_completion.d/reprove  # every bash session
  reprove completion zsh > "${fpath[1]}/_reprove"
  reprove completion fish > ~/.config/fish/completions/reprove.fish`,
		ValidArgs: []string{"bash", "zsh", "fish"},
		Args:      args(cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs)),
		RunE: func(cmd *cobra.Command, a []string) error {
			root := cmd.Root()
			switch a[0] {
			case "bash":
				return root.GenBashCompletionV2(env.Stdout, true)
			case "zsh":
				return root.GenZshCompletion(env.Stdout)
			default:
				return root.GenFishCompletion(env.Stdout, true)
			}
		},
	}
}
