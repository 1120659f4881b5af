// Package witnesstest starts real witnesses for tests: litewitness from
// filippo.io/torchwood (an implementation of C2SP tlog-witness nobody here
// wrote), each with its own ssh-agent holding its key (OpenSSH's ssh-keygen,
// ssh-agent and ssh-add) and its own SQLite state, listening on loopback.
// ci/setup.sh --test installs litewitness and witnessctl.
package witnesstest

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/reprove/reprove/centre/witness"
	"github.com/reprove/reprove/internal/lazyre"
)

// Version is the torchwood release ci/setup.sh installs.
const Version = "v0.6.1"

// Litewitness is one running litewitness.
type Litewitness struct {
	// Name is the witness's name (in its key and its cosignature lines).
	Name string
	// Key is its verifier key, as it printed it at start.
	Key string
	// URL is where it answers.
	URL string
	// DB is its SQLite database.
	DB string

	t      T
	dir    string
	sock   string
	fp     string
	addr   string
	agent  *exec.Cmd
	mu     sync.Mutex
	proc   *exec.Cmd
	exited chan struct{}
	stderr *syncBuffer
}

// T is what the kit needs of a test: a testing.TB, or a testscript
// command's adapter.
type T interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// Tools finds litewitness, witnessctl and OpenSSH's tools, skipping the
// test under -short when one is missing (for a testing.TB) and failing it
// otherwise.
func Tools(t T) {
	t.Helper()
	for _, tool := range []string{"litewitness", "witnessctl", "ssh-keygen", "ssh-agent", "ssh-add"} {
		if _, err := exec.LookPath(tool); err != nil {
			if tb, ok := t.(testing.TB); ok && testing.Short() {
				tb.Skipf("%s is not installed (ci/setup.sh --test installs it)", tool)
			}
			t.Fatalf("%s is not installed: run ci/setup.sh --test", tool)
		}
	}
}

// Start starts a litewitness named name that knows the logs with the given
// note verifier keys (each log's origin is its key's name; AddLog tells it
// of more). It runs until the test ends.
func Start(t T, name string, logKeys ...string) *Litewitness {
	t.Helper()
	Tools(t)
	// A Unix socket's path must stay under 108 bytes: a short directory.
	dir, err := os.MkdirTemp("", "lw")
	if err != nil {
		t.Fatalf("%v", err)
	}
	l := &Litewitness{Name: name, DB: filepath.Join(dir, "witness.db"), t: t, dir: dir, sock: filepath.Join(dir, "agent")}
	t.Cleanup(func() {
		l.Stop()
		if l.agent != nil {
			l.agent.Process.Kill()
			l.agent.Wait()
		}
		os.RemoveAll(dir)
	})
	key := filepath.Join(dir, "key")
	run(t, nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", key)
	out := run(t, nil, "ssh-keygen", "-l", "-E", "sha256", "-f", key+".pub")
	m := regexp.MustCompile(`SHA256:[A-Za-z0-9+/]+`).FindString(out)
	if m == "" {
		t.Fatalf("ssh-keygen -l: no fingerprint in %q", out)
	}
	l.fp = m
	l.agent = exec.Command("ssh-agent", "-D", "-a", l.sock)
	if err := l.agent.Start(); err != nil {
		t.Fatalf("start ssh-agent: %v", err)
	}
	waitFor(t, "ssh-agent's socket", func() bool { _, err := os.Stat(l.sock); return err == nil })
	run(t, []string{"SSH_AUTH_SOCK=" + l.sock}, "ssh-add", "-q", key)
	for _, k := range logKeys {
		l.AddLog(k)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("%v", err)
	}
	l.addr = ln.Addr().String()
	ln.Close()
	l.URL = "http://" + l.addr
	l.Restart()
	return l
}

// AddLog tells the witness of a log by its note verifier key, as its
// operator does with witnessctl (a running litewitness reads its database
// on each request).
func (l *Litewitness) AddLog(logKey string) {
	origin, _, _ := strings.Cut(logKey, "+")
	run(l.t, nil, "witnessctl", "add-log", "-db", l.DB, "-origin", origin)
	run(l.t, nil, "witnessctl", "add-key", "-db", l.DB, "-origin", origin, "-key", logKey)
}

// Witness is how the centre is told of this witness.
func (l *Litewitness) Witness() *witness.Witness {
	w, err := witness.New(l.Key, l.URL)
	if err != nil {
		l.t.Fatalf("%v", err)
	}
	return w
}

// Spec is the witness as reprove serve's --witness flag takes it.
func (l *Litewitness) Spec() string { return l.Key + " " + l.URL }

// vkeyLine is litewitness's log line naming its verifier key.
var vkeyLine = lazyre.New(`msg="verifier key" vkey=(\S+)`)

// Restart starts the witness again after Stop, with the same key, state
// and address; Start calls it first.
func (l *Litewitness) Restart() {
	t := l.t
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.proc != nil {
		t.Fatalf("litewitness: already running")
	}
	l.stderr = &syncBuffer{}
	cmd := exec.Command("litewitness", "-db", l.DB, "-name", l.Name, "-ssh-agent", l.sock, "-key", l.fp, "-listen", l.addr)
	cmd.Stderr = l.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start litewitness: %v", err)
	}
	l.proc = cmd
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	ok := false
	waitFor(t, "litewitness at "+l.addr, func() bool {
		select {
		case <-exited:
			t.Fatalf("litewitness exited:\n%s", l.stderr.String())
		default:
		}
		resp, err := http.Get(l.URL + "/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		ok = true
		return true
	})
	if !ok {
		return
	}
	m := vkeyLine().FindStringSubmatch(l.stderr.String())
	if m == nil {
		t.Fatalf("litewitness printed no verifier key:\n%s", l.stderr.String())
	}
	key := strings.Trim(m[1], `"`)
	if l.Key != "" && l.Key != key {
		t.Fatalf("litewitness restarted with key %s, was %s", key, l.Key)
	}
	l.Key = key
	l.exited = exited
}

// Stop stops the witness (SIGINT, as an operator would) and waits for it.
func (l *Litewitness) Stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.proc == nil {
		return
	}
	l.proc.Process.Signal(syscall.SIGINT)
	select {
	case <-l.exited:
	case <-time.After(10 * time.Second):
		l.proc.Process.Kill()
		<-l.exited
	}
	l.proc = nil
}

// Size is the tree size the witness holds for a log, as witnessctl
// list-logs reports it (-1 when it does not list the log).
func (l *Litewitness) Size(origin string) int64 {
	out := run(l.t, nil, "witnessctl", "list-logs", "-db", l.DB)
	dec := json.NewDecoder(strings.NewReader(out))
	for {
		var e struct {
			Origin string `json:"origin"`
			Size   int64  `json:"size"`
		}
		if err := dec.Decode(&e); err != nil {
			return -1
		}
		if e.Origin == origin {
			return e.Size
		}
	}
}

func run(t T, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

func waitFor(t T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 30 s for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
