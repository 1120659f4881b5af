package cli

import (
	"encoding/json"
	"strings"

	"github.com/spf13/cobra"

	"github.com/reprove/reprove/builder/image"
	"github.com/reprove/reprove/debian/archive"
	"github.com/reprove/reprove/debian/lock"
	"github.com/reprove/reprove/recipes"
)

// imageSchemaVersion versions the --json output of image build (2:
// schemaVersion, lowerCamelCase).
const imageSchemaVersion = 2

func newImageCmd(env *Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Build and inspect reprove's base images (no registry needed)",
		Args:  groupArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newImageBuildCmd(env))
	return cmd
}

func newImageBuildCmd(env *Env) *cobra.Command {
	var (
		rf       runtimeFlags
		goVer    string
		debian   string
		packages []string
		variant  string
		force    bool
	)
	cmd := &cobra.Command{
		Use:   "build [--go VERSION] [--debian SUITE --package NAME...]",
		Short: "Build a base image locally and import it into containerd",
		Long: `Build a base image without a registry and import it into containerd as an
OCI image whose digest is stable: building the same image twice gives the
same digest.

  rootfs     Debian from the package mirror with mmdebstrap (SOURCE_DATE_EPOCH
             fixed): busybox-static only (the minimal image), or minbase plus
             --package NAME (with --debian SUITE)
  toolchain  with --go VERSION: golang.org/toolchain@v0.0.1-goVERSION.linux-ARCH
             from the Go module proxy, verified by the Go checksum database
  reprove    the build user (uid 1000), fixed hostname and resolver files,
             mount points

Images are cached by the digest of what goes into them; rebuilds reuse them.
--force builds again even when cached (and shows whether the digest holds).`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			spec := image.Spec{Go: strings.TrimPrefix(goVer, "go")}
			if debian != "" {
				// Locked now, against the suite's signed indexes: an
				// image is built only from locked files.
				kr, err := archive.LoadKeyring(archive.DefaultKeyring)
				if err != nil {
					return err
				}
				c := &archive.Client{Base: rf.mirror, Keyring: kr}
				if spec.Debian, err = lock.Image(ctx, c, &recipes.DebianImage{Suite: debian, Variant: variant, Packages: packages}, "amd64"); err != nil {
					return err
				}
			} else if len(packages) > 0 || variant != "" {
				return usageErrorf("--package and --variant need --debian SUITE (the minimal image has no package manager)")
			}
			sess, err := openSession(ctx, env, &rf)
			if err != nil {
				return err
			}
			defer sess.Close()
			b, err := sess.Builder(nil)
			if err != nil {
				return err
			}
			ib := b.Images()
			var img *image.Image
			if force {
				img, err = ib.Build(ctx, spec)
			} else {
				img, err = ib.Ensure(ctx, spec)
			}
			if err != nil {
				return err
			}
			if rf.json {
				enc := json.NewEncoder(env.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					SchemaVersion int `json:"schemaVersion"`
					*image.Image
				}{imageSchemaVersion, img})
			}
			printf(env.Stdout, "%s\n  name    %s\n  digest  %s\n", spec.Describe(), img.Name, img.Digest)
			if img.Toolchain != nil {
				printf(env.Stdout, "  go      %s@%s %s\n", img.Toolchain.Module, img.Toolchain.Version, img.Toolchain.Sum)
			}
			for _, l := range img.Layers {
				printf(env.Stdout, "  layer   %-12s %s %s\n", l.Role, l.Digest, humanSize(l.Size))
			}
			printf(env.Stdout, "  %d Debian packages from %s\n", len(img.Packages), img.Mirror)
			return nil
		},
	}
	rf.register(cmd)
	f := cmd.Flags()
	f.StringVar(&goVer, "go", "", "install this Go release (e.g. 1.23.5)")
	f.StringVar(&debian, "debian", "", "Debian suite for a minbase rootfs (e.g. bookworm); default: the minimal image")
	f.StringSliceVar(&packages, "package", nil, "Debian package to install (repeatable; needs --debian)")
	f.StringVar(&variant, "variant", "", "Debian package set: minbase (default) or buildd (needs --debian)")
	f.BoolVar(&force, "force", false, "build even if the image is cached")
	return cmd
}
