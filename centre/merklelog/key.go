package merklelog

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/reprove/reprove/internal/atomicfile"
)

// Key file names under the data directory.
const (
	SignerKeyFile   = "log.key"
	VerifierKeyFile = "log.pub"
)

// VerifierKey derives the note verifier key of an Ed25519 note signer key.
// x/mod's note package makes both halves at once (GenerateKey) but cannot
// derive one from the other, so the signer key is read here: it is
// "PRIVATE+KEY+name+hash+base64(0x01 || seed)".
func VerifierKey(skey string) (string, error) {
	fail := func() (string, error) { return "", errors.New("log key: not an Ed25519 note signer key") }
	parts := strings.SplitN(strings.TrimSpace(skey), "+", 5)
	if len(parts) != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY" {
		return fail()
	}
	b, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(b) != 1+ed25519.SeedSize || b[0] != 1 {
		return fail()
	}
	pub := ed25519.NewKeyFromSeed(b[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(parts[2], pub)
	if err != nil {
		return "", fmt.Errorf("log key: %w", err)
	}
	// The signer key names its verifier by hash: they must agree.
	s, err := note.NewSigner(strings.TrimSpace(skey))
	if err != nil {
		return "", fmt.Errorf("log key: %w", err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil || v.KeyHash() != s.KeyHash() {
		return fail()
	}
	return vkey, nil
}

// LoadKey reads a note signer key file.
func LoadKey(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read log key: %w", err)
	}
	skey := strings.TrimSpace(string(b))
	if _, err := VerifierKey(skey); err != nil {
		return "", fmt.Errorf("read log key %s: %w", path, err)
	}
	return skey, nil
}

// LoadOrCreateKey reads the log's signer key from dir, or makes a new one
// named origin (the log's origin line) when there is none, writing log.key
// (0600) and log.pub. It reports whether it made the key.
func LoadOrCreateKey(dir, origin string) (skey string, created bool, err error) {
	path := filepath.Join(dir, SignerKeyFile)
	if _, err := os.Stat(path); err == nil {
		skey, err := LoadKey(path)
		return skey, false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", false, fmt.Errorf("make log key: %w", err)
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return "", false, fmt.Errorf("make log key for origin %q: %w", origin, err)
	}
	if err := atomicfile.Write(path, []byte(skey+"\n"), 0o600); err != nil {
		return "", false, fmt.Errorf("write log key: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(dir, VerifierKeyFile), []byte(vkey+"\n"), 0o644); err != nil {
		return "", false, fmt.Errorf("write log key: %w", err)
	}
	return skey, true, nil
}
