package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/recipes"
)

// Package is a Debian package installed in an image.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Arch, Path and SHA256 are set for a locked image: the .deb it was
	// installed from, as the lock pins it.
	Arch   string        `json:"arch,omitempty"`
	Path   string        `json:"path,omitempty"`
	SHA256 digest.Digest `json:"sha256,omitempty"`
	// URL is the .deb's place in its archive: the mirror's, or that of
	// the lock's further Release it comes from (a security update's).
	URL string `json:"url,omitempty"`
}

// lockedPackages lists a lock's packages as an image records them, each
// with its URL in its own archive (mirror for the lock's Release).
func lockedPackages(l *recipes.DebianLock, mirror string) []Package {
	out := make([]Package, len(l.Packages))
	for i, p := range l.Packages {
		base := mirror
		if o := l.Origin(p); o != nil {
			base = o.Archive
		}
		out[i] = Package{Name: p.Name, Version: p.Version, Arch: p.Arch, Path: p.Path, SHA256: p.SHA256, URL: strings.TrimSuffix(base, "/") + "/" + p.Path}
	}
	return out
}

// debianRootfs runs mmdebstrap to build a Debian rootfs tarball into
// tarPath.
//
// mmdebstrap is run as a program because no Go library builds a Debian
// rootfs: it resolves dependencies with apt, verifies the mirror's signed
// Release files against Debian's keyring, runs maintainer scripts, and with
// SOURCE_DATE_EPOCH set makes its output reproducible.
func debianRootfs(ctx context.Context, spec Spec, mirror, tarPath string, log func(string)) error {
	bin, err := exec.LookPath("mmdebstrap")
	if err != nil {
		return fmt.Errorf("build Debian rootfs: %w (install it with: bash ci/setup.sh)", err)
	}
	suite := spec.suite()
	var args []string
	if spec.Debian == nil {
		// The minimal image: busybox-static unpacked, nothing installed.
		// The apt cache is kept so the .deb names record the version; the
		// .debs themselves are left out of the layer.
		args = []string{"--variant=extract", "--include=busybox-static", "--skip=cleanup/apt/cache"}
	} else {
		args = []string{"--variant=minbase"}
		if len(spec.Debian.Packages) > 0 {
			args = append(args, "--include="+strings.Join(spec.Debian.Packages, ","))
		}
	}
	args = append(args, "--mode=root", "--format=tar", "--quiet", suite, tarPath, mirror)
	cmd := groupCommand(ctx, bin, args...)
	// A fixed environment: nothing of the caller's reaches the rootfs.
	cmd.Env = []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"SOURCE_DATE_EPOCH=" + strconv.FormatInt(Epoch.Unix(), 10),
		"LC_ALL=C.UTF-8",
		"TZ=UTC",
		"HOME=/root",
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if log != nil {
		log(fmt.Sprintf("mmdebstrap %s", strings.Join(args, " ")))
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build Debian rootfs (%s): %w\n%s", strings.Join(args, " "), err, lastLines(out.String(), 20))
	}
	return nil
}

// groupCommand is exec.CommandContext for a program that forks workers,
// as mmdebstrap does (itself again, apt, dpkg): it runs in a process group
// of its own, and a cancelled ctx sends SIGTERM to the whole group, not
// only to the program, so that nothing goes on installing into a tree the
// cancelled caller is about to remove. mmdebstrap unmounts what it
// mounted on SIGTERM; whatever still runs WaitDelay later is killed.
func groupCommand(ctx context.Context, bin string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		err := syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		if errors.Is(err, syscall.ESRCH) {
			return os.ErrProcessDone
		}
		return err
	}
	cmd.WaitDelay = groupWaitDelay
	return cmd
}

// groupWaitDelay is how long a cancelled groupCommand's group has to end
// after SIGTERM before it is killed.
var groupWaitDelay = 30 * time.Second

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// rootfsInfo is what converting the rootfs learned about it.
type rootfsInfo struct {
	passwd, group []byte
	// sources is etc/apt/sources.list, which reprove's layer writes (a
	// locked image's names the mirror, not the local archive it was
	// installed from).
	sources  []byte
	packages []Package
}

// convertRootfs copies mmdebstrap's tarball into a normalised layer. It
// leaves out device nodes (the runtime provides /dev), downloaded .debs,
// and the files reprove's own layer replaces (users, groups, hostname,
// resolver configuration, which mmdebstrap copies from the host).
func convertRootfs(r io.Reader, lw *layerWriter) (*rootfsInfo, error) {
	info := &rootfsInfo{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read rootfs tarball: %w", err)
		}
		name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		if name == "" {
			continue
		}
		switch {
		case name == "dev" || strings.HasPrefix(name, "dev/"):
			if name == "dev" {
				if err := lw.add(&tar.Header{Typeflag: tar.TypeDir, Name: "dev", Mode: 0o755}, nil); err != nil {
					return nil, err
				}
			}
			continue
		case strings.HasPrefix(name, "var/cache/apt/archives/") && strings.HasSuffix(name, ".deb"):
			if p, ok := debPackage(path.Base(name)); ok {
				info.packages = append(info.packages, p)
			}
			continue
		case strings.HasPrefix(name, "var/cache/apt/") && h.Typeflag != tar.TypeDir:
			// apt's binary caches (pkgcache.bin) differ from run to run.
			continue
		case name == "etc/passwd", name == "etc/group":
			b, err := io.ReadAll(io.LimitReader(tr, 1<<20))
			if err != nil {
				return nil, fmt.Errorf("read rootfs %s: %w", name, err)
			}
			if name == "etc/passwd" {
				info.passwd = b
			} else {
				info.group = b
			}
			continue
		case name == "etc/hostname", name == "etc/resolv.conf", name == "etc/hosts":
			continue
		case name == "etc/apt/sources.list":
			b, err := io.ReadAll(io.LimitReader(tr, 1<<20))
			if err != nil {
				return nil, fmt.Errorf("read rootfs %s: %w", name, err)
			}
			info.sources = b
			continue
		case name == "var/lib/dpkg/status":
			b, err := io.ReadAll(io.LimitReader(tr, 64<<20))
			if err != nil {
				return nil, fmt.Errorf("read rootfs %s: %w", name, err)
			}
			info.packages = append(info.packages, parseDpkgStatus(b)...)
			h.Name = name
			if err := lw.add(h, bytes.NewReader(b)); err != nil {
				return nil, err
			}
			continue
		}
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeDir, tar.TypeSymlink, tar.TypeLink:
		default:
			continue // no devices, fifos or sockets in a base image
		}
		h.Name = name
		if h.Typeflag == tar.TypeLink {
			h.Linkname = strings.TrimPrefix(path.Clean("/"+h.Linkname), "/")
		}
		if err := lw.add(h, tr); err != nil {
			return nil, err
		}
	}
	sort.Slice(info.packages, func(i, j int) bool { return info.packages[i].Name < info.packages[j].Name })
	return info, nil
}

// debPackage reads name and version from a .deb file name as apt stores it
// (name_version_arch.deb, with the version's ':' escaped as %3a).
func debPackage(file string) (Package, bool) {
	parts := strings.Split(strings.TrimSuffix(file, ".deb"), "_")
	if len(parts) != 3 {
		return Package{}, false
	}
	v, err := url.PathUnescape(parts[1])
	if err != nil {
		return Package{}, false
	}
	return Package{Name: parts[0], Version: v}, true
}

// parseDpkgStatus lists the installed packages in a dpkg status file.
func parseDpkgStatus(b []byte) []Package {
	var pkgs []Package
	var cur Package
	installed := false
	flush := func() {
		if cur.Name != "" && installed {
			pkgs = append(pkgs, cur)
		}
		cur, installed = Package{}, false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			flush()
		case strings.HasPrefix(line, "Package: "):
			cur.Name = strings.TrimPrefix(line, "Package: ")
		case strings.HasPrefix(line, "Version: "):
			cur.Version = strings.TrimPrefix(line, "Version: ")
		case strings.HasPrefix(line, "Status: "):
			installed = strings.HasSuffix(line, " installed")
		}
	}
	flush()
	return pkgs
}

// reproveLayer writes reprove's own layer: the build user, fixed hostname
// and resolver files, the mount points, and (in the minimal image) the
// busybox applet links that give steps a shell.
func reproveLayer(lw *layerWriter, info *rootfsInfo, minimal bool) error {
	passwd := info.passwd
	if len(passwd) == 0 {
		passwd = []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")
	}
	group := info.group
	if len(group) == 0 {
		group = []byte("root:x:0:\nnogroup:x:65534:\n")
	}
	passwd = appendLine(passwd, fmt.Sprintf("%s:x:%d:%d:reprove build:%s:/bin/sh", BuildUser, BuildUID, BuildGID, BuildHome))
	group = appendLine(group, fmt.Sprintf("%s:x:%d:", BuildUser, BuildGID))

	type file struct {
		name string
		mode int64
		body []byte
		link string
		dir  bool
		uid  int
	}
	files := []file{
		{name: "etc", mode: 0o755, dir: true},
		{name: "etc/group", mode: 0o644, body: group},
		{name: "etc/hostname", mode: 0o644, body: []byte(Hostname + "\n")},
		{name: "etc/hosts", mode: 0o644, body: []byte("127.0.0.1\tlocalhost " + Hostname + "\n::1\tlocalhost ip6-localhost ip6-loopback\n")},
		{name: "etc/passwd", mode: 0o644, body: passwd},
		{name: "etc/resolv.conf", mode: 0o644, body: nil},
		{name: strings.TrimPrefix(BuildHome, "/"), mode: 0o755, dir: true, uid: BuildUID},
		{name: "out", mode: 0o755, dir: true},
		{name: "proc", mode: 0o555, dir: true},
		{name: "run", mode: 0o755, dir: true},
		{name: "src", mode: 0o755, dir: true},
		{name: "sys", mode: 0o555, dir: true},
		{name: "tmp", mode: 0o1777, dir: true},
		{name: strings.TrimPrefix(ModCacheDir, "/"), mode: 0o755, dir: true},
	}
	if len(info.sources) > 0 {
		files = append(files, file{name: "etc/apt/sources.list", mode: 0o644, body: info.sources})
	}
	if minimal {
		for _, applet := range busyboxApplets {
			files = append(files, file{name: "bin/" + applet, link: "busybox"})
		}
		files = append(files, file{name: "usr/bin/env", link: "/bin/busybox"})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	for _, f := range files {
		if err := lw.addParents(f.name); err != nil {
			return err
		}
		h := &tar.Header{Name: f.name, Mode: f.mode, Uid: f.uid, Gid: f.uid}
		switch {
		case f.dir:
			h.Typeflag = tar.TypeDir
		case f.link != "":
			h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, f.link, 0o777
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.body))
		}
		if err := lw.add(h, bytes.NewReader(f.body)); err != nil {
			return err
		}
	}
	return nil
}

func appendLine(b []byte, line string) []byte {
	out := append([]byte(nil), b...)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return append(out, line+"\n"...)
}

// busyboxApplets are linked in /bin of the minimal image: enough for shell
// steps and for inspecting a build.
var busyboxApplets = []string{
	"basename", "cat", "chmod", "cmp", "cp", "cut", "date", "dirname", "echo", "env", "false",
	"find", "grep", "gzip", "head", "id", "ln", "ls", "mkdir", "mktemp", "mv", "nc",
	"printf", "pwd", "readlink", "rm", "rmdir", "sed", "sh", "sha256sum", "sleep", "sort",
	"tail", "tar", "test", "touch", "tr", "true", "uname", "unzip", "wc", "wget", "xargs",
}
