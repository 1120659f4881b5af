package cli

import (
	"encoding/json"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// VersionSchemaVersion is the version of `reprove version --json`.
const VersionSchemaVersion = 1

// VersionInfo is what reprove knows of its own build, from the build
// information the go command records in every binary.
type VersionInfo struct {
	SchemaVersion int `json:"schemaVersion"`
	// Version is the main module's version (v1.2.3 when installed with
	// `go install …@v1.2.3`), else "devel-REVISION[-dirty]" for a build from a
	// checkout, else "(devel)".
	Version string `json:"version"`
	Module  string `json:"module,omitempty"`
	// VCS fields are set for builds from a checkout (go build -buildvcs).
	VCSRevision string `json:"vcsRevision,omitempty"`
	VCSTime     string `json:"vcsTime,omitempty"`
	VCSModified bool   `json:"vcsModified,omitempty"`
	GoVersion   string `json:"goVersion"`
	Platform    string `json:"platform"`
}

// readVersion reads the running binary's build info.
func readVersion() VersionInfo {
	vi := VersionInfo{SchemaVersion: VersionSchemaVersion, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		vi.Version = "unknown"
		return vi
	}
	vi.Module, vi.Version, vi.GoVersion = bi.Main.Path, bi.Main.Version, bi.GoVersion
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			vi.VCSRevision = s.Value
		case "vcs.time":
			vi.VCSTime = s.Value
		case "vcs.modified":
			vi.VCSModified = s.Value == "true"
		}
	}
	if (vi.Version == "" || vi.Version == "(devel)") && vi.VCSRevision != "" {
		vi.Version = "devel-" + vi.VCSRevision
		if vi.VCSModified {
			vi.Version += "-dirty"
		}
	}
	if vi.Version == "" {
		vi.Version = "(devel)"
	}
	return vi
}

// Version is reprove's own version (VersionInfo.Version), as provenance
// records it.
func Version() string { return readVersion().Version }

func newVersionCmd(env *Env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print reprove's version, the revision it was built from and its Go version",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			vi := readVersion()
			if asJSON {
				enc := json.NewEncoder(env.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(vi)
			}
			printf(env.Stdout, "reprove %s\n", vi.Version)
			if vi.VCSRevision != "" {
				mod := ""
				if vi.VCSModified {
					mod = " (modified)"
				}
				printf(env.Stdout, "  revision %s%s %s\n", vi.VCSRevision, mod, vi.VCSTime)
			}
			err := printf(env.Stdout, "  built with %s for %s\n", vi.GoVersion, vi.Platform)
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the version information as JSON")
	return cmd
}
