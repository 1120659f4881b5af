// Package archivetest stands in for a Debian archive in tests: a signing
// key made in code, a suite of packages made in code (debtest), laid out
// as a mirror lays them out (dists/SUITE/InRelease, the Packages index,
// pool/), served over HTTP by a mirror whose files can be changed (it
// "moves on") and by a snapshot archive that keeps every state it was
// given and serves, for a timestamp, the latest state at or before it, as
// Debian's snapshot archive does.
package archivetest

import (
	"bytes"
	"compress/gzip"
	"crypto"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/debian/debfile/debtest"
)

// NewKey makes a signing key.
func NewKey(t testing.TB, name string) *openpgp.Entity {
	t.Helper()
	e, err := openpgp.NewEntity(name, "test archive key", name+"@archive.invalid", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, DefaultHash: crypto.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// Keyring writes e's public key to a file in dir and returns its path.
func Keyring(t testing.TB, e *openpgp.Entity) string {
	t.Helper()
	var b bytes.Buffer
	w, err := armor.Encode(&b, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	p := filepath.Join(t.TempDir(), "keyring.asc")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Suite is one state of a suite.
type Suite struct {
	Name string
	Arch string
	Date time.Time
	// Packages; each gets the Filename POOL/<first letter>/<name>/.
	Packages []debtest.Package
	// Pool is where its files are ("pool/main" when empty; a security
	// archive's is "pool/updates/main").
	Pool string
	// Sources are source packages, listed in main/source/Sources with
	// their files in pool/main/<first letter>/<name>/.
	Sources []Source
}

// Source is a source package: a .dsc made from its fields and files.
type Source struct {
	Name, Version, BuildDepends string
	// Files are the files the .dsc lists, by name.
	Files map[string][]byte
}

// DSC is the .dsc file of s and its name.
func (s Source) DSC() (string, []byte) {
	name := fmt.Sprintf("%s_%s.dsc", s.Name, s.Version)
	var b bytes.Buffer
	fmt.Fprintf(&b, "Format: 3.0 (quilt)\nSource: %s\nBinary: %s\nArchitecture: any\nVersion: %s\n", s.Name, s.Name, s.Version)
	if s.BuildDepends != "" {
		fmt.Fprintf(&b, "Build-Depends: %s\n", s.BuildDepends)
	}
	b.WriteString("Checksums-Sha256:\n")
	for _, n := range sortedKeys(s.Files) {
		fmt.Fprintf(&b, " %s %d %s\n", digest.FromBytes(s.Files[n]).Encoded(), len(s.Files[n]), n)
	}
	return name, b.Bytes()
}

func sortedKeys(m map[string][]byte) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// PoolPath is where a package lives in the archive.
func PoolPath(p debtest.Package) string { return poolPath("pool/main", p) }

// PoolPath is where a package lives in the suite's archive.
func (s Suite) PoolPath(p debtest.Package) string { return poolPath(s.pool(), p) }

func (s Suite) pool() string {
	if s.Pool == "" {
		return "pool/main"
	}
	return s.Pool
}

func poolPath(pool string, p debtest.Package) string {
	return fmt.Sprintf("%s/%s/%s/%s_%s_%s.deb", pool, p.Name[:1], p.Name, p.Name, strings.ReplaceAll(p.Version, ":", "%3a"), p.Arch)
}

// Under puts files below a directory: an archive whose base URL is
// MIRROR/dir (http://…/debian-security).
func Under(dir string, files map[string][]byte) map[string][]byte {
	out := make(map[string][]byte, len(files))
	for k, v := range files {
		out[dir+"/"+k] = v
	}
	return out
}

// Files lays out the suite as a mirror does, InRelease signed by key.
func (s Suite) Files(t testing.TB, key *openpgp.Entity) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	var idx bytes.Buffer
	for _, p := range s.Packages {
		deb := debtest.Deb(p)
		pp := s.PoolPath(p)
		files[pp] = deb
		idx.WriteString(debtest.Control(p))
		fmt.Fprintf(&idx, "Filename: %s\nSize: %d\nSHA256: %s\n\n", pp, len(deb), digest.FromBytes(deb).Encoded())
	}
	var srcIdx bytes.Buffer
	for _, src := range s.Sources {
		dir := fmt.Sprintf("%s/%s/%s", s.pool(), src.Name[:1], src.Name)
		name, dsc := src.DSC()
		all := map[string][]byte{name: dsc}
		for n, b := range src.Files {
			all[n] = b
		}
		fmt.Fprintf(&srcIdx, "Package: %s\nVersion: %s\nArchitecture: any\nDirectory: %s\n", src.Name, src.Version, dir)
		if src.BuildDepends != "" {
			fmt.Fprintf(&srcIdx, "Build-Depends: %s\n", src.BuildDepends)
		}
		srcIdx.WriteString("Checksums-Sha256:\n")
		for _, n := range sortedKeys(all) {
			files[dir+"/"+n] = all[n]
			fmt.Fprintf(&srcIdx, " %s %d %s\n", digest.FromBytes(all[n]).Encoded(), len(all[n]), n)
		}
		srcIdx.WriteString("\n")
	}
	gzOf := func(b []byte) []byte {
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(b)
		zw.Close()
		return gz.Bytes()
	}
	dir := "dists/" + s.Name + "/"
	pk := "main/binary-" + s.Arch + "/Packages"
	sk := "main/source/Sources"
	gz, sgz := gzOf(idx.Bytes()), gzOf(srcIdx.Bytes())
	files[dir+pk+".gz"] = gz
	files[dir+sk+".gz"] = sgz
	release := fmt.Sprintf("Origin: reprove tests\nSuite: %s\nCodename: %s\nDate: %s\nArchitectures: %s\nComponents: main\nSHA256:\n %s %d %s\n %s %d %s\n %s %d %s\n",
		s.Name, s.Name, s.Date.UTC().Format(time.RFC1123), s.Arch,
		digest.FromBytes(idx.Bytes()).Encoded(), idx.Len(), pk,
		digest.FromBytes(gz).Encoded(), len(gz), pk+".gz",
		digest.FromBytes(sgz).Encoded(), len(sgz), sk+".gz")
	files[dir+"InRelease"] = Sign(t, key, []byte(release))
	return files
}

// Sign clearsigns text with key.
func Sign(t testing.TB, key *openpgp.Entity, text []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := clearsign.Encode(&b, key.PrivateKey, &packet.Config{DefaultHash: crypto.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(text)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Mirror serves files by path; tests change them.
type Mirror struct {
	*httptest.Server
	mu    sync.Mutex
	files map[string][]byte
	// Requests counts the requests per path.
	Requests map[string]int
}

// NewMirror serves files (closed when the test ends).
func NewMirror(t testing.TB, files map[string][]byte) *Mirror {
	m := &Mirror{files: map[string][]byte{}, Requests: map[string]int{}}
	m.Set(files)
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		p := strings.TrimPrefix(r.URL.Path, "/")
		m.Requests[p]++
		b, ok := m.files[p]
		m.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(m.Close)
	return m
}

// Set replaces every file the mirror serves: the mirror moves on.
func (m *Mirror) Set(files map[string][]byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.files = map[string][]byte{}
	for k, v := range files {
		m.files[k] = v
	}
}

// Put changes one file.
func (m *Mirror) Put(path string, b []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.files[path] = b
}

// Snapshot is a snapshot archive: states of archives by time, served
// under /archive/NAME/TIMESTAMP/ (the latest state at or before
// TIMESTAMP); NAME is "debian" for Take.
type Snapshot struct {
	*httptest.Server
	mu     sync.Mutex
	states map[string]map[time.Time]map[string][]byte
}

// NewSnapshot starts an empty snapshot archive.
func NewSnapshot(t testing.TB) *Snapshot {
	s := &Snapshot{states: map[string]map[time.Time]map[string][]byte{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Take records the debian archive's files as they were at time at.
func (s *Snapshot) Take(at time.Time, files map[string][]byte) { s.TakeArchive("debian", at, files) }

// TakeArchive records the files of the archive called name
// ("debian-security") as they were at time at.
func (s *Snapshot) TakeArchive(name string, at time.Time, files map[string][]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := map[string][]byte{}
	for k, v := range files {
		cp[k] = v
	}
	if s.states[name] == nil {
		s.states[name] = map[time.Time]map[string][]byte{}
	}
	s.states[name][at.UTC()] = cp
}

func (s *Snapshot) serve(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/archive/")
	name, rest, ok1 := strings.Cut(rest, "/")
	ts, p, ok2 := strings.Cut(rest, "/")
	at, err := time.Parse("20060102T150405Z", ts)
	if !ok || !ok1 || !ok2 || err != nil {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	states := s.states[name]
	var times []time.Time
	for t := range states {
		if !t.After(at) {
			times = append(times, t)
		}
	}
	if len(times) == 0 {
		http.NotFound(w, r)
		return
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	b, ok := states[times[len(times)-1]][p]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Write(b)
}
