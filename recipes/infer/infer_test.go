package infer

import (
	"debug/buildinfo"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reprove/reprove/recipes"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

const (
	rev  = "d34e79e2a998c21bb71d57b92b0017ca11756912"
	tree = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	bin  = "sha256:8367cdb8aa8069785db9a37da1f5cdcea5c28c449509020a85b4c54e53a37353"
)

// bi builds a BuildInfo the way the go command records one.
func bi(goVersion, pkg, mod string, settings ...string) *buildinfo.BuildInfo {
	b := &debug.BuildInfo{GoVersion: goVersion, Path: pkg, Main: debug.Module{Path: mod, Version: "(devel)"}}
	if mod == "" {
		b.Main = debug.Module{}
	}
	for _, s := range settings {
		k, v, _ := strings.Cut(s, "=")
		b.Settings = append(b.Settings, debug.BuildSetting{Key: k, Value: v})
	}
	return b
}

var linux = []string{"-buildmode=exe", "-compiler=gc", "CGO_ENABLED=0", "GOARCH=amd64", "GOOS=linux", "GOAMD64=v1"}

func with(base []string, more ...string) []string {
	return append(append([]string(nil), base...), more...)
}

func stripped() *Facts {
	return &Facts{Format: ELF, BuildIDFound: true, BuildID: "a/b/c/d"}
}

func full() *Facts {
	return &Facts{Format: ELF, Symbols: true, DWARF: true, BuildIDFound: true, BuildID: "a/b/c/d"}
}

func withBI(f *Facts, b *buildinfo.BuildInfo) *Facts {
	f.BuildInfo = b
	f.Digest = bin
	return f
}

var shipped = &recipes.Shipped{Path: "esbuild", Digest: bin}

var defaults = Options{Shipped: shipped, BuildGoRoot: "/usr/local/go", Writable: []string{"/tmp", "/home/build"}}

func opts(change func(*Options)) Options {
	o := defaults
	change(&o)
	return o
}

// TestInfer pins, for each kind of binary, the recipe and findings Infer
// writes (as Render shows them) in a golden file.
func TestInfer(t *testing.T) {
	gitSrc := &Source{Git: &recipes.GitSource{URL: "https://github.com/evanw/esbuild", Commit: rev, Tree: tree}}
	tests := []struct {
		name  string
		facts *Facts
		opts  Options
	}{
		{"trimpath-sw-vcs", withBI(stripped(), bi("go1.23.1", "github.com/evanw/esbuild/cmd/esbuild", "github.com/evanw/esbuild",
			with(linux, "-trimpath=true", "vcs=git", "vcs.revision="+rev, "vcs.time=2024-09-22T02:04:42Z", "vcs.modified=false")...)), defaults},
		{"trimpath-sw-vcs-source", withBI(stripped(), bi("go1.23.1", "github.com/evanw/esbuild/cmd/esbuild", "github.com/evanw/esbuild",
			with(linux, "-trimpath=true", "vcs=git", "vcs.revision="+rev, "vcs.modified=false")...)), opts(func(o *Options) { o.Source = gitSrc })},
		{"wrong-commit", withBI(stripped(), bi("go1.23.1", "github.com/evanw/esbuild/cmd/esbuild", "github.com/evanw/esbuild",
			with(linux, "-trimpath=true", "vcs=git", "vcs.revision=1111111111111111111111111111111111111111")...)), opts(func(o *Options) { o.Source = gitSrc })},
		{"modified", withBI(stripped(), bi("go1.23.1", "example.com/x", "example.com/x",
			with(linux, "-trimpath=true", "vcs=git", "vcs.revision="+rev, "vcs.modified=true")...)), opts(func(o *Options) { o.Source = gitSrc })},
		{"no-vcs-git-source", withBI(full(), bi("go1.22.4", "example.com/x/cmd/x", "example.com/x",
			with(linux, "-trimpath=true", "-tags=netgo,osusergo")...)), opts(func(o *Options) {
			o.Source = &Source{Git: &recipes.GitSource{URL: "https://example.com/x.git", Commit: rev, Tree: tree}, ModuleDir: "go"}
		})},
		// A clone whose origin is an scp-style address: the recipe is
		// incomplete and says which flag gives the URL.
		{"git-source-scp-origin", withBI(stripped(), bi("go1.24.0", "github.com/evilmartians/lefthook", "github.com/evilmartians/lefthook",
			with(linux, "-trimpath=true", "vcs=git", "vcs.revision="+rev, "vcs.modified=false")...)), opts(func(o *Options) {
			o.Source = &Source{Git: &recipes.GitSource{URL: "git@github.com:evilmartians/lefthook.git", Commit: rev, Tree: tree}}
		})},
		{"major-version-module", withBI(stripped(), bi("go1.24.0", "github.com/evilmartians/lefthook/v2", "github.com/evilmartians/lefthook/v2",
			with(linux, "-trimpath=true", "vcs=git", "vcs.revision="+rev, "vcs.modified=false")...)), defaults},
		{"dir-source-vcs", withBI(full(), bi("go1.22.4", "example.com/x", "example.com/x",
			with(linux, "-trimpath=true", "vcs=git", "vcs.revision="+rev, "vcs.modified=false")...)), opts(func(o *Options) {
			o.Source = &Source{Dir: &recipes.DirSource{Path: "/work/x", Tree: tree}}
		})},
		{"w-only-windows", withBI(&Facts{Format: PE, Symbols: true, BuildIDFound: true, BuildID: "x"}, bi("go1.24.0", "example.com/x", "example.com/x",
			"-buildmode=exe", "-compiler=gc", "-trimpath=true", "CGO_ENABLED=0", "GOARCH=amd64", "GOOS=windows", "GOAMD64=v3")), defaults},
		{"s-only-dwarf-kept", withBI(&Facts{Format: ELF, DWARF: true, BuildIDFound: true, BuildID: "x"}, bi("go1.24.0", "example.com/x", "example.com/x",
			with(linux, "-trimpath=true")...)), defaults},
		{"no-buildid-elf", withBI(&Facts{Format: ELF}, bi("go1.24.0", "example.com/x", "example.com/x", with(linux, "-trimpath=true")...)), defaults},
		{"no-buildid-macho", withBI(&Facts{Format: MachO}, bi("go1.24.0", "example.com/x", "example.com/x",
			"-trimpath=true", "CGO_ENABLED=0", "GOARCH=arm64", "GOOS=darwin")), defaults},
		{"empty-buildid-pe", withBI(&Facts{Format: PE, Symbols: true, DWARF: true, BuildIDFound: true}, bi("go1.24.0", "example.com/x", "example.com/x",
			"-trimpath=true", "CGO_ENABLED=0", "GOARCH=386", "GOOS=windows", "GO386=sse2")), defaults},
		{"no-trimpath-tmp", withBI(&Facts{Format: ELF, BuildIDFound: true, BuildID: "x", MainDir: "/tmp/build/hello/cmd/hello", GoRoot: "/usr/local/go"},
			bi("go1.26.8", "example.com/hello/cmd/hello", "example.com/hello", with(linux, "-ldflags=-s -X main.version=1.0")...)), defaults},
		{"no-trimpath-at-src", withBI(&Facts{Format: ELF, Symbols: true, DWARF: true, BuildIDFound: true, BuildID: "x", MainDir: "/src", GoRoot: "/usr/local/go"},
			bi("go1.26.8", "example.com/hello", "example.com/hello", linux...)), defaults},
		{"no-trimpath-elsewhere", withBI(&Facts{Format: ELF, Symbols: true, DWARF: true, BuildIDFound: true, BuildID: "x", MainDir: "/home/alice/src/hello", GoRoot: "/opt/go"},
			func() *buildinfo.BuildInfo {
				b := bi("go1.26.8", "example.com/hello", "example.com/hello", linux...)
				b.Deps = []*debug.Module{{Path: "golang.org/x/sys", Version: "v0.1.0", Sum: "h1:x"}}
				return b
			}()), defaults},
		{"no-trimpath-stripped-after", withBI(&Facts{Format: ELF, BuildIDFound: true, BuildID: "x"},
			bi("go1.26.8", "example.com/hello", "example.com/hello", linux...)), defaults},
		{"go-install", withBI(stripped(), func() *buildinfo.BuildInfo {
			b := bi("go1.25.0", "golang.org/x/tools/cmd/stringer", "golang.org/x/tools", with(linux, "-trimpath=true")...)
			b.Main.Version, b.Main.Sum = "v0.30.0", "h1:4f0wl3ZPQCbM9aBmvl9kPr9v35sy3R1jmcy7pgDN7ZA="
			return b
		}()), defaults},
		{"go-install-cross", withBI(stripped(), func() *buildinfo.BuildInfo {
			b := bi("go1.25.0", "golang.org/x/tools/cmd/stringer", "golang.org/x/tools",
				"-trimpath=true", "CGO_ENABLED=0", "GOARCH=arm64", "GOOS=windows")
			b.Main.Version, b.Main.Sum = "v0.30.0", "h1:4f0wl3ZPQCbM9aBmvl9kPr9v35sy3R1jmcy7pgDN7ZA="
			return b
		}()), defaults},
		{"dist-gofmt", withBI(&Facts{Format: ELF, Symbols: true, BuildIDFound: true, BuildID: "x"}, bi("go1.26.8", "cmd/gofmt", "",
			with(linux, "-gcflags=cmd/...=-dwarf=false", "-trimpath=true")...)), opts(func(o *Options) { o.ToolchainSum = "h1:ZOmGe1OnfREDMIdb1Qi4G9JSuDPBLGExZMQ4nis1RXM=" })},
		{"dist-gofmt-no-sum", withBI(&Facts{Format: ELF, Symbols: true, BuildIDFound: true, BuildID: "x"}, bi("go1.26.8", "cmd/gofmt", "",
			with(linux, "-gcflags=cmd/...=-dwarf=false", "-trimpath=true")...)), defaults},
		// Go 1.21–1.23 distributions built their commands in GOPATH mode;
		// the recorded DefaultGODEBUG (Go 1.20's defaults) shows it.
		{"dist-gofmt-go1.21-gopath", withBI(&Facts{Format: ELF, Symbols: true, BuildIDFound: true, BuildID: "x"}, bi("go1.21.13", "cmd/gofmt", "",
			with(linux, "-gcflags=cmd/...=-dwarf=false", "-trimpath=true", "DefaultGODEBUG=netedns0=0,panicnil=1")...)), opts(func(o *Options) { o.ToolchainSum = "h1:THKeCuuOK6mnQhbTbvvH9CKU3D4lwUERQax+yRXCVJk=" })},
		{"dist-go-go1.23-no-godebug", withBI(&Facts{Format: ELF, Symbols: true, BuildIDFound: true, BuildID: "x"}, bi("go1.23.5", "cmd/go", "",
			with(linux, "-gcflags=cmd/...=-dwarf=false", "-trimpath=true")...)), opts(func(o *Options) { o.ToolchainSum = "h1:Te4KCqBgVdpgo5znvhXhoZzvAIVRvPW1aM/m2o80MIM=" })},
		{"cgo-dynamic", withBI(&Facts{Format: ELF, Symbols: true, DWARF: true, Dynamic: true, BuildIDFound: true, BuildID: "x"}, bi("go1.24.2", "example.com/x", "example.com/x",
			"-buildmode=pie", "-compiler=gc", "-trimpath=true", "CGO_ENABLED=1", "CGO_CFLAGS=-O2", "CGO_LDFLAGS=", "GOARCH=amd64", "GOOS=linux", "GOAMD64=v2")), defaults},
		{"cgo-static", withBI(full(), bi("go1.24.2", "example.com/x", "example.com/x",
			"-trimpath=true", "CGO_ENABLED=1", "GOARCH=amd64", "GOOS=linux")), defaults},
		{"ldflags-candidates", withBI(stripped(), bi("go1.23.1", "example.com/x/cmd/x", "example.com/x", with(linux, "-trimpath=true")...)),
			opts(func(o *Options) { o.Ldflags = []string{"-X main.version=1.2.3", "-X main.Version=v1.2.3"} })},
		{"files-and-oddities", withBI(full(), func() *buildinfo.BuildInfo {
			b := bi("go1.22.0 X:boringcrypto", "command-line-arguments", "example.com/x",
				with(linux, "-trimpath=true", "-race=true", "-pgo=/x/default.pgo", "GOEXPERIMENT=boringcrypto", "GOFUTURE=1", "vcs=hg", "vcs.revision=abc")...)
			return b
		}()), opts(func(o *Options) { o.Output = "my tool" })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Infer(tt.facts, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Render(res, "test binary")
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "infer", tt.name+".golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("rendered result (-want +got):\n%s", diff)
			}
			// The rendered file parses back to the same recipe (comments
			// do not count), and validates exactly when Infer says so.
			back, err := recipes.Parse("rendered", got)
			if len(res.Incomplete) == 0 {
				if err != nil {
					t.Fatalf("complete recipe does not parse back: %v", err)
				}
				d1, _ := res.Recipe.Digest()
				d2, _ := back.Digest()
				if d1 != d2 {
					t.Errorf("digest changed through rendering: %s != %s", d1, d2)
				}
			} else if err == nil {
				t.Errorf("recipe said incomplete (%v) parses as valid", res.Incomplete)
			}
			if len(res.Candidates) == 0 || res.Candidates[0].Recipe != res.Recipe {
				t.Errorf("the first candidate is not the recipe")
			}
		})
	}
}

func TestInferErrors(t *testing.T) {
	tests := []struct {
		name  string
		facts *Facts
		want  string
	}{
		{"not go", &Facts{Format: ELF}, "infer recipe: no Go build information"},
		{"nil", nil, "infer recipe: no Go build information"},
		{"old go", withBI(full(), bi("go1.20.3", "example.com/x", "example.com/x")), `infer toolchain from "go1.20.3": "1.20.3": toolchains before Go 1.21.0 are not published as modules`},
		{"devel go", withBI(full(), bi("devel go1.24-abcdef", "example.com/x", "example.com/x")), `infer toolchain from "devel go1.24-abcdef": "devel" is not a Go version`},
		{"gccgo", withBI(full(), bi("go1.22.0", "example.com/x", "example.com/x", "-compiler=gccgo")), "infer toolchain: built with the gccgo compiler; only gc toolchains are published as modules"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Infer(tt.facts, defaults)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("Infer = %v; want %q", err, tt.want)
			}
			if tt.facts == nil || tt.facts.BuildInfo == nil {
				if !errors.Is(err, ErrNotGo) {
					t.Errorf("Infer = %v; want ErrNotGo", err)
				}
			}
		})
	}
}

func TestCertaintyText(t *testing.T) {
	for _, c := range []Certainty{Certain, Guess, Unknown} {
		b, err := c.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Certainty
		if err := back.UnmarshalText(b); err != nil || back != c {
			t.Errorf("round trip of %v: %v, %v", c, back, err)
		}
	}
	if _, err := Certainty(0).MarshalText(); err == nil {
		t.Error("zero Certainty marshals")
	}
	var c Certainty
	if err := c.UnmarshalText([]byte("maybe")); err == nil {
		t.Error("unknown certainty unmarshals")
	}
	for _, f := range []Format{ELF, PE, MachO} {
		b, err := f.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Format
		if err := back.UnmarshalText(b); err != nil || back != f {
			t.Errorf("round trip of %v: %v, %v", f, back, err)
		}
	}
}

// TestExecName: a /vN module's program is named after the element before,
// as go build names it.
func TestExecName(t *testing.T) {
	for _, tt := range []struct{ pkg, want string }{
		{"github.com/evilmartians/lefthook", "lefthook"},
		{"github.com/evilmartians/lefthook/v2", "lefthook"},
		{"example.com/tool/cmd/tool/v10", "tool"},
		{"example.com/x/v1", "v1"},
		{"example.com/x/v0", "v0"},
		{"example.com/x/v02", "v02"},
		{"example.com/x/vx", "vx"},
		{"v2", "v2"},
		{"cmd/gofmt", "gofmt"},
	} {
		if got := execName(tt.pkg); got != tt.want {
			t.Errorf("execName(%q) = %q, want %q", tt.pkg, got, tt.want)
		}
	}
}

func TestShellQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"go", "go"},
		{"-ldflags=-s -w", "'-ldflags=-s -w'"},
		{"it's", `'it'\''s'`},
		{"", "''"},
		{"/tmp/a b", "'/tmp/a b'"},
		{"$HOME", "'$HOME'"},
	}
	for _, tt := range tests {
		if got := shellQuote(tt.in); got != tt.want {
			t.Errorf("shellQuote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
