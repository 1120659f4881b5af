// Package debtest makes small, valid Debian binary packages in code, for
// tests: an ar archive with debian-binary, control.tar.gz and data.tar.gz,
// every time and owner fixed, so the same Package gives the same bytes.
package debtest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Package describes a .deb.
type Package struct {
	Name, Version, Arch string
	// Fields are extra control fields, written as given ("Depends: b").
	Fields []string
	// Files are the data files by path (relative, no leading /).
	Files map[string]string
}

var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func tgz(files map[string]string) []byte {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	zw.ModTime = epoch
	tw := tar.NewWriter(zw)
	dirs := map[string]bool{}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range files {
			if !yield(k) {
				return
			}
		}
	}) {
		parts := strings.Split(name, "/")
		for i := 1; i < len(parts); i++ {
			d := "./" + strings.Join(parts[:i], "/") + "/"
			if !dirs[d] {
				dirs[d] = true
				tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: epoch, Format: tar.FormatGNU})
			}
		}
		body := files[name]
		mode := int64(0o644)
		if strings.HasPrefix(body, "#!") {
			mode = 0o755
		}
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "./" + name, Mode: mode, Size: int64(len(body)), ModTime: epoch, Format: tar.FormatGNU})
		tw.Write([]byte(body))
	}
	tw.Close()
	zw.Close()
	return b.Bytes()
}

func arMember(b *bytes.Buffer, name string, body []byte) {
	fmt.Fprintf(b, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", name, epoch.Unix(), 0, 0, "100644", len(body))
	b.Write(body)
	if len(body)%2 == 1 {
		b.WriteByte('\n')
	}
}

// Control is the control file Deb writes for p.
func Control(p Package) string {
	c := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: reprove tests <tests@reprove.invalid>\n", p.Name, p.Version, p.Arch)
	for _, f := range p.Fields {
		c += f + "\n"
	}
	return c + "Description: a package made by reprove's tests\n"
}

// Deb returns the .deb of p.
func Deb(p Package) []byte {
	var b bytes.Buffer
	b.WriteString("!<arch>\n")
	arMember(&b, "debian-binary", []byte("2.0\n"))
	arMember(&b, "control.tar.gz", tgz(map[string]string{"control": Control(p)}))
	arMember(&b, "data.tar.gz", tgz(p.Files))
	return b.Bytes()
}
