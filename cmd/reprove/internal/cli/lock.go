package cli

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/reprove/reprove/debian/archive"
	"github.com/reprove/reprove/debian/lock"
	"github.com/reprove/reprove/internal/atomicfile"
	"github.com/reprove/reprove/internal/cachedir"
	"github.com/reprove/reprove/recipes"
)

func newLockCmd(env *Env) *cobra.Command {
	var (
		output, mirror, arch string
		securityMirror       string
		keyrings             []string
	)
	cmd := &cobra.Command{
		Use:   "lock RECIPE",
		Short: "Resolve a recipe's Debian image against the suite's signed indexes and write its lock",
		Long: `Resolve the recipe's Debian image (image.debian: suite, variant, packages,
and for a Debian source package the .dsc's Build-Depends) against the
suite's signed indexes, and write the result into the recipe as
image.debian.lock: every .deb of the image, essential set included, by name,
version, architecture, archive path, size and SHA-256.

The suite's InRelease is verified with the Debian archive keyring
(--keyring, default the debian-archive-keyring package's), and the Packages
index against the SHA-256 the signed Release lists, before anything is
resolved. The image is then built only from exactly those files, each
checked by its digest, from the mirror or, once the mirror has moved on,
from a snapshot archive (reprove rebuild --snapshot).

A security update's lock spans the suite and SUITE-security of the security
archive (image.debian.lock.also, as reprove infer writes it for a .deb whose
source is only there): it is resolved again over both, each Release verified,
the highest version of each package taken, as Debian's security buildds
install. A recipe whose .dsc is in the security archive's pool is locked over
both too. --debian-security-mirror replaces the security archive's URL.

The recipe file is rewritten atomically (or written to --output). The lock
is part of the recipe, so its digest changes.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			ctx := cmd.Context()
			path := a[0]
			f, err := os.Open(path)
			if err != nil {
				return fmt.Errorf("lock: %w", err)
			}
			data, err := io.ReadAll(io.LimitReader(f, recipes.MaxSize+1))
			f.Close()
			if err != nil {
				return fmt.Errorf("lock: %w", err)
			}
			r, err := recipes.Decode(path, data)
			if err != nil {
				return err
			}
			if r.Image.Debian == nil {
				return fmt.Errorf("lock %s: the recipe has no Debian image (image.debian) to lock", path)
			}
			if len(keyrings) == 0 {
				keyrings = []string{archive.DefaultKeyring}
			}
			kr, err := archive.LoadKeyring(keyrings...)
			if err != nil {
				return err
			}
			c := &archive.Client{Base: mirror, Keyring: kr, Log: func(s string) { printf(env.Stderr, "lock: %s\n", s) }}
			if dir, err := cachedir.Dir(env.Getenv); err == nil {
				c.CacheDir = filepath.Join(dir, "debian", "indexes")
			}
			also := lock.AlsoOf(c, r.Image.Debian.Lock, securityMirror)
			if secBase := strings.TrimSuffix(cmp.Or(securityMirror, archive.DefaultSecurity), "/"); len(also) == 0 && r.Source.DSC != nil && strings.HasPrefix(r.Source.DSC.URL, secBase+"/pool/") {
				also = append(also, lock.Security(c, secBase, r.Image.Debian.Suite))
			}
			l, err := lock.Recipe(ctx, c, r, arch, also...)
			if err != nil {
				return err
			}
			out, err := recipes.WithDebianLock(data, l)
			if err != nil {
				return err
			}
			// The lock is written even when the recipe lacks something
			// else (a tree digest): that is said, and the recipe has no
			// digest until it is complete.
			locked, perr := recipes.Parse(path, out)
			dest := path
			if output != "" {
				dest = output
			}
			mode := os.FileMode(0o644)
			if fi, err := os.Stat(dest); err == nil {
				mode = fi.Mode().Perm()
			}
			if err := atomicfile.Write(dest, out, mode); err != nil {
				return err
			}
			var total int64
			for _, p := range l.Packages {
				total += p.Size
			}
			printf(env.Stdout, "locked %s: %d packages (%s) from %s %s, released %s\n",
				dest, len(l.Packages), humanSize(total), l.Release.Suite, l.Release.Codename, l.Release.Date)
			for _, a := range l.Also {
				n := 0
				for _, p := range l.Packages {
					if p.From == a.Release().Name() {
						n++
					}
				}
				printf(env.Stdout, "  %d of them from %s %s of %s, released %s\n", n, a.Suite, a.Codename, a.Archive, a.Date)
			}
			if perr != nil {
				printf(env.Stdout, "  the recipe is still incomplete:\n")
				printError(env.Stdout, perr)
				return nil
			}
			if d, err := locked.Digest(); err == nil {
				printf(env.Stdout, "  recipe digest %s\n", d)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&output, "output", "o", "", "write the locked recipe to `file` instead of rewriting RECIPE")
	f.StringVar(&mirror, "debian-mirror", "", "Debian mirror `URL` (default "+archive.DefaultMirror+")")
	f.StringVar(&securityMirror, "debian-security-mirror", "", "Debian security archive `URL` for a security update's lock (default: the lock's own, else "+archive.DefaultSecurity+")")
	f.StringArrayVar(&keyrings, "keyring", nil, "OpenPGP keyring `file` the suite must be signed by (repeatable; default "+archive.DefaultKeyring+")")
	f.StringVar(&arch, "arch", "amd64", "Debian `architecture` of the image")
	return cmd
}
