// Command kubectl-layering is the kubectl plugin for day-2 operation of the
// layering-detection platform. Installed on PATH it runs as `kubectl layering`.
// This package holds flags and wiring only; the work is done in pkg/.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// Exit codes, documented in --help: 0 success, 1 the operation failed,
// 2 it could not run (bad input, unreachable cluster, missing prerequisite),
// 130 interrupted (Ctrl-C).
const (
	exitOK        = 0
	exitFailed    = 1
	exitCannotRun = 2
)

// cannotRun marks errors that mean the command could not do its work at all.
type cannotRun struct{ error }

func (c cannotRun) Unwrap() error { return c.error }

func main() {
	// Ctrl-C cancels the context: commands stop cleanly and report what they did.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	err := newRootCommand(streams).ExecuteContext(ctx)
	if err == nil {
		os.Exit(exitOK)
	}
	if errors.Is(err, errChanges) {
		os.Exit(exitFailed) // diff found changes: not an error to print
	}
	fmt.Fprintln(os.Stderr, "error:", err)
	var cr cannotRun
	var intr interrupted
	switch {
	case errors.As(err, &intr):
		os.Exit(exitInterrupted)
	case errors.As(err, &cr):
		os.Exit(exitCannotRun)
	}
	os.Exit(exitFailed)
}
