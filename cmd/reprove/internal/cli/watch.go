package cli

import (
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/reprove/reprove/debian/archive"
	"github.com/reprove/reprove/fleet/queue"
	"github.com/reprove/reprove/fleet/watch"
)

func newWatchCmd(env *Env) *cobra.Command {
	var (
		qf    queueFlag
		every time.Duration
		name  string
	)
	cmd := &cobra.Command{
		Use:   "watch go|npm|debian",
		Short: "Enqueue a rebuild of every new release on a watch list",
		Long: `Watch for new releases and enqueue the jobs that rebuild them on the fleet's
queue (--database), once, or every --every. What a watch list has enqueued
is remembered in the queue, so a watcher that restarts never enqueues a
release twice.

  reprove watch go --since 1.26.0
      Go releases from the module proxy's golang.org/toolchain version list:
      gofmt and the go command (recipes inferred from the shipped binaries)
      and the whole distribution (make.bash -distpack), as gorebuild does.
  reprove watch npm --package @esbuild/linux-x64=package/bin/esbuild
      npm packages from the registry's package documents: the program at the
      member path of each new version, through reprove infer.
  reprove watch debian --suite bookworm-updates --package openssl
      Debian binary packages from suites' signed indexes: each new version's
      .deb, rebuilt from its source package.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	qf.add(cmd)
	p := cmd.PersistentFlags()
	p.DurationVar(&every, "every", 0, "look again every `DURATION` until stopped (default: once)")
	p.StringVar(&name, "name", "", "the watch list's `NAME` (default: go, npm)")

	var g watch.GoToolchain
	goCmd := &cobra.Command{
		Use:   "go [--since RELEASE]",
		Short: "Watch Go releases on the Go module proxy",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			g.Watch = name
			return runWatch(cmd, env, &qf, &g, every)
		},
	}
	goCmd.Flags().StringVar(&g.Since, "since", "", "the oldest Go `RELEASE` to rebuild, such as 1.26.0 (default: every one the proxy lists)")
	goCmd.Flags().StringVar(&g.Arch, "arch", "amd64", "the `ARCH` of the linux distributions")
	goCmd.Flags().StringVar(&g.Proxy, "goproxy", "", "the Go module proxy (default https://proxy.golang.org)")
	goCmd.Flags().BoolVar(&g.NoDistribution, "no-distribution", false, "only gofmt and go, not the whole distribution")

	var n watch.NPM
	var pkgs []string
	npmCmd := &cobra.Command{
		Use:   "npm --package NAME=MEMBER… [--since VERSION]",
		Short: "Watch npm packages on the registry",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(pkgs) == 0 {
				return usageErrorf("--package is required")
			}
			for _, p := range pkgs {
				pkg, member, ok := strings.Cut(p, "=")
				if !ok || pkg == "" || member == "" {
					return usageErrorf("--package %q: want NAME=MEMBER, such as @esbuild/linux-x64=package/bin/esbuild", p)
				}
				n.Packages = append(n.Packages, watch.NPMPackage{Name: pkg, Member: member})
			}
			n.Watch = name
			return runWatch(cmd, env, &qf, &n, every)
		},
	}
	npmCmd.Flags().StringArrayVar(&pkgs, "package", nil, "a package and the program inside its tarball, `NAME=MEMBER` (repeatable)")
	npmCmd.Flags().StringVar(&n.Since, "since", "", "the oldest `VERSION` to rebuild (default: every version)")
	npmCmd.Flags().StringVar(&n.Registry, "registry", "", "the npm registry (default https://registry.npmjs.org)")
	var (
		d                     watch.Debian
		suites, debs          []string
		mirror, keyring, arch string
	)
	debCmd := &cobra.Command{
		Use:   "debian --suite SUITE[=MIRROR]… --package NAME…",
		Short: "Watch binary packages in Debian suites' signed indexes",
		Long: `Watch binary packages in Debian suites: each suite's InRelease is verified with
Debian's archive keyring, its Packages index checked against the Release,
and each new version of a package on the list is enqueued: the worker
infers the recipe that rebuilds its .deb from its source package (as
reprove infer does on a .deb) and rebuilds it. Security updates live in
another archive: --suite bookworm-security=http://deb.debian.org/debian-security.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(suites) == 0 || len(debs) == 0 {
				return usageErrorf("--suite and --package are required")
			}
			for _, s := range suites {
				name, m, _ := strings.Cut(s, "=")
				if name == "" {
					return usageErrorf("--suite %q: want SUITE or SUITE=MIRROR", s)
				}
				if m == "" {
					m = mirror
				}
				d.Suites = append(d.Suites, watch.DebianSuite{Name: name, Mirror: m})
			}
			kr, err := archive.LoadKeyring(keyring)
			if err != nil {
				return err
			}
			d.Keyring, d.Packages, d.Arch, d.Watch = kr, debs, arch, name
			return runWatch(cmd, env, &qf, &d, every)
		},
	}
	df := debCmd.Flags()
	df.StringArrayVar(&suites, "suite", nil, "a `SUITE` to watch, or SUITE=MIRROR for one in another archive (repeatable)")
	df.StringArrayVar(&debs, "package", nil, "a binary package `NAME` to watch (repeatable)")
	df.StringVar(&mirror, "debian-mirror", archive.DefaultMirror, "the archive of the suites given without one")
	df.StringVar(&keyring, "keyring", archive.DefaultKeyring, "the `KEYRING` InRelease files must be signed by")
	df.StringVar(&arch, "arch", "amd64", "the `ARCH` of the packages")
	cmd.AddCommand(goCmd, npmCmd, debCmd)
	return cmd
}

func runWatch(cmd *cobra.Command, env *Env, qf *queueFlag, src watch.Source, every time.Duration) error {
	if every < 0 {
		return usageErrorf("--every must not be negative")
	}
	q, err := qf.open(cmd, env)
	if err != nil {
		return err
	}
	defer q.Close()
	report := func(es []queue.Enqueued, err error) {
		for _, e := range es {
			printf(env.Stdout, "job %d: %s %s %s (%s)\n", e.ID, e.Release.Ecosystem, e.Release.Name, e.Release.Version, e.Item)
		}
		if err != nil {
			printf(env.Stderr, "reprove: %v\n", err)
		}
	}
	if every == 0 {
		es, err := watch.Once(cmd.Context(), q, src)
		report(es, nil)
		if err != nil {
			return err
		}
		if len(es) == 0 {
			printf(env.Stderr, "reprove: nothing new on the watch list %s\n", src.Name())
		}
		return nil
	}
	watch.Run(cmd.Context(), q, src, every, report)
	return nil
}
