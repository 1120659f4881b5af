// Package verified remembers that a cached file was checked against a
// digest, so the check need not be repeated on every use while the file is
// unchanged (the go command trusts its module cache's .ziphash files the
// same way).
//
// A stamp records the digest together with the file's identity and change
// times (device, inode, size, mtime, ctime). Any write to the file, any
// replacement of it and any chmod changes its ctime, which a process cannot
// set back, so a file altered after it was verified fails the stamp and is
// verified again in full.
package verified

import (
	"fmt"
	"os"
	"syscall"
)

func identity(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", fmt.Errorf("stat %s: no inode information", path)
	}
	return fmt.Sprintf("%d %d %d %d.%09d %d.%09d", st.Dev, st.Ino, st.Size, st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec), nil
}

func stampPath(path string) string { return path + ".verified" }

// Stamp records that path was verified to have digest d.
func Stamp(path, d string) error {
	id, err := identity(path)
	if err != nil {
		return err
	}
	tmp := stampPath(path) + ".tmp"
	if err := os.WriteFile(tmp, []byte(d+"\n"+id+"\n"), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, stampPath(path))
}

// Check reports whether path carries a stamp for digest d and has not
// changed since.
func Check(path, d string) bool {
	b, err := os.ReadFile(stampPath(path))
	if err != nil {
		return false
	}
	id, err := identity(path)
	if err != nil {
		return false
	}
	return string(b) == d+"\n"+id+"\n"
}

// Clear removes a stamp.
func Clear(path string) { os.Remove(stampPath(path)) }
