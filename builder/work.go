package builder

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/core/mount"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/reprove/reprove/builder/runner"
	"github.com/reprove/reprove/recipes"
)

// work is one build's scratch space under the cache's work/ directory:
//
//	owner      the process that made it (runner.Owner), for sweeping
//	disk.img   a sparse file holding an ext4 file system of the disk limit
//	disk/      that file system, mounted through a loop device: out/,
//	           home/ and the source (a copied directory, or the writable
//	           layer of the overlay over a cached tree) live on it, so the
//	           kernel stops the build at the disk limit
//	src/       the overlay's mount point, when the source is shared
//
// close unmounts everything and deletes it before the build returns: a
// finished build leaves nothing behind. A killed process's work is swept
// by the next Builder.
type work struct {
	dir    string
	mounts []string // mounted, in order; unmounted in reverse
	limit  int64
}

// diskMargin is added to the disk limit when the file system is made: ext4
// keeps about 3% for its own metadata, and the build should get about what
// the limit says.
func diskMargin(limit int64) int64 { return limit/32 + 4<<20 }

// newWork makes the work directory and its size-limited file system.
func (b *Builder) newWork(ctx context.Context, diskBytes int64) (w *work, err error) {
	base := filepath.Join(b.opts.CacheDir, "work")
	if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, err
	}
	owner, err := runner.Owner()
	if err != nil {
		return nil, err
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	w = &work{dir: filepath.Join(base, hex.EncodeToString(rnd[:])), limit: diskBytes}
	if err := os.Mkdir(w.dir, 0o755); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			w.close()
		}
	}()
	if err := os.WriteFile(filepath.Join(w.dir, "owner"), []byte(owner+"\n"), 0o644); err != nil {
		return nil, err
	}
	// The image is sparse: it takes host space only as the build
	// writes. A limit the host cannot hold would end in I/O errors
	// rather than the limit, so it is refused here.
	if free := freeBytes(w.dir); free > 0 && free < diskBytes {
		return nil, fmt.Errorf("prepare build: the disk limit is %s but %s has only %s free: free some space or lower --disk",
			recipes.FormatSize(diskBytes), base, humanBytes(free))
	}
	img := filepath.Join(w.dir, "disk.img")
	if err := makeExt4(ctx, img, diskBytes+diskMargin(diskBytes)); err != nil {
		return nil, err
	}
	// nobarrier: a flush on this file system (a build's fsync: dpkg-deb
	// syncs each .deb it writes) would make the loop device sync its whole
	// backing file on the host, about 10 ms more per fsync than the host's
	// own file system on an idle disk, and far more while other work
	// writes. The disk is scratch, deleted after the build whatever
	// happens: it has nothing to keep across a crash.
	if err := w.mount(mount.Mount{Type: "ext4", Source: img, Options: []string{"loop", "nosuid", "nodev", "noinit_itable", "nobarrier"}}, w.disk()); err != nil {
		return nil, fmt.Errorf("prepare build: mount the build's disk: %w", err)
	}
	return w, nil
}

// disk is the mount point of the size-limited file system.
func (w *work) disk() string { return filepath.Join(w.dir, "disk") }

// mount mounts m at target (created) and remembers to unmount it.
func (w *work) mount(m mount.Mount, target string) error {
	if err := os.MkdirAll(target, 0o755); err != nil {
		return err
	}
	if err := m.Mount(target); err != nil {
		return err
	}
	w.mounts = append(w.mounts, target)
	return nil
}

// freeBytes is the space free for an unprivileged writer on dir's file
// system (0 when unknown).
func freeBytes(dir string) int64 {
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) != nil {
		return 0
	}
	return int64(st.Bavail) * st.Bsize
}

// full reports whether the build's file system (or a tmpfs standing in
// for it) is out of space or inodes: ext4 keeps back under a MiB of
// blocks for itself, so a build stopped by the limit leaves less than
// that.
func full(dir string) bool {
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) != nil {
		return false
	}
	return int64(st.Bavail)*st.Bsize < 2<<20 || (st.Files > 0 && st.Ffree == 0)
}

// close unmounts and deletes the work directory. Deleting the disk image
// is one unlink, however much the build wrote.
func (w *work) close() error {
	var errs []error
	for i := len(w.mounts) - 1; i >= 0; i-- {
		if err := mount.UnmountAll(w.mounts[i], unix.MNT_DETACH); err != nil {
			errs = append(errs, fmt.Errorf("unmount %s: %w", w.mounts[i], err))
		}
	}
	w.mounts = nil
	if len(errs) == 0 {
		if err := os.RemoveAll(w.dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// diskUUID is the UUID and directory hash seed of every build's disk. ext4
// lists a directory in the order of its names' hashes, seeded per file
// system: a fixed seed makes that order the same in every build, on every
// machine (a random one would make a build that lists a directory differ
// from run to run).
const diskUUID = "5eed0000-7265-7072-6f76-650000000001"

// makeExt4 makes a sparse file of size bytes holding an empty ext4 file
// system, owned by root, without a journal (the file system is thrown away
// with the build) or reserved blocks.
//
// mke2fs is run as a program: no Go library writes ext4. Inode tables are
// left for lazy initialisation and the mount says noinit_itable, so the
// file takes a few MiB until the build writes to it.
func makeExt4(ctx context.Context, img string, size int64) error {
	f, err := os.OpenFile(img, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("prepare build: make disk image: %w", err)
	}
	bin, err := exec.LookPath("mkfs.ext4")
	if err != nil {
		return fmt.Errorf("prepare build: %w (install e2fsprogs: bash ci/setup.sh)", err)
	}
	cmd := exec.CommandContext(ctx, bin, "-q", "-F", "-m", "0", "-O", "^has_journal",
		"-U", diskUUID, "-E", "lazy_itable_init=1,nodiscard,root_owner=0:0,hash_seed="+diskUUID, img)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("prepare build: mkfs.ext4: %w: %s", err, strings.TrimSpace(out.String()))
	}
	return nil
}

// sweepWork removes the work directories of reprove processes that no
// longer run (killed mid-build), with whatever they left mounted there. It
// returns how many it removed.
func sweepWork(base string) (int, error) {
	entries, err := os.ReadDir(base)
	if err != nil {
		if os.IsNotExist(err) {
			return 0, nil
		}
		return 0, err
	}
	removed := 0
	var errs []error
	for _, e := range entries {
		dir := filepath.Join(base, e.Name())
		owner, err := os.ReadFile(filepath.Join(dir, "owner"))
		switch {
		case err == nil && runner.OwnerAlive(strings.TrimSpace(string(owner))):
			continue
		case os.IsNotExist(err):
			// Made a moment ago by a process that has not written its
			// name yet, or left by an older reprove.
			if fi, serr := os.Lstat(dir); serr != nil || time.Since(fi.ModTime()) < 10*time.Minute {
				continue
			}
		case err != nil:
			continue
		}
		if err := unmountUnder(dir); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}

// unmountUnder unmounts every mount at or below dir, deepest first.
func unmountUnder(dir string) error {
	mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		return fmt.Errorf("list mounts under %s: %w", dir, err)
	}
	sort.Slice(mounts, func(i, j int) bool { return len(mounts[i].Mountpoint) > len(mounts[j].Mountpoint) })
	for _, m := range mounts {
		if err := mount.UnmountAll(m.Mountpoint, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount %s: %w", m.Mountpoint, err)
		}
	}
	return nil
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return strconv.FormatFloat(float64(n)/(1<<30), 'f', 1, 64) + " GiB"
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
	}
	return strconv.FormatInt(n, 10) + " B"
}
