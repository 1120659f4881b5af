package main

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/reprove/reprove/builder/plan"
	"github.com/reprove/reprove/debian/deb822"
	"github.com/reprove/reprove/internal/ctxio"
	"github.com/reprove/reprove/recipes"
)

// The baseline: the same build steps, run by hand in a chroot of the same
// locked image (its layers unpacked from containerd's content store), as
// the same user, with the same source files, and no reprove around them:
// no container, no disk image, no fetch or compare. What reprove takes
// over this is what it adds to a plain dpkg-buildpackage.

// imageMeta is the part of reprove's record of a built image
// (images/images/KEY.json) the baseline reads: its layers in order.
type imageMeta struct {
	Digest digest.Digest `json:"digest"`
	Layers []struct {
		Role   string        `json:"role"`
		Digest digest.Digest `json:"digest"`
	} `json:"layers"`
}

// imageLayers returns the content-store paths of the layers of the image
// whose manifest digest is img, bottom first.
func imageLayers(cache string, img digest.Digest) ([]string, error) {
	metas, err := filepath.Glob(filepath.Join(cache, "images", "images", "*.json"))
	if err != nil {
		return nil, err
	}
	for _, m := range metas {
		raw, err := os.ReadFile(m)
		if err != nil {
			continue
		}
		var meta imageMeta
		if json.Unmarshal(raw, &meta) != nil || meta.Digest != img {
			continue
		}
		var blobs []string
		for _, l := range meta.Layers {
			if err := l.Digest.Validate(); err != nil {
				return nil, fmt.Errorf("image %s: layer %s: %w", img, l.Role, err)
			}
			blobs = append(blobs, filepath.Join(cache, "containerd", "root", "io.containerd.content.v1.content", "blobs", string(l.Digest.Algorithm()), l.Digest.Encoded()))
		}
		return blobs, nil
	}
	return nil, fmt.Errorf("no record of image %s under %s", img, filepath.Join(cache, "images", "images"))
}

// unpackLayer writes an uncompressed layer tar into root: directories,
// files, symbolic and hard links with their owners and modes (device
// nodes are left out: the chroot gets its own /dev). os.Root keeps every
// write inside the tree, whatever its symbolic links say.
func unpackLayer(ctx context.Context, root *os.Root, blob string) error {
	f, err := os.Open(blob)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	type dirMode struct {
		name string
		mode fs.FileMode
	}
	var dirs []dirMode
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read layer %s: %w", filepath.Base(blob), err)
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if name == "." || name == "/" {
			continue
		}
		name = strings.TrimPrefix(name, "/")
		if base := path.Base(name); strings.HasPrefix(base, ".wh.") {
			continue // whiteouts: reprove's layers add, they do not remove
		}
		if dir := path.Dir(name); dir != "." {
			if err := root.MkdirAll(dir, 0o755); err != nil {
				return err
			}
		}
		mode := h.FileInfo().Mode()
		switch h.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, 0o755); err != nil {
				return err
			}
			dirs = append(dirs, dirMode{name, mode})
		case tar.TypeReg:
			_ = root.Remove(name)
			out, err := root.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				return err
			}
			if _, err := io.Copy(out, tr); err != nil {
				out.Close()
				return err
			}
			if err := out.Close(); err != nil {
				return err
			}
			if err := root.Lchown(name, h.Uid, h.Gid); err != nil {
				return err
			}
			// After the owner: chown clears set-user-ID bits.
			if err := root.Chmod(name, mode&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
				return err
			}
		case tar.TypeSymlink:
			_ = root.Remove(name)
			if err := root.Symlink(h.Linkname, name); err != nil {
				return err
			}
			if err := root.Lchown(name, h.Uid, h.Gid); err != nil {
				return err
			}
		case tar.TypeLink:
			_ = root.Remove(name)
			if err := root.Link(strings.TrimPrefix(path.Clean(h.Linkname), "/"), name); err != nil {
				return err
			}
		}
	}
	for _, d := range dirs {
		if err := root.Chmod(d.name, d.mode&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
			return err
		}
	}
	return nil
}

// plainResult is the baseline's measure.
type plainResult struct {
	Time time.Duration
	// CPU is the CPU time (user and system) of the steps' processes and
	// all their descendants, from a cgroup of the build's own (as the
	// container's is read): a daemon the build starts and does not wait
	// for (fakeroot's faked) counts too. 0 when no cgroup v2 hierarchy is
	// mounted.
	CPU time.Duration
	// Digest is what the plain build made of the output reprove compared.
	Digest digest.Digest
}

// plainBuild runs rc's steps in a chroot of the image's layers, with the
// source package's files from the mirror (checked against the signed
// Sources index), and times the steps alone.
func plainBuild(ctx context.Context, cache string, img digest.Digest, rc *recipes.Recipe, src *deb822.SourcePackage, mirror, work string) (*plainResult, error) {
	blobs, err := imageLayers(cache, img)
	if err != nil {
		return nil, err
	}
	rootDir := filepath.Join(work, "rootfs")
	if err := os.MkdirAll(rootDir, 0o755); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(rootDir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	for _, b := range blobs {
		if err := unpackLayer(ctx, root, b); err != nil {
			return nil, fmt.Errorf("unpack the image: %w", err)
		}
	}
	buildDir := strings.TrimPrefix(plan.DebianBuildDir, "/")
	for _, d := range []string{buildDir, strings.TrimPrefix(plan.OutDir, "/"), strings.TrimPrefix(plan.HomeDir, "/")} {
		if err := root.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
		if err := root.Chown(d, plan.UID, plan.GID); err != nil {
			return nil, err
		}
	}
	if err := root.MkdirAll("tmp", 0o755); err != nil {
		return nil, err
	}
	if err := root.Chmod("tmp", 0o777|fs.ModeSticky); err != nil {
		return nil, err
	}
	for _, f := range src.Files {
		dest := filepath.Join(rootDir, buildDir, f.Name)
		if err := download(ctx, mirror+"/"+src.Directory+"/"+f.Name, dest); err != nil {
			return nil, err
		}
		got, err := ctxio.HashFile(ctx, dest, nil)
		if err != nil {
			return nil, err
		}
		if got != f.SHA256 {
			return nil, fmt.Errorf("%s: sha256 %s, the signed Sources index lists %s", f.Name, got, f.SHA256)
		}
		if err := os.Chown(dest, plan.UID, plan.GID); err != nil {
			return nil, err
		}
	}
	unmount, err := mountSystem(rootDir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if unmount() == nil {
			os.RemoveAll(rootDir)
		}
	}()

	env := []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + plan.HomeDir,
		"TZ=UTC",
		"LC_ALL=C",
		"USER=build",
		"LOGNAME=build",
	}
	for k, v := range rc.Env {
		env = append(env, k+"="+v)
	}
	logf, err := os.Create(filepath.Join(work, "plain-build.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	old := unix.Umask(plan.Umask)
	defer unix.Umask(old)
	cg, cgFD := cpuCgroup(work)
	if cgFD != nil {
		defer cgFD.Close()
		defer removeCgroup(cg)
	}
	start := time.Now()
	for i, s := range rc.Steps {
		args := s.Run
		if s.Shell != "" {
			args = []string{"/bin/sh", "-ec", s.Shell}
		} else if !path.IsAbs(args[0]) {
			// Found on the chroot's PATH, not the host's.
			args = append([]string{"/usr/bin/env"}, args...)
		}
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Path = args[0]
		cmd.Dir = path.Join(plan.DebianBuildDir, s.Dir)
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Chroot:     rootDir,
			Credential: &syscall.Credential{Uid: plan.UID, Gid: plan.GID, Groups: []uint32{}},
			Setsid:     true,
			Pdeathsig:  syscall.SIGKILL,
		}
		if cgFD != nil {
			cmd.SysProcAttr.UseCgroupFD = true
			cmd.SysProcAttr.CgroupFD = int(cgFD.Fd())
		}
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("plain build: step %d: %w (log: %s)", i+1, err, logf.Name())
		}
	}
	res := &plainResult{Time: time.Since(start)}
	if cg != "" {
		res.CPU = cgroupCPU(cg)
	}
	if len(rc.Outputs) > 0 {
		res.Digest, err = ctxio.HashFile(ctx, filepath.Join(rootDir, strings.TrimPrefix(plan.OutDir, "/"), rc.Outputs[0].Path), nil)
		if err != nil {
			return nil, fmt.Errorf("plain build: %w", err)
		}
	}
	return res, nil
}

// mountSystem gives the chroot a /proc and a small /dev of its own; the
// function it returns unmounts them (lazily) and reports whether both are
// gone, so that the tree is never removed through a live mount.
func mountSystem(rootDir string) (func() error, error) {
	procDir := filepath.Join(rootDir, "proc")
	devDir := filepath.Join(rootDir, "dev")
	var mounted []string
	unmount := func() error {
		var errs []error
		for i := len(mounted) - 1; i >= 0; i-- {
			if err := unix.Unmount(mounted[i], unix.MNT_DETACH); err != nil {
				errs = append(errs, fmt.Errorf("unmount %s: %w", mounted[i], err))
			}
		}
		return errors.Join(errs...)
	}
	fail := func(err error) (func() error, error) {
		if uerr := unmount(); uerr != nil {
			return nil, fmt.Errorf("%w (and %v: %s is left as it is)", err, uerr, rootDir)
		}
		os.RemoveAll(rootDir)
		return nil, err
	}
	for _, d := range []string{procDir, devDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fail(err)
		}
	}
	if err := unix.Mount("proc", procDir, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fail(fmt.Errorf("mount proc: %w", err))
	}
	mounted = append(mounted, procDir)
	if err := unix.Mount("tmpfs", devDir, "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "mode=0755,size=65536k"); err != nil {
		return fail(fmt.Errorf("mount /dev: %w", err))
	}
	mounted = append(mounted, devDir)
	for _, n := range []struct {
		name         string
		major, minor uint32
	}{{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}} {
		p := filepath.Join(devDir, n.name)
		if err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(n.major, n.minor))); err != nil {
			return fail(fmt.Errorf("make /dev/%s: %w", n.name, err))
		}
		if err := os.Chmod(p, 0o666); err != nil {
			return fail(err)
		}
	}
	if err := os.Mkdir(filepath.Join(devDir, "shm"), 0o755); err != nil {
		return fail(err)
	}
	if err := os.Chmod(filepath.Join(devDir, "shm"), 0o777|fs.ModeSticky); err != nil {
		return fail(err)
	}
	for name, target := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		if err := os.Symlink(target, filepath.Join(devDir, name)); err != nil {
			return fail(err)
		}
	}
	return unmount, nil
}

// cpuCgroup makes a cgroup (v2) for the plain build under the unified
// hierarchy, /sys/fs/cgroup or, on a hybrid host, /sys/fs/cgroup/unified,
// and opens it for clone3 to start the build's first process in it. Its
// cpu.stat counts every process of the build, whoever waits for it.
func cpuCgroup(work string) (string, *os.File) {
	for _, m := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		var st unix.Statfs_t
		if unix.Statfs(m, &st) != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
			continue
		}
		dir := filepath.Join(m, "benchdebian-"+filepath.Base(filepath.Dir(work))+"-"+filepath.Base(work))
		if err := os.Mkdir(dir, 0o755); err != nil {
			return "", nil
		}
		f, err := os.Open(dir)
		if err != nil {
			os.Remove(dir)
			return "", nil
		}
		return dir, f
	}
	return "", nil
}

// cgroupCPU reads the CPU time a cgroup's processes have used.
func cgroupCPU(dir string) time.Duration {
	raw, err := os.ReadFile(filepath.Join(dir, "cpu.stat"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
			var n int64
			fmt.Sscan(v, &n)
			return time.Duration(n) * time.Microsecond
		}
	}
	return 0
}

// removeCgroup removes the plain build's cgroup once its last process
// (a daemon such as faked may outlive the steps briefly) has gone.
func removeCgroup(dir string) {
	for i := 0; i < 50; i++ {
		if os.Remove(dir) == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
