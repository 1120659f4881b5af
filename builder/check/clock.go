package check

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/reprove/reprove/builder"
	"github.com/reprove/reprove/builder/check/clockshift"
	"github.com/reprove/reprove/internal/treehash"
)

// ClockHelper returns the host path of the clock helper the varied build
// runs its steps under. reprove builds it on first use, with its own
// builder, from the source clockshift embeds, and keeps it in the cache
// (by clockshift.Key); the file is checked against the pin every time
// it is used, and a build of it that does not reproduce the pin is an
// error. say, when not nil, hears that it is being built.
func ClockHelper(ctx context.Context, b *builder.Builder, say func(string, ...any)) (string, error) {
	if say == nil {
		say = func(string, ...any) {}
	}
	pin := clockshift.HelperDigest
	dir := filepath.Join(b.CacheDir(), "clockshift", clockshift.Key().Encoded())
	path := filepath.Join(dir, clockshift.HelperName)
	if got, err := fileDigest(path); err == nil && got == pin {
		return path, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return "", fmt.Errorf("build the clock helper: %w", err)
	}
	// One build at a time, on the whole machine: checks running side by
	// side wait for the first to finish, then use its helper.
	lock, err := os.OpenFile(filepath.Join(filepath.Dir(dir), "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", fmt.Errorf("build the clock helper: %w", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return "", fmt.Errorf("build the clock helper: lock: %w", err)
	}
	if got, err := fileDigest(path); err == nil && got == pin {
		return path, nil
	}
	// Whatever is there (a half-removed or altered copy) goes.
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("build the clock helper: %w", err)
	}
	say("building the clock helper (%s, Go %s)", clockshift.HelperName, clockshift.GoVersion)
	src, err := os.MkdirTemp(filepath.Dir(dir), "source-")
	if err != nil {
		return "", fmt.Errorf("build the clock helper: %w", err)
	}
	defer os.RemoveAll(src)
	if err := clockshift.WriteSource(src); err != nil {
		return "", err
	}
	tree, err := treehash.Dir(ctx, src)
	if err != nil {
		return "", fmt.Errorf("build the clock helper: %w", err)
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	out := dir + ".partial-" + hex.EncodeToString(rnd[:])
	defer os.RemoveAll(out)
	res, err := b.Build(ctx, clockshift.Recipe(src, tree), out)
	if err != nil {
		return "", fmt.Errorf("build the clock helper: %w", err)
	}
	if len(res.Outputs) != 1 || res.Outputs[0].Digest != pin {
		got := digest.Digest("nothing")
		if len(res.Outputs) > 0 {
			got = res.Outputs[0].Digest
		}
		return "", fmt.Errorf("build the clock helper: it built to %s, but reprove pins %s (clockshift.HelperDigest): it did not reproduce", got, pin)
	}
	if err := os.Chmod(filepath.Join(out, clockshift.HelperName), 0o555); err != nil {
		return "", fmt.Errorf("build the clock helper: %w", err)
	}
	if err := os.Rename(out, dir); err != nil {
		return "", fmt.Errorf("build the clock helper: %w", err)
	}
	if got, err := fileDigest(path); err != nil || got != pin {
		return "", fmt.Errorf("build the clock helper: %s is not the pinned helper %s (%v)", path, pin, err)
	}
	return path, nil
}

func fileDigest(path string) (digest.Digest, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	d := digest.Canonical.Digester()
	if _, err := io.Copy(d.Hash(), f); err != nil {
		return "", err
	}
	return d.Digest(), nil
}
