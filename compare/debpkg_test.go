package compare_test

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/reprove/reprove/compare/fixture"
	"github.com/reprove/reprove/compare/internal/testexe"
	"github.com/reprove/reprove/compare/render"
	"github.com/reprove/reprove/compare/report"
	"github.com/reprove/reprove/compare/verdict"
)

// debFile makes a .deb of version v holding the program bin and its
// changelog, with a control file and md5sums as dpkg-deb writes them.
func debFile(t *testing.T, v string, bin []byte, news string) []byte {
	changelog := fixture.Gzip([]byte("hello ("+v+") bookworm; urgency=medium\n\n  * "+news+"\n"), fixture.Epoch, 9)
	sum := func(b []byte) string { s := md5.Sum(b); return hex.EncodeToString(s[:]) }
	md5sums := sum(bin) + "  usr/bin/hello\n" + sum(changelog) + "  usr/share/doc/hello/changelog.Debian.gz\n"
	control := "Package: hello\nVersion: " + v + "\nArchitecture: amd64\nDepends: libc6 (>= 2.34)\nDescription: greet\n the world\n"
	ctl := fixture.Xz(fixture.Tar(M{Name: "./control", Body: []byte(control)}, M{Name: "./md5sums", Body: []byte(md5sums)}))
	data := fixture.Xz(fixture.Tar(
		M{Name: "./usr/bin/hello", Body: bin, Mode: 0o755},
		M{Name: "./usr/share/doc/hello/changelog.Debian.gz", Body: changelog},
	))
	return fixture.Ar(M{Name: "debian-binary", Body: []byte("2.0\n")}, M{Name: "control.tar.xz", Body: ctl}, M{Name: "data.tar.xz", Body: data})
}

// Two versions of a package: the control file's fields that differ are
// fields, md5sums lines are the files they name and point at those files'
// differences, and the changelog and the changed instruction come first.
func TestDebianPackageVersions(t *testing.T) {
	flags := []string{"-O2", "-s", "-fPIE", "-pie"}
	binA, err := os.ReadFile(testexe.BuildC(t, testexe.Year, append(flags, "-DYEAR=2025")...))
	if err != nil {
		t.Fatal(err)
	}
	binB, err := os.ReadFile(testexe.BuildC(t, testexe.Year, append(flags, "-DYEAR=2026")...))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	a := writeFile(t, dir, "hello_1.0-1_amd64.deb", debFile(t, "1.0-1", binA, "first"))
	b := writeFile(t, dir, "hello_1.0-2_amd64.deb", debFile(t, "1.0-2", binB, "Build for 2026."))
	r := filesReport(t, a, b)
	if r.Verdict != verdict.Different {
		t.Fatalf("verdict %v", r.Verdict)
	}
	var fields []string
	sees := map[string]string{}
	ids := map[string]string{}
	var walk func(n *report.Node)
	walk = func(n *report.Node) {
		if n.Kind == verdict.KindField {
			fields = append(fields, n.Name+": "+n.Rebuilt+" → "+n.Shipped)
		}
		if n.See != "" {
			sees[n.Name] = n.See
		}
		if n.ID != "" {
			ids[n.ID] = n.Name
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(r.Differences)
	if len(fields) != 1 || fields[0] != "Version: 1.0-1 → 1.0-2" {
		t.Errorf("control fields that differ: %q, want only the version", fields)
	}
	for _, p := range []string{"usr/bin/hello", "usr/share/doc/hello/changelog.Debian.gz"} {
		if got := ids[sees[p]]; got != "./"+p {
			t.Errorf("md5sums entry %s refers to %q, want the data member ./%s", p, got, p)
		}
	}
	var txt bytes.Buffer
	if err := render.Text(&txt, r); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(txt.String(), "\n")
	head := strings.Join(lines[:min(30, len(lines))], "\n")
	for _, want := range []string{"Version: 1.0-1 → 1.0-2  [field]", "./md5sums (usr/bin/hello, usr/share/doc/hello/changelog.Debian.gz; folded", "+  * Build for 2026.", "$0x7ea"} {
		if !strings.Contains(head, want) {
			t.Errorf("the first 30 lines do not show %q:\n%s", want, txt.String())
		}
	}
	// The page links each md5sums entry to the file's own differences.
	var page bytes.Buffer
	if err := render.HTML(&page, r); err != nil {
		t.Fatal(err)
	}
	links := regexp.MustCompile(`<a href="#(d[0-9]+)">see its differences</a>`).FindAllStringSubmatch(page.String(), -1)
	if len(links) != 2 {
		t.Errorf("%d links from md5sums entries, want 2", len(links))
	}
	for _, l := range links {
		if !strings.Contains(page.String(), `id="`+l[1]+`" data-path="data.tar.xz / ./usr/`) {
			t.Errorf("link to #%s, which is no data member", l[1])
		}
	}
	// The version and the changelog are among the first 15 lines.
	head = strings.Join(lines[:min(15, len(lines))], "\n")
	for _, want := range []string{"Version: 1.0-1 → 1.0-2", "./usr/share/doc/hello/changelog.Debian.gz"} {
		if !strings.Contains(head, want) {
			t.Errorf("the first 15 lines do not show %q:\n%s", want, head)
		}
	}
}

// A package whose changelog is shorter in one build (older entries
// trimmed): its Installed-Size differs too, as an effect of the data file
// that differs, said so, not as a headline cause. With the data the same, a
// differing Installed-Size stays a cause.
func TestDebianInstalledSizeFollowsFromData(t *testing.T) {
	mk := func(installed string, changelog []byte) []byte {
		control := "Package: hello\nVersion: 1.0-1\nArchitecture: amd64\nInstalled-Size: " + installed + "\nDescription: greet\n the world\n"
		ctl := fixture.Xz(fixture.Tar(M{Name: "./control", Body: []byte(control)}))
		data := fixture.Xz(fixture.Tar(M{Name: "./usr/share/doc/hello/changelog.Debian", Body: changelog}))
		return fixture.Ar(M{Name: "debian-binary", Body: []byte("2.0\n")}, M{Name: "control.tar.xz", Body: ctl}, M{Name: "data.tar.xz", Body: data})
	}
	long := []byte("hello (1.0-1) bookworm; urgency=medium\n\n  * Second.\n\n" + strings.Repeat("hello (0.9-1) unstable; urgency=low\n\n  * First.\n\n", 80))
	short := long[:60]
	find := func(r *report.Report) *report.Node {
		var got *report.Node
		var walk func(n *report.Node)
		walk = func(n *report.Node) {
			if n.Name == "Installed-Size" {
				got = n
			}
			for _, c := range n.Children {
				walk(c)
			}
		}
		walk(r.Differences)
		if got == nil {
			t.Fatal("no Installed-Size difference")
		}
		return got
	}
	dir := t.TempDir()
	r := filesReport(t, writeFile(t, dir, "a.deb", mk("12", long)), writeFile(t, dir, "b.deb", mk("8", short)))
	if n := find(r); !n.Effect {
		t.Errorf("Installed-Size is not an effect of the data file that differs: %+v", n)
	}
	var txt bytes.Buffer
	render.Text(&txt, r)
	if !strings.Contains(txt.String(), "Installed-Size: follows from the sizes of the data files that differ: 12 → 8") {
		t.Errorf("the text does not say where Installed-Size comes from:\n%s", txt.String())
	}
	r = filesReport(t, writeFile(t, dir, "c.deb", mk("12", long)), writeFile(t, dir, "d.deb", mk("13", long)))
	if n := find(r); n.Effect {
		t.Errorf("with the data the same, Installed-Size was taken for an effect: %+v", n)
	}
}
