package archive

import (
	"fmt"
	"path"
	"strings"
)

// Class says what a metadata field is about. compare maps classes to the
// kinds of difference it reports, and normalizers are defined over them: no
// normalizer covers Type, Mode or Link, so a change of file type, mode bits
// or link target is never hidden.
type Class int

const (
	ClassOther       Class = iota // any other header field
	ClassType                     // file, dir, symlink, …
	ClassMode                     // permission and setuid/setgid/sticky bits
	ClassLink                     // symlink or hard-link target
	ClassOwner                    // uid, gid, user and group names
	ClassTime                     // modification, access, change times
	ClassCompression              // compression method, level, layout
	ClassHeader                   // compressed-stream header (gzip name, mtime, OS, …)
)

// Field is one metadata field of a member, as text.
type Field struct {
	Name  string
	Class Class
	Value string
}

// Entry is one archive member: its name, type, size and every metadata
// field the format records.
type Entry struct {
	Name   string
	Type   string // "file", "dir", "symlink", "hardlink", "char", "block", "fifo", "other"
	Size   int64  // content size (regular files)
	Fields []Field
}

// Regular reports whether the entry has content to compare.
func (e *Entry) Regular() bool { return e.Type == "file" }

func (e *Entry) add(name string, c Class, format string, args ...any) {
	e.Fields = append(e.Fields, Field{Name: name, Class: c, Value: fmt.Sprintf(format, args...)})
}

// names checks member names as they are read: no absolute paths, no ".."
// elements, no NUL, and no member below a symlink member (the classic
// symlink escape: "a" -> "/etc", then "a/passwd").
type names struct {
	where    string
	symlinks map[string]bool
}

func newNames(where string) *names { return &names{where: where, symlinks: map[string]bool{}} }

// UnsafeNameError reports a member name that would escape an extraction
// root.
type UnsafeNameError struct {
	Where, Name, Reason string
}

func (e *UnsafeNameError) Error() string {
	return fmt.Sprintf("%s: refused member %q: %s", e.Where, e.Name, e.Reason)
}

func (n *names) check(name string, isSymlink bool) error {
	bad := func(reason string) error { return &UnsafeNameError{Where: n.where, Name: name, Reason: reason} }
	if name == "" {
		return bad("empty name")
	}
	if strings.IndexByte(name, 0) >= 0 {
		return bad("NUL byte in name")
	}
	s := strings.ReplaceAll(name, `\`, "/")
	if strings.HasPrefix(s, "/") || (len(s) >= 2 && s[1] == ':') {
		return bad("absolute path")
	}
	for _, el := range strings.Split(s, "/") {
		if el == ".." {
			return bad(`path escapes the archive root ("..")`)
		}
	}
	clean := path.Clean(s)
	for dir := path.Dir(clean); dir != "." && dir != "/"; dir = path.Dir(dir) {
		if n.symlinks[dir] {
			return bad(fmt.Sprintf("path goes through symlink member %q", dir))
		}
	}
	if isSymlink {
		n.symlinks[clean] = true
	}
	return nil
}
