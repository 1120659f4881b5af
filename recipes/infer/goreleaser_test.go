package infer

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/recipes"
)

var releaseFacts = ReleaseFacts{
	Tag: "v1.2.3", Commit: "8d9cfec5f52367af6374a5430b4e9568844856e5", ShortCommit: "8d9cfec",
	CommitTime: time.Date(2026, 7, 8, 11, 56, 22, 0, time.UTC), ProjectName: "tool", GOOS: "linux", GOARCH: "amd64", GOAMD64: "v1",
}

func TestGoreleaserRender(t *testing.T) {
	const rev = "8d9cfec5f52367af6374a5430b4e9568844856e5"
	tests := []struct {
		name        string
		ldflags     stringArray
		want        string
		wantStamps  []Stamp
		wantGuessed []string
		wantErr     string
	}{
		{"one stamp", stringArray{"-s -w -X github.com/x/tool/internal/version.commit={{.Commit}}"},
			"-s -w -X github.com/x/tool/internal/version.commit=" + rev,
			[]Stamp{{Var: "github.com/x/tool/internal/version.commit", Value: rev, Kind: StampCommit}}, nil, ""},
		{"goreleaser's default", nil,
			"-s -w -X main.version=1.2.3 -X main.commit=" + rev + " -X main.date=2026-07-08T11:56:22Z -X main.builtBy=goreleaser",
			[]Stamp{{"main.version", "1.2.3", StampVersion}, {"main.commit", rev, StampCommit}, {"main.date", "2026-07-08T11:56:22Z", StampBuildDate}, {"main.builtBy", "goreleaser", ""}},
			[]string{"Date"}, ""},
		{"a list, spaces in actions, functions, -X=", stringArray{"-s", "-w", `-X=main.tag={{ trimprefix .Tag "v" }}`, "-X main.when={{ .CommitTimestamp }}", "-X main.who={{ .ProjectName | toupper }}", `{{ if .IsSnapshot }}-X main.snap=1{{ end }}`},
			"-s -w -X=main.tag=1.2.3 -X main.when=1783511782 -X main.who=TOOL",
			[]Stamp{{"main.tag", "1.2.3", StampVersion}, {"main.when", "1783511782", StampCommitDate}, {"main.who", "TOOL", ""}}, nil, ""},
		{"short commit and the commit date", stringArray{"-X main.c={{.ShortCommit}} -X main.d={{.CommitDate}}"},
			"-X main.c=8d9cfec -X main.d=2026-07-08T11:56:22Z",
			[]Stamp{{"main.c", "8d9cfec", StampCommit}, {"main.d", "2026-07-08T11:56:22Z", StampCommitDate}}, nil, ""},
		{"an unknown field", stringArray{"-X main.v={{.Nope}}"}, "", nil, nil, `map has no entry for key "Nope"`},
		{"an unknown function", stringArray{"-X main.v={{ sha256 .Tag }}"}, "", nil, nil, `function "sha256" not defined`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &GoreleaserBuild{ID: "x", Ldflags: tt.ldflags}
			got, err := b.render(releaseFacts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("render = %+v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Ldflags != tt.want {
				t.Errorf("ldflags\n got %q\nwant %q", got.Ldflags, tt.want)
			}
			if diff := cmp.Diff(tt.wantStamps, got.Stamps); diff != "" {
				t.Errorf("stamps (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantGuessed, got.Guessed); diff != "" {
				t.Errorf("guessed (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGoreleaserPickBuild(t *testing.T) {
	g, err := ParseGoreleaser([]byte(`version: 2
project_name: tool
builds:
  - id: no_self_update
    tags: [no_self_update]
    goos: [linux, darwin]
    flags: [-trimpath]
    ldflags: ['-s -w -X example.com/tool/internal/version.commit={{.Commit}}']
  - id: full
    goos: [linux, darwin, windows]
    ldflags: -s -w
  - id: other-main
    main: ./cmd/other
  - id: in-a-dir
    dir: go
    main: ./cmd/tool/main.go
    tags: "a,b"
  - id: rust
    builder: rust
`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name                        string
		main, dir, tags, goos, arch string
		want                        string
	}{
		{"tags pick the build", ".", "", "no_self_update", "linux", "amd64", "no_self_update"},
		{"no tags", ".", "", "", "windows", "amd64", "full"},
		{"no build for the target", ".", "", "no_self_update", "windows", "amd64", ""},
		{"another main package", "cmd/other", "", "", "linux", "amd64", "other-main"},
		{"a module in a directory, tags in any order", "cmd/tool", "go", "b,a", "linux", "arm64", "in-a-dir"},
		{"no build of that package", "cmd/none", "", "", "linux", "amd64", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := g.pickBuild(tt.main, tt.dir, tt.tags, tt.goos, tt.arch)
			got := ""
			if err == nil {
				got = b.ID
			}
			if got != tt.want {
				t.Errorf("build %q (%v), want %q", got, err, tt.want)
			}
		})
	}
	if got := g.Builds[0].Ldflags; len(got) != 1 || got[0] != "-s -w -X example.com/tool/internal/version.commit={{.Commit}}" {
		t.Errorf("ldflags as a list: %q", got)
	}
	if got := g.Builds[1].Ldflags; len(got) != 1 || got[0] != "-s -w" {
		t.Errorf("ldflags as a string: %q", got)
	}
	if _, err := ParseGoreleaser([]byte("builds: {")); err == nil {
		t.Error("a broken file parsed")
	}
}

// TestInferGoreleaser: with the source's goreleaser configuration, the
// first candidate is its build's ldflags filled in, and the tag the
// version came from is pinned; without a fitting build, infer says so.
func TestInferGoreleaser(t *testing.T) {
	const rev = "8d9cfec5f52367af6374a5430b4e9568844856e5"
	facts := func(version string) *Facts {
		return &Facts{Format: ELF, BuildIDFound: true, BuildID: "x/y/z/w", BuildInfo: bi("go1.26.4", "example.com/tool", "example.com/tool",
			"-tags=no_self_update", "-trimpath=true", "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOAMD64=v1",
			"vcs=git", "vcs.revision="+rev, "vcs.time=2026-07-08T11:56:22Z", "vcs.modified=false")}
	}
	withVersion := func(v string) *Facts {
		f := facts(v)
		f.BuildInfo.Main.Version = v
		return f
	}
	config := &Goreleaser{ProjectName: "tool", Builds: []GoreleaserBuild{
		{ID: "no_self_update", Tags: stringArray{"no_self_update"}, Ldflags: stringArray{"-s -w -X example.com/tool/internal/version.commit={{.Commit}} -X main.v={{.Version}}"}},
		{ID: "full", Ldflags: stringArray{"-s -w"}},
	}}
	source := func(tags ...string) *Source {
		return &Source{Git: &recipes.GitSource{URL: "https://example.com/tool", Commit: rev, Tree: digest.Digest("sha256:" + strings.Repeat("a", 64))},
			Tags: tags, ShortCommit: "8d9cfec", CommitTime: releaseFacts.CommitTime, Goreleaser: config, GoreleaserFile: ".goreleaser.yml"}
	}
	tests := []struct {
		name    string
		facts   *Facts
		src     *Source
		wantLd  string
		wantTag string
		wantTop string // a finding's topic and value that must be there
	}{
		{"version from the tag", withVersion("v2.1.10"), source("v2.1.10"),
			"-s -w -X example.com/tool/internal/version.commit=" + rev + " -X main.v=2.1.10", "v2.1.10", "goreleaser=.goreleaser.yml build no_self_update"},
		{"version in the ldflags only, the highest tag", facts("(devel)"), source("v2.1.10-rc.1", "v2.1.10"),
			"-s -w -X example.com/tool/internal/version.commit=" + rev + " -X main.v=2.1.10", "v2.1.10", "source.git.tag=v2.1.10"},
		{"no tag at the commit", facts("(devel)"), source(),
			"-s -w -X example.com/tool/internal/version.commit=" + rev + " -X main.v=", "", "-ldflags={{.Version}}"},
		{"a version tag the source lacks", withVersion("v2.1.11"), source("v2.1.10"),
			"-s -w -X example.com/tool/internal/version.commit=" + rev + " -X main.v=2.1.10", "v2.1.10", "source.git.tag=v2.1.11"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Infer(tt.facts, Options{Source: tt.src, Shipped: &recipes.Shipped{Path: "tool", Digest: digest.Digest("sha256:" + strings.Repeat("b", 64))}})
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Candidates[0].Ldflags; got != tt.wantLd {
				t.Errorf("first candidate\n got %q\nwant %q", got, tt.wantLd)
			}
			if got := res.Recipe.Source.Git.Tag; got != tt.wantTag {
				t.Errorf("tag %q, want %q", got, tt.wantTag)
			}
			if len(res.Candidates) < 2 {
				t.Errorf("only the goreleaser candidate: %+v", res.Candidates)
			}
			var topics []string
			for _, f := range res.Findings {
				topics = append(topics, f.Topic+"="+f.Value)
			}
			found := false
			for _, tp := range topics {
				found = found || tp == tt.wantTop
			}
			if !found {
				t.Errorf("no finding %s among %q", tt.wantTop, topics)
			}
		})
	}
	// A binary no build makes (another target): no goreleaser candidate,
	// and infer says why.
	f := facts("(devel)")
	for i, s := range f.BuildInfo.Settings {
		if s.Key == "GOOS" {
			f.BuildInfo.Settings[i].Value = "plan9"
		}
	}
	res, err := Infer(f, Options{Source: source("v2.1.10"), Shipped: &recipes.Shipped{Path: "tool", Digest: digest.Digest("sha256:" + strings.Repeat("b", 64))}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(res.Candidates[0].Ldflags, "-X") {
		t.Errorf("a goreleaser candidate for a binary no build made: %q", res.Candidates[0].Ldflags)
	}
	said := false
	for _, fd := range res.Findings {
		said = said || fd.Topic == "goreleaser" && fd.Certainty == Unknown && strings.Contains(fd.Reason, "no Go build in it matches the binary")
	}
	if !said {
		t.Errorf("infer did not say that no goreleaser build fits: %+v", res.Findings)
	}
}
