// Command verifyonly is the customer's verifier alone, for measuring what
// it weighs (ci/bench-verify.sh reports its size and modules): it checks
// FILE against attestation files under a trust policy, as `reprove verify
// FILE --policy POLICY -a ATTESTATION...` does, through the same calls,
// and prints the same sentence. Exit 0 verified, 3 not, 1 error.
//
//	verifyonly POLICY FILE ATTESTATION...
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/reprove/reprove/attest"
	"github.com/reprove/reprove/attest/policy"
	"github.com/reprove/reprove/internal/escape"
)

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: verifyonly POLICY FILE ATTESTATION...")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1], os.Args[2], os.Args[3:]))
}

func run(ctx context.Context, policyPath, file string, atts []string) int {
	pol, err := policy.Load(ctx, policyPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, escape.Line(err.Error()))
		return 1
	}
	t, err := attest.HashTarget(ctx, file, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, escape.Line(err.Error()))
		return 1
	}
	res, err := attest.Verify(ctx, t, attest.Files(ctx, atts...), pol, attest.VerifyOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, escape.Line(err.Error()))
		return 1
	}
	fmt.Print(res.Text())
	if !res.Verified {
		return 3
	}
	return 0
}
