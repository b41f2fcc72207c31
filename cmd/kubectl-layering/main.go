// Command kubectl-layering is the kubectl plugin for day-2 operation of the
// layering-detection platform. Installed on PATH it runs as `kubectl layering`.
// The commands live in pkg/cmd; this is only the process around them.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/layering-detection/kubectl-layering/pkg/cmd"
)

func main() {
	// Ctrl-C cancels the context: commands stop cleanly and report what they did.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	code := cmd.Execute(ctx, streams, os.Args[1:])
	stop()
	os.Exit(code)
}
