// Command reprove proves that a shipped binary comes from reviewed source: it
// rebuilds audited source in a hermetic container, compares the result with
// the shipped release bit for bit, and publishes signed in-toto attestations.
//
// All behaviour lives in cmd/reprove/internal/cli; this file only wires the process to it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/reprove/reprove/cmd/reprove/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.OSEnv())
	stop()
	os.Exit(code)
}
