package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/reprove/reprove/attest"
	"github.com/reprove/reprove/attest/keys"
	"github.com/reprove/reprove/attest/signing"
)

// Password variables, in the order they are read. COSIGN_PASSWORD is read
// too so that one setting serves both tools.
var passwordVars = []string{"REPROVE_PASSWORD", "COSIGN_PASSWORD"}

func newKeyCmd(env *Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Manage signing keys (cosign's format)",
		Args:  groupArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newKeyGenerateCmd(env))
	return cmd
}

func newKeyGenerateCmd(env *Env) *cobra.Command {
	var prefix string
	var force, jsonOut bool
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Generate a signing key pair, as `cosign generate-key-pair` does",
		Long: `Generate an ECDSA P-256 key pair in cosign's format: PREFIX.key, the private
key encrypted with a password (scrypt + secretbox, "ENCRYPTED SIGSTORE PRIVATE
KEY"), and PREFIX.pub, the PEM public key to put in verifiers' policies. The
cosign CLI reads both files, and reprove reads keys cosign made.

The password comes from REPROVE_PASSWORD, else COSIGN_PASSWORD, else a prompt
on the terminal. Existing files are not replaced unless --force is given.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			// An existing key is a usage error (exit 2), as an existing
			// output is for every other command, and is found before a
			// password is asked for.
			for _, f := range []string{prefix + ".key", prefix + ".pub"} {
				if err := refuseExisting(f, force); err != nil {
					return err
				}
			}
			pw, err := password(env, true)
			if err != nil {
				return err
			}
			pair, err := signing.Generate(pw)
			if err != nil {
				return err
			}
			keyPath, pubPath, err := signing.WritePair(cmd.Context(), pair, prefix, force)
			if err != nil {
				return err
			}
			v, err := keys.ParseVerifier(pair.Public, pubPath)
			if err != nil {
				return err
			}
			if jsonOut {
				enc := json.NewEncoder(env.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					SchemaVersion int           `json:"schemaVersion"`
					PrivateKey    string        `json:"privateKey"`
					PublicKey     string        `json:"publicKey"`
					Fingerprint   digest.Digest `json:"fingerprint"`
				}{1, keyPath, pubPath, v.Fingerprint})
			}
			printf(env.Stdout, "private key: %s\npublic key:  %s\nfingerprint: %s\n", keyPath, pubPath, v.Fingerprint)
			return nil
		},
	}
	cmd.Flags().StringVar(&prefix, "output-key-prefix", "cosign", "write `PREFIX`.key and PREFIX.pub")
	cmd.Flags().BoolVar(&force, "force", false, "replace existing key files")
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print the files and the fingerprint as JSON (schema key-generate)")
	return cmd
}

// password reads the key password from the environment, or prompts for it
// when stdin is a terminal (twice when confirm is set, for a new key).
func password(env *Env, confirm bool) ([]byte, error) {
	for _, v := range passwordVars {
		if p := env.Getenv(v); p != "" {
			return []byte(p), nil
		}
	}
	f, ok := env.Stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, fmt.Errorf("read password: set %s (or %s), or run on a terminal to be asked", passwordVars[0], passwordVars[1])
	}
	ask := func(prompt string) ([]byte, error) {
		printf(env.Stderr, "%s", prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		printLine(env.Stderr)
		return b, err
	}
	pw, err := ask("Enter password for private key: ")
	if err != nil {
		return nil, fmt.Errorf("read password: %w", err)
	}
	if len(pw) == 0 {
		return nil, errors.New("read password: the password is empty")
	}
	if confirm {
		again, err := ask("Enter password for private key again: ")
		if err != nil {
			return nil, fmt.Errorf("read password: %w", err)
		}
		if string(again) != string(pw) {
			return nil, errors.New("read password: the passwords do not match")
		}
	}
	return pw, nil
}

// loadSigner reads a private key, with the password from password().
func loadSigner(cmd *cobra.Command, env *Env, path string) (*signing.Signer, error) {
	if path == "" {
		return nil, usageErrorf("--key is required (a private key from reprove key generate or cosign generate-key-pair)")
	}
	pw, err := password(env, false)
	if err != nil {
		return nil, err
	}
	return signing.Load(cmd.Context(), path, pw)
}

// signTo signs a statement with the key at keyPath and writes the envelope
// to out atomically (a Sigstore bundle when out ends in .sigstore.json); it
// returns the signer for reporting.
func signTo(cmd *cobra.Command, env *Env, keyPath, out string, statement []byte) (*signing.Signer, error) {
	s, err := loadSigner(cmd, env, keyPath)
	if err != nil {
		return nil, err
	}
	signed, err := attest.Sign(cmd.Context(), statement, s)
	if err != nil {
		return nil, err
	}
	if err := attest.WriteSigned(cmd.Context(), out, signed, s); err != nil {
		return nil, err
	}
	return s, nil
}
