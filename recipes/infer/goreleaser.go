package infer

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/mod/semver"
)

// GoreleaserFiles are the names goreleaser looks for its configuration
// under, in its order.
var GoreleaserFiles = []string{
	".config/goreleaser.yml", ".config/goreleaser.yaml",
	".goreleaser.yml", ".goreleaser.yaml", "goreleaser.yml", "goreleaser.yaml",
}

// Goreleaser is what infer reads of a goreleaser configuration: the Go
// builds and how each calls go build. It is written by hand rather than
// with goreleaser's own config package, which would bring goreleaser's
// whole dependency tree for five fields; everything else in the file is
// ignored.
type Goreleaser struct {
	ProjectName string            `yaml:"project_name"`
	Builds      []GoreleaserBuild `yaml:"builds"`
	Before      struct {
		Hooks []any `yaml:"hooks"`
	} `yaml:"before"`
}

// GoreleaserBuild is one entry of builds:.
type GoreleaserBuild struct {
	ID      string      `yaml:"id"`
	Builder string      `yaml:"builder"`
	Dir     string      `yaml:"dir"`
	Main    string      `yaml:"main"`
	Binary  string      `yaml:"binary"`
	Ldflags stringArray `yaml:"ldflags"`
	Tags    stringArray `yaml:"tags"`
	Flags   stringArray `yaml:"flags"`
	Env     []string    `yaml:"env"`
	Goos    []string    `yaml:"goos"`
	Goarch  []string    `yaml:"goarch"`
	Skip    any         `yaml:"skip"`
	Hooks   any         `yaml:"hooks"`
}

// stringArray is a string or a list of strings, as goreleaser accepts.
type stringArray []string

func (a *stringArray) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*a = []string{n.Value}
		return nil
	}
	var s []string
	if err := n.Decode(&s); err != nil {
		return err
	}
	*a = s
	return nil
}

// defaultLdflags are goreleaser's when a build names none.
const defaultLdflags = "-s -w -X main.version={{.Version}} -X main.commit={{.Commit}} -X main.date={{.Date}} -X main.builtBy=goreleaser"

// ParseGoreleaser reads a goreleaser configuration (version 1 or 2).
func ParseGoreleaser(b []byte) (*Goreleaser, error) {
	var g Goreleaser
	if err := yaml.Unmarshal(b, &g); err != nil {
		return nil, fmt.Errorf("read goreleaser configuration: %w", err)
	}
	return &g, nil
}

// ReleaseFacts are what goreleaser's templates are filled from, as the
// source's checkout states them.
type ReleaseFacts struct {
	Tag         string // the tag pointing at the commit goreleaser would use
	Commit      string
	ShortCommit string
	CommitTime  time.Time
	ProjectName string
	GOOS        string
	GOARCH      string
	GOAMD64     string
	GOARM       string
}

// StampKind names what a stamped value is.
type StampKind string

// What a -X stamp holds, when infer knows.
const (
	StampCommit     StampKind = "commit"
	StampVersion    StampKind = "version"
	StampCommitDate StampKind = "commit date"
	StampBuildDate  StampKind = "build date"
)

// Stamp is one -X flag of a rendered goreleaser build: the variable, the
// value the rebuild gives it, and what it is.
type Stamp struct {
	Var   string    `json:"var"`
	Value string    `json:"value"`
	Kind  StampKind `json:"kind,omitempty"`
}

// renderedBuild is a goreleaser build as go build would have run it.
type renderedBuild struct {
	ID      string
	Ldflags string
	Stamps  []Stamp
	// Guessed lists the template fields whose values infer could only
	// guess (the build's clock) or not know (the environment).
	Guessed []string
}

// errNoBuild says that no Go build of the configuration made the binary.
var errNoBuild = errors.New("no Go build in it matches the binary")

// pickBuild chooses the build that made a binary: a Go build whose main
// package, tags, GOOS and GOARCH fit what the binary records.
func (g *Goreleaser) pickBuild(mainPkg, moduleDir, tags, goos, goarch string) (*GoreleaserBuild, error) {
	builds := g.Builds
	if len(builds) == 0 {
		builds = []GoreleaserBuild{{}} // goreleaser's default build
	}
	var fit []*GoreleaserBuild
	for i := range builds {
		b := &builds[i]
		if b.Builder != "" && b.Builder != "go" || b.Skip == true {
			continue
		}
		if !slices.Contains(orDefault(b.Goos, defaultGoos), goos) || !slices.Contains(orDefault(b.Goarch, defaultGoarch), goarch) {
			continue
		}
		if !sameTags(b.Tags, tags) {
			continue
		}
		dir := path.Clean(path.Join(orDot(b.Dir), orDot(b.Main)))
		if strings.HasSuffix(dir, ".go") {
			dir = path.Dir(dir)
		}
		if dir != path.Clean(path.Join(orDot(moduleDir), mainPkg)) {
			continue
		}
		fit = append(fit, b)
	}
	switch len(fit) {
	case 0:
		return nil, errNoBuild
	case 1:
		return fit[0], nil
	}
	// Builds alike but for their flags: the first, as a candidate.
	return fit[0], nil
}

// goreleaser's targets when a build names none.
var (
	defaultGoos   = []string{"linux", "darwin", "windows"}
	defaultGoarch = []string{"amd64", "arm64", "386"}
)

func orDefault(list, def []string) []string {
	if len(list) == 0 {
		return def
	}
	return list
}

func orDot(s string) string {
	if s == "" {
		return "."
	}
	return s
}

// sameTags compares goreleaser's tags (a list, each possibly
// comma-separated) with the binary's recorded -tags value.
func sameTags(list []string, recorded string) bool {
	var a, b []string
	for _, t := range list {
		for _, x := range strings.Split(t, ",") {
			if x = strings.TrimSpace(x); x != "" {
				a = append(a, x)
			}
		}
	}
	for _, x := range strings.Split(recorded, ",") {
		if x != "" {
			b = append(b, x)
		}
	}
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// render fills a build's ldflags templates from the release facts, as
// goreleaser would have, and reads the -X stamps out of the result. Each
// template is run twice: with the values, and with a marker for each field,
// which shows which fields each stamp holds.
func (b *GoreleaserBuild) render(f ReleaseFacts) (*renderedBuild, error) {
	src := b.Ldflags
	if len(src) == 0 {
		src = []string{defaultLdflags}
	}
	out := &renderedBuild{ID: b.ID}
	fields, guessed := templateFields(f)
	markers := map[string]any{}
	for k := range fields {
		markers[k] = "\x01" + k + "\x01"
	}
	var parts []string
	for _, s := range src {
		t, err := template.New("ldflags").Option("missingkey=error").Funcs(templateFuncs).Parse(s)
		if err != nil {
			return nil, fmt.Errorf("ldflags %q: %w", s, err)
		}
		var buf, marked bytes.Buffer
		if err := t.Execute(&buf, fields); err != nil {
			return nil, fmt.Errorf("ldflags %q: %w", s, err)
		}
		r := buf.String()
		if strings.TrimSpace(r) == "" {
			continue
		}
		parts = append(parts, r)
		if t.Execute(&marked, markers) != nil {
			continue // a function that needs a real value: no stamps read
		}
		for _, g := range guessed {
			if strings.Contains(marked.String(), "\x01"+g+"\x01") && !slices.Contains(out.Guessed, g) {
				out.Guessed = append(out.Guessed, g)
			}
		}
		out.Stamps = append(out.Stamps, stampsOf(strings.Fields(r), strings.Fields(marked.String()))...)
	}
	out.Ldflags = strings.Join(parts, " ")
	return out, nil
}

// templateFields are goreleaser's template fields for a release. The
// build's clock ({{.Date}}, {{.Timestamp}}, {{.Now}}) is not in the
// source: the commit time stands in for it, and guessed names them.
func templateFields(f ReleaseFacts) (fields map[string]any, guessed []string) {
	version := strings.TrimPrefix(f.Tag, "v")
	var major, minor, patch int64
	prerelease := ""
	if sv := semver.Canonical(f.Tag); sv != "" {
		nums := strings.SplitN(strings.TrimPrefix(strings.Split(strings.Split(sv, "-")[0], "+")[0], "v"), ".", 3)
		major, _ = strconv.ParseInt(nums[0], 10, 64)
		minor, _ = strconv.ParseInt(nums[1], 10, 64)
		patch, _ = strconv.ParseInt(nums[2], 10, 64)
		prerelease = strings.TrimPrefix(semver.Prerelease(sv), "-")
	}
	ct := f.CommitTime.UTC()
	fields = map[string]any{
		"ProjectName": f.ProjectName, "Version": version, "RawVersion": fmt.Sprintf("%d.%d.%d", major, minor, patch),
		"Tag": f.Tag, "Commit": f.Commit, "FullCommit": f.Commit, "ShortCommit": f.ShortCommit,
		"CommitDate": ct.Format(time.RFC3339), "CommitTimestamp": ct.Unix(),
		"Major": major, "Minor": minor, "Patch": patch, "Prerelease": prerelease,
		"IsSnapshot": false, "IsNightly": false, "IsGitDirty": false, "IsGitClean": true, "GitTreeState": "clean",
		"Summary": f.Tag, "Os": f.GOOS, "Arch": f.GOARCH, "Amd64": f.GOAMD64, "Arm": f.GOARM,
		"Date": ct.Format(time.RFC3339), "Timestamp": ct.Unix(), "Now": ct,
		"Env": map[string]string{},
	}
	return fields, []string{"Date", "Timestamp", "Now", "Env"}
}

// templateFuncs are the goreleaser template functions an ldflags template
// plausibly uses; one outside them makes the template unreadable here.
var templateFuncs = template.FuncMap{
	"replace": strings.ReplaceAll, "split": strings.Split, "contains": strings.Contains,
	"tolower": strings.ToLower, "toupper": strings.ToUpper, "trim": strings.TrimSpace,
	"trimprefix": strings.TrimPrefix, "trimsuffix": strings.TrimSuffix,
	"envOrDefault": func(_, def string) string { return def },
}

// stampKinds are what each template field stamps.
var stampKinds = map[string]StampKind{
	"Commit": StampCommit, "FullCommit": StampCommit, "ShortCommit": StampCommit,
	"Version": StampVersion, "RawVersion": StampVersion, "Tag": StampVersion, "Summary": StampVersion,
	"CommitDate": StampCommitDate, "CommitTimestamp": StampCommitDate,
	"Date": StampBuildDate, "Timestamp": StampBuildDate, "Now": StampBuildDate,
}

// stampsOf reads the -X flags of rendered linker flags: each variable
// with its value and, when the marked rendering shows the value is one
// template field, its kind.
func stampsOf(words, marked []string) []Stamp {
	if len(words) != len(marked) {
		return nil // a value with spaces: the words do not line up
	}
	var out []Stamp
	for i := 0; i < len(words); i++ {
		def, mdef := "", ""
		switch {
		case words[i] == "-X" && i+1 < len(words):
			def, mdef = words[i+1], marked[i+1]
			i++
		case strings.HasPrefix(words[i], "-X="):
			def, mdef = strings.TrimPrefix(words[i], "-X="), strings.TrimPrefix(marked[i], "-X=")
		default:
			continue
		}
		name, val, ok := strings.Cut(def, "=")
		if !ok {
			continue
		}
		st := Stamp{Var: name, Value: val}
		_, mval, _ := strings.Cut(mdef, "=")
		if m := strings.Split(mval, "\x01"); len(m) == 3 && m[0] == "" && m[2] == "" {
			st.Kind = stampKinds[m[1]]
		}
		out = append(out, st)
	}
	return out
}
