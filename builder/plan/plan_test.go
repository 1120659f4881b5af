package plan

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/recipes"
)

var img = digest.FromString("image")

func inputs(r *recipes.Recipe) Inputs {
	return Inputs{
		Recipe:          r,
		Image:           img,
		HostSource:      "/cache/work/src",
		HostOut:         "/cache/work/out",
		HostHome:        "/cache/work/home",
		HostModCache:    "/cache/gomodcache",
		SourceDateEpoch: 1700000000,
	}
}

func recipe() *recipes.Recipe {
	return &recipes.Recipe{
		Schema: 1, Name: "hello", Version: "1.0",
		Env:     map[string]string{"CGO_ENABLED": "0"},
		Steps:   []recipes.Step{{Run: []string{"go", "build", "-trimpath", "-o", "/out/hello", "."}}, {Shell: "ls /out", Dir: "cmd"}},
		Outputs: []recipes.Output{{Path: "hello"}},
	}
}

func TestMake(t *testing.T) {
	p, err := Make(inputs(recipe()))
	if err != nil {
		t.Fatal(err)
	}
	want := &Plan{
		Image: img,
		Steps: []Step{
			{Args: []string{"go", "build", "-trimpath", "-o", "/out/hello", "."}, Dir: "/src"},
			{Args: []string{"/bin/sh", "-ec", "ls /out"}, Dir: "/src/cmd"},
		},
		Env: []string{
			"CGO_ENABLED=0",
			"GOCACHE=/home/build/.cache/go-build",
			"GOENV=off",
			"GOFLAGS=-mod=readonly",
			"GOMODCACHE=/gomodcache",
			"GOPATH=/home/build/go",
			"GOPROXY=off",
			"GOTOOLCHAIN=local",
			"HOME=/home/build",
			"LC_ALL=C",
			"PATH=" + DefaultPath,
			"SOURCE_DATE_EPOCH=1700000000",
			"TZ=UTC",
		},
		Hostname: "reprove",
		UID:      1000, GID: 1000, Umask: 0o022,
		Mounts: []Mount{
			{Type: "bind", Source: "/cache/gomodcache", Target: "/gomodcache", ReadOnly: true},
			{Type: "bind", Source: "/cache/work/home", Target: "/home/build"},
			{Type: "bind", Source: "/cache/work/out", Target: "/out"},
			{Type: "bind", Source: "/cache/work/src", Target: "/src"},
			{Type: "tmpfs", Target: "/tmp", SizeBytes: 1 << 30},
		},
		Limits:  Defaults,
		Outputs: []string{"hello"},
	}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("Make (-want +got):\n%s", diff)
	}
}

func TestMakeEnvRules(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		vendor  bool
		want    []string // entries that must be present
		wantErr string
	}{
		{name: "recipe epoch wins", env: map[string]string{"SOURCE_DATE_EPOCH": "42"}, want: []string{"SOURCE_DATE_EPOCH=42"}},
		{name: "goflags appended", env: map[string]string{"GOFLAGS": "-trimpath"}, want: []string{"GOFLAGS=-mod=readonly -trimpath"}},
		{name: "vendored", vendor: true, want: []string{"GOFLAGS=-mod=vendor"}},
		{name: "path may change", env: map[string]string{"PATH": "/src/bin:/bin"}, want: []string{"PATH=/src/bin:/bin"}},
		{name: "goroot may change", env: map[string]string{"GOROOT": "/src"}, want: []string{"GOROOT=/src"}},
		{name: "reserved HOME", env: map[string]string{"HOME": "/root"}, wantErr: "HOME"},
		{name: "reserved GOPROXY", env: map[string]string{"GOPROXY": "https://proxy.golang.org"}, wantErr: "GOPROXY"},
		{name: "reserved TZ", env: map[string]string{"TZ": "Europe/Paris"}, wantErr: "TZ"},
		{name: "mod in goflags", env: map[string]string{"GOFLAGS": "-mod=mod"}, wantErr: "-mod"},
		{name: "bad epoch", env: map[string]string{"SOURCE_DATE_EPOCH": "yesterday"}, wantErr: "SOURCE_DATE_EPOCH"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := recipe()
			r.Env = tc.env
			in := inputs(r)
			in.Vendored = tc.vendor
			p, err := Make(in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				found := false
				for _, e := range p.Env {
					found = found || e == w
				}
				if !found {
					t.Errorf("env %v lacks %s", p.Env, w)
				}
			}
		})
	}
}

func TestMakeRefuses(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*Inputs)
		wantErr string
	}{
		{"no steps", func(in *Inputs) { in.Recipe.Steps = nil }, "no steps"},
		{"run and shell", func(in *Inputs) { in.Recipe.Steps[0].Shell = "x" }, "exactly one"},
		{"empty step", func(in *Inputs) { in.Recipe.Steps[0].Run = nil }, "exactly one"},
		{"dir escapes", func(in *Inputs) { in.Recipe.Steps[0].Dir = "../etc" }, "leaves the source tree"},
		{"output escapes", func(in *Inputs) { in.Recipe.Outputs[0].Path = "../x" }, "not a path inside /out"},
		{"absolute output", func(in *Inputs) { in.Recipe.Outputs[0].Path = "/etc/passwd" }, "not a path inside /out"},
		{"bad image", func(in *Inputs) { in.Image = "sha256:nope" }, "image digest"},
		{"relative source", func(in *Inputs) { in.HostSource = "src" }, "not absolute"},
		{"bad memory", func(in *Inputs) { in.Recipe.Limits.Memory = "lots" }, "limits.memory"},
		{"tiny memory", func(in *Inputs) { in.Limits.MemoryBytes = 1024 }, "below 16MiB"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := inputs(recipe())
			tc.change(&in)
			if _, err := Make(in); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestLimitsPrecedence(t *testing.T) {
	r := recipe()
	r.Limits = recipes.Limits{Memory: "2GiB", Disk: "3GiB", OutputSize: "100MiB", Pids: 100, CPUs: 1.5, Timeout: "5m"}
	in := inputs(r)
	p, err := Make(in)
	if err != nil {
		t.Fatal(err)
	}
	want := Limits{MemoryBytes: 2 << 30, DiskBytes: 3 << 30, OutputBytes: 100 << 20, Pids: 100, CPUs: 1.5, Timeout: 5 * time.Minute, TmpfsBytes: 1 << 30}
	if diff := cmp.Diff(want, p.Limits); diff != "" {
		t.Errorf("recipe limits (-want +got):\n%s", diff)
	}
	in.Limits = Limits{MemoryBytes: 512 << 20, DiskBytes: 1 << 30, OutputBytes: 1 << 20, Timeout: time.Minute, CPUs: 1}
	p, err = Make(in)
	if err != nil {
		t.Fatal(err)
	}
	want = Limits{MemoryBytes: 512 << 20, DiskBytes: 1 << 30, OutputBytes: 1 << 20, Pids: 100, CPUs: 1, Timeout: time.Minute, TmpfsBytes: 512 << 20}
	if diff := cmp.Diff(want, p.Limits); diff != "" {
		t.Errorf("flag limits (-want +got):\n%s", diff)
	}
	// Nothing set: the defaults.
	p, err = Make(inputs(recipe()))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Defaults, p.Limits); diff != "" {
		t.Errorf("default limits (-want +got):\n%s", diff)
	}
	for _, l := range []recipes.Limits{{Disk: "1MiB"}, {Memory: "1MiB"}} {
		r := recipe()
		r.Limits = l
		if _, err := Make(inputs(r)); err == nil || !strings.Contains(err.Error(), "is below 16MiB") {
			t.Errorf("limits %+v: err = %v, want a minimum named", l, err)
		}
	}
}

func TestMakeVaried(t *testing.T) {
	in := inputs(recipe())
	in.Vary = Variation{
		SourceDir: "/build/check/src",
		Umask:     OptionalUmask{Set: true, Value: 0o002},
		Locale:    "C.UTF-8",
		TZ:        "NZST-12",
		Hostname:  "check-2",
		CPUSet:    "0",
	}
	p, err := Make(in)
	if err != nil {
		t.Fatal(err)
	}
	if p.Steps[0].Dir != "/build/check/src" || p.Steps[1].Dir != "/build/check/src/cmd" {
		t.Errorf("step dirs %q, %q not under the varied source dir", p.Steps[0].Dir, p.Steps[1].Dir)
	}
	found := false
	for _, m := range p.Mounts {
		if m.Source == in.HostSource {
			found = m.Target == "/build/check/src"
		}
	}
	if !found {
		t.Errorf("source not mounted at the varied path: %+v", p.Mounts)
	}
	if p.Umask != 0o002 || p.Hostname != "check-2" || p.Limits.CPUSet != "0" {
		t.Errorf("umask %o, hostname %q, cpuset %q", p.Umask, p.Hostname, p.Limits.CPUSet)
	}
	env := strings.Join(p.Env, "\n") + "\n"
	for _, want := range []string{"LC_ALL=C.UTF-8", "TZ=NZST-12"} {
		if !strings.Contains(env, want+"\n") {
			t.Errorf("env lacks %s:\n%s", want, env)
		}
	}
	// An umask of 0 is a value, not "unset".
	in.Vary = Variation{Umask: OptionalUmask{Set: true}}
	if p, _ := Make(in); p.Umask != 0 {
		t.Errorf("umask 0 not applied: %o", p.Umask)
	}
	for _, bad := range []string{"relative", "/out", "/home/build/src", "/", "/usr/src", "/a/../b"} {
		in.Vary = Variation{SourceDir: bad}
		if _, err := Make(in); err == nil {
			t.Errorf("varied source dir %q accepted", bad)
		}
	}
}

// A Debian source package is built where Debian's buildds build, so that
// a path the build leaks is the one the shipped .deb holds.
func TestMakeDebianSource(t *testing.T) {
	r := recipe()
	r.Source.DSC = &recipes.DSCSource{URL: "http://deb.debian.org/debian/pool/main/h/hello/hello_2.10-3.dsc", Digest: img}
	r.Steps = []recipes.Step{{Shell: "dpkg-source -x hello_2.10-3.dsc hello-2.10"}}
	p, err := Make(inputs(r))
	if err != nil {
		t.Fatal(err)
	}
	if p.Steps[0].Dir != DebianBuildDir {
		t.Errorf("step dir = %s, want %s", p.Steps[0].Dir, DebianBuildDir)
	}
	found := false
	for _, m := range p.Mounts {
		found = found || (m.Target == DebianBuildDir && m.Source == "/cache/work/src" && !m.ReadOnly)
	}
	if !found {
		t.Errorf("the source is not mounted writable at %s: %+v", DebianBuildDir, p.Mounts)
	}
}

// A shifted clock runs every step under the clock helper, bound
// read-only; nothing else of the plan changes.
func TestMakeShiftedClock(t *testing.T) {
	in := inputs(recipe())
	normal, err := Make(in)
	if err != nil {
		t.Fatal(err)
	}
	in.Vary = Variation{ClockOffset: 42, ClockHelper: "/cache/clockshift/helper"}
	p, err := Make(in)
	if err != nil {
		t.Fatal(err)
	}
	want := *normal
	want.Steps = []Step{
		{Args: []string{ClockHelperPath, "-offset", "42", "--", "go", "build", "-trimpath", "-o", "/out/hello", "."}, Dir: "/src"},
		{Args: []string{ClockHelperPath, "-offset", "42", "--", "/bin/sh", "-ec", "ls /out"}, Dir: "/src/cmd"},
	}
	want.Mounts = []Mount{
		{Type: "bind", Source: "/cache/gomodcache", Target: "/gomodcache", ReadOnly: true},
		{Type: "bind", Source: "/cache/work/home", Target: "/home/build"},
		{Type: "bind", Source: "/cache/work/out", Target: "/out"},
		{Type: "bind", Source: "/cache/work/src", Target: "/src"},
		{Type: "tmpfs", Target: "/tmp", SizeBytes: 1 << 30},
		{Type: "bind", Source: "/cache/clockshift/helper", Target: ClockHelperPath, ReadOnly: true},
	}
	if diff := cmp.Diff(&want, p); diff != "" {
		t.Errorf("Make (-want +got):\n%s", diff)
	}
	in.Vary = Variation{ClockOffset: 42}
	if _, err := Make(in); err == nil {
		t.Error("a shifted clock without a helper was planned")
	}
}
